"""One async engine for every model call (SPEC 5, 10, 11; docs/models-and-scale.md).

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

Batch mode (``llm.mode: batch``, docs/models-and-scale.md "Batch inference"): a request whose reply is
not cached is handed to the engine's ``pending`` sink (:class:`~proginstruct.llm.batch.BatchQueue`), which
queues the very body an online request would send and raises :class:`~proginstruct.llm.batch.Pending`;
the record waits for the next round. ``llm.mode: estimate`` counts the requests instead
(:class:`~proginstruct.llm.batch.EstimateSink`).

Counters (``Stats``, dotted names): ``requests.sent`` (HTTP requests, retries included),
``requests.cache_hits``, ``requests.batched`` (cached replies that a batch job of this run brought),
``requests.deduplicated``, ``tokens.prompt``, ``tokens.completion``,
``roles.<role>.calls|accepted|failed``, ``roles.<role>.attempts``, ``rejected.<role>.<reason>``,
``errors.<role>.<kind>`` (a role call failed because the server refused the request: ``bad_request``,
``status_413``, ``status_422``), ``faults.<kind>`` (every transport fault seen, retried or not:
``server_error``, ``rate_limited``, ``timeout``, ``connection``, ``refused``, ``malformed_response``,
``bad_request``, ``status_<code>``) and ``faults.by_endpoint.<host:port>.<kind>`` (the same per endpoint,
dots of the host written as ``_``: :func:`~proginstruct.llm.endpoints.endpoint_label`), ``faults.grammar_refused``.

Grammar-guided requests (a model map entry's ``"guided"``, :mod:`proginstruct.llm.guided`): the role's
grammar goes into the request body and into the reply cache key. An HTTP 400 to such a request is
checked once by the same request without the grammar; when the server answers that one, it refused the
grammar field, and the run stops with one line saying to remove ``"guided"`` for that model.
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
from .batch import MODES, BatchQueue, EstimateSink
from .cache import ReplyCache, cache_key
from .endpoints import Endpoint, EndpointPool
from .faults import (
    Fault,
    Refused,
    TransportStop,
    connection_fault,
    malformed_fault,
    status_fault,
    stop_message,
)
from .guided import key_params, request_body, role_grammar
from .limits import PRIORITY, Flow, ModelLimits, PrioritySemaphore, estimate_tokens
from .model_map import ModelEntry, ModelMap
from .wire import REFUSE, STOP, WAIT, MalformedCompletion, parse_completion

try:  # the installed openai client is built on httpx2 (httpx's successor); plain httpx works the same way
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the openai version installed
    import httpx  # type: ignore[no-redef]

SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty")
_jitter = random.Random()  # timing only, never data: unseeded on purpose
_PARAM_NAMES = {"concurrency": "num_proc", "timeout": "request_timeout"}  # EngineOptions field -> llm param


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


@dataclass(frozen=True)
class EngineOptions:
    """Transport settings (the ``llm`` params, docs/parameters.md). Seconds for times.

    ``concurrency``: most requests in flight overall (``num_proc``); ``max_retries``: retries of one
    request after transport faults before the run stops (a 429 and a refused connection do not count:
    ``Retry-After``, the endpoint cooldowns and ``down_timeout`` bound those); ``timeout``: per request;
    ``retry_backoff``: first wait before a retry after a 5xx / timeout, doubling up to 30 s, with jitter;
    ``endpoint_failures``, ``endpoint_cooldown``, ``down_timeout``: see
    :class:`~proginstruct.llm.endpoints.EndpointPool`; ``model_max_in_flight``,
    ``model_rpm``, ``model_tpm``: per-model limits for models whose map entry sets none (0 = none);
    ``limit_share``: this process's share of every per-model limit, the map's included (``1 / workers``
    in each worker process of :mod:`proginstruct.collection.workers`; an in-flight limit rounds up).
    ``mode``: ``online`` (requests sent one by one), ``batch`` (rounds of batch jobs) or ``estimate``
    (nothing sent, requests counted); ``batch_poll``: first wait between two polls of a batch job,
    doubling up to 60 s.
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
    mode: str = "online"
    batch_poll: float = 5.0

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> EngineOptions:
        """From the ``llm`` params (missing keys keep their defaults); ``UserError`` for a bad value."""
        fields = {_PARAM_NAMES.get(name, name): name for name in cls.__dataclass_fields__}  # llm param -> field
        given = {key: p[key] for key in fields if key in p}
        check_params(given, "llm")
        kw = {fields[key]: v for key, v in given.items()}
        try:
            opts = cls(**{k: type(getattr(cls, k))(v) for k, v in kw.items()})
        except (TypeError, ValueError) as e:
            raise UserError(f"llm params: {e}; fix the 'llm' section of params.yaml or the flag") from None
        if not 0 < opts.limit_share <= 1:
            raise UserError(f"llm.limit_share must be in (0, 1], got {opts.limit_share}")
        if opts.http_transport not in ("aiohttp", "httpx"):
            raise UserError(f"llm.http_transport must be 'aiohttp' or 'httpx', got {opts.http_transport!r}")
        if opts.mode not in MODES:
            raise UserError(f"llm.mode / --mode must be one of {', '.join(MODES)}, got {opts.mode!r}")
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
        # where a request whose reply is not cached goes in batch / estimate mode (None: sent online)
        self.pending: BatchQueue | EstimateSink | None = None
        if o.mode == "batch":
            self.pending = BatchQueue(model_map, cache, o)
        elif o.mode == "estimate":
            self.pending = EstimateSink()

    @property
    def batch(self) -> BatchQueue | None:
        """The batch queue in batch mode, else ``None``."""
        return self.pending if isinstance(self.pending, BatchQueue) else None

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
                from ..simulator.transport import simulator_http_client

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
        """Close HTTP clients, the batch queue's and the cache."""
        if self.batch is not None:
            await self.batch.aclose()
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
        if self.batch is not None:
            st.merge([self.batch.stats])
        return st

    # ------------------------------------------------------------------ asking
    def request(self, entry: ModelEntry, messages: list[dict], seed: int, role: str, attempt: int,
                grammar: str | None = None, *, sampling: dict[str, Any] | None = None) -> bytes:
        """The request body of one attempt of a role call: the one place a body is built, for online
        requests, batch lines and the grammar check alike (so all send the same bytes).

        ``seed`` is the sample's seed; the body's ``seed`` field derives from (seed, role, attempt).
        ``grammar`` (a guided entry's GBNF for this role, else ``None``) adds the entry's guided field
        (:mod:`~proginstruct.llm.guided`); ``sampling`` replaces the engine's sampling parameters. The
        body is compact JSON in the key order ``chat.completions.create`` sends. Its reply is cached
        under :func:`~proginstruct.llm.cache.cache_key` of (model, messages,
        :func:`~proginstruct.llm.guided.key_params`, attempt), which :meth:`ask` computes first and
        builds the body only when that key is not cached.
        """
        req_seed = derive_seed(seed, role, attempt) & 0x7FFFFFFF
        return orjson.dumps(request_body(entry, messages, self.sampling if sampling is None else sampling,
                                         req_seed, grammar))

    async def ask(self, role: Any, query: Any, seed: int, stats: Stats | None = None) -> RoleResult:
        """Ask ``role`` about ``query``: up to ``max_try`` attempts, each a cached reply or a new request.

        ``seed`` is the sample's seed. The model is picked once per call from (seed, role), so every
        attempt asks the same model and the accepted reply does not depend on how many were rejected
        before it; each request's ``seed`` field derives from (seed, role, attempt). Counters go to
        ``stats`` (default: the engine's). Never raises for a bad reply or a request the server refused
        (``RoleResult.value is None``); raises :class:`TransportStop` (a :class:`UserError`) when a
        transport fault outlasts ``max_retries`` or cannot be retried, and :class:`UserError` for a
        configuration problem no retry can fix (wrong key, unknown model, every endpoint of a model down
        for ``down_timeout``, a server that refuses the grammar field of a ``"guided"``
        entry). A 429 never fails a call: it waits. In batch and estimate modes a reply
        that is not cached raises :class:`~proginstruct.llm.batch.Pending` (the request is queued for the
        round's batch jobs, or counted); a batch line the back end refused fails the call as a refused
        online request does.
        """
        st = self.stats if stats is None else stats
        name = role.name
        st.add(f"roles.{name}.calls")
        messages = role.messages(query)
        entry = self.model_map.pick(derive_seed(seed, name, 0))  # once per call: every attempt asks it
        grammar = role_grammar(entry, role, query)  # None unless the entry is "guided"
        params = key_params(self.sampling, entry, grammar)  # the cache key's request parameters
        reason = ""
        for attempt in range(self.max_try):
            st.add(f"roles.{name}.attempts")
            key = cache_key(entry.name, messages, params, attempt)
            reply = self.cache.get(key)
            if reply is not None:
                batch = self.batch
                st.add("requests.batched" if batch is not None and key in batch.received else "requests.cache_hits")
            else:
                body = self.request(entry, messages, seed, name, attempt, grammar)  # only for a reply not cached
                try:
                    if self.pending is not None:
                        raise Refused(self.pending.need(entry, key, body, name))  # or Pending
                    reply = await self._request_once(entry, body, key, st)
                except Refused as f:
                    if f.kind == "bad_request" and grammar is not None and self.pending is None:  # online only
                        await self._check_grammar_refused(entry, messages, seed, name, attempt, st, f.detail)
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

    async def _request_once(self, entry: ModelEntry, body: bytes, key: str, st: Stats) -> dict[str, Any]:
        """Send one request unless the same key is already in flight; cache and return the reply."""
        fut = self._inflight.get(key)
        if fut is not None:
            st.add("requests.deduplicated")
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            reply = await self._send(entry, body, st)
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
        fault outlasts the retry budget, ``Refused`` when the server refuses the request itself."""
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
            if not isinstance(result, Fault):
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
                raise Refused(fault.kind, fault.detail)
            if fault.action == STOP:
                raise TransportStop(stop_message(self.model_map.path, entry.name, ep.url, fault, None))
            if fault.refused:
                continue  # the endpoint is in cooldown now; the pool and down_timeout bound these
            retries += 1
            if retries > self.options.max_retries:
                raise TransportStop(stop_message(self.model_map.path, entry.name, ep.url, fault, retries - 1))
            base = self.options.retry_backoff * 2 ** (retries - 1)
            await asyncio.sleep(min(base, 30.0) * (1 - 0.25 * _jitter.random()))

    async def _check_grammar_refused(self, entry: ModelEntry, messages: list[dict], seed: int, role: str,
                                     attempt: int, st: Stats, detail: str) -> None:
        """After an HTTP 400 to a guided request: send it once more without the grammar (one token).
        When that one is answered, the server refused the grammar field: raise :class:`UserError` (a
        retry cannot fix it). Otherwise return (the request itself is bad; the role call fails)."""
        body = self.request(entry, messages, seed, role, attempt, sampling={**self.sampling, "max_tokens": 1})
        try:
            await self._send(entry, body, st)
        except Refused:
            return
        st.add("faults.grammar_refused")
        raise UserError(f'{self.model_map.path}: model "{entry.name}" refused the grammar of "guided": '
                        f'"{entry.guided}" ({detail or "HTTP 400"}) but answers without it; remove "guided" '
                        "for that model (or set the kind of server it is: llama.cpp, vllm or sglang)")

    async def _wait_for_endpoint(self, pool: EndpointPool) -> None:
        """Return when some endpoint of ``pool`` is usable; raise ``UserError`` when down too long."""
        while (wait := pool.wait_time()) > 0:
            pool.check_down()
            pool.warn_throttled()
            await asyncio.sleep(min(wait, 0.25))

    async def _post(self, entry: ModelEntry, ep: Endpoint,
                    body: bytes) -> tuple[dict[str, Any], int, int] | Fault:
        """One HTTP exchange: ``(reply, prompt tokens, completion tokens)`` or the fault."""
        client = self._client(entry, ep)
        try:
            raw = await client.post("/chat/completions", cast_to=bytes, content=body)  # JSON content type by default
        except openai.APIStatusError as e:
            return status_fault(e)
        except openai.APIConnectionError as e:  # APITimeoutError included
            return connection_fault(e)
        try:
            return parse_completion(orjson.loads(raw))
        except (orjson.JSONDecodeError, MalformedCompletion) as e:
            return malformed_fault(e)
