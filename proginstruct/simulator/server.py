"""The simulated model on a loopback HTTP server, with fault injection (for load and resilience tests).

Endpoints (the OpenAI API subset the engine uses, answered by :mod:`proginstruct.simulator.api`):

- ``POST /v1/chat/completions``: a ``chat.completion`` object, or an injected fault;
- ``GET /v1/models``: the one simulated model;
- the Files and Batches endpoints of the Batch API (:mod:`proginstruct.simulator.batches`), with the
  ``batch_*`` options: a delay, failed lines, expired / failed / refused jobs, or no Batch API at all;
- ``GET /stats``: JSON counters (``?bodies=1`` adds the count per request-body hash), with the batch
  service's under ``"batch"``;
- ``POST /stats/reset``: zero the counters and re-seed the fault draws.

Faults are drawn per chat-completions request, in arrival order, from one ``random.Random(fault_seed)``
(deterministic for a given server run and arrival order): one uniform draw ``u`` picks ``http_500``
when ``u < fail_500``, else ``http_429`` (with a ``Retry-After`` header) when ``u < fail_500 + fail_429``,
else ``timeout`` (sleep ``timeout_sleep`` seconds, then answer) within ``fail_timeout`` more, else
``malformed`` (a 200 reply whose content breaks the role's protocol) within ``malformed`` more, else
``ok``. Every request first sleeps ``latency`` seconds. With ``hold_after`` N > 0, the first N
chat-completions requests are answered and later ones wait until the server stops (to freeze a client
mid-run, for crash tests). Everything runs on one event loop; per-request
work is a body hash and the simulator's sub-millisecond reply, so 512+ concurrent requests are fine.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from aiohttp import web

from ..ranges import check_params
from .api import completion_response, error_body, models_response, parse_body
from .batches import BatchOptions, BatchService
from .protocol import detect_role
from .replies import malformed_reply

OUTCOMES = ("ok", "http_500", "http_429", "timeout", "malformed", "bad_request")
MAX_BODY_BYTES = 256 * 1024 * 1024  # prompts with long files exceed aiohttp's 1 MiB; batch files reach 200 MB


@dataclass(frozen=True)
class ServerOptions:
    """Server behaviour. ``latency`` and ``timeout_sleep`` in seconds; the four fault rates are
    probabilities in [0, 1] whose sum is at most 1; ``retry_after`` is the ``Retry-After`` header value
    sent with a 429 (seconds, as text); ``fault_seed`` seeds the fault draws.

    Raises :class:`~proginstruct.ranges.ParamError` (a ``ValueError``) for a value outside its range
    (:data:`proginstruct.ranges.RANGES`, section ``simulate``: a rate outside [0, 1], a negative duration
    or count), ``ValueError`` for rates summing above 1.
    """

    latency: float = 0.0
    fail_500: float = 0.0
    fail_429: float = 0.0
    retry_after: str = "0"
    fail_timeout: float = 0.0
    timeout_sleep: float = 30.0
    malformed: float = 0.0
    fault_seed: int = 0
    hold_after: int = 0
    batch_api: bool = True
    batch_delay: float = 0.0
    batch_fail_lines: float = 0.0
    batch_expire_jobs: int = 0
    batch_fail_jobs: int = 0
    batch_refuse: str = ""

    def batch_options(self) -> BatchOptions:
        """The :class:`~proginstruct.simulator.batches.BatchOptions` of the ``batch_*`` fields (line faults
        seeded with ``fault_seed``)."""
        return BatchOptions(delay=float(self.batch_delay), fail_lines=float(self.batch_fail_lines),
                            expire_jobs=int(self.batch_expire_jobs), fail_jobs=int(self.batch_fail_jobs),
                            refuse=str(self.batch_refuse), enabled=bool(self.batch_api), seed=int(self.fault_seed))

    def __post_init__(self) -> None:
        checked = check_params(asdict(self), "simulate")
        rates = [float(checked[name]) for name in ("fail_500", "fail_429", "fail_timeout", "malformed")]
        if sum(rates) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must sum to at most 1, got {sum(rates)}")
        object.__setattr__(self, "retry_after", str(self.retry_after))

    def draw(self, rng: random.Random) -> str:
        """The fault for one request (an :data:`OUTCOMES` name, ``"ok"`` for none), one draw of ``rng``."""
        u = rng.random()
        for outcome, rate in (("http_500", self.fail_500), ("http_429", self.fail_429),
                              ("timeout", self.fail_timeout), ("malformed", self.malformed)):
            if u < rate:
                return outcome
            u -= rate
        return "ok"


class ServerState:
    """Counters and the fault RNG of one server (touched only from its event loop)."""

    def __init__(self, options: ServerOptions):
        self.options = options
        self.batches = BatchService(options.batch_options())
        self.reset()

    def reset(self) -> None:
        """Zero every counter and re-seed the fault draws with ``fault_seed``."""
        self.rng = random.Random(self.options.fault_seed)
        self.requests = 0
        self.outcomes: Counter[str] = Counter({o: 0 for o in OUTCOMES})
        self.roles: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()
        self.replied_bodies: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.admitted = 0  # requests let through (hold_after)
        self.held = 0
        if hasattr(self, "batches"):
            self.batches.reset()

    def snapshot(self, bodies: bool = False) -> dict[str, Any]:
        """The ``/stats`` JSON: ``requests`` (chat completions received), ``by_outcome`` (every
        :data:`OUTCOMES` name), ``by_role``, ``bodies`` (``distinct``, ``repeated``: hashes received more
        than once, ``max_repeats``; with ``bodies=True`` also ``counts``: SHA-256 of the raw body -> times
        received, and ``replied``: body hash -> times a 200 reply was returned for it), ``replied`` (200
        replies returned), ``held`` (requests waiting because of ``hold_after``), ``in_flight``,
        ``max_in_flight``, the server ``options`` and ``batch``: the Files and Batches counters
        (:meth:`~proginstruct.simulator.batches.BatchService.snapshot`, per body with ``bodies=True``)."""
        body_stats: dict[str, Any] = {
            "distinct": len(self.bodies),
            "repeated": sum(1 for c in self.bodies.values() if c > 1),
            "max_repeats": max(self.bodies.values(), default=0),
        }
        if bodies:
            body_stats["counts"] = dict(self.bodies)
            body_stats["replied"] = dict(self.replied_bodies)
        return {"requests": self.requests, "by_outcome": dict(self.outcomes), "by_role": dict(self.roles),
                "bodies": body_stats, "replied": sum(self.replied_bodies.values()), "held": self.held,
                "in_flight": self.in_flight, "max_in_flight": self.max_in_flight, "options": asdict(self.options),
                "batch": self.batches.snapshot(bodies)}


STATE = web.AppKey("state", ServerState)


def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(payload), status=status, headers=headers,
                        content_type="application/json")


async def _chat_completions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    opts = state.options
    raw = await request.read()
    state.requests += 1
    digest = hashlib.sha256(raw).hexdigest()
    state.bodies[digest] += 1
    if opts.hold_after:
        if state.admitted >= opts.hold_after:
            state.held += 1
            await asyncio.Event().wait()  # until the server stops
        state.admitted += 1
    fault = opts.draw(state.rng)
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        if opts.latency:
            await asyncio.sleep(opts.latency)
        if fault == "http_500":
            state.outcomes[fault] += 1
            return _json(500, error_body("simulated internal server error", "server_error"))
        if fault == "http_429":
            state.outcomes[fault] += 1
            return _json(429, error_body("simulated rate limit", "rate_limit_exceeded"),
                         {"Retry-After": opts.retry_after})
        if fault == "timeout":
            state.outcomes[fault] += 1
            await asyncio.sleep(opts.timeout_sleep)
        try:
            body = parse_body(raw)
            messages = body.get("messages")
            role = detect_role(messages) if isinstance(messages, list) else "unknown"
            state.roles[role] += 1
            content = malformed_reply(messages) if fault == "malformed" and isinstance(messages, list) else None
            payload = completion_response(body, content)
        except ValueError as err:
            state.outcomes["bad_request"] += 1
            return _json(400, error_body(str(err)))
        if fault != "timeout":
            state.outcomes[fault] += 1
        state.replied_bodies[digest] += 1
        return _json(200, payload)
    finally:
        state.in_flight -= 1


async def _batch_api(request: web.Request) -> web.Response:
    body = await request.read()
    status, content, ctype = request.app[STATE].batches.handle(request.method, request.path,
                                                               request.headers.get("Content-Type", ""), body)
    return web.Response(body=content, status=status, content_type=ctype)


async def _models(request: web.Request) -> web.Response:
    return _json(200, models_response())


async def _stats(request: web.Request) -> web.Response:
    detail = request.query.get("bodies", "") not in ("", "0", "false")
    return _json(200, request.app[STATE].snapshot(bodies=detail))


async def _stats_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return _json(200, {"reset": True})


def make_app(**options: Any) -> web.Application:
    """The aiohttp application; ``options`` are the :class:`ServerOptions` fields.

    Raises ``TypeError`` for an unknown option and ``ValueError`` for a bad value.
    """
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE] = ServerState(ServerOptions(**options))
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", _chat_completions)
        app.router.add_get(f"{prefix}/models", _models)
        for kind in ("files", "batches"):
            app.router.add_route("*", f"{prefix}/{kind}", _batch_api)
            app.router.add_route("*", f"{prefix}/{kind}/{{tail:.*}}", _batch_api)
    app.router.add_get("/stats", _stats)
    app.router.add_post("/stats/reset", _stats_reset)
    return app


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def base_url(host: str, port: int) -> str:
    """The OpenAI base URL of a server on ``host:port`` (``http://127.0.0.1:8000/v1``; IPv6 bracketed)."""
    h = host.strip("[]")
    return f"http://[{h}]:{port}/v1" if ":" in h else f"http://{h}:{port}/v1"


async def _start(host: str, port: int, options: dict[str, Any], shutdown_timeout: float,
                 middlewares: tuple = ()) -> tuple[web.AppRunner, int]:
    if not is_loopback(host):
        raise ValueError(f"refusing to serve on {host!r}: the simulator listens on loopback only "
                         "(127.0.0.1, ::1 or localhost)")
    app = make_app(**options)
    app.middlewares.extend(middlewares)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host.strip("[]"), port, backlog=4096)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


