"""Exported reports carry an Ed25519 signature over their content and the ledger
checkpoint they rest on, so an auditor verifies them with the public key alone: no
home, no network (``raigov audit verify --report FILE --public-key KEY``).

The signature travels inside the file: a top-level ``"signature"`` field in JSON; a
last line ``<!-- raigov-signature: ... -->`` in HTML; a comment line ``%raigov-signature: ...``
just before the PDF's last ``startxref`` (PDF readers ignore comments). The
*content* is the file without that signature (for JSON: the object without the field,
in canonical JSON), and the envelope signs its SHA-256, the facts hash, one digest per
fact (so a changed figure is named), and the signed checkpoint line of the ledger head
the facts were read at.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raigov.canonical import canonical_json, sha256_hex
from raigov.errors import ConfigError, InputError
from raigov.ledger.signing import (ALGORITHM, configured_private_key, fingerprint,
                                   sign_bytes, signature_valid)
from raigov.reports.signed_parts import part_changes, part_digests

ENVELOPE_VERSION = 1
_HTML_MARK = b"\n<!-- raigov-signature: "
_PDF_LINE = b"%raigov-signature: "
NO_KEY = ("Exporting a signed report needs the ledger signing key: set "
          "RAIGOV_SIGNING_KEY_FILE (see `raigov ledger init-signing`).")
NO_CHECKPOINT = ("No signed ledger checkpoint covers event {seq}, the head the report's facts "
                 "were read at: run `raigov ledger checkpoint` (with RAIGOV_SIGNING_KEY_FILE).")


def fact_digests(facts: Any, prefix: str = "facts") -> dict[str, str]:
    """``path -> first 16 hex digits of SHA-256(canonical JSON)`` of every leaf."""
    out: dict[str, str] = {}
    if isinstance(facts, dict):
        for key in sorted(facts):
            out.update(fact_digests(facts[key], f"{prefix}.{key}"))
    elif isinstance(facts, list):
        for i, item in enumerate(facts):
            out.update(fact_digests(item, f"{prefix}[{i}]"))
    else:
        out[prefix] = sha256_hex(canonical_json(facts))[:16]
    return out


def _last_checkpoint_text(home: Any, seq: int) -> str:
    from raigov.ledger.checkpoints import read_checkpoints

    for entry in reversed(read_checkpoints(home)):
        cp = entry.checkpoint
        if cp is not None and not cp.legacy and cp.seq >= seq:
            return entry.text
    raise ConfigError(NO_CHECKPOINT.format(seq=seq))


def sign_report(home: Any, data: bytes, fmt: str, bundle: dict[str, Any]) -> bytes:
    """``data`` with its signature envelope embedded (see the module docstring)."""
    return sign_document(home, data, fmt, facts=bundle["facts"], root="facts",
                         facts_sha256=bundle["facts_sha256"],
                         export_id=bundle.get("export_id"),
                         head_seq=int(bundle["facts"]["evidence"]["ledger"]["head_seq"]))


def sign_card(home: Any, text: str, fmt: str, card: dict[str, Any]) -> str:
    """A model card (JSON or HTML) with its signature embedded; resting on the
    ledger's current head."""
    from raigov.ledger.chain import head
    from raigov.store.catalog import catalog

    with catalog(home, read_only=True) as con:
        seq, _ = head(con)
    return sign_document(home, text.encode("utf-8"), fmt, facts=card, root="card",
                         facts_sha256=sha256_hex(canonical_json(card)), export_id=None,
                         head_seq=seq).decode("utf-8")


def sign_document(home: Any, data: bytes, fmt: str, *, facts: Any, root: str,
                  facts_sha256: str, export_id: str | None, head_seq: int) -> bytes:
    key = configured_private_key(home)
    if key is None:
        raise ConfigError(NO_KEY)
    from raigov.ledger.checkpoints import write_checkpoint

    if head_seq:
        write_checkpoint(home, key=key)   # a head just moved is covered now
    checkpoint = _last_checkpoint_text(home, head_seq) if head_seq else None
    if fmt == "json":
        content = canonical_json(json.loads(data)).encode("utf-8")
    else:
        content = data
    body = {"v": ENVELOPE_VERSION, "alg": ALGORITHM, "key": fingerprint(key.public_key()),
            "format": fmt, "export_id": export_id, "root": root,
            "content_sha256": sha256_hex(content), "facts_sha256": facts_sha256,
            "fact_digests": fact_digests(facts, root), "checkpoint": checkpoint}
    parts = part_digests(content, fmt)
    if parts is not None:
        body["parts"] = parts
    envelope = {**body, "signature": sign_bytes(key, canonical_json(body).encode("utf-8"))}
    if fmt == "json":
        signed = {**json.loads(data), "signature": envelope}
        return (json.dumps(signed, indent=2, ensure_ascii=False, allow_nan=False)
                + "\n").encode("utf-8")
    blob = base64.b64encode(canonical_json(envelope).encode("utf-8"))
    if fmt == "html":
        return data + _HTML_MARK + blob + b" -->\n"
    # A PDF comment line just before the last `startxref`: readers find `%%EOF` at the
    # end (poppler looks only in the last 1 KiB) and the xref offsets do not move.
    at = data.rfind(b"startxref")
    return data[:at] + _PDF_LINE + blob + b"\n" + data[at:]


