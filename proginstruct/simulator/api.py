"""The OpenAI API surface of the simulated model: request bytes in, status and JSON object out.

:func:`completion_response` (a request body -> the ``chat.completion`` object), :func:`models_response`,
:func:`error_body`, :func:`parse_body` and :func:`handle_request` (method, path, body -> status, JSON).
Pure, no I/O: the in-process transport (:mod:`proginstruct.simulator.transport`) and the loopback server
(:mod:`proginstruct.simulator.server`) both answer through :func:`handle_request` or
:func:`completion_response`.
"""

from __future__ import annotations

import orjson

from .protocol import SIMULATOR_MODEL, count_tokens, message_text, request_digest, truncate_tokens
from .replies import simulate_reply


def completion_response(body: dict, content: str | None = None) -> dict:
    """The OpenAI ``chat.completion`` object answering a request ``body`` (``model``, ``messages``,
    optional ``max_tokens`` / ``max_completion_tokens``): one choice, ``finish_reason`` ``"stop"``, or
    ``"length"`` when the reply had to be cut to ``max_tokens`` whitespace tokens; ``usage`` estimated
    in whitespace tokens; ``created`` 0 and an ``id`` derived from the messages, so equal requests get
    equal responses. ``content`` replaces the simulated reply text (fault injection).

    Raises ``ValueError`` when ``messages`` is not a non-empty list of message objects.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise ValueError("'messages' must be a non-empty list of message objects")
    reply = simulate_reply(messages) if content is None else content
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    content, cut = truncate_tokens(reply, limit)
    prompt_tokens = sum(count_tokens(message_text(m.get("content"))) for m in messages)
    completion_tokens = count_tokens(content)
    return {
        "id": "chatcmpl-sim-" + request_digest(messages)[:24],
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model") or SIMULATOR_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "length" if cut else "stop",
            "logprobs": None,
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def models_response() -> dict:
    """The ``GET /v1/models`` list: the simulator's one model."""
    return {"object": "list",
            "data": [{"id": SIMULATOR_MODEL, "object": "model", "created": 0, "owned_by": "proginstruct"}]}


def error_body(message: str, kind: str = "invalid_request_error") -> dict:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def parse_body(raw: bytes) -> dict:
    """Decode a JSON request body; ``ValueError`` when it is not a JSON object."""
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as err:
        raise ValueError(f"request body is not valid JSON ({err})") from None
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    return body


def handle_request(method: str, path: str, raw: bytes) -> tuple[int, dict]:
    """``(status, JSON body)`` for one API request: ``POST .../chat/completions`` -> 200 completion,
    ``GET .../models`` -> 200 model list, a bad body -> 400, anything else -> 404."""
    path = path.rstrip("/")
    if method == "POST" and path.endswith("/chat/completions"):
        try:
            return 200, completion_response(parse_body(raw))
        except ValueError as err:
            return 400, error_body(str(err))
    if method == "GET" and path.endswith("/models"):
        return 200, models_response()
    return 404, error_body(f"no route for {method} {path}", "not_found")
