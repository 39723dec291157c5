"""What the engine reads from the OpenAI API, online and in batch mode alike.

:func:`parse_completion` turns a ``chat.completion`` object into the reply the cache stores, and
:func:`status_fault` names an HTTP status as a fault kind (``faults.<kind>`` in the metrics) and says
whether a retry may help. The online path (:mod:`proginstruct.llm.engine`) and the batch path
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


def status_fault(code: int) -> tuple[str, bool]:
    """``(kind, retry)`` for an HTTP status other than 200: ``status_401|403|404`` (fatal, see
    :data:`FATAL_STATUS`), ``rate_limited`` (429), ``server_error`` (5xx), ``status_408|409`` (retried),
    ``bad_request`` (400, not retried), ``status_<code>`` (anything else, not retried)."""
    if code in FATAL_STATUS:
        return f"status_{code}", False
    if code == 429:
        return "rate_limited", True
    if code >= 500:
        return "server_error", True
    if code in (408, 409):
        return f"status_{code}", True
    if code == 400:
        return "bad_request", False
    return f"status_{code}", False
