"""Ledger verification: recompute the hash chain and check it against the checkpoints.

Within the chain, each event must hash to its stored hash, follow its predecessor by one
sequence number and carry its predecessor's hash as ``prev_hash``; every break is named
by event (``event 17 (alert.acknowledged): prev_hash does not match the hash of event
16``). Against the signed checkpoints (:mod:`raigov.ledger.checkpoints`), the chain must still
hold each checkpointed event with the checkpointed hash, which catches what a chain
cannot show by itself: events cut off its tail, or a whole chain rebuilt.

:func:`audit_verify` is what ``raigov audit verify`` runs; it returns a
:class:`VerifyResult` listing every problem, and the CLI exits 1 unless ``result.ok``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from raigov.canonical import utcnow
from raigov.errors import ConfigError, VerificationError
from raigov.home import Home
from raigov.ledger.chain import (GENESIS_HASH, SIGNING_KEY_EVENT, LedgerEvent, event_hash,
                                 read_events)
from raigov.ledger.checkpoints import (CHECKPOINT_FILE, CheckpointLine, checkpoint_path,
                                       line_hash, read_checkpoint_file, read_checkpoints)
from raigov.ledger.rotation import ChainKey, key_chain
from raigov.ledger.signing import ALGORITHM, fingerprint, load_public_pem, signature_valid
from raigov.store.catalog import catalog

GRACE_ENV = "RAIGOV_CHECKPOINT_GRACE_S"
DEFAULT_GRACE_S = 60.0

ProblemCode = Literal[
    "event_edited", "prev_hash_mismatch", "not_genesis", "reordered", "inserted",
    "missing", "duplicate_seq", "checkpoint_malformed", "checkpoint_forged",
    "checkpoint_truncated", "checkpoint_missing_event", "checkpoint_rewritten",
    "checkpoints_deleted", "signing_key_missing", "signing_key_replaced",
    "checkpoint_unchained", "checkpoint_foreign_key", "checkpoint_retired_key",
    "no_signed_checkpoint", "uncovered",
    "mirror_differs", "state_unaccounted", "artifact_changed"]

EVENT_EDITED = ("event {seq} ({kind}): hash does not match its contents: "
                "the event was changed after it was written")
PREV_HASH_MISMATCH = "event {seq} ({kind}): prev_hash does not match the hash of event {prev}"
NOT_GENESIS = "event {seq} ({kind}): prev_hash is not the genesis hash, yet it is the first event"
REORDERED = ("event {seq} ({kind}): prev_hash is the hash of event {other}, which comes "
             "after it: events were reordered")
INSERTED = ("event {seq} ({kind}): prev_hash is the hash of event {other}, not of event "
            "{prev}: event(s) {span} were inserted or moved")
MISSING = "event {seq} ({kind}): event(s) {span} before it are missing: deleted from the chain"
DUPLICATE_SEQ = "event {seq} ({kind}): sequence number {seq} appears more than once"
CHECKPOINT_MALFORMED = "checkpoint line {line}: {detail}"
CHECKPOINT_FORGED = ("checkpoint line {line} (event {seq}): signature does not match: "
                     "the checkpoint file was edited")
CHECKPOINT_TRUNCATED = ("checkpoint line {line} (event {seq}, {at}): the ledger ends at event "
                        "{head}: event(s) {span} were removed from the tail")
CHECKPOINT_MISSING_EVENT = ("checkpoint line {line} (event {seq}, {at}): event {seq} is no "
                            "longer in the ledger")
CHECKPOINT_REWRITTEN = ("checkpoint line {line} (event {seq}, {at}): event {seq} ({kind}) "
                        "now has hash {actual}, the checkpoint recorded {expected}: "
                        "the chain up to event {seq} was rewritten")
CHECKPOINTS_DELETED = ("checkpoint file {path} holds no checkpoints, yet the ledger has "
                       "{events} event(s): the checkpoint file was deleted or emptied, or "
                       "no process held the signing key (RAIGOV_SIGNING_KEY_FILE)")
SIGNING_KEY_MISSING = ("the ledger ({events} event(s)) records no signing key (no readable "
                       "ledger.signing_key event): its checkpoints cannot be checked; the "
                       "key event was deleted, or the home was never set up with "
                       "`raigov ledger init-signing`")
SIGNING_KEY_REPLACED = ("event {seq} ({kind}) records signing key {recorded}, not the key "
                        "you hold ({held}): the ledger was rebuilt or re-keyed")
NO_SIGNED_CHECKPOINT = ("checkpoint file {path} holds no Ed25519-signed checkpoint for the "
                        "ledger's {events} event(s) (only legacy lines): run `raigov "
                        "ledger init-signing` to migrate")
CHECKPOINT_UNCHAINED = ("checkpoint line {line} (event {seq}): its prev hash does not match "
                        "line {before}: a checkpoint line before it was removed or changed")
CHECKPOINT_FOREIGN_KEY = ("checkpoint line {line} (event {seq}): signed by key {key}, not "
                          "{whose} ({trusted}): the checkpoints were re-signed")
CHECKPOINT_RETIRED_KEY = ("checkpoint line {line} (event {seq}): signed by key {key}, which "
                          "was rotated out at event {retired}: a process still signs with "
                          "the old key file, or the old key was stolen")
CHECKPOINT_LEGACY_AFTER = ("checkpoint line {line}: an unsigned legacy (HMAC) line after "
                           "Ed25519-signed ones: it was added by hand")
UNCOVERED = ("event(s) {span} are not covered by a signed checkpoint (the last covers event "
             "{last}), and event {first} dates from {at}, more than {grace} s ago: the last "
             "checkpoint line(s) were removed, or a process wrote without the signing key")
MIRROR_MISSING = "the checkpoint mirror {path} does not exist"
MIRROR_DIFFERS = ("checkpoint line {line} differs from line {line} of the mirror {path} "
                  "(event {seq} there): one of the two was edited")
MIRROR_HOME_SHORT = ("checkpoint line {line} (event {seq}) is in the mirror {path} but not "
                     "in the home: {count} line(s) were cut from the home's file")
MIRROR_SHORT = ("checkpoint line {line} (event {seq}) is missing from the mirror {path}: "
                "the mirror was not written, or was cut")
WARN_LEGACY = ("{count} legacy checkpoint line(s) (HMAC, signed with a key inside the home) "
               "predate the signing key: they are checked against the chain but prove nothing")
WARN_UNCOVERED = "event(s) {span} are not covered by a checkpoint yet"
NOTE_HELD_KEY = "checkpoints verified against the public key you hold ({fp})"
NOTE_RECORDED_KEY = ("checkpoints verified against the key the ledger itself records ({fp}), "
                     "not one you hold: pass --public-key FILE to rule out a rebuilt ledger")
VERIFY_FAILED = "Ledger verification failed: {first} ({count} problem(s) in all)"
VERIFIED = ("Ledger verified: {events} event(s), head event {head_seq} ({head_hash}), "
            "{checkpoints} checkpoint(s), the last covering event {last}")


@dataclass(frozen=True)
class Problem:
    """One verification failure, with the event or checkpoint line it concerns."""

    code: ProblemCode
    message: str
    seq: int | None = None
    kind: str | None = None
    checkpoint_line: int | None = None


@dataclass(frozen=True)
class VerifyResult:
    events: int                      # events in the ledger
    head_seq: int                    # seq of the last event (0: empty ledger)
    head_hash: str
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...] = ()
    checkpoints: int = 0             # checkpoint lines read
    last_checkpoint_seq: int | None = None   # highest checkpoint with a valid signature
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def describe(self) -> str:
        """One line for a person: the verified head, or the first problem."""
        if self.problems:
            return VERIFY_FAILED.format(first=self.problems[0].message,
                                        count=len(self.problems))
        return VERIFIED.format(events=self.events, head_seq=self.head_seq,
                               head_hash=_short(self.head_hash), checkpoints=self.checkpoints,
                               last=self.last_checkpoint_seq or "-")

    def raise_for_problems(self) -> None:
        """Raise :class:`VerificationError` naming the first problem, if there is one."""
        if self.problems:
            raise VerificationError(self.describe())


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}..{last}"


def _short(digest: str) -> str:
    return digest[:12]


def verify_chain(events: Sequence[LedgerEvent]) -> list[Problem]:
    """Every break in the chain, in chain order (``events`` ordered by seq)."""
    position = {e.hash: i for i, e in enumerate(events)}
    problems: list[Problem] = []
    for i, event in enumerate(events):
        previous = events[i - 1] if i else None
        seq_problem = _check_seq(event, previous)
        if seq_problem is not None:
            problems.append(seq_problem)
        link = _check_link(event, i, events, position, gap=seq_problem is not None)
        if link is not None:
            problems.append(link)
        if event_hash(event.prev_hash, event.body()) != event.hash:
            problems.append(_problem("event_edited", EVENT_EDITED, event))
    return problems


def _problem(code: ProblemCode, template: str, event: LedgerEvent, **fields: object) -> Problem:
    message = template.format(seq=event.seq, kind=event.kind, **fields)
    return Problem(code, message, seq=event.seq, kind=event.kind)


def _check_seq(event: LedgerEvent, previous: LedgerEvent | None) -> Problem | None:
    expected = 1 if previous is None else previous.seq + 1
    if event.seq == expected:
        return None
    if previous is not None and event.seq == previous.seq:
        return _problem("duplicate_seq", DUPLICATE_SEQ, event)
    return _problem("missing", MISSING, event, span=_span(expected, event.seq - 1))


def _check_link(event: LedgerEvent, i: int, events: Sequence[LedgerEvent],
                position: dict[str, int], *, gap: bool) -> Problem | None:
    expected = GENESIS_HASH if i == 0 else events[i - 1].hash
    if event.prev_hash == expected:
        return None
    j = position.get(event.prev_hash)
    if j is not None and j > i:
        return _problem("reordered", REORDERED, event, other=events[j].seq)
    if j is not None and j < i - 1:
        return _problem("inserted", INSERTED, event, other=events[j].seq,
                        prev=events[i - 1].seq, span=_span(events[j + 1].seq, events[i - 1].seq))
    if gap:
        return None  # the missing events explain the broken link
    if i == 0:
        return _problem("not_genesis", NOT_GENESIS, event)
    return _problem("prev_hash_mismatch", PREV_HASH_MISMATCH, event, prev=events[i - 1].seq)


@dataclass(frozen=True)
class TrustedKeys:
    """The public keys checkpoints are checked against (each with the span of events it
    may sign), and where they came from."""

    keys: dict[str, ChainKey]
    held: bool          # True: the auditor's own key (and the keys linked to it)


def recorded_keys(events: Sequence[LedgerEvent]) -> dict[str, tuple[LedgerEvent, Ed25519PublicKey | None]]:
    """Fingerprint -> (its ``ledger.signing_key`` event, the key or ``None`` if unreadable)."""
    out: dict[str, tuple[LedgerEvent, Ed25519PublicKey | None]] = {}
    for event in events:
        if event.kind != SIGNING_KEY_EVENT:
            continue
        try:
            key: Ed25519PublicKey | None = load_public_pem(
                str(event.payload.get("public_key", "")), source=f"event {event.seq}")
        except ConfigError:
            key = None
        out[fingerprint(key) if key else str(event.payload.get("fingerprint"))] = (event, key)
    return out


def verify_checkpoints(home: Home, events: Sequence[LedgerEvent],
                       lines: Sequence[CheckpointLine], *,
                       public_key: Ed25519PublicKey | None = None,
                       grace_s: float = DEFAULT_GRACE_S,
                       now: dt.datetime | None = None) -> tuple[list[Problem], list[str], int | None]:
    """(problems, warnings, last covered seq): every checkpoint line that is malformed,
    unchained, not signed by a trusted key, or no longer matches the chain, and any
    event not covered by a signed checkpoint after ``grace_s`` seconds."""
    problems: list[Problem] = []
    warnings: list[str] = []
    if not events:
        return problems, warnings, None
    recorded = recorded_keys(events)
    chain = key_chain(events)
    for event, message in chain.broken:
        problems.append(Problem("signing_key_replaced", message, seq=event.seq,
                                kind=event.kind))
    linked = chain.by_fingerprint()
    if public_key is not None:
        held = fingerprint(public_key)
        if held in linked:      # rotations link both ways: any key of the chain will do
            trusted = TrustedKeys(linked, held=True)
        else:
            trusted = TrustedKeys({held: ChainKey(held, public_key, None, from_seq=0)},
                                  held=True)
            for fp, (event, _key) in recorded.items():
                if fp != held:
                    problems.append(_problem("signing_key_replaced", SIGNING_KEY_REPLACED,
                                             event, recorded=fp, held=held))
    else:
        trusted = TrustedKeys(linked, held=False)
        if not trusted.keys:
            problems.append(Problem("signing_key_missing", SIGNING_KEY_MISSING.format(
                events=len(events))))
    if not lines:
        problems.append(Problem("checkpoints_deleted", CHECKPOINTS_DELETED.format(
            path=checkpoint_path(home), events=len(events))))
        return problems, warnings, None
    by_seq = {e.seq: e for e in events}
    head_seq = events[-1].seq
    signed_seen = False
    legacy = 0
    last: int | None = None
    previous: CheckpointLine | None = None
    for entry in lines:
        problem = _check_checkpoint(entry, previous, trusted, by_seq, head_seq,
                                    signed_seen=signed_seen)
        previous = entry
        cp = entry.checkpoint
        if cp is not None and cp.legacy and not signed_seen:
            legacy += 1
        if problem is not None:
            problems.append(problem)
        elif cp is not None and not cp.legacy:
            signed_seen = True
            last = cp.seq if last is None else max(last, cp.seq)
    if legacy:
        warnings.append(WARN_LEGACY.format(count=legacy))
    if last is None:
        if not any(p.checkpoint_line is not None for p in problems):
            problems.append(Problem("no_signed_checkpoint", NO_SIGNED_CHECKPOINT.format(
                path=checkpoint_path(home), events=len(events))))
        return problems, warnings, None
    if last < head_seq:
        first_uncovered = by_seq.get(last + 1) or events[-1]
        age = ((now or utcnow()) - dt.datetime.fromisoformat(first_uncovered.at)).total_seconds()
        span = _span(last + 1, head_seq)
        if age > grace_s:
            problems.append(Problem("uncovered", UNCOVERED.format(
                span=span, first=first_uncovered.seq, at=first_uncovered.at, grace=f"{grace_s:g}", last=last),
                seq=first_uncovered.seq, kind=first_uncovered.kind))
        else:
            warnings.append(WARN_UNCOVERED.format(span=span))
    return problems, warnings, last


def _check_checkpoint(entry: CheckpointLine, previous: CheckpointLine | None,
                      trusted: TrustedKeys, by_seq: dict[int, LedgerEvent], head_seq: int,
                      *, signed_seen: bool) -> Problem | None:
    cp, line = entry.checkpoint, entry.line
    if cp is None:
        return Problem("checkpoint_malformed", CHECKPOINT_MALFORMED.format(
            line=line, detail=entry.error), checkpoint_line=line)
    if cp.legacy:
        if signed_seen:
            return Problem("checkpoint_forged", CHECKPOINT_LEGACY_AFTER.format(line=line),
                           seq=cp.seq, checkpoint_line=line)
    else:
        expected_prev = GENESIS_HASH if previous is None else line_hash(previous.text)
        if cp.prev != expected_prev:
            return Problem("checkpoint_unchained", CHECKPOINT_UNCHAINED.format(
                line=line, seq=cp.seq, before=(previous.line if previous else "none")),
                seq=cp.seq, checkpoint_line=line)
        signer = trusted.keys.get(cp.key or "")
        if signer is None:
            whose = "the key you hold" if trusted.held else "a key the ledger records"
            return Problem("checkpoint_foreign_key", CHECKPOINT_FOREIGN_KEY.format(
                line=line, seq=cp.seq, key=cp.key, whose=whose,
                trusted=", ".join(sorted(trusted.keys)) or "none"),
                seq=cp.seq, checkpoint_line=line)
        if cp.alg != ALGORITHM or not signature_valid(signer.key, cp.signed_bytes(),
                                                      cp.signature):
            return Problem("checkpoint_forged", CHECKPOINT_FORGED.format(line=line, seq=cp.seq),
                           seq=cp.seq, checkpoint_line=line)
        if not signer.covers(cp.seq):
            return Problem("checkpoint_retired_key", CHECKPOINT_RETIRED_KEY.format(
                line=line, seq=cp.seq, key=cp.key, retired=signer.retired_at),
                seq=cp.seq, checkpoint_line=line)
    event = by_seq.get(cp.seq)
    if event is None and cp.seq > head_seq:
        return Problem("checkpoint_truncated", CHECKPOINT_TRUNCATED.format(
            line=line, seq=cp.seq, at=cp.at, head=head_seq, span=_span(head_seq + 1, cp.seq)),
            seq=cp.seq, checkpoint_line=line)
    if event is None:
        return Problem("checkpoint_missing_event", CHECKPOINT_MISSING_EVENT.format(
            line=line, seq=cp.seq, at=cp.at), seq=cp.seq, checkpoint_line=line)
    if event.hash != cp.head_hash:
        return Problem("checkpoint_rewritten", CHECKPOINT_REWRITTEN.format(
            line=line, seq=cp.seq, at=cp.at, kind=event.kind, actual=_short(event.hash),
            expected=_short(cp.head_hash)), seq=cp.seq, kind=event.kind, checkpoint_line=line)
    return None


def compare_mirror(home: Home, mirror: Path) -> list[Problem]:
    """The first line where the home's checkpoint file and the mirror's copy differ."""
    mine = read_checkpoint_file(checkpoint_path(home))
    theirs = read_checkpoint_file(mirror / CHECKPOINT_FILE)
    mirror_file = mirror / CHECKPOINT_FILE
    if not (mirror_file).exists():
        return [Problem("mirror_differs", MIRROR_MISSING.format(path=mirror_file))]
    for a, b in zip(mine, theirs):
        if a.text != b.text:
            return [Problem("mirror_differs", MIRROR_DIFFERS.format(
                line=a.line, path=mirror_file, seq=_seq_of(b)), checkpoint_line=a.line)]
    if len(mine) < len(theirs):
        b = theirs[len(mine)]
        return [Problem("mirror_differs", MIRROR_HOME_SHORT.format(
            line=b.line, path=mirror_file, seq=_seq_of(b), count=len(theirs) - len(mine)),
            checkpoint_line=b.line)]
    if len(mine) > len(theirs):
        a = mine[len(theirs)]
        return [Problem("mirror_differs", MIRROR_SHORT.format(
            line=a.line, path=mirror_file, seq=_seq_of(a)), checkpoint_line=a.line)]
    return []


def _seq_of(entry: CheckpointLine) -> str:
    return str(entry.checkpoint.seq) if entry.checkpoint else "?"


def verify_ledger(home: Home, *, checkpoints: bool = True,
                  public_key: Ed25519PublicKey | None = None, mirror: Path | None = None,
                  grace_s: float | None = None, reconcile: bool = True) -> VerifyResult:
    """Recompute the chain from the catalog and, unless ``checkpoints=False``, check it
    against the signed checkpoints (and the mirror, if given) and reconcile the state
    tables with the events. Never raises for tampering: see ``result.problems``."""
    with catalog(home, read_only=True) as con:
        events = read_events(con)
        state_problems = []
        if reconcile and checkpoints:
            from raigov.ledger.reconcile import reconcile_state

            state_problems = [Problem("state_unaccounted", message, seq=seq, kind=kind)
                              for message, seq, kind in reconcile_state(con, events)]
    problems = verify_chain(events)
    lines = read_checkpoints(home) if checkpoints else []
    warnings: list[str] = []
    notes: list[str] = []
    last = None
    if checkpoints:
        grace = grace_from_env() if grace_s is None else grace_s
        found, warned, last = verify_checkpoints(home, events, lines, public_key=public_key,
                                                 grace_s=grace)
        problems += found
        warnings += warned
        if mirror is not None:
            problems += compare_mirror(home, mirror)
        problems += _artifact_problems(home, events)
        problems += state_problems
        if events:
            if public_key is not None:
                notes.append(NOTE_HELD_KEY.format(fp=fingerprint(public_key)))
            else:
                fps = ", ".join(sorted(recorded_keys(events))) or "none"
                notes.append(NOTE_RECORDED_KEY.format(fp=fps))
    head_seq = events[-1].seq if events else 0
    return VerifyResult(events=len(events), head_seq=head_seq,
                        head_hash=events[-1].hash if events else GENESIS_HASH,
                        problems=tuple(problems), warnings=tuple(warnings),
                        checkpoints=len(lines), last_checkpoint_seq=last, notes=tuple(notes))


def _artifact_problems(home: Home, events: Sequence[LedgerEvent]) -> list[Problem]:
    from raigov.ledger.artifacts import REGISTERED_EVENT, artifact_changes

    latest = {e.subject: e for e in events if e.kind == REGISTERED_EVENT}
    out: list[Problem] = []
    for event in latest.values():
        out += [Problem("artifact_changed", message, seq=event.seq, kind=event.kind)
                for message in artifact_changes(home, event)]
    return out


def grace_from_env() -> float:
    value = os.environ.get(GRACE_ENV)
    if value is None:
        return DEFAULT_GRACE_S
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{GRACE_ENV}={value!r} is not a number of seconds") from None


def audit_verify(home: Home, *, public_key: Ed25519PublicKey | None = None,
                 mirror: Path | None = None, grace_s: float | None = None) -> VerifyResult:
    """What ``raigov audit verify`` runs: the chain, every checkpoint, the state tables."""
    return verify_ledger(home, checkpoints=True, public_key=public_key, mirror=mirror,
                         grace_s=grace_s)
