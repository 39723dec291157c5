"""SPEC 8 training formats: property tests (edits reproduce ``next``, history rebuilds every snapshot,
SR search texts are unique, location tokens land at ``loc``) and examples of each format."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.export.fences import fence_code, fence_lines, read_fence, unfence_code
from proginstruct.export.formats import (
    FORMATS,
    conversation,
    lc_conversation,
    split_assistant,
    sr_conversation,
    wf_conversation,
)
from proginstruct.export.lc import apply_lc, lc_edits, parse_lc, render_lc
from proginstruct.export.location import loc_problem, mark_location, unmark_location
from proginstruct.export.sr import (
    SearchReplace,
    apply_sr,
    invert_sr,
    occurrences,
    parse_sr,
    render_sr,
    sr_edits,
)
from proginstruct.export.tokens import TARGET, TARGET_END, TARGET_START
from proginstruct.text import fence

from .strategies import line_edits

# lines from a small pool make repeated lines (non-unique search texts) and fence-like lines likely
LINE = st.sampled_from(["", "a", "b", "}", "  x = 1", "```", "````md", "```py", "é\r", "1,2", " "])
CODE = st.lists(LINE, min_size=1, max_size=12).map("\n".join)


@st.composite
def edited(draw, code: str) -> str:
    """``code`` with a few line insertions / deletions / replacements, or sometimes unrelated code."""
    if draw(st.integers(0, 9)) == 0:
        return draw(CODE)
    return draw(line_edits(code, LINE))


@st.composite
def samples(draw) -> dict:
    """A SPEC 0 sample: a chain of related snapshots (history, current, next), a valid loc, maybe user/chat."""
    lang = draw(st.sampled_from(["python", "c++", ""]))
    chain = [draw(CODE)]
    for _ in range(draw(st.integers(0, 3)) + 1):
        chain.append(draw(edited(chain[-1])))
    nxt = draw(edited(chain[-1])) if draw(st.booleans()) else chain[-1]
    current = chain[-1]
    kind = draw(st.sampled_from(["none", "cursor", "range"]))
    if kind == "none":
        loc = None
    elif kind == "cursor":
        loc = draw(st.integers(0, len(current)))
    else:
        a, b = draw(st.integers(0, len(current))), draw(st.integers(0, len(current)))
        loc = [min(a, b), max(a, b)]
    snap = lambda code: {"type": "code", "lang": lang, "code": code}  # noqa: E731
    return {"history": [snap(c) for c in chain[:-1]], "current": snap(current),
            "user": draw(st.sampled_from(["", "Fix the bug.", "line one\nline two"])),
            "chat": draw(st.sampled_from(["", "Done.", "I changed\ntwo lines."])),
            "next": snap(nxt), "loc": loc}


def _turns(conv: list[dict], role: str) -> list[str]:
    return [t["content"] for t in conv if t["role"] == role]


def _check_shape(sample: dict, conv: list[dict]) -> None:
    roles = [t["role"] for t in conv]
    n = len(sample["history"])
    assert roles == ["history"] * n + ["current"] + (["user"] if sample["user"] else []) + ["assistant"]
    if sample["user"]:
        assert _turns(conv, "user") == [sample["user"]]
    assert split_assistant(_turns(conv, "assistant")[0])[1] == sample["chat"]


# ---------------------------------------------------------------- the three formats, as properties


@settings(max_examples=300, deadline=None)
@given(samples())
def test_wf_turns_hold_every_snapshot_and_next(sample):
    conv = wf_conversation(sample)
    _check_shape(sample, conv)
    for turn, snap in zip(_turns(conv, "history"), sample["history"], strict=True):
        assert unfence_code(turn) == (snap["lang"], snap["code"])
    body, _ = split_assistant(_turns(conv, "assistant")[0])
    assert unfence_code(body) == (sample["next"]["lang"], sample["next"]["code"])


@settings(max_examples=300, deadline=None)
@given(samples())
def test_lc_assistant_edits_give_next_and_history_rebuilds_every_snapshot(sample):
    conv = lc_conversation(sample)
    _check_shape(sample, conv)
    current, nxt = sample["current"]["code"], sample["next"]["code"]
    body, _ = split_assistant(_turns(conv, "assistant")[0])
    assert apply_lc(current, parse_lc(body)) == nxt
    code = current  # history turns undo one step each: ranges in the later snapshot, lines from the earlier
    for turn, snap in reversed(list(zip(_turns(conv, "history"), sample["history"], strict=True))):
        code = apply_lc(code, parse_lc(turn))
        assert code == snap["code"]


@settings(max_examples=300, deadline=None)
@given(samples())
def test_sr_assistant_edits_give_next_and_history_rebuilds_every_snapshot(sample):
    conv = sr_conversation(sample)
    _check_shape(sample, conv)
    current, nxt = sample["current"]["code"], sample["next"]["code"]
    body, _ = split_assistant(_turns(conv, "assistant")[0])
    edits = parse_sr(body)
    for e in edits:
        assert occurrences(current, e.search) == 1, "every search text occurs exactly once"
    assert apply_sr(current, edits) == nxt
    snaps = [s["code"] for s in sample["history"]] + [current]
    code = current
    for i in reversed(range(len(sample["history"]))):
        edits = parse_sr(_turns(conv, "history")[i])
        for e in edits:
            assert occurrences(snaps[i], e.search) == 1
            assert occurrences(snaps[i + 1], e.replace) == 1, "history edits are reversible"
        assert apply_sr(snaps[i], edits) == snaps[i + 1], "history turns go earlier -> later"
        code = apply_sr(code, invert_sr(edits))
        assert code == snaps[i]


@settings(max_examples=300, deadline=None)
@given(samples())
def test_location_tokens_land_at_loc_in_every_format(sample):
    for fmt in FORMATS:
        marked_block = _turns(conversation(sample, fmt), "current")[0]
        lang, marked = unfence_code(marked_block, numbered=(fmt == "lc"))
        assert lang == sample["current"]["lang"]
        code, loc = unmark_location(marked)
        assert code == sample["current"]["code"]
        assert loc == sample["loc"]
        if isinstance(loc, int):
            assert marked.index(TARGET) == loc
        elif loc is not None:
            assert marked.index(TARGET_START) == loc[0]
            assert marked.index(TARGET_END) == loc[1] + len(TARGET_START)


@settings(max_examples=300, deadline=None)
@given(CODE, st.data())
def test_sr_changes_at_most_two_lines_apart_are_merged(old, data):
    new = data.draw(edited(old))
    edits = sr_edits(old, new)
    spans = sorted((old.find(e.search), old.find(e.search) + len(e.search)) for e in edits)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert old[end:start].count("\n") - 1 > 2, "unchanged lines between two SR edits"
    for e in edits:  # whole lines on both sides
        pos = old.find(e.search)
        assert pos == 0 or old[pos - 1] == "\n"
        assert pos + len(e.search) == len(old) or old[pos + len(e.search)] == "\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE, max_size=8), st.sampled_from(["", "python", "C++"]))
def test_fences_parse_back_exactly(lines, lang):
    block = fence_lines(lines, lang)
    got_lang, body, end = read_fence(block.split("\n"), 0)
    assert (got_lang, body, end) == (lang.lower(), lines, len(block.split("\n")))
    if lines and not any(line.startswith("```") for line in lines):
        assert fence_code("\n".join(lines), lang) == fence("\n".join(lines), lang), "SPEC 2 fence otherwise"


@settings(max_examples=200, deadline=None)
@given(CODE, st.integers(0, 50), st.integers(0, 50))
def test_mark_and_unmark_location(code, a, b):
    for loc in (None, min(a, len(code)), sorted([min(a, len(code)), min(b, len(code))])):
        assert unmark_location(mark_location(code, loc)) == (code, loc)


# ---------------------------------------------------------------- examples


def _sample(current: str, nxt: str, history=(), loc=None, user="", chat="", lang="python") -> dict:
    snap = lambda code: {"type": "code", "lang": lang, "code": code}  # noqa: E731
    return {"history": [snap(h) for h in history], "current": snap(current), "user": user, "chat": chat,
            "next": snap(nxt), "loc": loc}


def test_wf_example():
    s = _sample("x = 1\n", "x = 2\n", history=["x = 0\n"], loc=4, user="Use 2.", chat="Changed it.")
    assert wf_conversation(s) == [
        {"role": "history", "content": "```python\nx = 0\n\n```"},
        {"role": "current", "content": "```python\nx = <|target|>1\n\n```"},
        {"role": "user", "content": "Use 2."},
        {"role": "assistant", "content": "<|next_start|>```python\nx = 2\n\n```<|next_end|>\nChanged it."},
    ]


def test_lc_example_ranges_are_zero_based_and_history_is_backwards():
    s = _sample("a\nb\nc", "a\nB\nc", history=["a\nc"], loc=[2, 3])
    conv = lc_conversation(s)
    # delete line 1 of the later one, widened with line 0 so the fence is never empty
    assert conv[0] == {"role": "history", "content": "0,2\n```python\na\n```"}
    assert conv[1] == {"role": "current", "content": "```python\n1 a\n2 <|target_start|>b<|target_end|>\n3 c\n```"}
    assert conv[2] == {"role": "assistant", "content": "<|next_start|>1,2\n```python\nB\n```<|next_end|>"}


def test_sr_example_widens_repeated_lines_and_keeps_newlines():
    old = "def f():\n    return 1\n\ndef g():\n    return 1\n"
    new = "def f():\n    return 1\n\ndef g():\n    return 2\n"
    edits = sr_edits(old, new)
    assert edits == [SearchReplace("def g():\n    return 1", "def g():\n    return 2")]
    assert render_sr(edits, "python") == (
        "```python\ndef g():\n    return 1\n<|search_and_replace|>\ndef g():\n    return 2\n```")
    # a pure deletion carries a neighbouring line so the newline goes too
    deletion = sr_edits("a\nb\nc", "a\nc")
    assert apply_sr("a\nb\nc", deletion) == "a\nc"
    assert all(e.search and e.replace for e in deletion)


def test_no_change_sample_has_empty_edits():
    s = _sample("x\n", "x\n")
    for conv in (lc_conversation(s), sr_conversation(s)):
        assert conv[-1]["content"] == "<|next_start|><|next_end|>"
    assert parse_lc("") == [] and parse_sr("") == []


def test_code_with_fence_lines_gets_a_longer_fence():
    code = 'doc = """\n```python\nprint(1)\n```\n"""'
    block = fence_code(code, "python")
    assert block.startswith("````python\n") and block.endswith("\n````")
    assert unfence_code(block) == ("python", code)
    edits = lc_edits(code, code.replace("print(1)", "print(2)"))
    assert apply_lc(code, parse_lc(render_lc(edits, "python"))) == code.replace("print(1)", "print(2)")


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        mark_location("abc", 4)
    with pytest.raises(ValueError):
        mark_location("abc", [2, 1])
    assert loc_problem(True, 3) and loc_problem([1], 3) and loc_problem("1", 3)
    with pytest.raises(ValueError):
        parse_lc("x,y\n```\n```")
    with pytest.raises(ValueError):
        parse_lc("0,1\n```\nunclosed")
    with pytest.raises(ValueError):
        parse_sr("```\nno separator\n```")
    with pytest.raises(ValueError):
        apply_sr("a\na", [SearchReplace("a", "b")])
    with pytest.raises(ValueError):
        split_assistant("no tokens")
    with pytest.raises(KeyError):
        conversation(_sample("a", "b"), "xml")
