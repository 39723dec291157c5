"""The endpoints of one model (docs/models-and-scale.md): spread requests, take failing endpoints out for a cooldown.

An :class:`EndpointPool` holds the base URLs of one model of the map. :meth:`EndpointPool.choose` gives
the usable endpoint with the fewest requests in flight (ties rotate). Outcomes come back through
:meth:`~EndpointPool.succeeded`, :meth:`~EndpointPool.failed` and :meth:`~EndpointPool.rate_limited`:

- ``failures`` consecutive failures (HTTP 5xx, timeouts, dropped connections, unparsable replies), or one
  connection refused, put an endpoint in **cooldown** for ``cooldown`` seconds, doubling for each
  cooldown in a row without a success in between (at most 8x); when it ends, the endpoint is tried
  again (a failing probe sends it back);
- a 429 **pauses** an endpoint until its ``Retry-After`` (capped at :data:`MAX_RETRY_AFTER` seconds), or
  for an exponential backoff of consecutive 429s when the header is missing or zero; a paused endpoint
  is not failing, it is asked to slow down (however long that lasts: :meth:`~EndpointPool.warn_throttled`
  says so on stderr once a minute);
- when every endpoint of the model has been in cooldown, with no success since, for longer than
  ``down_timeout`` seconds, :meth:`~EndpointPool.check_down` raises :class:`~proginstruct.errors.UserError`:
  the run stops with one line instead of hanging. The line says what the endpoints last did: refused
  connections and errors, or (:data:`MALFORMED_HINT`) HTTP 200 replies that are not chat completions.

No I/O and no asyncio here: the engine sends, waits and reports; ``clock`` is injectable for tests.
"""

from __future__ import annotations

import email.utils
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError

MAX_RETRY_AFTER = 120.0  # seconds: longer server-directed pauses are cut to this (the openai client's cap)
THROTTLE_BASE, THROTTLE_MAX = 0.5, 30.0  # seconds: pause after a 429 without Retry-After, doubling
THROTTLE_WARN_EVERY = 60.0  # seconds between warnings while a model answers only 429s
MALFORMED_HINT = ("unparsable replies from a reachable server: check that \"base\" is the server's "
                  "OpenAI-compatible /v1 URL")


