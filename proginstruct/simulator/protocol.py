"""Reading a chat-completions request the way the simulated model does, and the helpers its roles share.

Pure functions of the request's ``messages`` (``[{"role", "content"}, ...]``), no I/O: :func:`detect_role`
(which SPEC 5 role a request is for, from the markers of its system message), :func:`message_text`,
:func:`last_user_text`, :func:`request_digest` (the identity of a request), the whitespace token count
the simulator reports in ``usage`` and cuts ``max_tokens`` in (:func:`count_tokens`,
:func:`truncate_tokens`), and :func:`choose` (a pick seeded by SHA-256, never by call order).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson

# the model name of every simulated reply: samples made by the simulator say so in their "model" field
SIMULATOR_MODEL = "proginstruct-simulator"

T = TypeVar("T")


def message_text(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of OpenAI content parts (text parts joined);
    ``""`` for anything else (``None``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def detect_role(messages: Sequence[dict]) -> str:
    """The role a request is for, from its FIRST (system) message (SPEC 5 markers): ``**Decision:**`` ->
    ``"judge"``, ``**instruction:**`` -> ``"instruction"``, ``**chat:**`` -> ``"chat"``, else
    ``"programmer"``."""
    first = message_text(messages[0].get("content")) if messages else ""
    if "**Decision:**" in first:
        return "judge"
    if "**instruction:**" in first:
        return "instruction"
    if "**chat:**" in first:
        return "chat"
    return "programmer"


def last_user_text(messages: Sequence[dict]) -> str:
    """The text of the last ``user`` message (the query), ``""`` when there is none."""
    for m in reversed(messages):
        if m.get("role") == "user":
            return message_text(m.get("content"))
    return ""


def request_digest(messages: Sequence[dict]) -> str:
    """Hex SHA-256 of the canonical JSON of ``messages`` (keys sorted): the identity of a request, from
    which the simulator derives everything that must not depend on call order (response ids, the
    programmer role's RNG seed)."""
    return hashlib.sha256(orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)).hexdigest()


_TOKEN_SPAN = re.compile(r"\S+")


def count_tokens(text: str) -> int:
    """Estimated token count: whitespace-separated tokens (what ``usage`` reports and ``max_tokens`` cuts)."""
    return len(text.split())


def truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    """``text`` cut after its first ``limit`` whitespace tokens (original spacing kept) and whether it was
    cut; ``limit`` ``None`` means no limit."""
    if limit is None:
        return text, False
    limit = max(int(limit), 0)
    for i, m in enumerate(_TOKEN_SPAN.finditer(text)):
        if i == limit:
            return text[: m.start()].rstrip(), True
    return text, False


def choose(options: Sequence[T], *key: object) -> T:
    """A deterministic pick from ``options`` seeded by SHA-256 of ``key`` (never Python's ``hash``)."""
    h = hashlib.sha256("\x00".join(str(k) for k in key).encode("utf-8")).digest()
    return options[int.from_bytes(h[:8], "big") % len(options)]

