"""A test plugin that stops capture threads inside a real ``raigov serve`` process.

It is loaded the way every plugin is, through the home's ``settings.yaml``
(``plugins: [tests.serving.capture_faults_plugin]``), so the server under test runs
unchanged; nothing in raigov reads a test switch. While ``<home>/test-faults/stop-commit``
exists, the next commit raises ``SystemExit`` (what a plugin calling ``sys.exit`` in the
commit thread would raise): the thread stops for good. Faults that real disks and
kernels produce (a full disk, a file-size limit, an unwritable lake, flipped bytes) are
injected for real by the tests instead.
"""

from __future__ import annotations

from raigov.models.capture.committer import Committer

_commit = Committer._commit


def _commit_unless_told_to_stop(self: Committer, batches) -> None:
    home = self.spool_dir.parents[1]          # <home>/spool/slot-NNN
    if (home / "test-faults" / "stop-commit").exists():
        raise SystemExit("stopped by tests.serving.capture_faults_plugin")
    _commit(self, batches)


Committer._commit = _commit_unless_told_to_stop  # type: ignore[method-assign]
