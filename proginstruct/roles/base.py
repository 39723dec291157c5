"""Role protocol and the rejections every role shares (SPEC 5)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of checking one reply: ``ok`` with the parsed ``value``, or a short ``reason`` slug
    (for example ``count_mismatch``) that names the rejection rule in the metrics."""

    ok: bool
    value: Any = None
    reason: str = ""

    @staticmethod
    def accept(value: Any) -> Verdict:
        return Verdict(True, value)

    @staticmethod
    def reject(reason: str) -> Verdict:
        return Verdict(False, None, reason)


class Role(Protocol):
    """What the engine needs from a role."""

    name: str  # "programmer" | "judge" | "instruction" | "chat"

    def messages(self, query: Any) -> list[Message]:
        """The chat-completions messages for ``query``: system, worked examples, then the query."""
        ...

    def check(self, query: Any, reply: str) -> Verdict:
        """Validate and parse the reply text to ``query`` (``finish_reason == "length"``, HTTP errors and
        transport faults are handled by the engine, not here)."""
        ...


# Refusals: a reply that opens by declining the task (SPEC 5). Checked on the first 200 characters.
_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i won'?t|as an ai|i'?m unable|i am unable"
    r"|unfortunately,? i)",
    re.IGNORECASE,
)


def common_rejection(reply: str) -> str | None:
    """The rejections shared by all roles: ``empty`` and ``refusal``; ``None`` when neither applies."""
    if not reply or not reply.strip():
        return "empty"
    if _REFUSAL.match(reply.strip()[:200]):
        return "refusal"
    return None


@cache
def load_prompt(name: str) -> dict:
    """Load ``proginstruct/roles/prompts/<name>.json``: ``{"system": str, "examples": [{"query": ..., "reply": str}]}``."""
    text = resources.files("proginstruct.roles").joinpath("prompts", f"{name}.json").read_text("utf-8")
    return json.loads(text)
