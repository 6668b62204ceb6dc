"""Least privilege in the home: every directory raigov makes there is 0700 and every
file 0600, whatever the caller's umask.

Two layers: :func:`private_umask` adds ``077`` to the process umask the first time a
home is used (so every file any library makes, DuckDB's and pyarrow's included, is
born private), and :func:`private_dir` / :func:`private_file` set the modes explicitly
where raigov creates something (a home made by an older raigov is tightened as it is
opened)."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> None:
    """Add ``077`` to the process umask (it only ever narrows)."""
    current = os.umask(0o077)
    os.umask(current | 0o077)


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents inside it) with mode 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def private_tree(root: Path) -> None:
    """Set 0700 on ``root`` and every directory below it, 0600 on every file (what a
    copy from outside the home brought with its own modes)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)


def private_file(path: Path) -> Path:
    """Set an existing file's mode to 0600 (a file another library created)."""
    try:
        if path.stat().st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        pass
    return path
