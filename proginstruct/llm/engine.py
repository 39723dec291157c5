"""One async engine for every model call (SPEC 5, 10, 11).

It owns I/O: picks a model of the map per role call (seeded), sends through the official ``openai``
client to one of the model's endpoints (:mod:`proginstruct.llm.endpoints`) within the global and
per-model limits (:mod:`proginstruct.llm.limits`, oldest record first), retries transport faults itself
(the same request body, possibly on another endpoint, honouring ``Retry-After``), stores every reply in
the :class:`~proginstruct.llm.cache.ReplyCache` before using it, and re-asks a rejected reply as a new
attempt up to ``max_try`` times. Roles only build messages and check replies.

Only a reply can make a role fail (SPEC 5): a protocol violation after ``max_try`` attempts, a refusal,
``finish_reason: length``, or the server refusing the request itself (HTTP 400, 413, 422: a prompt it
cannot take, such as one longer than the model's context). Transport faults never skip a draw:

- a **429** waits (its ``Retry-After``, or a doubling backoff without one) and is sent again, with no
  retry budget, for as long as the model is not declared down;
- **other faults** (5xx, 408, 409, timeouts, dropped connections, unparsable replies) are retried up to
  ``max_retries`` times; when that budget is spent, the run **stops** with :class:`TransportStop` (a
  :class:`~proginstruct.errors.UserError`: one line naming the model, the endpoint and the last error);
  the checkpoint and the cache are kept, so the next run resumes and gives a clean run's bytes;
- a refused connection takes the endpoint out for a cooldown and does not count; "every endpoint down
  for ``down_timeout``" stops the run with one line too, as do 401/403/404 (a configuration problem no
  retry can fix) and other 4xx answers.

Why the retries are here and not the client's (``max_retries=0`` on every client): a retry may go to
another endpoint, a 429 pauses the endpoint that sent it (not just one request), and a refused
connection takes the endpoint out for a cooldown.

Requests go through the client's low-level ``post`` with a body serialized once by orjson and the reply
parsed by orjson: the same bytes as ``chat.completions.create`` would send (same key order, compact,
UTF-8), without its per-request parameter transformation and pydantic models (about 5 ms of CPU per
request on 10 KB prompts, four times the HTTP work itself).

Counters (``Stats``, dotted names): ``requests.sent`` (HTTP requests, retries included),
``requests.cache_hits``, ``requests.deduplicated``, ``tokens.prompt``, ``tokens.completion``,
``roles.<role>.calls|accepted|failed``, ``roles.<role>.attempts``, ``rejected.<role>.<reason>``,
``errors.<role>.<kind>`` (a role call failed because the server refused the request: ``bad_request``,
``status_413``, ``status_422``), ``faults.<kind>`` (every transport fault seen, retried or not:
``server_error``, ``rate_limited``, ``timeout``, ``connection``, ``refused``, ``malformed_response``,
``bad_request``, ``status_<code>``) and ``faults.by_endpoint.<host:port>.<kind>`` (the same per endpoint,
dots of the host written as ``_``: :func:`~proginstruct.llm.endpoints.endpoint_label`).
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
from dataclasses import dataclass
from typing import Any

import openai
import orjson

from ..errors import UserError
from ..ranges import check_params
from ..seeding import derive_seed
from ..stats import Stats
from .cache import ReplyCache, cache_key
from .endpoints import MALFORMED_HINT, Endpoint, EndpointPool, parse_retry_after
from .limits import PRIORITY, Flow, ModelLimits, PrioritySemaphore, estimate_tokens
from .model_map import ModelEntry, ModelMap

try:  # the installed openai client is built on httpx2 (httpx's successor); plain httpx works the same way
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the openai version installed
    import httpx  # type: ignore[no-redef]

SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty")
# the order chat.completions.create serializes a body in (so cassettes and server-side hashes agree)
_BODY_ORDER = ("frequency_penalty", "max_tokens", "presence_penalty", "seed", "temperature", "top_p")
_FATAL_STATUS = {401: "a wrong API key", 403: "no permission", 404: "an unknown model or base URL"}
_jitter = random.Random()  # timing only, never data: unseeded on purpose


@dataclass(frozen=True, slots=True)
class RoleResult:
    """Outcome of one role call: the parsed ``value`` (``None`` when the role failed), the ``model``
    whose reply was accepted, how many ``attempts`` were used, and ``reason`` ("" when accepted, else
    the last rejection reason or ``error.<kind>``)."""

    value: Any
    model: str | None
    attempts: int
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.model is not None


class _Refused(Exception):
    """The server refused this request itself (HTTP 400, 413, 422; not cached): the role call fails."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class TransportStop(UserError):
    """The run stops: a transport fault outlasted the retry budget, or the server answered in a way
    no retry can fix. One line naming the model map, the model, the endpoint and the last error; the
    checkpoint and the reply cache are kept, so the next run resumes."""


