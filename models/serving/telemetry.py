"""Prometheus metrics of one serving process (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
        self.capture_lag = Gauge("raigov_capture_lag_seconds",
                                 "Age of the oldest row when its spool file was last sealed",
                                 registry=r)
        self.spool_bytes = Gauge("raigov_spool_bytes", "Bytes in this process's spool files",
                                 registry=r)
        self.capture_failures = Counter("raigov_capture_failures",
                                        "Batches refused by the spool (disk full or cap)",
                                        registry=r)
        self.auth_failures = Counter("raigov_auth_failures",
                                     "Requests refused by authentication or authorisation, by "
                                     "reason (missing, malformed, unknown, revoked, expired, "
                                     "scope, model, snapshot)", ["reason"], registry=r)
        self.rate_limited = Counter("raigov_rate_limited", "Requests refused (429) by a key's "
                                    "rate limit, by key name", ["key"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
