"""Ed25519 keys for ledger checkpoints and exported reports.

The private key lives OUTSIDE the home (a PEM file named by ``RAIGOV_SIGNING_KEY_FILE``,
written by ``raigov ledger init-signing``); the home holds only the public key, recorded
in the ledger as a ``ledger.signing_key`` event. An attacker with write access to the home
can rebuild the chain, but cannot sign it with the key an auditor holds.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                               Ed25519PublicKey)

from raigov.errors import ConfigError

SIGNING_KEY_ENV = "RAIGOV_SIGNING_KEY_FILE"
SIGNING_KEY_EVENT = "ledger.signing_key"
ALGORITHM = "ed25519"

KEY_INSIDE_HOME = ("Refusing to write the signing key to {path}: it is inside the home "
                   "{home}. The private key must live where an attacker who can edit the "
                   "home cannot read it; choose a path outside the home.")
KEY_READ_INSIDE_HOME = ("The signing key {path} ({env}) lies inside the home {home}: "
                        "whoever can edit the home could then sign a rebuilt ledger. Move "
                        "it outside the home and point {env} at its new place.")
KEY_EXISTS = "Refusing to overwrite the existing key file {path}; choose another path."
KEY_UNREADABLE = "The signing key {path} ({env}) cannot be read: {error}"
KEY_NOT_ED25519 = "The key {path} is not an Ed25519 {kind} key in PEM form"


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """``sha256:<first 16 hex digits of the SHA-256 of the raw public key>``."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:16]


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` to ``path`` (mode 0600, created exclusively: never overwrites)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(KEY_EXISTS.format(path=path)) from None
    try:
        os.write(fd, private_pem(key))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(KEY_UNREADABLE.format(path=path, env=SIGNING_KEY_ENV,
                                                error=exc.strerror or exc)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(KEY_NOT_ED25519.format(path=path, kind="private"))
    return key


def configured_private_key(home=None) -> Ed25519PrivateKey | None:
    """The key named by ``RAIGOV_SIGNING_KEY_FILE``, or ``None`` when it is not set.
    Given the ``home`` it signs for, a key file inside that home is refused."""
    name = os.environ.get(SIGNING_KEY_ENV)
    if not name:
        return None
    path = Path(name).expanduser()
    if home is not None and is_inside(path, Path(home.root)):
        raise ConfigError(KEY_READ_INSIDE_HOME.format(path=path, env=SIGNING_KEY_ENV,
                                                      home=home.root))
    return load_private_key(path)


def load_public_pem(text: str | bytes, *, source: str) -> Ed25519PublicKey:
    data = text.encode("ascii") if isinstance(text, str) else text
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(KEY_NOT_ED25519.format(path=source, kind="public"))
    return key


def load_public_key_file(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the public key {path}: {exc.strerror or exc}") from None
    return load_public_pem(data, source=str(path))


def sign_bytes(key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data)).decode("ascii")


def signature_valid(key: Ed25519PublicKey, data: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def is_inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
