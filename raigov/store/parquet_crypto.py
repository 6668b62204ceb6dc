"""Encryption at rest for lake segments: the one place that builds Parquet write and
read options.

Scheme: Parquet modular encryption (Apache Parquet's standard, through
``pyarrow.parquet.encryption``), algorithm ``AES_GCM_V1``. A segment of a model whose
spec has a ``privacy`` section gets an *encrypted footer* (so a reader without the key
sees neither values, statistics nor the footer's column metadata) and one column key
for the columns the spec lists in ``privacy.encrypt``. Pyarrow makes fresh random data
keys per file (footer key and column key); they are wrapped (double wrapping: by key
encryption keys, themselves wrapped) by a small in-process KMS that holds one master
key: the data key read from ``RAIGOV_DATA_KEY_FILE`` (a file outside the home) or
``RAIGOV_DATA_KEY``. The KMS derives one AES-256-GCM wrapping key per master key
identifier with HMAC-SHA256 and stores ``nonce || ciphertext`` in the file's key
material. The home never holds the data key: a copy of the home is unreadable without it.

Pseudonymisation uses the same data key: a keyed HMAC-SHA256 token
(:func:`pseudonymise`), stable so that joins on the token still work, not reversible.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from raigov.errors import ConfigError
from raigov.home import Home

DATA_KEY_FILE_ENV = "RAIGOV_DATA_KEY_FILE"
DATA_KEY_ENV = "RAIGOV_DATA_KEY"
FOOTER_KEY_ID = "raigov-footer"
COLUMN_KEY_ID = "raigov-columns"
ALGORITHM = "AES_GCM_V1"
ENCRYPTED_MAGIC = b"PARE"      # last 4 bytes of a Parquet file with an encrypted footer
TOKEN_PREFIX = "ps_"

KEY_INSIDE_HOME = ("The data key file {path} lies inside the raigov home {home}; a key "
                   "kept beside the data protects nothing. Move it outside the home "
                   "and point {env} at it.")
KEY_UNREADABLE = "Cannot read the data key file {path} ({env}): {reason}."
KEY_MALFORMED = ("The data key from {source} is not 32 bytes written as 64 hex digits "
                 "or base64; make one with `python -c \"import secrets; "
                 "print(secrets.token_hex(32))\"`.")
KEY_MISSING = ("{what} needs the data key, and none is set. Set {file_env} to a key "
               "file outside the home (or {env} to the key itself).")


def load_data_key(home: Home | None) -> bytes | None:
    """The data key from the environment, or None when none is set. A key file inside
    ``home`` is refused."""
    path = os.environ.get(DATA_KEY_FILE_ENV)
    if path:
        resolved = Path(path).expanduser().resolve()
        root = home.root.expanduser().resolve() if home is not None else None
        if root is not None and (resolved == root or root in resolved.parents):
            raise ConfigError(KEY_INSIDE_HOME.format(path=path, home=home.root,
                                                    env=DATA_KEY_FILE_ENV))
        try:
            text = resolved.read_text().strip()
        except OSError as exc:
            raise ConfigError(KEY_UNREADABLE.format(path=path, env=DATA_KEY_FILE_ENV,
                                                   reason=exc.strerror or exc)) from exc
        return _decode_key(text, source=path)
    text = os.environ.get(DATA_KEY_ENV)
    return _decode_key(text.strip(), source=DATA_KEY_ENV) if text else None


def require_data_key(home: Home | None, *, what: str) -> bytes:
    key = load_data_key(home)
    if key is None:
        raise ConfigError(KEY_MISSING.format(what=what, file_env=DATA_KEY_FILE_ENV,
                                            env=DATA_KEY_ENV))
    return key


def _decode_key(text: str, *, source: str) -> bytes:
    try:
        key = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise ConfigError(KEY_MALFORMED.format(source=source))
    return key


def pseudonymise(key: bytes, values: Sequence[str | None]) -> list[str | None]:
    """Keyed HMAC-SHA256 tokens (``ps_`` and 32 hex digits); NULL stays NULL."""
    token_key = hmac.new(key, b"raigov pseudonymise v1", hashlib.sha256).digest()
    return [None if v is None else
            TOKEN_PREFIX + hmac.new(token_key, str(v).encode(), hashlib.sha256).hexdigest()[:32]
            for v in values]


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Whether a Parquet file has an encrypted footer (ends in ``PARE``)."""
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        return handle.read(4) == ENCRYPTED_MAGIC


