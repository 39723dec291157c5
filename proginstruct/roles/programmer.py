"""The programmer role (SPEC 5): invent the history of versions that led to a finished piece of code.

The query is the finished code (a :class:`SnippetQuery`), shown fenced. The reply protocol is fixed:
the versions as fenced code blocks, oldest first, the last one the finished code. Three personas
(``novice``, ``ordinary``, ``expert``) each have their own system message and worked examples
(``prompts/programmer_<persona>.json``).

Checks, in this order (the first that applies names the rejection in the metrics):

==========================  ==========================================================================
``empty`` / ``refusal``     the rejections every role shares (``roles.base.common_rejection``)
``no_code_blocks``          no complete fenced code block in the reply
(summary dropped)           a final block equal to the one before it (a repeated summary) is dropped first
``last_mismatch``           the last block differs from the finished code (both stripped; trailing
                            whitespace of each line ignored, so ``"\\r\\n"`` endings do not matter)
``single_version``          only one version: a history with no earlier version holds no edit, so SPEC 4
                            could draw nothing from it (this rule is ours; SPEC 5 is silent)
``consecutive_duplicate``   two consecutive blocks are identical (stripped)
``fragments``               4+ blocks whose earlier blocks' lines sum to at most the last's + 2
==========================  ==========================================================================

The accepted value is the list of versions (strings, oldest first). The last is replaced by the exact
finished code; the earlier ones get the finished code's leading blank lines, trailing whitespace and
line ending (``"\\r\\n"`` when the finished code uses it), so consecutive versions differ only where
the code does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..text import join_lines, split_lines
from .base import Message, Verdict, common_rejection, load_prompt
from .grammars import canonical_code, final_fence, programmer_grammar

PERSONAS: tuple[str, ...] = ("novice", "ordinary", "expert")

# CommonMark-style fences: up to 3 spaces of indent, 3+ backticks or tildes, an optional info string.
_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_CLOSE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*$")

USER_TEMPLATE = (
    "Here is the finished code. Write the history of versions that led to it, oldest first, each version "
    "a complete fenced code block; the last block must be exactly this code.\n\n{code}"
)


@dataclass(frozen=True, slots=True)
class SnippetQuery:
    """The programmer role's input: the finished ``code`` and its ``lang`` (lower-case, ``""`` if unknown)."""

    code: str
    lang: str = ""


@dataclass(frozen=True, slots=True)
class FencedBlock:
    """One fenced block of a text: its ``info`` string (usually the language, may be ``""``) and ``code``
    (the lines between the fences joined with ``"\\n"``, no trailing newline)."""

    info: str
    code: str


class Versions(list):
    """An accepted history: the versions (``str``, oldest first, the last the finished code) as a list, and
    ``info``, the info string of the reply's last fenced block (``""`` when it has none), from which the
    aiprogrammer stage takes the language of a snippet given without one (SPEC 4)."""

    def __init__(self, versions: list[str], info: str = ""):
        super().__init__(versions)
        self.info = info


def fenced_blocks(text: str) -> list[FencedBlock]:
    """Every complete fenced block of ``text`` in order (```` ``` ```` or ``~~~``, 3+ characters).

    A block closes at a line holding only a fence of the same character at least as long as the
    opening one (so longer fences may wrap code that contains ```` ``` ````). A block that is never
    closed (a truncated reply) is not returned. Lines are split on ``"\\n"`` (SPEC 2); a ``"\\r"``
    before it is ignored on fence lines only.
    """
    blocks: list[FencedBlock] = []
    lines = split_lines(text)
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i].rstrip("\r"))
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        for j in range(i + 1, len(lines)):
            c = _CLOSE.match(lines[j].rstrip("\r"))
            if c and c.group("fence")[0] == fence[0] and len(c.group("fence")) >= len(fence):
                blocks.append(FencedBlock(m.group("info").strip(), join_lines(lines[i + 1 : j])))
                i = j + 1
                break
        else:
            break  # never closed: the rest of the text is not a block
    return blocks


def fence_code(code: str, lang: str = "") -> str:
    """Fence ``code`` as SPEC 2 does (```` ```lang ````), using a longer backtick fence when the code itself
    has a line starting with three backticks (:func:`~proginstruct.roles.grammars.final_fence`, the fence
    the reply grammar expects), so :func:`fenced_blocks` reads it back unchanged."""
    ticks = final_fence(code)
    return f"{ticks}{lang.lower()}\n{code}\n{ticks}"


def same_code(a: str, b: str) -> bool:
    """Whether two code texts are equal once stripped, ignoring trailing whitespace and ``"\\r"`` per line."""
    return _canon(a) == _canon(b)


_canon = canonical_code


