"""The deterministic simulated model: a stand-in so the recipe runs with no GPU and no network.

It is not a language model. It answers the roles of SPEC 5 by their fixed reply protocol, describing the
diffs it is shown with a few cheap heuristics (:mod:`proginstruct.llm.sim_describe`: identifiers defined
or renamed, literals and operators changed, imports, conditions, comments), so that the default dataset
reads plausibly; the programmer role's version histories come from :mod:`proginstruct.llm.sim_programmer`.
The reply text depends ONLY on the request's messages (never on seed, attempt, time or call order): a
clean run and a run with injected faults accept the same replies. Only the model name
:data:`SIMULATOR_MODEL` says that the text is simulated.

This module is the request level. Pure functions, no I/O: :func:`detect_role` and :func:`parse_query`
(reading a request), :func:`simulate_reply` (messages -> reply text), :func:`malformed_reply` (a reply
the role check rejects, for fault injection), :func:`completion_response` (request body -> OpenAI
``chat.completion`` object), :func:`handle_request` (method, path, body -> status, JSON) and
:func:`simulator_http_client` (an in-process ``AsyncClient`` for the official ``openai`` client), plus
the request helpers the simulated roles share (:func:`message_text`, :func:`last_user_text`,
:func:`request_digest`, :func:`count_tokens`).
The loopback HTTP server with fault injection is :mod:`proginstruct.llm.server`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from ..roles.render import (
    CHANGE_HEADING,
    H_CANDIDATES,
    H_CHANGE,
    H_COMMIT,
    H_CURRENT,
    H_HISTORY,
    H_PROBLEM,
    H_USER,
    NO_CHANGE,
)
from .sim_describe import Action, analyze_diff, count_phrase, describe_actions, phrase

try:  # the installed openai client is built on httpx2 (httpx's successor); plain httpx works the same way
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the openai version installed
    import httpx  # type: ignore[no-redef]

SIMULATOR_MODEL = "proginstruct-simulator"

ROLES = ("programmer", "judge", "instruction", "chat")

# Probability that the simulated judge accepts a candidate change (decided by SHA-256 of its diff text).
JUDGE_ACCEPT_RATE = 0.6

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------- messages
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


def _choose(options: Sequence[T], *key: object) -> T:
    """A deterministic pick from ``options`` seeded by SHA-256 of ``key`` (never Python's ``hash``)."""
    h = hashlib.sha256("\x00".join(str(k) for k in key).encode("utf-8")).digest()
    return options[int.from_bytes(h[:8], "big") % len(options)]


# ------------------------------------------------------------------------------------------ query parsing
@dataclass(frozen=True)
class ParsedQuery:
    """What the simulator reads back from a query rendered by :mod:`proginstruct.roles.render`.

    ``current``: the current code without line numbers (``""`` when absent); ``lang``: the fence's
    language; ``has_history``: a ``## History`` section was present; ``changes``: the judge's candidate
    diffs (``None`` without a ``## Candidate changes`` section); ``change``: the instruction/chat diff,
    ``""`` for :data:`NO_CHANGE` (``None`` without a ``## Change`` section).
    """

    lang: str = ""
    current: str = ""
    has_history: bool = False
    commit_message: str = ""
    problem_statement: str = ""
    user_instruction: str = ""
    changes: tuple[str, ...] | None = None
    change: str | None = None


_ORDER = (H_HISTORY, H_CURRENT, H_COMMIT, H_PROBLEM, H_USER, H_CANDIDATES, H_CHANGE)
_RANK = {h: i for i, h in enumerate(_ORDER)}
_LAST_RANK = _RANK[H_CANDIDATES]
_CHANGE_RE = re.compile("^" + re.escape(CHANGE_HEADING).replace(re.escape("{k}"), r"(\d+)") + "$")


def _unfence(lines: list[str]) -> tuple[str, list[str]] | None:
    """``(info, body lines)`` of the first fenced block in ``lines`` (closed by its last ``` line)."""
    start = next((i for i, ln in enumerate(lines) if ln.startswith("```")), None)
    if start is None:
        return None
    end = next((i for i in range(len(lines) - 1, start, -1) if lines[i].rstrip() == "```"), None)
    if end is None:
        return None
    return lines[start][3:].strip(), lines[start + 1 : end]


def parse_query(text: str) -> ParsedQuery:
    """Split a rendered query into its sections (headings are the constants of ``roles/render.py``).

    Sections come in a fixed order, so a heading line only counts when it comes later in that order than
    the section being read (a heading-like line inside a commit message cannot derail the parse); the
    final ``## Candidate changes`` / ``## Change`` section may be re-entered so its last occurrence wins.
    Fenced code and diffs never contain heading lines (numbered or prefixed). Never raises.
    """
    sections: dict[str, list[str]] = {}
    cur, rank = None, -1
    for line in text.split("\n"):
        r = _RANK.get(line)
        if r is not None and (r > rank or (r >= _LAST_RANK and rank >= _LAST_RANK)):
            cur, rank = line, r
            sections[cur] = []
        elif cur is not None:
            sections[cur].append(line)

    lang, current = "", ""
    if (got := _unfence(sections.get(H_CURRENT, []))) is not None:
        lang = got[0].lower()
        current = "\n".join(ln.partition(" ")[2] if ln[:1].isdigit() else ln for ln in got[1])

    changes: tuple[str, ...] | None = None
    if H_CANDIDATES in sections:
        found: list[str] = []
        chunk: list[str] | None = None
        for line in sections[H_CANDIDATES] + ["### Change 0"]:
            if _CHANGE_RE.match(line):
                if chunk is not None and (got := _unfence(chunk)) is not None:
                    found.append("\n".join(got[1]))
                chunk = []
            elif chunk is not None:
                chunk.append(line)
        changes = tuple(found)

    change: str | None = None
    if H_CHANGE in sections:
        body = sections[H_CHANGE]
        got = _unfence(body)
        change = "" if got is None or "\n".join(body).strip() == NO_CHANGE else "\n".join(got[1])

    def free(h: str) -> str:
        return "\n".join(sections.get(h, [])).strip()

    return ParsedQuery(lang, current, H_HISTORY in sections, free(H_COMMIT), free(H_PROBLEM), free(H_USER),
                       changes, change)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]



