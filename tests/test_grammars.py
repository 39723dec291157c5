"""The GBNF grammars of the roles' reply protocols (SPEC 5; proginstruct/roles/grammars.py).

Every check runs two matchers that must agree: llguidance, a real GBNF engine (:mod:`tests.gbnf_matcher`),
and an independent regular expression per grammar (:mod:`tests.protocol_regex`). llama.cpp's own reading
of the grammars is checked with real requests by ``bench/real_model.py`` and the real-server cassettes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from proginstruct.blocks import apply_blocks, edit_blocks
from proginstruct.roles.chat import MARKER as CHAT_MARKER
from proginstruct.roles.chat import ChatRole
from proginstruct.roles.grammars import (
    ANALYSIS_LINES,
    LINE_CHARS,
    MAX_VERSIONS,
    canonical_code,
    gbnf_literal,
    judge_grammar,
    marker_grammar,
    programmer_grammar,
)
from proginstruct.roles.instruction import MARKER as INSTRUCTION_MARKER
from proginstruct.roles.instruction import InstructionRole
from proginstruct.roles.judge import JudgeRole, parse_judge_reply
from proginstruct.roles.programmer import PERSONAS, ProgrammerRole, SnippetQuery, check_history, fence_code
from proginstruct.roles.render import ChangeQuery, JudgeQuery, RecordView
from proginstruct.simulator import replies
from proginstruct.text import unified_diff
from tests.gbnf_matcher import check_grammar, matches
from tests.protocol_regex import judge_regex, marker_regex, programmer_regex

SNIPPETS = json.loads((Path(__file__).resolve().parents[1] / "data/samples/snippets.json").read_text())
ODD_CODES = [
    'print("a\\tb")\n\tif x:\n\t\treturn "\\\\"\n',  # tabs, quotes, backslashes
    "s = '''\n```\ninside\n```\n'''\nprint(s)\n",  # a line of three backticks inside the code
    "x = 'héllo – 世界'\r\ny = 1\r\n",  # non-ASCII, CRLF
    "\n\n  indented = 1   \n\n",  # leading blank lines, trailing whitespace
]


def agree(grammar: str, regex, text: str) -> bool:
    """Whether ``text`` matches ``grammar``; fails when the GBNF matcher and the regex disagree."""
    by_gbnf, by_regex = matches(grammar, text), regex.fullmatch(text) is not None
    assert by_gbnf == by_regex, (by_gbnf, by_regex, text[:300])
    return by_gbnf


def grammar_and_regex(role: str, query) -> tuple[str, object]:
    if role == "judge":
        return judge_grammar(len(query.changes)), judge_regex(len(query.changes))
    if role in ("instruction", "chat"):
        marker = INSTRUCTION_MARKER if role == "instruction" else CHAT_MARKER
        return marker_grammar(marker), marker_regex(marker)
    return programmer_grammar(query.code), programmer_regex(query.code)


# ------------------------------------------------------------------------------------------ the grammars
def test_grammars_are_valid_gbnf_in_the_common_subset():
    for n in range(1, 7):
        check_grammar(judge_grammar(n))
    for marker in (INSTRUCTION_MARKER, CHAT_MARKER):
        check_grammar(marker_grammar(marker))
    for code in [s["content"] for s in SNIPPETS] + ODD_CODES:
        grammar = programmer_grammar(code)
        check_grammar(grammar)
        # the subset llama.cpp and XGrammar both read: no underscore in rule names, no "\-" escape
        names = [line.split(" ::= ")[0] for line in grammar.splitlines()]
        assert all(n.replace("-", "").isalnum() and n[0].isalpha() for n in names), names
        assert names[0] == "root" and "\\-" not in grammar


def test_judge_grammar_fixes_the_sections_and_needs_a_candidate():
    g = judge_grammar(3)
    assert g.count("**Analysis of change") == 3 and "**Analysis of change 3:**" in g
    with pytest.raises(ValueError, match="at least one candidate"):
        judge_grammar(0)


def test_literals_escape_what_gbnf_needs():
    assert gbnf_literal('a"b\\c\nd\te\x01é') == '"a\\"b\\\\c\\nd\\te\\x01é"'
    for code in ODD_CODES:  # the finished code, fenced as the query shows it, fits the grammar
        text = f"```\nv0\n```\n{fence_code(canonical_code(code), 'py')}"
        if "```" in code:
            text = text.replace("```\nv0\n```", "````\nv0\n````")
        assert agree(programmer_grammar(code), programmer_regex(code), text), code


def test_free_text_is_bounded_so_a_looping_model_must_finish():
    g, rx = judge_grammar(1), judge_regex(1)
    ok = "**Analysis of change 1:**\n{}**Decision:** True"
    assert agree(g, rx, ok.format("x" * (LINE_CHARS + 1) + "\n"))
    assert not agree(g, rx, ok.format("x" * (LINE_CHARS + 2) + "\n"))
    assert agree(g, rx, ok.format("Analysi" + "x" * LINE_CHARS + "\n"))  # a proper prefix of a word, then text
    assert agree(g, rx, ok.format("A line.\n" * ANALYSIS_LINES))
    assert not agree(g, rx, ok.format("A line.\n" * (ANALYSIS_LINES + 1)))
    for marker in (INSTRUCTION_MARKER, CHAT_MARKER):
        g, rx = marker_grammar(marker), marker_regex(marker)
        assert agree(g, rx, f"{marker} M" + "x" * LINE_CHARS)
        assert not agree(g, rx, f"{marker} M" + "x" * (LINE_CHARS + 1))


def test_programmer_grammar_bounds_the_number_of_versions():
    blocks = [f"```python\nx = {i}\n```" for i in range(MAX_VERSIONS + 1)]
    g, rx = programmer_grammar("x = 1\n"), programmer_regex("x = 1\n")
    assert not agree(g, rx, blocks[0])
    assert all(agree(g, rx, "\n\nStep:\n".join(blocks[:n])) for n in range(2, MAX_VERSIONS + 1))
    assert not agree(g, rx, "\n".join(blocks))


# ------------------------------------------------------------------------------------------ accepted replies
@pytest.mark.parametrize("role_cls", [JudgeRole, InstructionRole, ChatRole])
def test_worked_examples_match_their_grammar(role_cls):
    role = role_cls()
    for ex in role.examples:
        grammar, regex = grammar_and_regex(role.name, ex.query)
        assert agree(grammar, regex, ex.reply), ex.reply[:80]
        assert role.grammar(ex.query) == grammar


@pytest.mark.parametrize("persona", PERSONAS)
def test_programmer_examples_match_their_grammar(persona):
    role = ProgrammerRole(persona)
    for ex in role.prompt["examples"]:
        query = SnippetQuery(ex["query"]["code"], ex["query"]["lang"])
        grammar, regex = grammar_and_regex("programmer", query)
        assert role.grammar(query) == grammar
        assert agree(grammar, regex, ex["reply"]), (persona, ex["reply"][:80])


def _variant(code: str, k: int) -> str:
    """An earlier version of ``code``: some lines dropped, one changed (deterministic in ``k``)."""
    lines = code.split("\n")
    kept = [ln for i, ln in enumerate(lines) if (i + k) % 5 != 0]
    if kept:
        kept[len(kept) // 2] = kept[len(kept) // 2].replace("=", "= 0 +", 1) or "pass"
    return "\n".join(kept)


def _simulated_cases():
    for k, s in enumerate(SNIPPETS[:12]):
        final, lang = s["content"], s["lang"]
        current = _variant(final, k)
        blocks = edit_blocks(current, final)
        changes = tuple(unified_diff(current, apply_blocks(current, [b])) for b in blocks)
        history = (_variant(current, k + 1),) if k % 2 else ()
        yield lang, current, final, changes, history


def test_simulator_replies_match_every_grammar():
    judge, instruction, chat = JudgeRole(), InstructionRole(), ChatRole()
    checked = 0
    for lang, current, final, changes, history in _simulated_cases():
        view = RecordView(lang, current, history)
        if changes:
            jq = JudgeQuery(view, changes)
            reply = replies.simulate_reply(judge.messages(jq))
            assert judge.check(jq, reply).ok and agree(*grammar_and_regex("judge", jq), reply), reply
            checked += 1
        for role in (instruction, chat):
            for change in (unified_diff(current, final), ""):
                cq = ChangeQuery(view, change)
                reply = replies.simulate_reply(role.messages(cq))
                assert agree(*grammar_and_regex(role.name, cq), reply), reply
        for persona in PERSONAS:
            role = ProgrammerRole(persona)
            q = SnippetQuery(final, lang)
            reply = replies.simulate_reply(role.messages(q))
            assert role.check(q, reply).ok and agree(*grammar_and_regex("programmer", q), reply), reply[:200]
    assert checked >= 10


# ------------------------------------------------------------------------------------------ rejected replies
JQ = JudgeQuery(RecordView("python", "x = 1\ny = 2\n"), ("@@ -1 +1 @@\n-x = 1\n+x = 3", "@@ -2 +2 @@\n-y = 2\n+y = 4"))
SECTION = "**Analysis of change {k}:**\nThe value changes for no visible reason.\n**Decision:** {d}"
GOOD_JUDGE = SECTION.format(k=1, d="True") + "\n\n" + SECTION.format(k=2, d="False")
FINAL = "def f(x):\n    return x + 1\n"
PQ = SnippetQuery(FINAL, "python")

MALFORMED = [
    # (role, query, reply, the parser's reason)
    ("judge", JQ, GOOD_JUDGE + "\n**Decision:** True", "bad_decision"),  # a third decision line
    ("judge", JQ, SECTION.format(k=1, d="True"), "count_mismatch"),
    ("judge", JQ, GOOD_JUDGE + "\n\n" + SECTION.format(k=3, d="True"), "count_mismatch"),
    ("judge", JQ, SECTION.format(k=2, d="True") + "\n\n" + SECTION.format(k=1, d="False"), "bad_order"),
    ("judge", JQ, GOOD_JUDGE.replace("**Decision:** False", "It is unclear."), "no_decision"),
    ("judge", JQ, GOOD_JUDGE.replace("False", "Maybe"), "bad_decision"),
    ("judge", JQ, GOOD_JUDGE.replace("for no visible reason.", "for no visible reason.\nDecision: True"),
     "bad_decision"),
    ("judge", JQ, "I'm sorry, I cannot judge these changes.", "refusal"),
    ("judge", JQ, "", "empty"),
    ("instruction", None, "Make `f` return x + 2.", "no_marker"),
    ("instruction", None, "**instruction:** Make `f` return x + 2.\n\nNote: this keeps the signature.",
     "trailing_note"),
    ("instruction", None, "**instruction:**   ", "empty"),
    ("chat", None, "I changed `f` to add two.", "no_marker"),
    ("chat", None, "   ", "empty"),
    ("programmer", PQ, "The code was written in one go.", "no_code_blocks"),
    ("programmer", PQ, "```python\ndef f(x):\n    return x\n```", "last_mismatch"),  # one block
    ("programmer", PQ, f"```python\n{FINAL}```", "single_version"),
    ("programmer", PQ, f"```python\ndef f(x):\n    pass\n```\n\n```python\n{FINAL}```\n\nThat is all.",
     None),  # accepted by the parser, but the grammar allows nothing after the last block
]


def _check(role: str, query, reply: str):
    if role == "judge":
        return parse_judge_reply(reply, len(query.changes))
    if role == "programmer":
        return check_history(query.code, reply)
    return (InstructionRole() if role == "instruction" else ChatRole()).check(None, reply)


@pytest.mark.parametrize("role,query,reply,reason", MALFORMED, ids=[f"{m[0]}-{m[3]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_replies_are_rejected_by_parser_and_grammar(role, query, reply, reason):
    verdict = _check(role, query, reply)
    if reason is not None:
        assert not verdict.ok and verdict.reason == reason, verdict
    assert not agree(*grammar_and_regex(role, query), reply)


def test_what_the_grammars_leave_to_the_parsers():
    """Rules on meaning, not form, stay the parsers' (the grammar admits these replies; SPEC 5)."""
    cases = [
        ("instruction", None, "**instruction:** No changes are needed.", "says_no_change"),
        ("chat", None, "**chat:** I'm sorry, I cannot help with that.", "refusal"),
        ("programmer", PQ, f"```python\n{FINAL}```\n\n```python\n{FINAL}```", "single_version"),
        ("programmer", PQ, f"```\na = 1\n```\n```\na = 1\n```\n```python\n{FINAL}```", "consecutive_duplicate"),
        ("programmer", PQ, "```\na = 1\n```\n```python\ndef f(x):\n    return x\n```", "last_mismatch"),
    ]
    for role, query, reply, reason in cases:
        assert agree(*grammar_and_regex(role, query), reply)
        verdict = _check(role, query, reply)
        assert not verdict.ok and verdict.reason == reason, (role, verdict)