def line_count(code: str) -> int:
    """Lines of ``code`` once stripped (SPEC 2 split); ``""`` counts as 0."""
    s = code.strip()
    return len(split_lines(s)) if s else 0


def align_version(version: str, final: str) -> str:
    """``version`` with the finished code's leading blank lines, trailing whitespace and CRLF line ending.

    Leading blank lines and trailing whitespace of ``version`` are removed first; the indentation of
    its first non-blank line is kept.
    """
    body = re.sub(r"\A(?:[ \t\r]*\n)+", "", version).rstrip()
    stripped_final = final.rstrip()
    lead = final[: len(final) - len(re.sub(r"\A(?:[ \t\r]*\n)+", "", final))]
    trail = final[len(stripped_final):]
    if "\r\n" in final and "\r\n" not in body:
        body = body.replace("\n", "\r\n")
    return lead + body + trail if body else lead + trail


class ProgrammerRole:
    """The programmer role for one ``persona`` (one of :data:`PERSONAS`); ``name`` is ``"programmer"``.

    ``messages(query)`` -> system message, the persona's worked examples as user/assistant pairs, then
    the query; ``check(query, reply)`` -> :class:`~proginstruct.roles.base.Verdict` whose value is the
    list of versions (``list[str]``) or a rejection reason (see the module docstring).
    Raises ``ValueError`` for an unknown persona.
    """

    name = "programmer"

    def __init__(self, persona: str):
        if persona not in PERSONAS:
            raise ValueError(f"unknown programmer persona {persona!r}; expected one of {', '.join(PERSONAS)}")
        self.persona = persona
        self.prompt = load_prompt(f"programmer_{persona}")

    def __repr__(self) -> str:
        return f"ProgrammerRole({self.persona!r})"

    @staticmethod
    def render(query: SnippetQuery | str) -> str:
        """The user message for ``query``: a fixed request followed by the finished code, fenced."""
        q = as_query(query)
        return USER_TEMPLATE.format(code=fence_code(q.code, q.lang))

    def messages(self, query: SnippetQuery | str) -> list[Message]:
        """Chat-completions messages: system, worked examples (user/assistant pairs), then the query."""
        msgs: list[Message] = [{"role": "system", "content": self.prompt["system"]}]
        for ex in self.prompt["examples"]:
            msgs.append({"role": "user", "content": self.render(as_query(ex["query"]))})
            msgs.append({"role": "assistant", "content": ex["reply"]})
        msgs.append({"role": "user", "content": self.render(query)})
        return msgs

    def check(self, query: SnippetQuery | str, reply: str) -> Verdict:
        """Validate ``reply`` against the finished code of ``query`` (SPEC 5 programmer rules)."""
        return check_history(as_query(query).code, reply)

    def grammar(self, query: SnippetQuery | str) -> str:
        """The GBNF grammar of this role's replies to ``query`` for grammar-guided decoding: fenced
        blocks, the last the finished code (:func:`~proginstruct.roles.grammars.programmer_grammar`)."""
        return programmer_grammar(as_query(query).code)


def as_query(query: Any) -> SnippetQuery:
    """A :class:`SnippetQuery` from itself, a code string, or a ``{"code"|"content": str, "lang": str}`` dict.

    Raises ``TypeError`` for anything else.
    """
    if isinstance(query, SnippetQuery):
        return query
    if isinstance(query, str):
        return SnippetQuery(query)
    if isinstance(query, dict):
        code = query.get("code", query.get("content"))
        if isinstance(code, str):
            return SnippetQuery(code, str(query.get("lang") or ""))
    raise TypeError("programmer query must be SnippetQuery, str or dict with 'code'; "
                    f"got {type(query).__name__}")


def check_history(final: str, reply: str) -> Verdict:
    """Check a programmer ``reply`` against the ``final`` code (rules and order: module docstring)."""
    common = common_rejection(reply)
    if common:
        return Verdict.reject(common)
    blocks = fenced_blocks(reply)
    codes = [b.code for b in blocks]
    if not codes:
        return Verdict.reject("no_code_blocks")
    while len(codes) >= 2 and same_code(codes[-1], codes[-2]):
        codes.pop()  # a repeated final block is a summary, not a step
    if not same_code(codes[-1], final):
        return Verdict.reject("last_mismatch")
    if len(codes) < 2:
        return Verdict.reject("single_version")
    if any(_canon(a) == _canon(b) for a, b in zip(codes, codes[1:], strict=False)):
        return Verdict.reject("consecutive_duplicate")
    if len(codes) >= 4 and sum(line_count(c) for c in codes[:-1]) <= line_count(codes[-1]) + 2:
        return Verdict.reject("fragments")
    return Verdict.accept(Versions([align_version(c, final) for c in codes[:-1]] + [final], blocks[-1].info))
