"""What the engine reads from the OpenAI API, online and in batch mode alike.

:func:`parse_completion` turns a ``chat.completion`` object into the reply the cache stores, and
:func:`status_action` names an HTTP status as a fault kind (``faults.<kind>`` in the metrics) and says
what the request does about it (retry, wait, fail its role call, stop the run). The online path (:mod:`proginstruct.llm.engine`) and the batch path
(:mod:`proginstruct.llm.batch`) read replies and statuses through these two functions, so a reply
received in a batch output file is cached exactly as the same reply received online.
"""

from __future__ import annotations

from typing import Any

# statuses no retry can fix, with what they usually mean (the run stops with one line)
FATAL_STATUS = {401: "a wrong API key", 403: "no permission", 404: "an unknown model or base URL"}


class MalformedCompletion(ValueError):
    """A ``chat.completion`` object without a usable ``choices[0].message.content``."""


def parse_completion(data: Any) -> tuple[dict[str, str], int, int]:
    """``(reply, prompt tokens, completion tokens)`` from a decoded ``chat.completion`` object.

    ``reply`` is ``{"text": str, "finish_reason": str}`` (the cache's reply shape); missing ``usage``
    counts 0. Raises :class:`MalformedCompletion` when there is no first choice with string content.
    """
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
        if not isinstance(text, str):
            raise TypeError("content is not a string")
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        finish = choice.get("finish_reason") or ""
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise MalformedCompletion(str(e)[:160]) from None
    return {"text": text, "finish_reason": finish}, prompt, completion


# what a request does about a fault (SPEC 5: only a reply can make a role fail)
RETRY = "retry"  # send again, within llm.max_retries; then the run stops
WAIT = "wait"  # a 429: wait (Retry-After) and send again, with no retry budget
REFUSE = "refuse"  # the server refuses this request itself (its prompt): the role call fails
STOP = "stop"  # no retry can help: the run stops with one line

#: statuses that refuse one request (its prompt, e.g. longer than the model's context), not the server
REFUSED_STATUS = {400: "bad_request", 413: "status_413", 422: "status_422"}


def status_action(code: int) -> tuple[str, str]:
    """``(kind, action)`` for an HTTP status other than 200: ``status_401|403|404`` (:data:`STOP`, see
    :data:`FATAL_STATUS`), ``rate_limited`` (429, :data:`WAIT`), ``server_error`` (5xx) and
    ``status_408|409`` (:data:`RETRY`), ``bad_request`` (400), ``status_413|422`` (:data:`REFUSE`),
    ``status_<code>`` (anything else, :data:`STOP`)."""
    if code == 429:
        return "rate_limited", WAIT
    if code >= 500:
        return "server_error", RETRY
    if code in (408, 409):
        return f"status_{code}", RETRY
    if code in REFUSED_STATUS:
        return REFUSED_STATUS[code], REFUSE
    return f"status_{code}", STOP

