"""Admission of requests (docs/models-and-scale.md): per-model limits, the global in-flight bound, oldest record first.

Three kinds of limit, each of which can make a request wait:

- :class:`PrioritySemaphore`: at most ``n`` requests in flight (the engine's ``num_proc``, a model's
  ``max_in_flight``);
- :class:`RateLimit`: requests or tokens per minute, as a leaky bucket that may go into debt:
  :meth:`RateLimit.acquire` waits until ``n`` more units fit, and :meth:`RateLimit.charge` adds (or,
  negative, refunds) units afterwards without waiting. Tokens per minute need both: a request's prompt
  tokens are only estimated before it is sent, and its completion tokens are known only from the
  reply (aiolimiter's bucket can only wait, not be corrected afterwards, hence this class). The burst
  is :data:`BURST_SECONDS` seconds' worth of the limit, never a whole minute's: a server that enforces
  its limit over any 60-second window sees at most the limit plus that burst;
- :class:`ModelLimits`: the three limits of one model together.

Waiting requests are admitted by **priority** (lowest first, then first come): the record index set in
:data:`PRIORITY` by the record runner (:mod:`proginstruct.llm.runner`), so the oldest record's next call
goes before younger records' first calls, and records are finished (and written, in input order) one
after another instead of all at the end. :class:`Flow` counts the requests waiting for an admission,
for the runner, which starts new records only while few do.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

#: seconds' worth of a per-minute limit that may be sent at once (at most 1.1 x the limit in any 60 s)
BURST_SECONDS = 3.0

#: the admission priority of the requests of the current task (lower first): the record index, set
#: per record task by :func:`proginstruct.llm.runner.run_ordered`; 0 outside it
PRIORITY: contextvars.ContextVar[int] = contextvars.ContextVar("proginstruct_request_priority", default=0)

_arrivals = itertools.count()  # first come, first served among equal priorities


class PrioritySemaphore:
    """At most ``value`` holders at once (``value`` >= 1); waiters get a released place lowest
    ``priority`` first, then in arrival order. ``await acquire(priority)`` / ``release()``."""

    def __init__(self, value: int):
        if value < 1:
            raise ValueError(f"value must be >= 1, got {value}")
        self.free = int(value)
        self._waiters: list[tuple[int, int, asyncio.Future]] = []

    async def acquire(self, priority: int = 0) -> None:
        """Take a place, waiting for one when none is free (or others already wait)."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(_arrivals), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # handed a place, then cancelled: pass it on
                self.release()
            else:
                fut.cancel()  # skipped by release()
            raise

    def release(self) -> None:
        """Give the place back: to the first waiter by priority, else to the free count."""
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class RateLimit:
    """At most ``per_minute`` units per 60 s on average, with bursts of ``burst_seconds`` worth of units.

    ``clock`` returns seconds (monotonic). Units drain continuously at ``per_minute / 60`` per second.
    Waiters are served lowest ``priority`` first (then first come) by one pacing task. Raises
    ``ValueError`` for a budget or burst that is not positive.
    """

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 burst_seconds: float = BURST_SECONDS):
        if per_minute <= 0 or burst_seconds <= 0:
            raise ValueError(f"per_minute and burst_seconds must be > 0, got {per_minute}, {burst_seconds}")
        self.rate = float(per_minute) / 60.0
        self.capacity = self.rate * burst_seconds
        self.level = 0.0
        self._clock = clock
        self._last = clock()
        self._waiters: list[tuple[int, int, float, asyncio.Future]] = []
        self._pacer: asyncio.Task | None = None

    def _drain(self) -> None:
        now = self._clock()
        self.level = max(0.0, self.level - (now - self._last) * self.rate)
        self._last = now

    def delay(self, n: float) -> float:
        """Seconds until ``n`` units fit (0 when they fit now); ``n`` above the burst counts as the burst
        (such a request waits for an empty bucket, then takes its full ``n``: debt)."""
        self._drain()
        excess = self.level + min(float(n), self.capacity) - self.capacity
        return excess / self.rate if excess > 0 else 0.0

    async def acquire(self, n: float = 1.0, priority: int = 0) -> None:
        """Wait until ``n`` units fit and no waiter of a lower priority is ahead, then take them."""
        if not self._waiters and self.delay(n) <= 0:
            self.level += n
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(_arrivals), float(n), fut))
        if self._pacer is None or self._pacer.done():
            self._pacer = asyncio.ensure_future(self._pace())
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.charge(-n)  # admitted, then cancelled before sending: give the units back
            else:
                fut.cancel()
            raise

    async def _pace(self) -> None:
        """Admit the first waiter by priority whenever its units fit (re-checked after each wait, since a
        waiter of a lower priority may have arrived meanwhile)."""
        while self._waiters:
            _, _, n, fut = self._waiters[0]
            if fut.done():
                heapq.heappop(self._waiters)
                continue
            wait = self.delay(n)
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            heapq.heappop(self._waiters)
            self.level += n
            fut.set_result(None)

    def charge(self, n: float) -> None:
        """Add ``n`` units now without waiting (negative ``n`` refunds; the level never drops below 0)."""
        self._drain()
        self.level = max(0.0, self.level + n)


@dataclass
class ModelLimits:
    """The limits of one model: ``in_flight`` (a :class:`PrioritySemaphore`, or ``None`` for no limit
    beyond the engine's ``num_proc``), ``requests`` per minute and ``tokens`` per minute (``None`` = no
    limit)."""

    in_flight: PrioritySemaphore | None = None
    requests: RateLimit | None = None
    tokens: RateLimit | None = None

    @classmethod
    def build(cls, max_in_flight: int = 0, rpm: float = 0, tpm: float = 0) -> ModelLimits:
        """Limits from the model map / params values (0 = no limit)."""
        return cls(PrioritySemaphore(int(max_in_flight)) if max_in_flight else None,
                   RateLimit(rpm) if rpm else None, RateLimit(tpm) if tpm else None)

    @property
    def paced(self) -> bool:
        """True when a per-minute budget applies (only then does :meth:`admit` ever wait)."""
        return self.requests is not None or self.tokens is not None

    async def admit(self, tokens: float, priority: int = 0) -> None:
        """Wait for one request and ``tokens`` estimated tokens of the per-minute budgets."""
        if self.requests is not None:
            await self.requests.acquire(1, priority)
        if self.tokens is not None:
            await self.tokens.acquire(tokens, priority)


class Flow:
    """Requests waiting for an admission (an endpoint to come back, a per-minute budget, a place in
    flight), counted by the engine and read by the record runner.

    ``backlog``: how many such requests may wait before the runner stops starting records: the limits
    already have work queued, so a new record would only wait too (and hold its memory). The runner sets
    :attr:`hungry` when it stops for that reason; :meth:`admitted` sets :attr:`wake` once half of those
    have been admitted (so records are started in batches, not one wake-up per request). A client that is
    only short of CPU has no request waiting, so this never holds it back.
    """

    def __init__(self, backlog: int = 32) -> None:
        self.backlog = max(1, int(backlog))
        self.waiting = 0
        self.hungry = False
        self.wake = asyncio.Event()

    def queued(self) -> None:
        """A request started waiting for its admission."""
        self.waiting += 1

    def admitted(self) -> None:
        """A request stopped waiting (admitted, or given up)."""
        self.waiting -= 1
        if self.hungry and self.waiting <= self.backlog // 2:
            self.hungry = False
            self.wake.set()


def estimate_tokens(body: bytes) -> int:
    """A rough token count of a request body before sending (4 bytes a token), corrected from the reply's
    ``usage`` afterwards."""
    return len(body) // 4 + 1