# ------------------------------------------------------------------------------------------ properties
_TEXT = st.text(alphabet="aAdDnNsS*#_-+ `:.\tx1(é", min_size=1, max_size=24)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_TEXT, min_size=1, max_size=3), st.booleans()), min_size=1, max_size=4))
def test_every_judge_reply_the_grammar_admits_parses_to_its_decisions(sections):
    """Replies built by the grammar's rules (lines kept only where the regex admits them) always parse."""
    lines_ok = [[ln for ln in lines if judge_regex(1).fullmatch(
        f"**Analysis of change 1:**\n{ln}\n**Decision:** True")] for lines, _ in sections]
    assume(all(lines_ok))
    reply = "\n\n".join(f"**Analysis of change {k}:**\n" + "".join(ln + "\n" for ln in lines)
                        + f"**Decision:** {d}" for k, (lines, (_, d)) in enumerate(zip(lines_ok, sections), 1))
    n = len(sections)
    assert agree(judge_grammar(n), judge_regex(n), reply)
    verdict = parse_judge_reply(reply, n)
    assert verdict.ok and verdict.value == [d for _, d in sections], (verdict, reply)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([INSTRUCTION_MARKER, CHAT_MARKER]), _TEXT)
def test_every_marked_reply_the_grammar_admits_parses(marker, text):
    reply = f"{marker} {text}"
    if not agree(marker_grammar(marker), marker_regex(marker), reply):
        assert text[0] in " \t"
        return
    role = InstructionRole() if marker == INSTRUCTION_MARKER else ChatRole()
    verdict = role.check(None, reply)
    assert verdict.ok or verdict.reason in ("says_no_change", "refusal"), verdict