# what a request can do about a fault (``_Fault.action``)
RETRY, WAIT, REFUSE, STOP = "retry", "wait", "refuse", "stop"


@dataclass(frozen=True, slots=True)
class _Fault:
    """One failed HTTP exchange: ``kind`` (a ``faults.*`` name), the ``action`` it calls for
    (:data:`RETRY` within ``max_retries``, :data:`WAIT` for a 429, :data:`REFUSE` the role call,
    :data:`STOP` the run), the server's ``retry_after`` (429), ``refused`` (no connection at all), a
    ``detail`` for messages."""

    kind: str
    action: str = RETRY
    retry_after: float | None = None
    refused: bool = False
    detail: str = ""


@dataclass(frozen=True)
class EngineOptions:
    """Transport settings (the ``llm`` params). Seconds for times.

    ``concurrency``: most requests in flight overall (``num_proc``); ``max_retries``: retries of one
    request after transport faults before the run stops (a 429 and a refused connection do not count:
    ``Retry-After``, the endpoint cooldowns and ``down_timeout`` bound those); ``timeout``: per request;
    ``retry_backoff``: first wait before a retry after a 5xx / timeout, doubling up to 30 s, with jitter;
    ``endpoint_failures``, ``endpoint_cooldown``, ``down_timeout``: see
    :class:`~proginstruct.llm.endpoints.EndpointPool`; ``model_max_in_flight``,
    ``model_rpm``, ``model_tpm``: per-model limits for models whose map entry sets none (0 = none);
    ``limit_share``: this process's share of every per-model limit, the map's included (``1 / workers``
    in each worker process of :mod:`proginstruct.collection.workers`; an in-flight limit rounds up).
    """

    concurrency: int = 512
    max_retries: int = 10
    timeout: float = 600.0
    http_transport: str = "aiohttp"
    retry_backoff: float = 0.5
    endpoint_failures: int = 3
    endpoint_cooldown: float = 30.0
    down_timeout: float = 120.0
    model_max_in_flight: int = 0
    model_rpm: float = 0.0
    model_tpm: float = 0.0
    limit_share: float = 1.0

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> EngineOptions:
        """From the ``llm`` params (missing keys keep their defaults); ``UserError`` for a bad value."""
        kw: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            key = "num_proc" if name == "concurrency" else ("request_timeout" if name == "timeout" else name)
            if key in p:
                kw[name] = p[key]
        check_params({("num_proc" if k == "concurrency" else "request_timeout" if k == "timeout" else k): v
                      for k, v in kw.items()}, "llm")
        try:
            opts = cls(**{k: type(getattr(cls, k))(v) for k, v in kw.items()})
        except (TypeError, ValueError) as e:
            raise UserError(f"llm params: {e}; fix the 'llm' section of params.yaml or the flag") from None
        if not 0 < opts.limit_share <= 1:
            raise UserError(f"llm.limit_share must be in (0, 1], got {opts.limit_share}")
        if opts.http_transport not in ("aiohttp", "httpx"):
            raise UserError(f"llm.http_transport must be 'aiohttp' or 'httpx', got {opts.http_transport!r}")
        return opts