def endpoint_label(url: str) -> str:
    """``host:port`` of an endpoint URL for counter names, dots written as ``_`` (counter names are
    dotted paths): ``http://10.0.0.5:8000/v1`` -> ``10_0_0_5:8000``, ``https://api.x.com/v1`` ->
    ``api_x_com:443``; ``"simulator"`` stays as it is."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname:
        return url.replace(".", "_")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname.replace('.', '_')}:{port}"


@dataclass(eq=False)
class Endpoint:
    """One base URL of a model and its health. Times are ``clock()`` seconds."""

    url: str
    index: int
    label: str = ""  # host:port for counter names (endpoint_label)
    client: Any = None  # the openai client for this URL, set by the engine
    in_flight: int = 0
    failures: int = 0  # consecutive failures since the last success or cooldown
    cooldowns: int = 0  # cooldowns in a row without a success
    throttles: int = 0  # 429s in a row without a success
    down_until: float = 0.0
    paused_until: float = 0.0
    last_error: str = ""
    counts: dict[str, int] = field(default_factory=dict)  # "sent", "ok", "cooldowns", "paused", fault kinds

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


class EndpointPool:
    """The endpoints of model ``model`` at ``urls`` (at least one).

    ``failures``: consecutive failures that start a cooldown (>= 1); ``cooldown``: its first length in
    seconds; ``down_timeout``: seconds with every endpoint in cooldown before :meth:`check_down` raises;
    ``where``: names the configuration in that message (the model map's path).
    """

    def __init__(self, model: str, urls: tuple[str, ...] | list[str], *, failures: int = 3, cooldown: float = 30.0,
                 down_timeout: float = 120.0, where: str = "model map",
                 clock: Callable[[], float] = time.monotonic):
        if not urls:
            raise ValueError(f"model {model!r} has no endpoint")
        self.model = model
        self.endpoints = [Endpoint(u, i, endpoint_label(u)) for i, u in enumerate(urls)]
        self.failures_to_cooldown = max(1, int(failures))
        self.cooldown = float(cooldown)
        self.down_timeout = float(down_timeout)
        self.where = where
        self.clock = clock
        self.down_since: float | None = None  # every endpoint in cooldown since then, no success after
        self.throttled_since: float | None = None  # 429s since then, no success after
        self._warned_at = 0.0
        self._turn = 0

    # ----------------------------------------------------------------------------------- choosing
    def usable(self, ep: Endpoint, now: float) -> bool:
        return ep.down_until <= now and ep.paused_until <= now

    def choose(self) -> Endpoint | None:
        """The usable endpoint with the fewest requests in flight (ties rotate), or ``None`` when every
        endpoint is in cooldown or paused. Does not count the request: call :meth:`begin`."""
        now = self.clock()
        eps = self.endpoints
        n = len(eps)
        best: Endpoint | None = None
        for k in range(n):
            ep = eps[(self._turn + k) % n]
            if self.usable(ep, now) and (best is None or ep.in_flight < best.in_flight):
                best = ep
        if best is not None:
            self._turn = (best.index + 1) % n
        return best

    def wait_time(self) -> float:
        """Seconds until some endpoint is usable again (0 when one is now)."""
        now = self.clock()
        return max(0.0, min(max(ep.down_until, ep.paused_until) for ep in self.endpoints) - now)

    def check_down(self) -> None:
        """Raise :class:`UserError` when every endpoint has been down longer than ``down_timeout``."""
        if self.down_since is None:
            return
        down = self.clock() - self.down_since
        if down <= self.down_timeout:
            return
        urls = self.endpoints[0].url if len(self.endpoints) == 1 else "any of " + ", ".join(
            ep.url for ep in self.endpoints)
        errors = "; ".join(f"{ep.url}: {ep.last_error}" for ep in self.endpoints if ep.last_error)
        if all(ep.last_error.startswith("malformed_response") for ep in self.endpoints):
            raise UserError(f'{self.where}: model "{self.model}" at {urls} answers HTTP 200 with bodies that are '
                            f"not chat completions ({MALFORMED_HINT}); every endpoint out for {down:.0f} s "
                            f"(llm.down_timeout {self.down_timeout:g} s; last errors: {errors})")
        raise UserError(f'{self.where}: cannot reach model "{self.model}" at {urls} for {down:.0f} s '
                        f"(every endpoint down, llm.down_timeout {self.down_timeout:g} s; last errors: "
                        f"{errors or 'none'}); start the server(s) (README: 'Running on real models') "
                        'or fix its "base"')

    def warn_throttled(self) -> None:
        """While every reply since the last success was a 429 (for over :data:`THROTTLE_WARN_EVERY`
        seconds), write one warning line to stderr per that many seconds: the run waits, it has not hung."""
        if self.throttled_since is None:
            return
        now = self.clock()
        if now - self.throttled_since >= THROTTLE_WARN_EVERY and now - self._warned_at >= THROTTLE_WARN_EVERY:
            self._warned_at = now
            sys.stderr.write(f'warning: model "{self.model}" has answered only HTTP 429 (rate limited) for '
                             f"{now - self.throttled_since:.0f} s; waiting as the server asks (Retry-After), "
                             "no request is given up\n")

    # ----------------------------------------------------------------------------------- outcomes
    def begin(self, ep: Endpoint) -> None:
        """A request is being sent to ``ep``."""
        ep.in_flight += 1
        ep.count("sent")

    def succeeded(self, ep: Endpoint) -> None:
        """``ep`` answered (any reply the server meant to give, even one the role rejects)."""
        ep.in_flight -= 1
        ep.failures = ep.cooldowns = ep.throttles = 0
        ep.count("ok")
        self.down_since = self.throttled_since = None

    def failed(self, ep: Endpoint, kind: str, detail: str = "", *, refused: bool = False) -> None:
        """A request to ``ep`` failed with fault ``kind``; ``refused`` (no connection at all) starts a
        cooldown at once, other faults after ``failures`` in a row."""
        ep.in_flight -= 1
        ep.failures += 1
        ep.last_error = f"{kind}: {detail}" if detail else kind
        ep.count(kind)
        now = self.clock()
        if (refused or ep.failures >= self.failures_to_cooldown) and ep.down_until <= now:
            ep.down_until = now + self.cooldown * min(2 ** ep.cooldowns, 8)
            ep.cooldowns += 1
            ep.failures = 0
            ep.count("cooldowns")
            if self.down_since is None and all(e.down_until > now for e in self.endpoints):
                self.down_since = now

    def rate_limited(self, ep: Endpoint, retry_after: float | None) -> float:
        """``ep`` answered 429: pause it for ``retry_after`` seconds (capped at :data:`MAX_RETRY_AFTER`)
        or, without the header (or with 0, which would make every waiting request retry at once), for an
        exponential backoff of its 429s in a row. Returns the pause."""
        ep.in_flight -= 1
        ep.count("rate_limited")
        if retry_after is None or retry_after <= 0:
            pause = min(THROTTLE_BASE * 2 ** ep.throttles, THROTTLE_MAX)
        else:
            pause = min(retry_after, MAX_RETRY_AFTER)
        ep.throttles += 1
        if self.throttled_since is None:
            self.throttled_since = self.clock()
        if pause > 0:
            ep.paused_until = max(ep.paused_until, self.clock() + pause)
            ep.count("paused")
        return pause

    def released(self, ep: Endpoint) -> None:
        """A request to ``ep`` ended with no verdict on the endpoint (cancelled, a client-side error)."""
        ep.in_flight -= 1

    def summary(self) -> dict[str, dict[str, int]]:
        """Per-endpoint counters, keyed by URL."""
        return {ep.url: dict(ep.counts) for ep in self.endpoints}


def parse_retry_after(headers: Mapping[str, str] | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a response's ``retry-after-ms`` or ``Retry-After`` header (delta seconds, a
    decimal, or an HTTP date); ``None`` when absent or unreadable."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() - now()
