"""Judge, instruction and chat roles (SPEC 5): prompts, worked examples and reply parsers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.blocks import apply_blocks, edit_blocks
from proginstruct.roles.base import load_prompt
from proginstruct.roles.chat import ChatRole, parse_chat_reply
from proginstruct.roles.instruction import InstructionRole, parse_instruction_reply
from proginstruct.roles.judge import JudgeRole, parse_decision, parse_judge_reply
from proginstruct.roles.markers import after_marker
from proginstruct.roles.render import (
    CHANGE_HEADING,
    H_CHANGE,
    H_COMMIT,
    H_CURRENT,
    H_PROBLEM,
    H_USER,
    NO_CHANGE,
    ChangeQuery,
    JudgeQuery,
    RecordView,
    render_change,
    render_judge,
)
from proginstruct.text import unified_diff

MARKERS = {"judge": "**Decision:**", "instruction": "**instruction:**", "chat": "**chat:**"}
ROLES = {"judge": JudgeRole, "instruction": InstructionRole, "chat": ChatRole}


@pytest.fixture(scope="module", params=sorted(ROLES))
def role(request):
    return ROLES[request.param]()


# ---------------------------------------------------------------- a query to ask about

CURRENT = """def mean(xs):
    total = 0
    for x in xs:
        total += x
    return total / len(xs)
"""
FINAL = """def mean(xs: list[float]) -> float:
    total = 0
    for x in xs:
        total += x
    if not xs:
        raise ValueError("mean of an empty list")
    return total / len(xs)
