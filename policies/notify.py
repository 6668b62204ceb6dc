"""Alert webhooks: a JSON POST per alert transition, sent after the catalog commits.

Configured in the home's ``raigov.toml``::

    [alerts.webhook]
    url = "https://hooks.example.com/raigov"
    timeout_s = 2.0      # per attempt
    attempts = 3         # first try included
    backoff_s = 0.5      # before the 2nd attempt; doubled each time, with jitter

Delivery runs in a background thread and never blocks, fails or rolls back the work
that triggered it: a connection error, a timeout or a 5xx / 429 answer is retried with
backoff; what still fails is logged, never raised. The thread is not a daemon, so a
short-lived command waits for it to finish (bounded by the attempts and timeouts above)
before it exits instead of dropping the notification.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import tomllib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from raigov.errors import ConfigError
from raigov.home import Home

log = logging.getLogger(__name__)

CONFIG_FILE = "raigov.toml"
CONFIG_INVALID = "Invalid {file}: [alerts.webhook] {field}: {problem}"
CONFIG_UNREADABLE = "Cannot read {file}: {problem}"
DELIVERY_RETRY = "Webhook {url}: attempt {attempt} of {attempts} failed ({problem}); retrying"
DELIVERY_FAILED = ("Webhook {url}: giving up on {event} for alert {alert_id} after {attempts} "
                   "attempt(s): {problem}")


class WebhookConfig(BaseModel):
    """Where and how alert notifications are POSTed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    timeout_s: float = Field(default=2.0, gt=0, le=30)
    attempts: int = Field(default=3, ge=1, le=10)
    backoff_s: float = Field(default=0.5, ge=0, le=30)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, not {url!r}")
        return url


def load_webhook_config(home: Home) -> WebhookConfig | None:
    """The ``[alerts.webhook]`` table of ``<home>/raigov.toml``; ``None`` if not set."""
    path = home.root / CONFIG_FILE
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(CONFIG_UNREADABLE.format(file=path, problem=exc)) from exc
    table = data.get("alerts", {}).get("webhook")
    if table is None:
        return None
    try:
        return WebhookConfig.model_validate(table)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(table)"
        raise ConfigError(CONFIG_INVALID.format(
            file=path, field=field, problem=error["msg"])) from exc


class Delivery:
    """A background delivery of notifications; :meth:`wait` joins it (for tests and
    for callers that want to report what was sent)."""

    def __init__(self, config: WebhookConfig, payloads: Sequence[dict[str, Any]]) -> None:
        self.config = config
        self.payloads = list(payloads)
        self.delivered = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="raigov-webhook")

    def start(self) -> Delivery:
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the delivery to end; true if it ended within ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        for payload in self.payloads:
            try:
                ok = post_with_retries(self.config, payload)
            except Exception:  # noqa: BLE001 - a notifier must never crash its host
                log.exception("Webhook %s: unexpected error", self.config.url)
                ok = False
            if ok:
                self.delivered += 1
            else:
                self.failed += 1


def post_with_retries(config: WebhookConfig, payload: dict[str, Any]) -> bool:
    """POST ``payload`` as JSON; retry transport errors, 5xx and 429 with backoff.

    Returns whether it was accepted (2xx). Logs failures; never raises for them.
    """
    import httpx

    problem = ""
    for attempt in range(1, config.attempts + 1):
        try:
            response = httpx.post(config.url, json=payload, timeout=config.timeout_s)
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                return True
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # the receiver rejects this payload; retrying will not help
        if attempt < config.attempts:
            log.warning(DELIVERY_RETRY.format(url=config.url, attempt=attempt,
                                              attempts=config.attempts, problem=problem))
            time.sleep(config.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
    log.error(DELIVERY_FAILED.format(
        url=config.url, event=payload.get("event"), alert_id=payload.get("alert", {}).get(
            "alert_id"), attempts=attempt, problem=problem))
    return False


def notify(config: WebhookConfig | None,
           payloads: Sequence[dict[str, Any]]) -> Delivery | None:
    """Start delivering ``payloads`` in the background; ``None`` if there is nothing to
    send or nowhere to send it. Call only after the catalog transaction committed."""
    if config is None or not payloads:
        return None
    return Delivery(config, payloads).start()