async def serve(host: str = "127.0.0.1", port: int = 8000, on_start: Callable[[str], None] | None = None,
                **options: Any) -> None:
    """Serve until cancelled; ``on_start(base_url)`` is called once listening (``port`` 0 = a free port).

    Raises ``ValueError`` for a host that is not loopback or a bad option, ``OSError`` when the port is
    taken.
    """
    runner, real_port = await _start(host, port, options, shutdown_timeout=1.0)
    try:
        if on_start is not None:
            on_start(base_url(host, real_port))
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve_in_thread(host: str = "127.0.0.1", port: int = 0, *, middlewares: tuple = (),
                    **options: Any) -> tuple[str, Callable[[], None]]:
    """Run the server on its own event loop in a daemon thread (for tests and benchmarks).

    ``middlewares``: aiohttp middlewares run before every handler (a test or benchmark puts its own
    outage, or an arrival log, in front of the simulator).

    Returns ``(base_url, stop)``: the OpenAI base URL with the real port (``port`` 0 = pick a free one),
    and an idempotent ``stop()`` that shuts the server down (requests still sleeping are cancelled
    after 0.25 s) and joins the thread. Raises as :func:`serve` does.
    """
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["runner"], box["port"] = loop.run_until_complete(_start(host, port, options, 0.25, middlewares))
        except BaseException as err:  # reported to the caller below
            box["error"] = err
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(box["runner"].cleanup())
            pending = asyncio.all_tasks(loop)  # handlers still sleeping (timeouts, hold_after)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    thread = threading.Thread(target=run, name="proginstruct-simulator", daemon=True)
    thread.start()
    ready.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    stopped = threading.Lock()

    def stop() -> None:
        if not stopped.acquire(blocking=False):
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)

    return base_url(host, box["port"]), stop