def write_options(home: Home, *, encrypt: Sequence[str] | None, columns: Sequence[str],
                  what: str = "Writing an encrypted lake segment") -> dict:
    """Keyword arguments for ``pyarrow.parquet.write_table``: zstd, plus (unless
    ``encrypt`` is None) the file encryption properties: an encrypted footer and a
    column key over the columns of ``encrypt`` present in ``columns``."""
    if encrypt is None:
        return {"compression": "zstd"}
    present = [c for c in encrypt if c in columns]
    import pyarrow.parquet.encryption as pe

    factory = _factory(require_data_key(home, what=what))
    # A table with none of the listed columns (feedback) is encrypted whole under the
    # footer key (uniform encryption): an encrypted footer needs at least that.
    config = pe.EncryptionConfiguration(
        footer_key=FOOTER_KEY_ID, encryption_algorithm=ALGORITHM, plaintext_footer=False,
        double_wrapping=True)
    if present:
        config.column_keys = {COLUMN_KEY_ID: present}
    else:
        config.uniform_encryption = True
    props = factory.file_encryption_properties(pe.KmsConnectionConfig(), config)
    return {"compression": "zstd", "encryption_properties": props}


def read_options(home: Home, *, what: str = "Reading an encrypted lake segment") -> dict:
    """Keyword arguments for ``pyarrow.parquet.read_table`` of an encrypted segment."""
    import pyarrow.parquet.encryption as pe

    factory = _factory(require_data_key(home, what=what))
    props = factory.file_decryption_properties(pe.KmsConnectionConfig(),
                                               pe.DecryptionConfiguration())
    return {"decryption_properties": props}


@lru_cache(maxsize=4)
def _factory(key: bytes):
    import pyarrow.parquet.encryption as pe

    return pe.CryptoFactory(lambda _config: _LocalKms(key))


def wrapping_key(master: bytes, identifier: str) -> bytes:
    """The AES-256 key that wraps key-encryption keys of one master key identifier."""
    return hmac.new(master, b"raigov kms v1\x00" + identifier.encode(), hashlib.sha256).digest()


def _kms_class():
    import pyarrow.parquet.encryption as pe
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    class LocalKms(pe.KmsClient):
        """Wraps pyarrow's key-encryption keys with AES-256-GCM under the data key."""

        def __init__(self, master: bytes) -> None:
            pe.KmsClient.__init__(self)
            self._master = master

        def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> bytes:
            nonce = os.urandom(12)
            aead = AESGCM(wrapping_key(self._master, master_key_identifier))
            sealed = aead.encrypt(nonce, key_bytes, master_key_identifier.encode())
            return base64.b64encode(nonce + sealed)

        def unwrap_key(self, wrapped_key: bytes, master_key_identifier: str) -> bytes:
            raw = base64.b64decode(wrapped_key)
            aead = AESGCM(wrapping_key(self._master, master_key_identifier))
            return aead.decrypt(raw[:12], raw[12:], master_key_identifier.encode())

    return LocalKms


def _LocalKms(key: bytes):
    return _kms_class()(key)


def segment_encryption(home: Home, lake_table: str, model: str) -> list[str] | None:
    """The columns a new segment of ``model`` encrypts (None: a plain segment). Read
    from the registered versions' ``spec.json`` files (not the catalog, so sealing
    never waits for its lock): the union over versions, so a version that drops its
    privacy section does not unprotect its data. Quarantine rows keep the raw request
    (``payload``), which is encrypted whenever any column is."""
    import json

    columns: set[str] | None = None
    for spec_file in sorted((home.artifacts / model).glob("*/spec.json")):
        try:
            privacy = json.loads(spec_file.read_text()).get("privacy")
        except (OSError, ValueError):
            continue
        if privacy is None:
            continue
        encrypt = privacy.get("encrypt")
        if encrypt is None:
            encrypt = json.loads(spec_file.read_text()).get("sensitive", [])
        columns = (columns or set()) | set(encrypt)
    if columns is None:
        return None
    if lake_table == "quarantine":
        return ["payload", "reasons", "reason"]
    return sorted(columns)
