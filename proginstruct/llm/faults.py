"""What a failed HTTP exchange means to the online engine (SPEC 5; docs/models-and-scale.md "Outages").

One exchange gives a reply or a :class:`Fault`: its ``kind`` (the ``faults.<kind>`` counter) and the
``action`` the request takes (:mod:`~proginstruct.llm.wire`: retry within ``llm.max_retries``, wait for a
429 with no budget, fail only its role call when the server refuses the request itself, or stop the
run). :class:`TransportStop` is the stop, with the one line of :func:`stop_message`; :class:`Refused`
carries a refused request to the role call, which fails with ``errors.<role>.<kind>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import openai

from ..errors import UserError
from .endpoints import MALFORMED_HINT, parse_retry_after
from .wire import FATAL_STATUS, RETRY, STOP, WAIT, status_action


class Refused(Exception):
    """The server refused this request itself (HTTP 400, 413, 422, or a batch line it refused; not
    cached): the role call fails with ``kind``; ``detail`` is what the server said (may be "")."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


class TransportStop(UserError):
    """The run stops: a transport fault outlasted the retry budget, or the server answered in a way
    no retry can fix. One line naming the model map, the model, the endpoint and the last error; the
    checkpoint and the reply cache are kept, so the next run resumes."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One failed HTTP exchange: ``kind`` (a ``faults.*`` name), the ``action`` it calls for
    (:data:`~proginstruct.llm.wire.RETRY`, ``WAIT``, ``REFUSE``, ``STOP``), the server's
    ``retry_after`` (a 429, seconds), ``refused`` (no connection at all: the endpoint is down, and the
    retry does not count), a ``detail`` for messages."""

    kind: str
    action: str = RETRY
    retry_after: float | None = None
    refused: bool = False
    detail: str = ""


def status_fault(e: openai.APIStatusError) -> Fault:
    """The fault of an HTTP error status (:func:`~proginstruct.llm.wire.status_action`); a 429 carries
    its ``Retry-After``, except OpenAI's ``insufficient_quota``, which stops the run (waiting would never
    end)."""
    code = e.status_code
    detail = f"{code} ({_short(e)})"
    kind, action = status_action(code)
    if code in FATAL_STATUS:
        detail = f"{detail}: {FATAL_STATUS[code]}; check its \"api\" key, the model name and the base URL"
    if code == 429:
        if _quota_exhausted(e):
            return Fault(kind, STOP, detail=f"{detail}: the account's quota is used up")
        return Fault(kind, WAIT, retry_after=parse_retry_after(e.response.headers), detail=detail)
    return Fault(kind, action, detail=detail)


def connection_fault(e: openai.APIConnectionError) -> Fault:
    """``refused`` (no connection could be opened), ``timeout`` or ``connection`` (dropped), retried."""
    cause = str(e.__cause__ or e)
    detail = cause.splitlines()[0][:160] if cause else type(e).__name__
    if _connect_failure(e):  # (the aiohttp transport reports a refused connection as a timeout)
        return Fault("refused", refused=True, detail=detail)
    if isinstance(e, openai.APITimeoutError):
        return Fault("timeout", detail="no reply within llm.request_timeout")
    return Fault("connection", detail=detail)


def malformed_fault(e: Exception) -> Fault:
    """An HTTP 200 whose body is not a chat completion (``malformed_response``, retried)."""
    why = str(e).splitlines()[0][:120] if str(e) else ""
    return Fault("malformed_response", detail=f"HTTP 200 with a body that is not a chat completion "
                 f"({type(e).__name__}: {why})")


def stop_message(where: str, model: str, url: str, fault: Fault, retries: int | None) -> str:
    """The one line of a :class:`TransportStop`: the model map ``where``, ``model`` at ``url``, the last
    error, and what to do; ``retries`` is ``llm.max_retries`` when the budget ran out, ``None`` for a
    fault no retry fixes."""
    head = f'{where}: model "{model}" at {url}'
    if retries is None:
        return (f"{head} answered {fault.detail or fault.kind}; the run stopped (checkpoint and reply cache "
                "kept): fix the request or the server, then run the same command again to resume")
    last = f"{fault.kind}: {fault.detail}" if fault.detail else fault.kind
    if fault.kind == "malformed_response":
        last += f" ({MALFORMED_HINT})"
    return (f"{head}: a request failed {retries + 1} times (llm.max_retries {retries}); last error: {last}; "
            "the run stopped (checkpoint and reply cache kept): run the same command again to resume "
            "once the server answers, or raise llm.max_retries")


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
