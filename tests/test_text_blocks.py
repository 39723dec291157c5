"""Property tests for the pure core: SPEC 2 text conventions and SPEC 3 edit blocks."""

import difflib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.blocks import apply_blocks, block_diff, edit_blocks, edit_blocks_and_diff, edit_series
from proginstruct.collection.series import Series
from proginstruct.roles.render import RecordView, render_record
from proginstruct.text import fence, join_lines, split_lines, unified_diff

# texts built from a small alphabet of lines so that diffs have real structure (repeats, moves)
LINE = st.sampled_from(["a", "b", "c", "", "x = 1", "  return x", "}", "\r", "def f():"])
TEXT = st.lists(LINE, max_size=30).map(join_lines)


@given(st.text())
def test_split_join_round_trip(s):
    assert join_lines(split_lines(s)) == s


def test_split_keeps_cr_and_trailing_newline():
    assert split_lines("a\r\nb\n") == ["a\r", "b", ""]


def test_fence_and_line_numbers():
    assert fence("x\ny", "Python") == "```python\nx\ny\n```"
    assert fence("x", "") == "```\nx\n```"
    assert fence("x\ny", "go", numbered=True) == "```go\n1 x\n2 y\n```"


def _apply_patch(a: str, patch: str) -> str:
    """Apply a header-less unified diff to ``a``, checking every context/removed line and hunk length."""
    import re

    src, out, pos = split_lines(a), [], 0
    lines = split_lines(patch) if patch else []
    k = 0
    while k < len(lines):
        m = re.match(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$", lines[k])
        assert m, lines[k]
        start, alen = int(m[1]), int(m[2] or 1)
        start = start - 1 if alen else start
        out.extend(src[pos:start])
        pos = start
        k += 1
        seen_a = 0
        while k < len(lines) and not lines[k].startswith("@@"):
            tag, text = lines[k][:1], lines[k][1:]
            if tag in " -":
                assert src[pos] == text
                pos += 1
                seen_a += 1
            if tag in " +":
                out.append(text)
            k += 1
        assert seen_a == alen
    out.extend(src[pos:])
    return join_lines(out)


@settings(max_examples=300)
@given(TEXT, TEXT)
def test_unified_diff_applies_and_agrees_with_difflib_on_size(a, b):
    ours = unified_diff(a, b)
    assert (ours == "") == (a == b)
    assert _apply_patch(a, ours) == b
    ref = list(difflib.unified_diff(split_lines(a), split_lines(b), lineterm="", n=3))
    # a minimal LCS diff never changes more lines than difflib (no autojunk)
    assert sum(line.startswith(("+", "-")) for line in split_lines(ours) if ours) <= sum(
        line.startswith(("+", "-")) and not line.startswith(("+++", "---")) for line in ref)


def test_unified_diff_exact_format():
    a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk"
    b = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl"
    assert unified_diff(a, b) == "@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -9,3 +9,4 @@\n i\n j\n k\n+l"


@settings(max_examples=300)
@given(TEXT, TEXT)
def test_all_blocks_give_b_none_give_a(a, b):
    blocks = edit_blocks(a, b)
    assert apply_blocks(a, blocks) == b
    assert apply_blocks(a, []) == a
    assert (blocks == []) == (a == b)


@settings(max_examples=300)
@given(TEXT, TEXT, st.randoms(use_true_random=False))
def test_any_subset_applies_and_blocks_are_separated(a, b, rnd):
    blocks = edit_blocks(a, b)
    for x, y in zip(blocks, blocks[1:]):
        assert x.end < y.start  # at least one unchanged line between blocks
    subset = [blk for blk in blocks if rnd.random() < 0.5]
    out = apply_blocks(a, subset)
    # applying the rest afterwards (in a's coordinates) reaches b: subsets compose
    assert apply_blocks(a, subset + [blk for blk in blocks if blk not in subset]) == b
    assert isinstance(out, str)


@settings(max_examples=200)
@given(TEXT, TEXT, st.integers(0, 2**32))
def test_edit_series(a, b, seed):
    series = edit_series(a, b, random.Random(seed))
    assert series[0] == a and series[-1] == b
    assert len(series) == len(edit_blocks(a, b)) + 1
    # each step adds exactly one block: consecutive versions differ by one edit block
    for x, y in zip(series, series[1:]):
        assert len(edit_blocks(x, y)) == 1
    assert edit_series(a, b, random.Random(seed)) == series  # deterministic


def test_large_file_diff_is_fast_and_exact():
    rnd = random.Random(0)
    a_lines = [f"line {rnd.randrange(50)}" for _ in range(5000)]
    b_lines = list(a_lines)
    for _ in range(40):
        b_lines.insert(rnd.randrange(len(b_lines)), "inserted")
        del b_lines[rnd.randrange(len(b_lines))]
    a, b = join_lines(a_lines), join_lines(b_lines)
    assert apply_blocks(a, edit_blocks(a, b)) == b


@given(TEXT, TEXT, st.randoms(use_true_random=False))
def test_shortcuts_agree_with_the_plain_functions(a, b, rnd):
    # the CPU-saving shortcuts: one diff for blocks and unified diff, pre-split lines for apply_blocks
    blocks, diff = edit_blocks_and_diff(a, b)
    assert blocks == edit_blocks(a, b) and diff == unified_diff(a, b)
    subset = [blk for blk in blocks if rnd.random() < 0.5]
    assert apply_blocks(a, subset, split_lines(a)) == apply_blocks(a, subset)
    for blk in blocks:  # the judge's one-block changes
        assert block_diff(split_lines(a), blk) == unified_diff(a, apply_blocks(a, [blk]))


@given(st.lists(TEXT, min_size=1, max_size=5))
def test_revision_diffs_are_the_history_diffs(versions):
    series = Series(tuple(versions), versions[-1], "python")
    for c in range(len(versions)):
        view = RecordView("python", versions[c], tuple(versions[:c]))
        shared = RecordView("python", versions[c], tuple(versions[:c]), history_diffs=series.revision_diffs(c),
                            current_listing=fence(versions[c], "python", numbered=True))
        assert view.revision_diffs() == series.revision_diffs(c)
        assert render_record(shared) == render_record(view) and shared == view
