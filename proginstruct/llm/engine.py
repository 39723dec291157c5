"""One async engine for every model call (SPEC 5, 10, 11).

It owns I/O: picks a model of the map per request (seeded), asks it through the official ``openai``
client with bounded concurrency and the client's retries with backoff (429, 5xx, timeouts), stores
every reply in the :class:`~proginstruct.llm.cache.ReplyCache` before using it, and re-asks a
rejected reply as a new attempt up to ``max_try`` times. Roles only build messages and check replies.

Counters (``Stats``, dotted names): ``requests.sent``, ``requests.cache_hits``, ``tokens.prompt``,
``tokens.completion``, ``roles.<role>.calls|accepted|failed``, ``roles.<role>.attempts``,
``rejected.<role>.<reason>``, ``errors.<role>.<kind>``.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

import openai

from ..errors import UserError
from ..seeding import derive_seed
from ..stats import Stats
from .cache import ReplyCache, cache_key
from .model_map import ModelEntry, ModelMap

SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty")


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


class _TransportFailure(Exception):
    """A request that failed after the client's retries (not cached, not fatal): ``kind`` names it."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Engine:
    """Ask roles through the model map. Create with :meth:`from_params`; ``await aclose()`` at the end.

    ``sampling``: temperature, top_p, max_tokens, frequency_penalty, presence_penalty (SPEC 9).
    ``concurrency``: most requests in flight at once (the original ``num_proc``).
    """

    def __init__(self, model_map: ModelMap, cache: ReplyCache, sampling: dict[str, Any], *, max_try: int = 5,
                 concurrency: int = 512, max_retries: int = 6, timeout: float = 600.0,
                 stats: Stats | None = None, http_transport: str = "aiohttp"):
        self.model_map = model_map
        self.cache = cache
        self.sampling = {k: sampling[k] for k in SAMPLING_KEYS}
        self.max_try = max_try
        self.stats = stats if stats is not None else Stats()
        self._sem = asyncio.Semaphore(concurrency)
        self._inflight: dict[str, asyncio.Future] = {}
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._max_retries, self._timeout, self._transport = max_retries, timeout, http_transport

    @classmethod
    def from_params(cls, llm_params: dict[str, Any], stats: Stats | None = None, *, quiet: bool = False) -> Engine:
        """Build from the ``llm`` params (keys of ``proginstruct.cli.common.LLM_DEFAULTS``).

        Loads and validates the model map (:class:`UserError` on problems), opens the reply cache, and
        warns loudly on stderr when the map points at the simulated model.
        """
        mm = ModelMap.load(llm_params["model_map"], llm_params.get("models", ""))
        if mm.simulated and not quiet:
            sys.stderr.write(
                "\n*** SIMULATED MODEL: model map "
                f"{mm.path} points at the built-in simulator ('base': 'simulator'). Samples are deterministic\n"
                "*** stand-ins for trying the recipe, NOT language-model output. Point the model map at a vLLM or\n"
                "*** sglang server (see README: 'Running on real models') to make real data.\n\n")
        return cls(mm, ReplyCache(llm_params["cache_path"]), llm_params,
                   max_try=int(llm_params["max_try"]), concurrency=int(llm_params["num_proc"]),
                   max_retries=int(llm_params["max_retries"]), timeout=float(llm_params["request_timeout"]),
                   stats=stats, http_transport=str(llm_params.get("http_transport", "aiohttp")))

    # ------------------------------------------------------------------ clients
    def _client(self, entry: ModelEntry) -> openai.AsyncOpenAI:
        client = self._clients.get(entry.name)
        if client is None:
            if entry.simulated:
                from .simulator import simulator_http_client

                client = openai.AsyncOpenAI(base_url="http://simulator.invalid/v1", api_key="simulator",
                                            http_client=simulator_http_client(), max_retries=0)
            else:
                http_client = openai.DefaultAioHttpClient() if self._transport == "aiohttp" else None
                client = openai.AsyncOpenAI(base_url=entry.base, api_key=entry.api_key, http_client=http_client,
                                            max_retries=self._max_retries, timeout=self._timeout)
            self._clients[entry.name] = client
        return client

    async def aclose(self) -> None:
        """Close HTTP clients and the cache."""
        for c in self._clients.values():
            await c.close()
        self._clients.clear()
        self.cache.close()

    # ------------------------------------------------------------------ asking
    async def ask(self, role: Any, query: Any, seed: int, stats: Stats | None = None) -> RoleResult:
        """Ask ``role`` about ``query``: up to ``max_try`` attempts, each a cached reply or a new request.

        ``seed`` is the sample's seed; the model pick and the request's ``seed`` field derive from
        (seed, role, attempt). Counters go to ``stats`` (default: the engine's). Never raises for a bad
        reply or a failed request (``RoleResult.value is None``); raises :class:`UserError` for a
        configuration problem no retry can fix (unreachable server, wrong key, unknown model).
        """
        st = self.stats if stats is None else stats
        name = role.name
        st.add(f"roles.{name}.calls")
        messages = role.messages(query)
        reason = ""
        for attempt in range(self.max_try):
            st.add(f"roles.{name}.attempts")
            req_seed = derive_seed(seed, name, attempt)
            entry = self.model_map.pick(req_seed)
            key = cache_key(entry.name, messages, self.sampling, attempt)
            reply = self.cache.get(key)
            if reply is not None:
                st.add("requests.cache_hits")
            else:
                try:
                    reply = await self._request_once(entry, messages, req_seed & 0x7FFFFFFF, key, st)
                except _TransportFailure as f:
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
            reply = await self._send(entry, messages, seed, st)
            self.cache.put(key, entry.name, reply)
            fut.set_result(reply)
            return reply
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._inflight[key]

    async def _send(self, entry: ModelEntry, messages: list[dict], seed: int, st: Stats) -> dict[str, Any]:
        client = self._client(entry)
        async with self._sem:
            st.add("requests.sent")
            try:
                resp = await client.chat.completions.create(model=entry.name, messages=messages, seed=seed,
                                                            **self.sampling)
            except openai.APIConnectionError as e:
                if not _connect_failure(e):  # the server took the request but timed out / dropped it
                    raise _TransportFailure("timeout" if isinstance(e, openai.APITimeoutError)
                                            else "connection") from None
                raise UserError(f"{self.model_map.path}: cannot reach model \"{entry.name}\" at {entry.base} "
                                f"({e.__cause__ or e}); start the server (README: 'Running on real models') "
                                "or fix its \"base\"") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                raise UserError(f"{self.model_map.path}: model \"{entry.name}\" at {entry.base} answered "
                                f"{e.status_code} ({_short(e)}); check its \"api\" key, the model name and "
                                "the base URL") from None
            except openai.RateLimitError:
                raise _TransportFailure("rate_limited") from None
            except openai.InternalServerError:
                raise _TransportFailure("server_error") from None
            except openai.BadRequestError:
                raise _TransportFailure("bad_request") from None
            except openai.APIStatusError as e:
                raise _TransportFailure(f"status_{e.status_code}") from None
            except (openai.APIResponseValidationError, ValueError):
                raise _TransportFailure("malformed_response") from None
        choice = resp.choices[0] if resp.choices else None
        usage = resp.usage
        if usage is not None:
            st.add("tokens.prompt", usage.prompt_tokens or 0)
            st.add("tokens.completion", usage.completion_tokens or 0)
        return {
            "text": (choice.message.content if choice and choice.message else "") or "",
            "finish_reason": (choice.finish_reason if choice else None) or "",
        }


def _connect_failure(e: openai.APIConnectionError) -> bool:
    """True when no connection could be opened at all (refused, unresolvable, connect timeout), after
    the client's retries: a configuration problem, not a transient fault of one request."""
    cause = e.__cause__
    while cause is not None:
        if type(cause).__name__ in ("ConnectError", "ConnectTimeout"):
            return True
        cause = cause.__cause__
    return False


def _short(e: openai.APIStatusError) -> str:
    msg = str(getattr(e, "message", e)).splitlines()[0] if str(e) else ""
    return msg[:160]
