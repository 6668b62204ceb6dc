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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from raigov.store.catalog import catalog
from raigov.ledger.checkpoints import (CheckpointLine, checkpoint_path, key_path, load_key,
                                read_checkpoints, signature_ok)
from raigov.errors import VerificationError
from raigov.home import Home
from raigov.ledger.chain import GENESIS_HASH, LedgerEvent, event_hash, read_events

ProblemCode = Literal[
    "event_edited", "prev_hash_mismatch", "not_genesis", "reordered", "inserted",
    "missing", "duplicate_seq", "checkpoint_malformed", "checkpoint_forged",
    "checkpoint_truncated", "checkpoint_missing_event", "checkpoint_rewritten",
    "checkpoints_deleted", "checkpoint_key_missing"]

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
CHECKPOINTS_DELETED = ("checkpoint file {path} holds no checkpoints, but the checkpoint key "
                       "{key} exists: the checkpoint file was deleted or emptied")
CHECKPOINT_KEY_MISSING = ("checkpoint file {path} holds {count} checkpoint(s), but the key "
                          "{key} is missing: their signatures cannot be checked")
WARN_NO_CHECKPOINTS = ("the ledger has no checkpoints yet: events removed from its tail or a "
                       "rebuilt chain would go unnoticed")
WARN_UNCOVERED = "event(s) {span} are not covered by a checkpoint yet"
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


def verify_checkpoints(home: Home, events: Sequence[LedgerEvent],
                       lines: Sequence[CheckpointLine]) -> list[Problem]:
    """Every checkpoint line that is malformed, unsigned, or no longer matches the chain."""
    key = load_key(home)
    if not lines:
        if key is None:
            return []
        return [Problem("checkpoints_deleted", CHECKPOINTS_DELETED.format(
            path=checkpoint_path(home), key=key_path(home)))]
    if key is None:
        return [Problem("checkpoint_key_missing", CHECKPOINT_KEY_MISSING.format(
            path=checkpoint_path(home), count=len(lines), key=key_path(home)))]
    by_seq = {e.seq: e for e in events}
    head_seq = events[-1].seq if events else 0
    problems: list[Problem] = []
    for entry in lines:
        problem = _check_checkpoint(entry, key, by_seq, head_seq)
        if problem is not None:
            problems.append(problem)
    return problems


def _check_checkpoint(entry: CheckpointLine, key: bytes, by_seq: dict[int, LedgerEvent],
                      head_seq: int) -> Problem | None:
    cp, line = entry.checkpoint, entry.line
    if cp is None:
        return Problem("checkpoint_malformed", CHECKPOINT_MALFORMED.format(
            line=line, detail=entry.error), checkpoint_line=line)
    if not signature_ok(key, cp):
        return Problem("checkpoint_forged", CHECKPOINT_FORGED.format(line=line, seq=cp.seq),
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


def verify_ledger(home: Home, *, checkpoints: bool = True) -> VerifyResult:
    """Recompute the chain from the catalog and, unless ``checkpoints=False``, check it
    against the signed checkpoints. Never raises for tampering: see ``result.problems``."""
    with catalog(home, read_only=True) as con:
        events = read_events(con)
    problems = verify_chain(events)
    lines = read_checkpoints(home) if checkpoints else []
    if checkpoints:
        problems += verify_checkpoints(home, events, lines)
    head_seq = events[-1].seq if events else 0
    failed = {p.checkpoint_line for p in problems}
    valid = [e.checkpoint.seq for e in lines
             if e.checkpoint is not None and e.line not in failed]
    last = max(valid) if valid else None
    warnings: list[str] = []
    if checkpoints and events and last is None and not problems:
        warnings.append(WARN_NO_CHECKPOINTS)
    elif checkpoints and last is not None and last < head_seq:
        warnings.append(WARN_UNCOVERED.format(span=_span(last + 1, head_seq)))
    return VerifyResult(events=len(events), head_seq=head_seq,
                        head_hash=events[-1].hash if events else GENESIS_HASH,
                        problems=tuple(problems), warnings=tuple(warnings),
                        checkpoints=len(lines), last_checkpoint_seq=last)


def audit_verify(home: Home) -> VerifyResult:
    """What ``raigov audit verify`` runs: the chain and every checkpoint."""
    return verify_ledger(home, checkpoints=True)