# ------------------------------------------------------------------------------------------ role replies
_JUDGE_YES = (
    "It follows from what the current code is evidently for and is the natural next step.",
    "It continues the work the recent revisions show, so the programmer would want it next.",
    "The current code leads to it: without it this part stays incomplete.",
    "It completes what the programmer has started and fits the direction of the edits so far.",
    "This is a clear improvement that the current code points to.",
)
_JUDGE_NO = (
    "Nothing in the current code or the history points to it, so it cannot be foreseen now.",
    "It reads as a choice of taste rather than a step the visible work leads to.",
    "The recent edits are about something else, and nothing visible suggests this change yet.",
    "It is not needed for what the code is doing at the moment, so it would not be predicted now.",
)
_JUDGE_NO_HISTORY_NO = (
    "Nothing in the current code points to it, so it cannot be foreseen now.",
    "It reads as a choice of taste rather than something the current code calls for.",
    "It is not needed for what the code does at the moment, so it would not be predicted now.",
)
_JUDGE_NO_HISTORY_YES = (
    "The current code leads to it: without it this part stays incomplete.",
    "It is the obvious next step for what the current code is evidently for.",
    "It fixes something a reader of the current code would notice right away.",
)


def judge_decision(diff: str) -> bool:
    """The simulated judge's decision for one candidate diff: True with probability about
    :data:`JUDGE_ACCEPT_RATE`, decided by SHA-256 of the diff text alone."""
    h = hashlib.sha256(diff.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < JUDGE_ACCEPT_RATE


def judge_reply(q: ParsedQuery) -> str:
    """``**Analysis of change k:**`` + one or two sentences + ``**Decision:** True|False`` per change.
    With no parsable candidate change, a short note with no decisions (the judge's check rejects it)."""
    if not q.changes:
        return "I could not find any candidate changes in the request, so there are no decisions to give."
    sections = []
    lines = q.current.split("\n") if q.current else []
    for k, diff in enumerate(q.changes, 1):
        facts = analyze_diff(diff, lines, q.lang)
        acts = describe_actions(facts) or [Action("touch", "the code")]
        what = phrase(acts, 3)
        counts = count_phrase(facts)
        leads = ("This edit", "The edit") if acts[0].verb == "change" else ("This change", f"Change {k}",
                                                                              "The change")
        lead = _choose(leads, "judge-lead", diff)
        sentence = f"{lead} {what}" + (f" ({counts})." if counts else ".")
        decision = judge_decision(diff)
        if q.has_history:
            pool = _JUDGE_YES if decision else _JUDGE_NO
        else:
            pool = _JUDGE_NO_HISTORY_YES if decision else _JUDGE_NO_HISTORY_NO
        why = _choose(pool, "judge-why", diff)
        sections.append(f"**Analysis of change {k}:**\n{sentence} {why}\n**Decision:** {decision}")
    return "\n\n".join(sections)


_COMMIT_VERBS = {"fixed": "Fix", "fixes": "Fix", "added": "Add", "adds": "Add", "updated": "Update",
                 "updates": "Update", "removed": "Remove", "removes": "Remove", "changed": "Change",
                 "changes": "Change", "refactored": "Refactor", "refactors": "Refactor", "renamed": "Rename",
                 "renames": "Rename", "improved": "Improve", "improves": "Improve", "moved": "Move",
                 "moves": "Move", "implemented": "Implement", "implements": "Implement", "use": "Use",
                 "used": "Use", "uses": "Use", "cleaned": "Clean", "deleted": "Delete", "made": "Make"}


def paraphrase_commit(message: str) -> str | None:
    """The commit subject as an imperative request (``"Fixed the parser."`` -> ``"Fix the parser"``):
    conventional-commit prefixes, tags and issue references dropped; ``None`` when unusable."""
    s = message.strip().split("\n")[0].strip()
    s = re.sub(r"^\s*(?:\[[^\]]*\]\s*)+", "", s)
    s = re.sub(r"^\s*[\w-]+(?:\([^)]*\))?!?:\s+", "", s)
    s = re.sub(r"\s*\((?:#|gh-)?\d+\)\s*$|\s+#\d+\s*$", "", s).strip().rstrip(".!").strip()
    if len(s) < 8 or len(s) > 90 or s.lower().startswith(("merge", "revert", "wip", "bump version")) or "`" in s:
        return None
    words = s.split(" ", 1)
    verb = _COMMIT_VERBS.get(words[0].lower())
    if verb is None:
        return _cap(s)
    return verb + (" " + words[1] if len(words) > 1 else "")


def instruction_reply(q: ParsedQuery) -> str:
    """``**instruction:** `` + an imperative instruction describing the change current -> final."""
    acts = describe_actions(analyze_diff(q.change, q.current, q.lang)) if q.change else []
    key = q.change or q.current
    if not acts:
        what = f"{q.lang} code" if q.lang else "code"
        return f"**instruction:** Tidy up the {what} and make it easier to read."
    imp = phrase(acts, 0)
    if q.commit_message and (subject := paraphrase_commit(q.commit_message)) \
            and _choose((True, False), "instruction-commit", key):
        return f"**instruction:** {subject}: {imp}."
    if q.problem_statement and _choose((True, False, False), "instruction-problem", key):
        imp += " so the program gives the expected output for the samples"
    templates = ("{I}.", "Please {i}.", "Could you {i}?", "{I}.", "I need you to {i}.", "Can you {i}?")
    return "**instruction:** " + _choose(templates, "instruction", key).format(I=_cap(imp), i=imp)


_CHAT_NO_CHANGE = (
    "I looked over the code and it already does what is needed, so I left it as it is.",
    "The current code already fits, so I did not change anything.",
    "I left the code as it is: nothing in it needs an edit at this point.",
)
_CHAT_NO_CHANGE_USER = (
    "The code already does what you asked, so I left it as it is.",
    "I checked the code against your request and it already handles it, so I left it unchanged.",
)


def chat_reply(q: ParsedQuery) -> str:
    """``**chat:** `` + a short first-person message about the edit (or about leaving the code alone)."""
    if not q.change:
        pool = _CHAT_NO_CHANGE_USER if q.user_instruction else _CHAT_NO_CHANGE
        return f"**chat:** {_choose(pool, 'chat-none', q.current, q.user_instruction)}"
    facts = analyze_diff(q.change, q.current, q.lang)
    acts = describe_actions(facts) or [Action("clean", "up the code", "so it reads better")]
    why = acts[0].why if len(acts) == 1 else ""
    if _choose((True, False), "chat-form", q.change):
        body = f"I {phrase(acts, 1)}"
    else:
        body = f"I've {phrase(acts, 2)}"
    body += f", {why}." if why else "."
    if q.user_instruction:
        body = _choose(("As you asked, ", "Following your request, ", "Done: "), "chat-user", q.change) + body
    if len(facts.runs) >= 3 and len(acts) < len(facts.runs):
        body += " I also made a few related adjustments elsewhere in the file."
    return f"**chat:** {body}"


def simulate_reply(messages: list[dict]) -> str:
    """The simulated model's reply text to a chat-completions ``messages`` list (role from the first
    message, query from the last user message). Depends only on ``messages``; never raises for a list of
    message dicts. The programmer role is answered by :func:`proginstruct.llm.sim_programmer.reply`.
    """
    role = detect_role(messages)
    if role == "programmer":
        # imported here: sim_programmer uses this module's request helpers (message_text, count_tokens, ...)
        from . import sim_programmer

        return sim_programmer.reply(messages)
    q = parse_query(last_user_text(messages))
    if role == "judge":
        return judge_reply(q)
    if role == "instruction":
        return instruction_reply(q)
    return chat_reply(q)


def malformed_reply(messages: list[dict]) -> str:
    """A 200-status reply that violates the role's protocol (fault injection): a judge reply without
    decisions, an instruction or chat without its marker, a programmer reply without fenced code."""
    role = detect_role(messages)
    if role == "judge":
        return "The candidate changes all look reasonable; most of them continue the recent edits."
    if role == "instruction":
        return "Here is what the programmer probably wants: make the code handle its inputs properly."
    if role == "chat":
        return "Here is the updated version of your code with the requested edit applied."
    return "The code was written in a few steps, starting from a rough first version."


# ------------------------------------------------------------------------------------ OpenAI API surface
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


async def _mock_handler(request: httpx.Request) -> httpx.Response:
    status, payload = handle_request(request.method, request.url.path, request.content)
    return httpx.Response(status, content=orjson.dumps(payload), headers={"content-type": "application/json"})


def simulator_http_client() -> httpx.AsyncClient:
    """An ``AsyncClient`` answering the OpenAI API in-process (``MockTransport``, no socket), for
    ``openai.AsyncOpenAI(base_url="http://simulator.invalid/v1", api_key="sim", http_client=...)``.
    The client is from ``httpx2`` when installed (what current ``openai`` releases use), else ``httpx``."""
    return httpx.AsyncClient(transport=httpx.MockTransport(_mock_handler))
