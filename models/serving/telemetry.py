"""Prometheus metrics of one serving process (``GET /metrics``).

Labels are bounded: the ``model`` label is a served model's name or ``(unknown)`` for
any other name a request used, so clients cannot grow the label set. Capture's own
figures are read from the :class:`CaptureWriter` at each scrape (the writer counts them
where they happen, in its threads, so an async commit that fails after its requests
were answered is counted as well), and so are a text model's token counts
(:class:`~raigov.models.artifacts.text_head.TextStats`) and, under CUDA only, the
device's memory and utilisation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
UNKNOWN_MODEL = "(unknown)"


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.served: frozenset[str] = frozenset()
        r = self.registry
        self.requests = Counter("raigov_requests", "HTTP requests by model, route and status",
                                ["model", "route", "status"], registry=r)
        self.latency = Histogram("raigov_request_latency_seconds", "Request latency",
                                 ["model", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch_rows = Histogram("raigov_batch_rows", "Rows per forward pass",
                                    ["model"], buckets=BATCH_BUCKETS, registry=r)
        self.forward_seconds = Histogram("raigov_forward_seconds", "Forward pass time",
                                         ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.rows_predicted = Counter("raigov_rows_predicted", "Rows predicted and captured",
                                      ["model"], registry=r)
        self.rows_logged = Counter("raigov_rows_logged", "Rows of predictions made elsewhere, "
                                   "logged and captured", ["model"], registry=r)
        self.rows_quarantined = Counter("raigov_rows_quarantined", "Rows rejected and quarantined",
                                        ["model"], registry=r)
        self.labels_received = Counter("raigov_labels_received", "Feedback labels captured",
                                       ["model"], registry=r)
        self.auth_failures = Counter("raigov_auth_failures",
                                     "Requests refused by authentication or authorisation, by "
                                     "reason (missing, malformed, unknown, revoked, expired, "
                                     "scope, model, snapshot)", ["reason"], registry=r)
        self.rate_limited = Counter("raigov_rate_limited", "Requests refused (429) by a key's "
                                    "rate limit, by key name", ["key"], registry=r)
        self.capture_timeouts = Counter("raigov_capture_timeouts", "Requests answered 503 "
                                        "because capture did not acknowledge in time", registry=r)

    def model_label(self, name: str) -> str:
        """``name`` if it is served here, else the one fixed label for all others."""
        return name if name in self.served else UNKNOWN_MODEL

    def watch_capture(self, writer: Callable[[], object]) -> None:
        """Report the capture writer ``writer()`` returns at each scrape."""
        self.registry.register(_CaptureCollector(writer))

    def watch_text(self, models: Callable[[], dict[str, object]]) -> None:
        """Report the token counts of the text models ``models()`` returns (name ->
        :class:`~raigov.models.artifacts.text_head.TextStats`) at each scrape."""
        self.registry.register(_TextCollector(models))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _CaptureCollector:
    def __init__(self, writer: Callable[[], object]) -> None:
        self._writer = writer

    def describe(self) -> Iterable:
        return []    # collected fresh each scrape; nothing to declare up front

    def collect(self) -> Iterator:
        writer = self._writer()
        if writer is None:
            return
        s = writer.stats
        yield _gauge("raigov_spool_bytes", "Bytes in this process's spool files",
                     writer.spool_bytes())
        yield _gauge("raigov_capture_lag_seconds",
                     "Age of the oldest row when its spool file was last sealed", s.last_seal_lag_s)
        yield _counter("raigov_capture_failures", "Batches the spool could not take (disk "
                       "full, cap, write errors) or capture refused", s.failed_batches + s.refused_batches)
        yield _gauge("raigov_capture_backlog_batches", "Acknowledged batches (async) waiting "
                     "in memory for the spool to take them", writer.backlog_batches())
        yield _counter("raigov_capture_lost_rows", "Acknowledged rows never written (a "
                       "stopped commit thread)", s.lost_rows)
        yield _counter("raigov_spool_damaged_ranges", "Spool byte ranges holding no valid "
                       "frame, kept in the spool quarantine", s.damaged_ranges)
        yield _counter("raigov_spool_damaged_bytes", "Bytes of those ranges", s.damaged_bytes)
        errors = CounterMetricFamily("raigov_capture_thread_errors", "Failures of a capture "
                                     "thread (each retried)", labels=["thread"])
        up = GaugeMetricFamily("raigov_capture_thread_up", "1 while a capture thread runs",
                               labels=["thread"])
        for name, health in writer.health.items():
            errors.add_metric([name], health.errors)
            up.add_metric([name], 0 if health.stopped else 1)
        yield errors
        yield up


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class _TextCollector:
    def __init__(self, models: Callable[[], dict[str, object]]) -> None:
        self._models = models

    def describe(self) -> Iterable:
        return []

    def collect(self) -> Iterator:
        tokens = CounterMetricFamily("raigov_text_tokens", "Real tokens a text model's "
                                     "encoder read", labels=["model"])
        padded = CounterMetricFamily("raigov_text_padded_tokens", "Token slots the batch "
                                     "padding added (dynamic: to a batch's longest text)",
                                     labels=["model"])
        share = GaugeMetricFamily("raigov_text_padding_share", "Padded slots over all "
                                  "slots the encoder ran", labels=["model"])
        rate = GaugeMetricFamily("raigov_text_tokens_per_second", "Real tokens per second "
                                 "of encoder time", labels=["model"])
        for name, stats in sorted(self._models().items()):
            real, pad, seconds = stats.snapshot()
            tokens.add_metric([name], real)
            padded.add_metric([name], pad)
            share.add_metric([name], pad / (real + pad) if real + pad else 0.0)
            rate.add_metric([name], real / seconds if seconds > 0 else 0.0)
        yield from (tokens, padded, share, rate)
        yield from _cuda_gauges()


def _cuda_gauges() -> list[GaugeMetricFamily]:
    """Device memory and utilisation, under CUDA only (no GPU: nothing)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    out = [_gauge("raigov_gpu_memory_bytes", "CUDA memory allocated by this process",
                  torch.cuda.memory_allocated())]
    try:
        out.append(_gauge("raigov_gpu_utilization_ratio", "GPU busy share (NVML)",
                          torch.cuda.utilization() / 100))
    except Exception:  # noqa: BLE001 - NVML missing: memory alone is still reported
        pass
    return out
