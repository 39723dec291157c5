"""The deterministic simulated model's replies: a stand-in so the recipe runs with no GPU and no network.

It is not a language model. It answers the roles of SPEC 5 by their fixed reply protocol, describing the
diffs it is shown with a few cheap heuristics (:mod:`proginstruct.simulator.describe`: identifiers defined
or renamed, literals and operators changed, imports, conditions, comments), so that the default dataset
reads plausibly; the programmer role's version histories come from :mod:`proginstruct.simulator.programmer`.
The reply text depends ONLY on the request's messages (never on seed, attempt, time or call order): a
clean run and a run with injected faults accept the same replies. Only the model name
(:data:`~proginstruct.simulator.protocol.SIMULATOR_MODEL`) says that the text is simulated.

:func:`simulate_reply` (messages -> reply text) and :func:`malformed_reply` (a reply the role check
rejects, for fault injection), with the judge, instruction and chat replies they are made of. Pure
functions, no I/O. The request is read by :mod:`proginstruct.simulator.protocol` and
:mod:`proginstruct.simulator.query`; the OpenAI API around the replies is :mod:`proginstruct.simulator.api`.
"""

from __future__ import annotations

import hashlib
import re

from . import programmer
from .describe import Action, count_phrase, describe_actions, phrase
from .diff_facts import analyze_diff
from .protocol import choose, detect_role, last_user_text
from .query import ParsedQuery, parse_query

# Probability that the simulated judge accepts a candidate change (decided by SHA-256 of its diff text).
JUDGE_ACCEPT_RATE = 0.6


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
        lead = choose(leads, "judge-lead", diff)
        sentence = f"{lead} {what}" + (f" ({counts})." if counts else ".")
        decision = judge_decision(diff)
        if q.has_history:
            pool = _JUDGE_YES if decision else _JUDGE_NO
        else:
            pool = _JUDGE_NO_HISTORY_YES if decision else _JUDGE_NO_HISTORY_NO
        why = choose(pool, "judge-why", diff)
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
            and choose((True, False), "instruction-commit", key):
        return f"**instruction:** {subject}: {imp}."
    if q.problem_statement and choose((True, False, False), "instruction-problem", key):
        imp += " so the program gives the expected output for the samples"
    templates = ("{I}.", "Please {i}.", "Could you {i}?", "{I}.", "I need you to {i}.", "Can you {i}?")
    return "**instruction:** " + choose(templates, "instruction", key).format(I=_cap(imp), i=imp)


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
        return f"**chat:** {choose(pool, 'chat-none', q.current, q.user_instruction)}"
    facts = analyze_diff(q.change, q.current, q.lang)
    acts = describe_actions(facts) or [Action("clean", "up the code", "so it reads better")]
    why = acts[0].why if len(acts) == 1 else ""
    if choose((True, False), "chat-form", q.change):
        body = f"I {phrase(acts, 1)}"
    else:
        body = f"I've {phrase(acts, 2)}"
    body += f", {why}." if why else "."
    if q.user_instruction:
        body = choose(("As you asked, ", "Following your request, ", "Done: "), "chat-user", q.change) + body
    if len(facts.runs) >= 3 and len(acts) < len(facts.runs):
        body += " I also made a few related adjustments elsewhere in the file."
    return f"**chat:** {body}"


def simulate_reply(messages: list[dict]) -> str:
    """The simulated model's reply text to a chat-completions ``messages`` list (role from the first
    message, query from the last user message). Depends only on ``messages``; never raises for a list of
    message dicts. The programmer role is answered by :func:`proginstruct.simulator.programmer.reply`.
    """
    role = detect_role(messages)
    if role == "programmer":
        return programmer.reply(messages)
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

