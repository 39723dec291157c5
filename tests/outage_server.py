"""A switchable outage in front of the loopback simulator, for the outage tests.

``Outage`` is an aiohttp middleware (pass ``outage.middleware`` to ``serve_in_thread(middlewares=...)``):
while ``mode`` is set, every chat-completions request is answered with that fault instead of the
simulator's reply; the test sets and clears ``mode`` from its own thread (one attribute, read by the
server's loop per request).
"""

from __future__ import annotations

import time

from aiohttp import web


class Outage:
    """``mode``: ``None`` (pass through), ``"429"`` (with ``Retry-After: retry_after``), ``"429_bare"`` (no
    header), ``"500"``, ``"junk"`` (HTTP 200 with a JSON body that is not a chat completion) or ``"quota"``
    (429 ``insufficient_quota``). ``until``: a ``time.monotonic()`` after which the outage ends by itself
    (``None``: until cleared); ``after``: requests let through before the outage starts. ``faults``:
    requests answered with a fault; ``passed``: let through."""

    def __init__(self, mode: str | None = None, retry_after: str = "0.1", until: float | None = None,
                 after: int = 0):
        self.mode, self.retry_after, self.until, self.after = mode, retry_after, until, after
        self.faults = self.passed = 0

        @web.middleware
        async def middleware(request: web.Request, handler):  # noqa: ANN001, ANN202
            if not request.path.endswith("/chat/completions") or not self.active():
                if request.path.endswith("/chat/completions"):
                    self.passed += 1
                return await handler(request)
            self.faults += 1
            if self.mode == "junk":
                return web.json_response({"status": "ok", "message": "welcome to the proxy"})
            if self.mode == "500":
                return web.json_response({"error": {"message": "outage"}}, status=500)
            if self.mode == "quota":
                return web.json_response({"error": {"message": "You exceeded your current quota",
                                                    "type": "insufficient_quota", "code": "insufficient_quota"}},
                                         status=429)
            headers = {"Retry-After": self.retry_after} if self.mode == "429" else {}
            return web.json_response({"error": {"message": "rate limited"}}, status=429, headers=headers)

        self.middleware = middleware

    def active(self) -> bool:
        """True while the outage lasts."""
        if self.mode is None or self.passed < self.after:
            return False
        if self.until is not None and time.monotonic() >= self.until:
            self.mode = None
            return False
        return True