class Engine:
    """Ask roles through the model map. Create with :meth:`from_params`; ``await aclose()`` at the end.

    ``sampling``: temperature, top_p, max_tokens, frequency_penalty, presence_penalty (SPEC 9).
    ``options``: transport settings (:class:`EngineOptions`, defaults when ``None``).
    """

    def __init__(self, model_map: ModelMap, cache: ReplyCache, sampling: dict[str, Any], *, max_try: int = 5,
                 options: EngineOptions | None = None, stats: Stats | None = None):
        self.model_map = model_map
        self.cache = cache
        self.sampling = {k: sampling[k] for k in SAMPLING_KEYS}
        self.max_try = max_try
        self.stats = stats if stats is not None else Stats()
        self.options = options or EngineOptions()
        o = self.options
        self._sem = PrioritySemaphore(o.concurrency)
        # requests waiting for an admission, for the record runner (proginstruct.llm.runner): it keeps
        # num_proc / 16 of them (at least 4) waiting, so that a freed place never waits for a record
        self.flow = Flow(backlog=max(4, o.concurrency // 16))
        self._inflight: dict[str, asyncio.Future] = {}
        self.pools: dict[str, EndpointPool] = {}
        self.limits: dict[str, ModelLimits] = {}
        for e in model_map.entries:
            self.pools[e.name] = EndpointPool(e.name, e.bases, failures=o.endpoint_failures,
                                              cooldown=o.endpoint_cooldown, down_timeout=o.down_timeout,
                                              where=model_map.path)
            in_flight = o.model_max_in_flight if e.max_in_flight is None else e.max_in_flight
            rpm, tpm = o.model_rpm if e.rpm is None else e.rpm, o.model_tpm if e.tpm is None else e.tpm
            share = o.limit_share
            self.limits[e.name] = ModelLimits.build(math.ceil(in_flight * share), rpm * share, tpm * share)
        self.in_flight = 0
        self.max_in_flight = 0

    @classmethod
    def from_params(cls, llm_params: dict[str, Any], stats: Stats | None = None, *, quiet: bool = False) -> Engine:
        """Build from the ``llm`` params (keys of ``proginstruct.cli.common.LLM_DEFAULTS``).

        Loads and validates the model map (:class:`UserError` on problems), opens the reply cache, and
        warns loudly on stderr when the map points at the simulated model.
        """
        mm = ModelMap.load(llm_params["model_map"], llm_params.get("models", ""))
        options = EngineOptions.from_params(llm_params)
        if mm.simulated and not quiet:
            sys.stderr.write(
                "\n*** SIMULATED MODEL: model map "
                f"{mm.path} points at the built-in simulator ('base': 'simulator'). Samples are deterministic\n"
                "*** stand-ins for trying the recipe, NOT language-model output. Point the model map at a vLLM or\n"
                "*** sglang server (see README: 'Running on real models') to make real data.\n\n")
        return cls(mm, ReplyCache(llm_params["cache_path"]), llm_params, max_try=int(llm_params["max_try"]),
                   options=options, stats=stats)

    # ------------------------------------------------------------------ clients
    def _client(self, entry: ModelEntry, ep: Endpoint) -> openai.AsyncOpenAI:
        if ep.client is None:
            o = self.options
            if entry.simulated:
                from .simulator import simulator_http_client

                ep.client = openai.AsyncOpenAI(base_url="http://simulator.invalid/v1", api_key="simulator",
                                               http_client=simulator_http_client(), max_retries=0)
            else:
                # keep a connection per request in flight (the client's default keeps 100 and reopens the rest)
                n = o.concurrency + 8
                limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
                timeout = httpx.Timeout(o.timeout or None, connect=min(5.0, o.timeout or 5.0))
                http_client = (openai.DefaultAioHttpClient(limits=limits, timeout=timeout)
                               if o.http_transport == "aiohttp"
                               else openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout))
                ep.client = openai.AsyncOpenAI(base_url=ep.url, api_key=entry.api_key, http_client=http_client,
                                               max_retries=0, timeout=timeout)
        return ep.client

    async def aclose(self) -> None:
        """Close HTTP clients and the cache."""
        for pool in self.pools.values():
            for ep in pool.endpoints:
                if ep.client is not None:
                    await ep.client.close()
                    ep.client = None
        self.cache.close()

    def session_stats(self) -> Stats:
        """Counters of this engine's session that are not per record: ``session.max_in_flight``,
        ``session.endpoints.cooldowns``, ``session.endpoints.paused``."""
        st = Stats()
        st["session.max_in_flight"] = self.max_in_flight
        for pool in self.pools.values():
            for counts in pool.summary().values():
                st["session.endpoints.cooldowns"] += counts.get("cooldowns", 0)
                st["session.endpoints.paused"] += counts.get("paused", 0)
        return st

    # ------------------------------------------------------------------ asking
    async def ask(self, role: Any, query: Any, seed: int, stats: Stats | None = None) -> RoleResult:
        """Ask ``role`` about ``query``: up to ``max_try`` attempts, each a cached reply or a new request.

        ``seed`` is the sample's seed. The model is picked once per call from (seed, role), so every
        attempt asks the same model and the accepted reply does not depend on how many were rejected
        before it; each request's ``seed`` field derives from (seed, role, attempt). Counters go to
        ``stats`` (default: the engine's). Never raises for a bad reply or a request the server refused
        (``RoleResult.value is None``); raises :class:`TransportStop` (a :class:`UserError`) when a
        transport fault outlasts ``max_retries`` or cannot be retried, and :class:`UserError` for a
        configuration problem no retry can fix (wrong key, unknown model, every endpoint of a model down
        for ``down_timeout``). A 429 never fails a call: it waits.
        """
        st = self.stats if stats is None else stats
        name = role.name
        st.add(f"roles.{name}.calls")
        messages = role.messages(query)
        seed0 = derive_seed(seed, name, 0)  # the model pick and the first request's seed
        entry = self.model_map.pick(seed0)
        reason = ""
        for attempt in range(self.max_try):
            st.add(f"roles.{name}.attempts")
            key = cache_key(entry.name, messages, self.sampling, attempt)
            reply = self.cache.get(key)
            if reply is not None:
                st.add("requests.cache_hits")
            else:
                req_seed = (seed0 if attempt == 0 else derive_seed(seed, name, attempt)) & 0x7FFFFFFF
                try:
                    reply = await self._request_once(entry, messages, req_seed, key, st)
                except _Refused as f:
                    st.add(f"errors.{name}.{f.kind}")
                    st.add(f"roles.{name}.failed")
                    return RoleResult(None, None, attempt + 1, f"error.{f.kind}")
            if reply.get("finish_reason") == "length":
                reason = "length"
            else:
                verdict = role.check(query, reply.get("text") or "")
                if verdict.ok:
                    st.add(f"roles.{name}.accepted")
                    return RoleResult(verdict.value, entry.name, attempt + 1)
                reason = verdict.reason
            st.add(f"rejected.{name}.{reason}")
        st.add(f"roles.{name}.failed")
        return RoleResult(None, None, self.max_try, reason)

    async def _request_once(self, entry: ModelEntry, messages: list[dict], seed: int, key: str,
                            st: Stats) -> dict[str, Any]:
        """Send one request unless the same key is already in flight; cache and return the reply."""
        fut = self._inflight.get(key)
        if fut is not None:
            st.add("requests.deduplicated")
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            body = {"model": entry.name, "messages": messages}
            params = {**self.sampling, "seed": seed}
            for k in _BODY_ORDER:
                body[k] = params[k]
            reply = await self._send(entry, orjson.dumps(body), st)
            self.cache.put(key, entry.name, reply)
            fut.set_result(reply)
            return reply
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._inflight[key]

    async def _send(self, entry: ModelEntry, body: bytes, st: Stats) -> dict[str, Any]:
        """POST ``body`` to an endpoint of ``entry`` until a reply; raises :class:`TransportStop` when a
        fault outlasts the retry budget, ``_Refused`` when the server refuses the request itself."""
        pool, limits = self.pools[entry.name], self.limits[entry.name]
        estimate = estimate_tokens(body)
        priority = PRIORITY.get()
        retries = 0
        flow = self.flow
        while True:
            slot = limits.in_flight
            flow.queued()
            try:
                # checked first: no coroutine per request while every endpoint is up and no budget applies
                if pool.wait_time() > 0:
                    await self._wait_for_endpoint(pool)
                if limits.paced:
                    await limits.admit(estimate, priority)
                if slot is not None:
                    await slot.acquire(priority)
                try:
                    await self._sem.acquire(priority)
                except BaseException:
                    if slot is not None:
                        slot.release()
                    raise
            finally:
                flow.admitted()
            try:
                ep = pool.choose()
                if ep is None:  # every endpoint went down while this request waited for its slot
                    continue
                pool.begin(ep)
                st.add("requests.sent")
                self.in_flight += 1
                if self.in_flight > self.max_in_flight:
                    self.max_in_flight = self.in_flight
                try:
                    result = await self._post(entry, ep, body)
                except BaseException:
                    pool.released(ep)
                    raise
                finally:
                    self.in_flight -= 1
            finally:
                self._sem.release()
                if slot is not None:
                    slot.release()
            if not isinstance(result, _Fault):
                reply, prompt, completion = result
                pool.succeeded(ep)
                if limits.tokens is not None:
                    limits.tokens.charge(prompt + completion - estimate)
                st.add("tokens.prompt", prompt)
                st.add("tokens.completion", completion)
                return reply
            fault = result
            st.add(f"faults.{fault.kind}")
            st.add(f"faults.by_endpoint.{ep.label}.{fault.kind}")
            if fault.action == WAIT:  # a 429: the endpoint is paused; no retry budget (SPEC 5)
                pool.rate_limited(ep, fault.retry_after)
                continue
            pool.failed(ep, fault.kind, fault.detail, refused=fault.refused)
            if fault.action == REFUSE:
                raise _Refused(fault.kind)
            if fault.action == STOP:
                raise TransportStop(self._stop_message(entry, ep, fault, None))
            if fault.refused:
                continue  # the endpoint is in cooldown now; the pool and down_timeout bound these
            retries += 1
            if retries > self.options.max_retries:
                raise TransportStop(self._stop_message(entry, ep, fault, retries - 1))
            base = self.options.retry_backoff * 2 ** (retries - 1)
            await asyncio.sleep(min(base, 30.0) * (1 - 0.25 * _jitter.random()))

    def _stop_message(self, entry: ModelEntry, ep: Endpoint, fault: _Fault, retries: int | None) -> str:
        """The one line of a :class:`TransportStop`: model map, model, endpoint, last error, what to do."""
        where = f'{self.model_map.path}: model "{entry.name}" at {ep.url}'
        last = f"{fault.kind}: {fault.detail}" if fault.detail else fault.kind
        if fault.kind == "malformed_response":
            last += f" ({MALFORMED_HINT})"
        if retries is None:
            return (f"{where} answered {fault.detail or fault.kind}; the run stopped (checkpoint and reply cache "
                    "kept): fix the request or the server, then run the same command again to resume")
        return (f"{where}: a request failed {retries + 1} times (llm.max_retries {retries}); last error: {last}; "
                "the run stopped (checkpoint and reply cache kept): run the same command again to resume "
                "once the server answers, or raise llm.max_retries")

    async def _wait_for_endpoint(self, pool: EndpointPool) -> None:
        """Return when some endpoint of ``pool`` is usable; raise ``UserError`` when down too long."""
        while (wait := pool.wait_time()) > 0:
            pool.check_down()
            pool.warn_throttled()
            await asyncio.sleep(min(wait, 0.25))

    async def _post(self, entry: ModelEntry, ep: Endpoint,
                    body: bytes) -> tuple[dict[str, Any], int, int] | _Fault:
        """One HTTP exchange: ``(reply, prompt tokens, completion tokens)`` or the fault."""
        client = self._client(entry, ep)
        try:
            raw = await client.post("/chat/completions", cast_to=bytes, content=body)  # JSON content type by default
        except openai.APIStatusError as e:
            return _status_fault(e)
        except openai.APIConnectionError as e:  # APITimeoutError included
            cause = str(e.__cause__ or e)
            detail = cause.splitlines()[0][:160] if cause else type(e).__name__
            if _connect_failure(e):  # (the aiohttp transport reports a refused connection as a timeout)
                return _Fault("refused", refused=True, detail=detail)
            if isinstance(e, openai.APITimeoutError):
                return _Fault("timeout", detail="no reply within llm.request_timeout")
            return _Fault("connection", detail=detail)
        try:
            data = orjson.loads(raw)
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):
                raise TypeError("content is not a string")
            usage = data.get("usage") or {}
            prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            return _Fault("malformed_response", detail=f"HTTP 200 with a body that is not a chat completion "
                          f"({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})")
        return {"text": text, "finish_reason": choice.get("finish_reason") or ""}, prompt, completion


