"""What signing costs: the time to append a signed, chained checkpoint after a unit of
work, and `audit verify --public-key` over a ledger of N events and checkpoints.
Prints JSON. Run: .venv/bin/python tests/benchmarks/bench_ledger_verify.py [units] [events_per_unit]"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(units: int = 500, per_unit: int = 10) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        from raigov.ledger.signing import generate_private_key, write_private_key

        key_file = Path(tmp) / "keys" / "signing.pem"
        key = generate_private_key()
        write_private_key(key_file, key)
        os.environ["RAIGOV_SIGNING_KEY_FILE"] = str(key_file)
        from raigov.home import Home
        from raigov.ledger.chain import append_event
        from raigov.ledger.checkpoints import write_checkpoint
        from raigov.ledger.verify import audit_verify
        from raigov.store.catalog import catalog

        home = Home.resolve(Path(tmp) / "home").ensure()
        unit_s = []
        for u in range(units):
            start = time.perf_counter()
            with catalog(home) as con:
                for i in range(per_unit):
                    append_event(con, "bench.event", actor="bench", subject=f"s{u}",
                                 payload={"u": u, "i": i})
            unit_s.append(time.perf_counter() - start)
        cp_s = []
        for n in range(50):
            start = time.perf_counter()
            write_checkpoint(home, head=(10**9 + n, "f" * 64), key=key)   # a new line each
            cp_s.append(time.perf_counter() - start)
        # drop the synthetic lines again: verify the real ones
        path = home.root / "ledger.checkpoints"
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:-50]))
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            result = audit_verify(home, public_key=key.public_key())
            runs.append(time.perf_counter() - start)
        assert result.ok, result.describe()
        cp_s.sort()
        unit_s.sort()
        return {"events": result.events, "checkpoints": result.checkpoints,
                "unit_of_work_median_ms": round(unit_s[len(unit_s) // 2] * 1e3, 2),
                "checkpoint_append_median_ms": round(cp_s[len(cp_s) // 2] * 1e3, 2),
                "verify_s_median": round(sorted(runs)[1], 3)}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(main(*args), indent=2))
