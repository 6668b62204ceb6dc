"""``raigov serve``: every registered model over HTTP, each prediction captured."""

from __future__ import annotations

import click

from raigov.cli.support import (HOME_OPTION, TLS_CERT_OPTION, TLS_KEY_OPTION, check_tls_pair,
                                translate_errors)
from raigov.cli.support import resolve_home as _home


@click.command()
@HOME_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--durability", type=click.Choice(["sync", "async"]), default="sync",
              show_default=True, help="sync: respond after the rows are fsynced to the spool.")
@click.option("--max-batch-rows", default=512, show_default=True, type=int)
@click.option("--max-wait-ms", default=0.0, show_default=True, type=float,
              help="Hold a batch open this long for more rows (0: a batch is every request "
                   "queued when the model is free).")
@click.option("--seal-interval-s", default=1.0, show_default=True, type=float,
              help="Seal the spool into Parquet segments this often.")
@click.option("--spool-cap-bytes", default=None, type=int,
              help="Refuse captures (503) once the spool holds this many bytes.")
@click.option("--device", default=None, help="torch device (default: cuda if available, else cpu).")
@click.option("--no-capture", is_flag=True, hidden=True,
              help="Benchmarks only: predictions are not captured.")
@click.option("--pending-events", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="CloudEvents halves kept waiting for their pair, at most.")
@click.option("--pending-age", default=300.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds a CloudEvents half waits for its pair before it is quarantined.")
@click.option("--max-clock-skew-s", default=300.0, show_default=True,
              type=click.FloatRange(min=0),
              help="Event times further ahead of the server clock are refused (422); "
                   "further behind need scope backfill (403).")
@click.option("--max-body-bytes", default=4 << 20, show_default=True, type=click.IntRange(min=1),
              help="Refuse (413) a request body larger than this, before parsing it.")
@click.option("--max-rows", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Refuse (413) a request with more rows (or labels, or instances).")
@click.option("--capture-timeout-s", default=30.0, show_default=True,
              type=click.FloatRange(min=0.01),
              help="Answer 503 when capture has not acknowledged a request's rows by then.")
@click.option("--no-auth", is_flag=True,
              help="Serve without API keys (loopback --host only; logs a warning).")
@TLS_CERT_OPTION
@TLS_KEY_OPTION
@translate_errors
def serve(home: str | None, host: str, port: int, durability: str, max_batch_rows: int,
          max_wait_ms: float, seal_interval_s: float, spool_cap_bytes: int | None,
          device: str | None, no_capture: bool, pending_events: int,
          pending_age: float, max_clock_skew_s: float, max_body_bytes: int, max_rows: int,
          capture_timeout_s: float, no_auth: bool, tls_cert: str | None,
          tls_key: str | None) -> None:
    """Serve every registered model over HTTP and capture each prediction; every route
    but /healthz needs an API key (raigov keys create)."""
    from raigov.models.serving.app import ServeConfig, run_server
    from raigov.models.serving.auth import NO_AUTH_WARNING, check_serving_access
    from raigov.models.serving.limits import Limits

    check_tls_pair(tls_cert, tls_key)
    resolved = _home(home)
    check_serving_access(resolved, host=host, auth=not no_auth)
    from raigov.store.lake_fs import lake_fs

    lake_fs(resolved)        # a bad RAIGOV_LAKE_URL fails here, not in the sealer
    from raigov.ledger.signing import configured_private_key

    configured_private_key(resolved)   # an unreadable key, or one inside the home, fails now
    if not no_capture:
        from raigov.models.capture.segments import check_capture_key

        check_capture_key(resolved)
    if no_auth:
        click.echo(NO_AUTH_WARNING.format(host=host, port=port), err=True)
    cfg = ServeConfig(durability=durability, max_batch_rows=max_batch_rows,  # type: ignore[arg-type]
                      max_wait_ms=max_wait_ms, seal_interval_s=seal_interval_s,
                      spool_cap_bytes=spool_cap_bytes, device=device,
                      capture=not no_capture, pending_events=pending_events,
                      pending_age_s=pending_age, max_clock_skew_s=max_clock_skew_s,
                      limits=Limits(max_body_bytes=max_body_bytes, max_rows=max_rows),
                      capture_timeout_s=capture_timeout_s, auth=not no_auth)
    scheme = "https" if tls_cert else "http"
    click.echo(f"raigov serve on {scheme}://{host}:{port} (durability {durability})", err=True)
    run_server(resolved, host=host, port=port, config=cfg, tls_cert=tls_cert, tls_key=tls_key)
