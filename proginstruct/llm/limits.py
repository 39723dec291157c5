"""Per-model request limits (docs/models-and-scale.md): requests in flight, requests per minute, tokens per minute.

A :class:`RateLimit` is a leaky bucket that may go into debt: ``acquire(n)`` waits until ``n`` more units
fit under the per-minute budget, and ``charge(n)`` adds (or, negative, refunds) units afterwards without
waiting. Tokens per minute need both: a request's prompt tokens are only estimated before it is sent,
and its completion tokens are known only from the reply (aiolimiter's bucket can only wait, not be
corrected afterwards, hence these 40 lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass


class RateLimit:
    """At most ``per_minute`` units per 60 s on average, with bursts up to ``per_minute``.

    ``clock`` returns seconds (monotonic). Units drain continuously at ``per_minute / 60`` per second.
    Raises ``ValueError`` for a budget that is not positive.
    """

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic):
        if per_minute <= 0:
            raise ValueError(f"per_minute must be > 0, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = 0.0
        self._clock = clock
        self._last = clock()

    def _drain(self) -> None:
        now = self._clock()
        self.level = max(0.0, self.level - (now - self._last) * self.rate)
        self._last = now

    def delay(self, n: float) -> float:
        """Seconds until ``n`` units fit (0 when they fit now); ``n`` above the budget counts as the budget."""
        self._drain()
        excess = self.level + min(float(n), self.capacity) - self.capacity
        return excess / self.rate if excess > 0 else 0.0

    async def acquire(self, n: float = 1.0) -> None:
        """Wait until ``n`` units fit, then take them."""
        while (wait := self.delay(n)) > 0:
            await asyncio.sleep(wait)
        self.level += n

    def charge(self, n: float) -> None:
        """Add ``n`` units now without waiting (negative ``n`` refunds; the level never drops below 0)."""
        self._drain()
        self.level = max(0.0, self.level + n)


@dataclass
class ModelLimits:
    """The limits of one model: ``in_flight`` (a semaphore, or ``None`` for no limit beyond the engine's
    ``num_proc``), ``requests`` per minute and ``tokens`` per minute (``None`` = no limit)."""

    in_flight: asyncio.Semaphore | None = None
    requests: RateLimit | None = None
    tokens: RateLimit | None = None

    @classmethod
    def build(cls, max_in_flight: int = 0, rpm: float = 0, tpm: float = 0) -> ModelLimits:
        """Limits from the model map / params values (0 = no limit)."""
        return cls(asyncio.Semaphore(int(max_in_flight)) if max_in_flight else None,
                   RateLimit(rpm) if rpm else None, RateLimit(tpm) if tpm else None)

    @property
    def paced(self) -> bool:
        """True when a per-minute budget applies (only then does :meth:`admit` ever wait)."""
        return self.requests is not None or self.tokens is not None

    async def admit(self, tokens: float) -> None:
        """Wait for one request and ``tokens`` estimated tokens of this minute's budgets."""
        if self.requests is not None:
            await self.requests.acquire(1)
        if self.tokens is not None:
            await self.tokens.acquire(tokens)

    def slot(self) -> contextlib.AbstractAsyncContextManager:
        """``async with limits.slot():`` holds one of the model's in-flight places."""
        return self.in_flight if self.in_flight is not None else contextlib.nullcontext()


def estimate_tokens(body: bytes) -> int:
    """A rough token count of a request body before sending (4 bytes a token), corrected from the reply's
    ``usage`` afterwards."""
    return len(body) // 4 + 1