"""


def judge_query() -> JudgeQuery:
    blocks = edit_blocks(CURRENT, FINAL)
    changes = tuple(unified_diff(CURRENT, apply_blocks(CURRENT, [b])) for b in blocks)
    return JudgeQuery(RecordView("python", CURRENT), changes)


def change_query(final: str = FINAL, **ctx: str) -> ChangeQuery:
    return ChangeQuery(RecordView("python", CURRENT, **ctx), unified_diff(CURRENT, final))


def query_for(name: str):
    return judge_query() if name == "judge" else change_query()


# ---------------------------------------------------------------- messages and prompts


def test_messages_structure(role):
    query = query_for(role.name)
    msgs = role.messages(query)
    assert msgs[0] == {"role": "system", "content": role.system}
    shots = msgs[1:-1]
    assert len(shots) == 2 * len(role.examples) and 3 <= len(role.examples) <= 4
    for i, ex in enumerate(role.examples):
        user, assistant = shots[2 * i], shots[2 * i + 1]
        assert user == {"role": "user", "content": role.render(ex.query)}
        assert assistant == {"role": "assistant", "content": ex.reply}
    assert msgs[-1] == {"role": "user", "content": role.render(query)}
    expected = render_judge(query) if role.name == "judge" else render_change(query)
    assert msgs[-1]["content"] == expected


def test_messages_are_fresh_on_every_call(role):
    query = query_for(role.name)
    first = role.messages(query)
    first[1]["content"] = "tampered"
    first.append({"role": "user", "content": "more"})
    second = role.messages(query)
    assert second[1]["content"] != "tampered" and len(second) == len(first) - 1


def test_example_replies_pass_check(role):
    for ex in role.examples:
        verdict = role.check(ex.query, ex.reply)
        assert verdict.ok, (role.name, verdict.reason, ex.reply[:60])
        if role.name == "judge":
            assert len(verdict.value) == len(ex.query.changes)
        else:
            assert verdict.value and verdict.value == ex.reply.split(":**", 1)[1].strip()


def test_system_messages_hold_their_own_marker_only(role):
    assert MARKERS[role.name] in role.system
    for other, marker in MARKERS.items():
        if other != role.name:
            assert marker.lower() not in role.system.lower(), (role.name, marker)
    if role.name == "judge":
        assert "**Analysis of change 1:**" in role.system


def test_prompt_files_are_plain_data():
    for name in ROLES:
        prompt = load_prompt(name)
        assert set(prompt) == {"system", "examples"}
        for ex in prompt["examples"]:
            assert set(ex) == {"query", "reply"}
            assert {"lang", "current", "history"} <= set(ex["query"])
            assert ("changes" if name == "judge" else "change") in ex["query"]


def test_custom_prompt_and_malformed_prompt():
    prompt = {
        "system": "Say **chat:** then the message.",
        "examples": [
            {"query": {"lang": "go", "current": "package main\n", "change": ""}, "reply": "**chat:** ok"}
        ],
    }
    msgs = ChatRole(prompt).messages(change_query())
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert NO_CHANGE in msgs[1]["content"] and "```go\n1 package main\n2 \n```" in msgs[1]["content"]
    with pytest.raises(ValueError, match="prompt 'chat'"):
        ChatRole({"system": "x", "examples": [{"query": {"lang": "go"}, "reply": "y"}]})
    with pytest.raises(ValueError, match="prompt 'judge'"):
        JudgeRole({"examples": []})


# ---------------------------------------------------------------- the worked examples themselves

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$")


def apply_unified(text: str, diff: str) -> str:
    """Apply a header-less unified diff (as made by ``text.unified_diff``) to ``text``, checking every
    context and removed line."""
    lines, out, pos, i = text.split("\n"), [], 0, -1
    for row in diff.split("\n"):
        if m := _HUNK.match(row):
            start, length = int(m.group(1)), int(m.group(2) or 1)
            i = start - 1 if length else start
            out.extend(lines[pos:i])
            continue
        tag, body = row[0], row[1:]
        if tag in " -":
            assert lines[i] == body, (i, lines[i], body)
            if tag == " ":
                out.append(body)
            i += 1
        else:
            assert tag == "+", row
            out.append(body)
        pos = i
    return "\n".join(out + lines[pos:])


def test_judge_examples_are_real_queries():
    role = JudgeRole()
    sizes, decisions = set(), set()
    for ex in role.examples:
        cur = ex.query.view.current
        targets = [apply_unified(cur, diff) for diff in ex.query.changes]
        for diff, target in zip(ex.query.changes, targets, strict=True):
            assert unified_diff(cur, target) == diff
            assert len(edit_blocks(cur, target)) == 1  # each candidate is exactly one edit block
        blocks = [edit_blocks(cur, t)[0] for t in targets]
        assert len(set(blocks)) == len(blocks)
        apply_blocks(cur, blocks)  # disjoint: the blocks of one current -> final pair
        snaps = [*ex.query.view.history, cur]
        assert all(a != b for a, b in zip(snaps, snaps[1:], strict=False))
        sizes.add(len(ex.query.changes))
        decisions.update(role.check(ex.query, ex.reply).value)
    assert {1, 2, 3} <= sizes and decisions == {True, False}


@pytest.mark.parametrize("name", ["instruction", "chat"])
def test_change_examples_are_real_queries(name):
    role = ROLES[name]()
    for ex in role.examples:
        cur = ex.query.view.current
        if ex.query.change:
            target = apply_unified(cur, ex.query.change)
            assert target != cur and unified_diff(cur, target) == ex.query.change
    changes = [ex.query.change for ex in role.examples]
    if name == "chat":
        assert "" in changes  # a "left the code as it is" example
        assert any(ex.query.view.user_instruction for ex in role.examples)
    else:
        assert all(changes)
        assert any(ex.query.view.commit_message for ex in role.examples)
        assert any(ex.query.view.problem_statement for ex in role.examples)


def test_examples_cover_several_languages():
    langs = {ex.query.view.lang for cls in ROLES.values() for ex in cls().examples}
    assert "python" in langs and langs & {"javascript", "typescript"}
    assert langs & {"java", "c++"} and langs & {"go", "rust"}
    for cls in ROLES.values():
        assert len({ex.query.view.lang for ex in cls().examples}) >= 3


def test_context_sections_reach_the_rendered_query():
    for cls, heading in [(InstructionRole, H_COMMIT), (InstructionRole, H_PROBLEM), (ChatRole, H_USER)]:
        rendered = [m["content"] for m in cls().messages(change_query())[1:-1:2]]
        assert any(heading in r for r in rendered)
    rendered_judge = JudgeRole().messages(judge_query())[-1]["content"]
    assert CHANGE_HEADING.format(k=2) in rendered_judge and H_CURRENT in rendered_judge
    assert H_CHANGE + "\n" not in rendered_judge


# ---------------------------------------------------------------- judge replies

GOOD_JUDGE = """**Analysis of change 1:**
The new type hints on `mean` are a matter of style; nothing in the current code asks for them.
**Decision:** False