#: HTTP statuses that refuse one request (its prompt), not the server: the role call fails (SPEC 5)
_REFUSED_STATUS = {400: "bad_request", 413: "status_413", 422: "status_422"}


def _status_fault(e: openai.APIStatusError) -> _Fault:
    code = e.status_code
    detail = f"{code} ({_short(e)})"
    if code in _FATAL_STATUS:
        return _Fault(f"status_{code}", STOP, detail=f"{detail}: {_FATAL_STATUS[code]}; check its \"api\" key, "
                      "the model name and the base URL")
    if code == 429:
        if _quota_exhausted(e):  # a billing quota, not a rate: waiting would never end
            return _Fault("rate_limited", STOP, detail=f"{detail}: the account's quota is used up")
        return _Fault("rate_limited", WAIT, retry_after=parse_retry_after(e.response.headers), detail=detail)
    if code >= 500 or code in (408, 409):
        return _Fault("server_error" if code >= 500 else f"status_{code}", RETRY, detail=detail)
    if code in _REFUSED_STATUS:
        return _Fault(_REFUSED_STATUS[code], REFUSE, detail=detail)
    return _Fault(f"status_{code}", STOP, detail=detail)


def _quota_exhausted(e: openai.APIStatusError) -> bool:
    """True for OpenAI's 429 ``insufficient_quota`` (the account's credit is spent)."""
    err = e.body if isinstance(e.body, dict) else {}  # the client's body is the "error" object
    err = err["error"] if isinstance(err.get("error"), dict) else err
    return "insufficient_quota" in (str(err.get("code")), str(err.get("type")), str(getattr(e, "code", "")))


def _connect_failure(e: openai.APIConnectionError) -> bool:
    """True when no connection could be opened at all (refused, unresolvable, connect timeout): the
    endpoint is down, not one request."""
    cause = e.__cause__
    while cause is not None:
        if type(cause).__name__ in ("ConnectError", "ConnectTimeout"):
            return True
        cause = cause.__cause__
    return False


def _short(e: openai.APIStatusError) -> str:
    msg = str(getattr(e, "message", e)).splitlines()[0] if str(e) else ""
    return msg[:160]
