"""Shared pieces of the judge, instruction and chat roles (SPEC 5): the few-shot message builder over a
prompt file and the tolerant matching of a reply's opening marker.

A prompt file (``roles/prompts/<name>.json``, read by :func:`~proginstruct.roles.base.load_prompt`)
holds ``{"system": str, "examples": [{"query": {...}, "reply": str}, ...]}``. An example's ``query``
holds the :class:`~proginstruct.roles.render.RecordView` fields (``lang``, ``current``, ``history``
list, and the optional ``commit_message``, ``problem_statement``, ``user_instruction``) plus the role's
own field: ``changes`` (judge, a list of unified diffs) or ``change`` (instruction and chat, one
unified diff, ``""`` for no change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from .base import Message, Verdict, common_rejection, load_prompt
from .render import RecordView


def record_view(d: dict[str, Any]) -> RecordView:
    """The :class:`RecordView` of an example query dict; the context fields default to ``""``.

    Raises ``KeyError`` when ``lang`` or ``current`` is missing.
    """
    return RecordView(
        lang=d["lang"],
        current=d["current"],
        history=tuple(d.get("history", ())),
        commit_message=d.get("commit_message", ""),
        problem_statement=d.get("problem_statement", ""),
        user_instruction=d.get("user_instruction", ""),
    )


@dataclass(frozen=True, slots=True)
class Example:
    """One worked example: the query object (``JudgeQuery`` or ``ChangeQuery``) and the assistant's reply."""

    query: Any
    reply: str


class FewShotRole:
    """Base of the prompt-file roles: ``messages(query)`` is the system message, then for each worked
    example a user message (the rendered example query) and an assistant message (its reply), then the
    rendered query as the last user message (SPEC 5).

    Subclasses set ``name`` (also the prompt file's stem) and implement :meth:`parse_query`,
    :meth:`render` and ``check``. ``prompt`` overrides the packaged prompt file (tests, experiments).
    """

    name: str = ""

    def __init__(self, prompt: dict | None = None):
        prompt = load_prompt(self.name) if prompt is None else prompt
        where = f"prompt {self.name!r}"
        try:
            self.system: str = prompt["system"]
            self.examples: list[Example] = [
                Example(self.parse_query(ex["query"]), ex["reply"]) for ex in prompt["examples"]
            ]
        except (KeyError, TypeError) as err:
            raise ValueError(f"{where}: malformed prompt file, missing or wrong field {err}") from err
        self._shots: list[Message] = []
        for ex in self.examples:
            self._shots.append({"role": "user", "content": self.render(ex.query)})
            self._shots.append({"role": "assistant", "content": ex.reply})

    def parse_query(self, d: dict[str, Any]) -> Any:
        """Build the role's query object from an example's ``query`` dict."""
        raise NotImplementedError

    def render(self, query: Any) -> str:
        """The user-message text of ``query``."""
        raise NotImplementedError

    def messages(self, query: Any) -> list[Message]:
        """``[system] + [user, assistant] * len(examples) + [user: render(query)]`` as chat-completions
        message dicts ``{"role": ..., "content": ...}`` (fresh list and dicts on every call)."""
        return (
            [{"role": "system", "content": self.system}]
            + [dict(m) for m in self._shots]
            + [{"role": "user", "content": self.render(query)}]
        )


@cache
def _marker_re(word: str) -> re.Pattern[str]:
    # "**word:**" or "**word**:", any case, whitespace allowed inside the bold and before the marker
    w = re.escape(word)
    return re.compile(rf"\A\s*\*\*\s*{w}\s*(?::\s*\*\*|\*\*\s*:)", re.IGNORECASE)


def after_marker(reply: str, word: str) -> str | None:
    """The reply text after its opening marker ``**{word}:**``, stripped; ``None`` when the reply does not
    start with the marker (SPEC 5). Tolerated: leading whitespace, any case (``**Instruction:**``), spaces
    inside the bold, and the colon outside it (``**chat**:``)."""
    m = _marker_re(word).match(reply)
    return None if m is None else reply[m.end() :].strip()


def marked_text(reply: str, word: str) -> Verdict:
    """The checks every marked reply shares (SPEC 5): accepts with the stripped text after the opening
    ``**{word}:**`` (see :func:`after_marker`); rejects with ``empty`` / ``refusal`` (the whole reply or the
    text after the marker, see ``common_rejection``) or ``no_marker``."""
    if reason := common_rejection(reply):
        return Verdict.reject(reason)
    text = after_marker(reply, word)
    if text is None:
        return Verdict.reject("no_marker")
    if reason := common_rejection(text):
        return Verdict.reject(reason)
    return Verdict.accept(text)