**Analysis of change 2:**
`mean([])` divides by zero. Raising a clear `ValueError` for an empty list fixes a real bug.
**Decision:** True"""


# the same sections headed 2, then 1
SWAPPED_JUDGE = (
    GOOD_JUDGE.replace("change 1:", "change #:").replace("change 2:", "change 1:").replace("#", "2")
)


def test_judge_accepts_a_realistic_reply():
    query = judge_query()
    assert len(query.changes) == 2
    verdict = JudgeRole().check(query, GOOD_JUDGE)
    assert verdict.ok and verdict.value == [False, True]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (GOOD_JUDGE.replace("**Decision:** False", "**Decision:** `false`"), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision:** `true`"), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** False", "**Decision:** **False**"), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision: True**"), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision**: TRUE."), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** False", "  **decision:**   false  "), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** False", "- **Decision:** False"), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision:** True\n\n\n"), [False, True]),
        (GOOD_JUDGE.replace("\n\n**Analysis", "\n\n\n---\n\n**Analysis"), [False, True]),
        (GOOD_JUDGE.replace("**Decision:** False", "**Decision:** False\n\n---"), [False, True]),
        (GOOD_JUDGE.replace("**Analysis of change 1:**", "### Analysis of Change 1"), [False, True]),
        (GOOD_JUDGE.replace("**Analysis of change 2:**", "**Analysis of change 2**:"), [False, True]),
        (GOOD_JUDGE.replace("**Analysis of change 2:**\n", "**Analysis of change 2:** "), [False, True]),
        ("Let me look at each change.\n\n" + GOOD_JUDGE, [False, True]),
        ("\n\n  " + GOOD_JUDGE.replace("\n", "\r\n") + "\r\n", [False, True]),
    ],
)
def test_judge_tolerates_harmless_variation(reply, expected):
    verdict = parse_judge_reply(reply, 2)
    assert verdict.ok, verdict.reason
    assert verdict.value == expected


@pytest.mark.parametrize(
    ("reply", "n", "reason"),
    [
        ("", 2, "empty"),
        ("  \n\n ", 2, "empty"),
        ("I'm sorry, but I can't evaluate these changes.", 2, "refusal"),
        ("Change 1: False\nChange 2: True", 2, "count_mismatch"),
        (GOOD_JUDGE, 3, "count_mismatch"),
        (GOOD_JUDGE, 1, "count_mismatch"),
        (GOOD_JUDGE + "\n\n**Analysis of change 3:**\nExtra.\n**Decision:** True", 2, "count_mismatch"),
        (SWAPPED_JUDGE, 2, "bad_order"),
        (GOOD_JUDGE.replace("change 2:", "change 1:"), 2, "bad_order"),
        (GOOD_JUDGE.replace("change 1:", "change 0:").replace("change 2:", "change 1:"), 2, "bad_order"),
        (GOOD_JUDGE.replace("**Decision:** False", ""), 2, "no_decision"),
        (
            GOOD_JUDGE.replace("**Decision:** True", "**Decision:** True\nOverall, only the fix is needed."),
            2,
            "no_decision",
        ),
        (
            GOOD_JUDGE.replace("**Decision:** False", "**Decision:** False\n(The hints are harmless.)"),
            2,
            "no_decision",
        ),
        ("**Analysis of change 1:**\n**Analysis of change 2:**\n**Decision:** True", 2, "no_decision"),
        (GOOD_JUDGE.replace("**Decision:** True", "**Verdict:** True"), 2, "no_decision"),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision:** Yes"), 2, "bad_decision"),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision:** True or False"), 2, "bad_decision"),
        (GOOD_JUDGE.replace("**Decision:** True", "**Decision:**"), 2, "bad_decision"),
        (
            GOOD_JUDGE.replace("**Decision:** False", "**Decision:** True\n**Decision:** False"),
            2,
            "bad_decision",
        ),
    ],
)
def test_judge_rejects_malformed_replies(reply, n, reason):
    verdict = parse_judge_reply(reply, n)
    assert not verdict.ok and verdict.value is None
    assert verdict.reason == reason


def test_judge_check_uses_the_number_of_changes():
    query = judge_query()
    one = JudgeQuery(query.view, query.changes[:1])
    assert JudgeRole().check(one, GOOD_JUDGE).reason == "count_mismatch"
    first = GOOD_JUDGE.split("\n\n**Analysis of change 2")[0]
    assert JudgeRole().check(one, first).value == [False]


def test_parse_decision_values():
    assert [parse_decision(v) for v in ["True", " `false` ", "**FALSE**", "true.", "'True'"]] == [
        True,
        False,
        False,
        True,
        True,
    ]
    assert [parse_decision(v) for v in ["", "maybe", "1", "not true", "True, partly"]] == [None] * 5


_DECISION_FORMS = [
    "**Decision:** {v}",
    "**Decision:** `{v}`",
    "**Decision:** **{v}**",
    "**Decision**: {v}",
    "**decision:** {v}.",
]
_HEADING_FORMS = ["**Analysis of change {k}:**", "### Analysis of change {k}", "**Analysis of Change {k}**:"]


@settings(max_examples=60, deadline=None)
@given(
    decisions=st.lists(st.booleans(), min_size=1, max_size=6),
    form=st.sampled_from(_DECISION_FORMS),
    heading=st.sampled_from(_HEADING_FORMS),
    casing=st.sampled_from([str, str.lower, str.upper]),
    gap=st.sampled_from(["\n\n", "\n", "\n\n\n", "\n\n---\n\n"]),
)
def test_judge_round_trip(decisions, form, heading, casing, gap):
    sections = [
        f"{heading.format(k=k)}\nChange {k} edits `f` on line {k}.\n{form.format(v=casing(str(d)))}"
        for k, d in enumerate(decisions, 1)
    ]
    verdict = parse_judge_reply(gap.join(sections), len(decisions))
    assert verdict.ok and verdict.value == decisions


# ---------------------------------------------------------------- instruction replies

GOOD_INSTRUCTION = (
    "**instruction:** Add type hints to `mean`, and raise a `ValueError` with a clear message "
    "when it is called with an empty list instead of dividing by zero."
)
INSTRUCTION_TEXT = GOOD_INSTRUCTION.removeprefix("**instruction:** ")


@pytest.mark.parametrize(
    "reply",
    [
        GOOD_INSTRUCTION,
        "  \n" + GOOD_INSTRUCTION + "\n\n",
        GOOD_INSTRUCTION.replace("**instruction:**", "**Instruction:**"),
        GOOD_INSTRUCTION.replace("**instruction:**", "**INSTRUCTION**:"),
        GOOD_INSTRUCTION.replace("**instruction:** ", "**instruction:**\n\n"),
        GOOD_INSTRUCTION.replace("**instruction:** ", "** instruction : **  "),
    ],
)
def test_instruction_accepts(reply):
    verdict = InstructionRole().check(change_query(), reply)
    assert verdict.ok, verdict.reason
    assert verdict.value == INSTRUCTION_TEXT


@pytest.mark.parametrize(
    "text",
    [
        "Do not change the public signature of `mean`; only make it reject empty lists.",
        "Keep the loop, but leave the rest of the code unchanged and raise on empty input.",
        "No longer divide by zero for empty input: raise a `ValueError` instead.",
        "Make `mean` handle empty lists.\n- raise `ValueError`\n- add type hints",
        "Add type hints to `mean`.\n\nAlso raise a `ValueError` for empty lists; nothing else should change.",
        "Raise on empty input so that the result stays the same for every other list.",
    ],
)
def test_instruction_does_not_flag_ordinary_constraints(text):
    verdict = parse_instruction_reply("**instruction:** " + text)
    assert verdict.ok, verdict.reason
    assert verdict.value == text


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("I cannot help with that request.", "refusal"),
        ("**instruction:** I'm sorry, but I can't write an instruction for this.", "refusal"),
        (INSTRUCTION_TEXT, "no_marker"),
        ("Instruction: " + INSTRUCTION_TEXT, "no_marker"),
        ("Here is the instruction:\n\n" + GOOD_INSTRUCTION, "no_marker"),
        ("**chat:** " + INSTRUCTION_TEXT, "no_marker"),
        ("**instruction:**", "empty"),
        ("**instruction:**   \n\n  ", "empty"),
        ("**instruction:** No changes are needed; the code is fine as it is.", "says_no_change"),
        ("**instruction:** Nothing to change here.", "says_no_change"),
        ("**instruction:** Leave the code as it is.", "says_no_change"),
        ("**instruction:** The code does not need any changes.", "says_no_change"),
        ("**instruction:** Check `mean`; no modifications are required.", "says_no_change"),
        ("**instruction:** The file stays the same.", "says_no_change"),
        (GOOD_INSTRUCTION + "\n\nNote: the hints use the built-in `list` generic.", "trailing_note"),
        (GOOD_INSTRUCTION + "\n\n(Note that this keeps the loop.)", "trailing_note"),
        (GOOD_INSTRUCTION + "\n\nP.S. Python 3.9+ is required.", "trailing_note"),
        (GOOD_INSTRUCTION + "\n\nExplanation: the change guards the division.", "trailing_note"),
        (GOOD_INSTRUCTION + "\n\n**Note:** this mirrors the commit message.", "trailing_note"),
        (GOOD_INSTRUCTION + "\nNote: written from the programmer's point of view.", "trailing_note"),
        (GOOD_INSTRUCTION + "\n\nNote that the loop itself stays.", "trailing_note"),
        (GOOD_INSTRUCTION + "\n\nThis instruction covers both edits.", "trailing_note"),
    ],
)
def test_instruction_rejects(reply, reason):
    verdict = InstructionRole().check(change_query(), reply)
    assert not verdict.ok and verdict.value is None
    assert verdict.reason == reason


# ---------------------------------------------------------------- chat replies

GOOD_CHAT = "**chat:** `mean` now raises a `ValueError` for an empty list instead of dividing by zero."


@pytest.mark.parametrize(
    "reply",
    [
        GOOD_CHAT,
        "\n  " + GOOD_CHAT + "  \n",
        GOOD_CHAT.replace("**chat:**", "**Chat:**"),
        GOOD_CHAT.replace("**chat:**", "**CHAT**:"),
        GOOD_CHAT.replace("**chat:** ", "**chat:**\n"),
    ],
)
def test_chat_accepts(reply):
    verdict = ChatRole().check(change_query(), reply)
    assert verdict.ok, verdict.reason
    assert verdict.value == GOOD_CHAT.removeprefix("**chat:** ")


def test_chat_accepts_no_change_and_multi_paragraph_messages():
    no_change = ChangeQuery(RecordView("python", CURRENT), "")
    reply = "**chat:** The function already does what you asked, so I left the code as it is."
    assert ChatRole().check(no_change, reply).value == reply.removeprefix("**chat:** ")
    two = GOOD_CHAT + "\n\nNote: callers that relied on the `ZeroDivisionError` must now catch `ValueError`."
    assert parse_chat_reply(two).ok  # chat messages may carry notes; only instructions must not


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("\n\t ", "empty"),
        ("Sorry, I can't comment on this change.", "refusal"),
        ("**chat:** I am unable to describe this edit.", "refusal"),
        ("`mean` now raises a `ValueError` for an empty list.", "no_marker"),
        ("Chat: `mean` now raises a `ValueError`.", "no_marker"),
        ("Sure! **chat:** `mean` now raises.", "no_marker"),
        ("**instruction:** make `mean` raise on empty input", "no_marker"),
        ("**chat:**", "empty"),
        ("**chat:**  \n\n", "empty"),
    ],
)
def test_chat_rejects(reply, reason):
    verdict = ChatRole().check(change_query(), reply)
    assert not verdict.ok and verdict.value is None
    assert verdict.reason == reason


def test_after_marker():
    assert after_marker("**chat:** hi", "chat") == "hi"
    assert after_marker("**Chat**:hi", "chat") == "hi"
    assert after_marker(" ** chat : ** hi ", "chat") == "hi"
    assert after_marker("*chat:* hi", "chat") is None
    assert after_marker("**chatter:** hi", "chat") is None
    assert after_marker("x **chat:** hi", "chat") is None
