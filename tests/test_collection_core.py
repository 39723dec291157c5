"""SPEC 4 (code series) and SPEC 6 (draws, reachability) without any model."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.blocks import apply_blocks, edit_blocks
from proginstruct.collection.sample import draw_order, reachable
from proginstruct.collection.series import check_record, code_series
from proginstruct.samples import sample_type
from proginstruct.text import join_lines

LINE = st.sampled_from(["a", "b", "c", "", "x = 1", "  y", "}"])
TEXT = st.lists(LINE, max_size=20).map(join_lines)


@settings(max_examples=200)
@given(TEXT, TEXT, st.integers(0, 10**9))
def test_commit_series(code1, code2, seed):
    rec = {"code1": code1, "code2": code2, "lang": "Python", "git": "fix"}
    s = code_series("commit", rec, random.Random(seed), 1.0)
    assert s.final == code2 and s.lang == "python" and s.context == "fix"
    # edit_series minus its last element: one version per block, the first is code1 (none when equal)
    assert len(s.versions) == len(edit_blocks(code1, code2))
    assert s.versions[:1] == ((code1,) if code1 != code2 else ())
    s0 = code_series("commit", rec, random.Random(seed), 0.0)
    assert s0.versions == (code1,)


@settings(max_examples=100)
@given(st.lists(TEXT, min_size=1, max_size=5), st.integers(0, 10**9))
def test_aiprogrammer_and_submit_series(outs, seed):
    s = code_series("aiprogrammer", {"content": outs[-1], "output": outs}, random.Random(seed), 0.0)
    assert s.versions == tuple(outs[:-1]) and s.final == outs[-1] and s.lang == ""
    s1 = code_series("submit", {"language": "C++", "submissions": outs, "problems_contexts": "P"},
                     random.Random(seed), 1.0)
    assert s1.lang == "c++" and s1.context == "P"
    # every version of the one-block series is reachable from the previous pair's start
    for v in s1.versions:
        assert isinstance(v, str)


def test_check_record_reasons():
    assert check_record("commit", {"code1": "a", "code2": "b"}) is None
    assert "code2" in check_record("commit", {"code1": "a"})
    assert "output" in check_record("aiprogrammer", {"content": "x", "output": []})
    assert "language" in check_record("submit", {"submissions": ["a"]})
    assert "JSON object" in check_record("commit", ["a"])


def test_draw_order_without_replacement_and_decay():
    picks = list(draw_order(5, 1.0, random.Random(1)))
    assert sorted(picks) == [0, 1, 2, 3, 4]  # every candidate, each once
    assert list(draw_order(0, 1.0, random.Random(1))) == []
    counts = [0] * 10
    for i in range(4000):
        counts[next(draw_order(10, 0.5, random.Random(i)))] += 1
    assert counts[0] > counts[1] > counts[3]  # alpha < 1 favours early versions


@settings(max_examples=100)
@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1.0, 0.9, 0.5]), st.integers(0, 10**9))
def test_draw_order_first_draws_equal_drawing_k_up_front(n, k, alpha, seed):
    """Drawing lazily gives the same first k indices as the former up-front draw of k, so records whose
    draws are never skipped keep their samples."""
    rng = random.Random(seed)
    remaining, up_front = list(range(n)), []
    for _ in range(min(k, n)):
        c = rng.choices(remaining, weights=[alpha**i + 1e-6 for i in remaining])[0]
        up_front.append(c)
        remaining.remove(c)
    lazy = draw_order(n, alpha, random.Random(seed))
    assert [next(lazy) for _ in range(min(k, n))] == up_front


@settings(max_examples=300)
@given(TEXT, TEXT, st.randoms(use_true_random=False))
def test_reachable_accepts_every_subset_and_rejects_others(current, final, rnd):
    blocks = edit_blocks(current, final)
    subset = [b for b in blocks if rnd.random() < 0.5]
    assert reachable(current, apply_blocks(current, subset), final)
    assert reachable(current, current, final) and reachable(current, final, final)


def test_reachable_rejects_foreign_edit():
    assert not reachable("a\nb\nc", "a\nZ\nc", "a\nB\nc")


def test_sample_type():
    base = {"history": [], "user": ""}
    assert sample_type(base) == "C"
    assert sample_type({"history": [1], "user": "do"}) == "H,C,U"


def test_collect_params_are_validated():
    import pytest

    from proginstruct.collection.sample import CollectParams
    from proginstruct.errors import UserError

    for bad in ({"limit_one_block_prob": 2.0}, {"use_user_prob": -1}, {"alpha": -3}, {"max_per_sample": 0}):
        with pytest.raises(UserError):
            CollectParams(**bad)
    assert CollectParams(alpha=0.9).alpha == 0.9
