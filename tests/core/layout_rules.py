"""The package layout's rules, read from the source with ``ast`` (nothing is imported):
which layer each folder is, which imports go against the direction, and which modules
import each other in a circle. ``test_layout.py`` applies them to this checkout and to
small trees it writes, so the checks are shown to fail when the rule is broken."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# raigov <- models <- monitors <- policies <- reports <- dashboard <- cli
LAYERS = ("raigov", "models", "monitors", "policies", "reports", "dashboard", "cli")
FOLDERS = {"raigov": "raigov", "models": "raigov.models", "monitors": "raigov.monitors",
           "policies": "raigov.policies", "reports": "raigov.reports",
           "dashboard": "raigov.dashboard", "cli": "raigov.cli"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer_layer: str
    imported: str
    imported_layer: str

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: layer {self.importer_layer!r} imports "
                f"{self.imported} (layer {self.imported_layer!r}), against the direction "
                f"{' <- '.join(LAYERS)}")


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name, or None for modules outside raigov."""
    if module != "raigov" and not module.startswith("raigov."):
        return None
    for folder in reversed(LAYERS[1:]):
        package = FOLDERS[folder]
        if module == package or module.startswith(package + "."):
            return folder
    return "raigov"


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the layout under ``root``: dotted name -> file."""
    out: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")) if base.is_dir() else ():
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if folder == "raigov" and parts and parts[0] in {f for f in FOLDERS if f != "raigov"}:
                continue
            out[name] = path
    return out


def imports_of(path: Path, module: str, modules: frozenset[str] = frozenset()
               ) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, at any depth, except those
    under ``if TYPE_CHECKING:`` (they never run). ``from pkg import sub`` where
    ``pkg.sub`` is one of ``modules`` imports the submodule, not the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" for alias in node.names]
            if not all(name in modules for name in names):
                found.append((node.lineno, base))
            found += [(node.lineno, name) for name in names]
    return found


def direction_violations(root: Path) -> list[Violation]:
    out: list[Violation] = []
    for module, path in module_files(root).items():
        mine = layer_of(module)
        seen: set[int] = set()  # one violation per import statement
        for line, imported in imports_of(path, module):
            theirs = layer_of(imported)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine) \
                    and line not in seen:
                seen.add(line)
                out.append(Violation(str(path.relative_to(root)), line, mine, imported, theirs))
    return out


def import_cycles(root: Path) -> list[list[str]]:
    """Circles of modules importing each other (strongly connected components with more
    than one module), each sorted."""
    files = module_files(root)
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for _, imported in imports_of(path, module, frozenset(files)):
            if imported in files and imported != module:
                graph[module].add(imported)
    return [sorted(c) for c in _components(graph) if len(c) > 1]


def _components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                out.append(comp)
    return out