@dataclass(frozen=True)
class OfflineVerdict:
    ok: bool
    reason: str
    changes: tuple[str, ...] = ()

    def describe(self) -> str:
        return "\n".join([self.reason, *(f"  - {c}" for c in self.changes)])


def split_signed(data: bytes) -> tuple[bytes, dict[str, Any] | None, dict[str, Any] | None]:
    """(content, envelope, the JSON object if JSON) of a signed report file."""
    if data.startswith(b"%PDF"):
        at = data.rfind(_PDF_LINE)
        if at < 0:
            return data, None, None
        end = data.find(b"\n", at)
        blob = data[at + len(_PDF_LINE):end]
        try:
            return data[:at] + data[end + 1:], json.loads(base64.b64decode(blob, validate=True)), None
        except (ValueError, json.JSONDecodeError):
            return data[:at] + data[end + 1:], None, None
    for mark in (_HTML_MARK,):
        at = data.rfind(mark)
        if at >= 0:
            blob = data[at + len(mark):].strip()
            if blob.endswith(b"-->"):
                blob = blob[:-3].strip()
            try:
                return data[:at], json.loads(base64.b64decode(blob, validate=True)), None
            except (ValueError, json.JSONDecodeError):
                return data[:at], None, None
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data, None, None
    if not isinstance(obj, dict):
        return data, None, None
    envelope = obj.pop("signature", None)
    return canonical_json(obj).encode("utf-8"), envelope if isinstance(envelope, dict) else None, obj


def verify_report_offline(path: Path, public_key: Any) -> OfflineVerdict:
    """Check a report file with the public key alone (no home, no network)."""
    from raigov.ledger.checkpoints import _parse_line
    from raigov.reports import locate

    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(f"Report file {path} not found.") from None
    content, envelope, obj = split_signed(data)
    if envelope is None:
        return OfflineVerdict(False, f"{path}: rejected. It carries no raigov signature.")
    body = {k: v for k, v in envelope.items() if k != "signature"}
    held = fingerprint(public_key)
    if envelope.get("key") != held:
        return OfflineVerdict(False, f"{path}: rejected. It is signed by key "
                                     f"{envelope.get('key')}, not the key you hold ({held}).")
    if not signature_valid(public_key, canonical_json(body).encode("utf-8"),
                           str(envelope.get("signature", ""))):
        return OfflineVerdict(False, f"{path}: rejected. Its signature does not match its "
                                     "signed envelope: the envelope was edited.")
    cp_text = envelope.get("checkpoint")
    if cp_text:
        cp = _parse_line(0, cp_text).checkpoint
        if cp is None or cp.legacy or not signature_valid(public_key, cp.signed_bytes(),
                                                          cp.signature):
            return OfflineVerdict(False, f"{path}: rejected. The ledger checkpoint it rests on "
                                         "is not signed by the key you hold.")
    changes: list[str] = []
    bundle = obj if obj is not None else locate.embedded_bundle(content)
    root = envelope.get("root", "facts")
    facts = bundle if root == "card" else (bundle or {}).get("facts")
    if isinstance(facts, dict):
        now = fact_digests(facts, root)
        signed = envelope.get("fact_digests") or {}
        for name in sorted(set(now) | set(signed)):
            if now.get(name) != signed.get(name):
                changes.append(f"{name} differs from the signed value"
                               if name in now and name in signed else
                               f"{name} was {'added' if name in now else 'removed'}")
    actual = sha256_hex(content)
    if actual != envelope.get("content_sha256"):
        changes.extend(part_changes(content, envelope.get("parts")))
    if actual != envelope.get("content_sha256") or changes:
        first = changes[0] if changes else "the rendered content differs"
        return OfflineVerdict(False, f"{path}: rejected. The file was changed after it was "
                                     f"signed ({first}): content SHA-256 {actual[:12]}, "
                                     f"signed {str(envelope.get('content_sha256'))[:12]}.",
                              tuple(changes[:20]))
    seq = _parse_line(0, cp_text).checkpoint.seq if cp_text else 0
    return OfflineVerdict(True, f"{path}: accepted offline. Signed by {held}; its {envelope.get('format')} "
                                f"content and every fact match; it rests on ledger checkpoint "
                                f"of event {seq}.")
