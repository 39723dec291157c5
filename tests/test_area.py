"""SPEC 7 target area: change spans, loc synthesis (property tests) and the post_collection stage CLI."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.area.loc import AreaParams, _uniform, change_spans, synthesize_loc
from proginstruct.area.stage import mix_summary, run_area, sample_id
from proginstruct.cli.area import command
from proginstruct.seeding import derive_rng

ROOT = Path(__file__).resolve().parents[1]

# small alphabets make shared runs (and so several separate spans) likely
texts = st.text(alphabet="ab\nx é", max_size=40)
probs = st.floats(min_value=0.0, max_value=1.0)
params_st = st.builds(AreaParams, use_loc_prob=probs, loc_cursor_prob=probs, loc_noisy_prob=probs,
                      loc_noisy_length=st.integers(0, 50), loc_all_noisy_prob=probs)


def edited_pair():
    """(current, next) where next is current with a few random character edits, or an unrelated text."""

    @st.composite
    def build(draw):
        current = draw(texts)
        if draw(st.booleans()):
            return current, draw(texts)
        chars = list(current)
        for _ in range(draw(st.integers(0, 4))):
            pos = draw(st.integers(0, len(chars)))
            op = draw(st.sampled_from(["insert", "delete", "replace"]))
            new = draw(st.sampled_from("abxz\n"))
            if op == "insert" or pos == len(chars):
                chars.insert(pos, new)
            elif op == "delete":
                del chars[pos]
            else:
                chars[pos] = new
        return current, "".join(chars)

    return build()


# ---------------------------------------------------------------- change spans


@settings(max_examples=150, deadline=None)
@given(edited_pair())
def test_spans_are_bounded_sorted_and_merged(pair):
    current, next_ = pair
    spans = change_spans(current, next_)
    assert spans, "there is always at least one span"
    for start, end in spans:
        assert 0 <= start <= end <= len(current)
    for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False):
        assert prev_end < start, "spans that touch or overlap must be merged"


@settings(max_examples=150, deadline=None)
@given(edited_pair())
def test_edit_touches_only_characters_inside_spans(pair):
    current, next_ = pair
    spans = change_spans(current, next_)
    if current == next_:
        assert spans == [(0, len(current))]
        return
    first_start, last_end = spans[0][0], spans[-1][1]
    head, tail = current[:first_start], current[last_end:]
    assert next_.startswith(head) and next_.endswith(tail)
    assert len(head) + len(tail) <= len(next_)
    # stronger: next = current with each span replaced by some text, everything between spans kept
    kept = [current[:first_start]]
    kept += [current[end:start] for (_, end), (start, _) in zip(spans, spans[1:], strict=False)]
    kept.append(current[last_end:])
    pattern = "(.*?)".join(re.escape(piece) for piece in kept)
    assert re.fullmatch(pattern, next_, flags=re.DOTALL), (spans, kept)


def test_change_spans_examples():
    assert change_spans("abc", "abc") == [(0, 3)]
    assert change_spans("", "") == [(0, 0)]
    assert change_spans("abc", "abXc") == [(2, 2)]  # insertion = empty span at its offset
    assert change_spans("abc", "aXc") == [(1, 2)]
    assert change_spans("abcdef", "abef") == [(2, 4)]
    assert change_spans("a1b2c", "aXbYc") == [(1, 2), (3, 4)]  # separated by an unchanged "b"
    assert change_spans("ab", "XaYbZ") == [(0, 0), (1, 1), (2, 2)]
    assert change_spans("", "new") == [(0, 0)]
    assert change_spans("old", "") == [(0, 3)]


def test_change_spans_on_long_files_is_fast_and_local():
    import time

    lines = [f"    value_{i} = compute(value_{i - 1}, {i * 7919 % 10007})" for i in range(2000)]
    current = "\n".join(lines)
    changed = list(lines)
    changed[500] = changed[500].replace("compute", "compute_fast")
    changed.insert(1500, "    print('checkpoint')")
    next_ = "\n".join(changed)
    t = time.perf_counter()
    spans = change_spans(current, next_)
    elapsed = time.perf_counter() - t
    assert len(spans) == 2
    assert current[spans[0][0] - 7 : spans[0][0]] == "compute"
    assert elapsed < 1.0


# ---------------------------------------------------------------- loc synthesis


def test_uniform_stays_in_bounds_and_uses_one_draw():
    rng = random.Random(1)
    assert {_uniform(rng, 3, 5) for _ in range(300)} == {3, 4, 5}
    rng, twin = random.Random(2), random.Random(2)
    assert _uniform(rng, 7, 7) == 7
    twin.random()  # exactly one draw, even for a single-value interval
    assert rng.random() == twin.random()


@settings(max_examples=150, deadline=None)
@given(edited_pair(), params_st, st.integers(0, 2**32))
def test_loc_shape_and_bounds(pair, params, seed):
    current, next_ = pair
    loc = synthesize_loc(current, next_, random.Random(seed), params)
    again = synthesize_loc(current, next_, random.Random(seed), params)
    assert loc == again, "same seed, same location"
    if loc is None:
        return
    if isinstance(loc, int):
        assert not isinstance(loc, bool) and 0 <= loc <= len(current)
    else:
        assert isinstance(loc, list) and len(loc) == 2
        assert 0 <= loc[0] <= loc[1] <= len(current)


@settings(max_examples=100, deadline=None)
@given(edited_pair(), probs, st.integers(0, 2**32))
def test_cursor_lands_in_or_at_the_end_of_a_span(pair, noisy, seed):
    current, next_ = pair
    spans = change_spans(current, next_)
    p = AreaParams(use_loc_prob=1.0, loc_cursor_prob=1.0, loc_noisy_prob=noisy, loc_all_noisy_prob=0.0)
    loc = synthesize_loc(current, next_, random.Random(seed), p)
    assert isinstance(loc, int)
    assert any(start <= loc <= end for start, end in spans)
    exact = AreaParams(use_loc_prob=1.0, loc_cursor_prob=1.0, loc_noisy_prob=0.0, loc_all_noisy_prob=0.0)
    loc = synthesize_loc(current, next_, random.Random(seed), exact)
    assert any(loc in (start, end) for start, end in spans)


@settings(max_examples=100, deadline=None)
@given(edited_pair(), st.integers(0, 2**32))
def test_range_without_noise_covers_the_changes_exactly(pair, seed):
    current, next_ = pair
    spans = change_spans(current, next_)
    p = AreaParams(use_loc_prob=1.0, loc_cursor_prob=0.0, loc_noisy_prob=0.0, loc_all_noisy_prob=0.0)
    assert synthesize_loc(current, next_, random.Random(seed), p) == [spans[0][0], spans[-1][1]]


@settings(max_examples=100, deadline=None)
@given(edited_pair(), st.integers(0, 40), st.integers(0, 2**32))
def test_noisy_range_stays_within_n_of_the_span_ends(pair, n, seed):
    current, next_ = pair
    spans = change_spans(current, next_)
    first_start, last_end = spans[0][0], spans[-1][1]
    p = AreaParams(use_loc_prob=1.0, loc_cursor_prob=0.0, loc_noisy_prob=1.0, loc_noisy_length=n,
                   loc_all_noisy_prob=0.0)
    start, end = synthesize_loc(current, next_, random.Random(seed), p)
    assert max(0, first_start - n) <= start <= first_start
    assert last_end <= end <= min(last_end + n, len(current))


def test_frequencies_roughly_match_the_probabilities():
    # one replaced run of 16 characters: a single change span (a, a + 16)
    current = "def area(w, h):\n    return " + "q" * 16 + "\n\nprint(area(2, 3))\n"
    next_ = current.replace("q" * 16, "w * h + 0 * 1.00")
    spans = change_spans(current, next_)
    assert len(spans) == 1 and spans[0][1] - spans[0][0] == 16
    (start, end), size = spans[0], len(current)
    draws = 6000
    kinds: Counter[str] = Counter()
    where: Counter[str] = Counter()
    for i in range(draws):
        loc = synthesize_loc(current, next_, derive_rng(0, "freq", i), AreaParams())
        if loc is None:
            kinds["none"] += 1
        elif isinstance(loc, int):
            kinds["cursor"] += 1
            where["end" if loc in (start, end) else "inside" if start < loc < end else "outside"] += 1
        else:
            kinds["range"] += 1
            where["range_exact" if loc == [start, end] else "range_other"] += 1
    # SPEC 9 defaults: 25% none, 75% * 50% cursor, the rest range
    assert abs(kinds["none"] / draws - 0.25) < 0.03
    assert abs(kinds["cursor"] / draws - 0.375) < 0.03
    assert abs(kinds["range"] / draws - 0.375) < 0.03
    # cursor: 5% uniform over [0, size]; else 50% a span end, 50% uniform over [start, end]
    cursors, uniform_w = kinds["cursor"], 17
    expect_end = 0.05 * 2 / (size + 1) + 0.95 * (0.5 + 0.5 * 2 / uniform_w)
    expect_outside = 0.05 * (size + 1 - uniform_w) / (size + 1)
    assert abs(where["end"] / cursors - expect_end) < 0.05
    assert abs(where["outside"] / cursors - expect_outside) < 0.03
    # range: exact only when neither all-noisy nor noisy (or noise drew 0 on both sides): ~47.5%
    assert abs(where["range_exact"] / kinds["range"] - 0.95 * 0.5) < 0.05


def test_area_params_validation():
    with pytest.raises(ValueError, match="use_loc_prob"):
        AreaParams(use_loc_prob=1.5)
    with pytest.raises(ValueError, match="loc_noisy_length"):
        AreaParams(loc_noisy_length=-1)
    with pytest.raises(ValueError, match="loc_cursor_prob"):
        AreaParams(loc_cursor_prob="0.5")  # type: ignore[arg-type]


# ---------------------------------------------------------------- stage and CLI


def snapshot(code: str) -> dict:
    return {"type": "code", "lang": "python", "code": code}


def make_samples() -> list[dict]:
    base = "def add(a, b):\n    return a - b\n"
    fixed = "def add(a, b):\n    return a + b\n"
    return [
        {"history": [], "current": snapshot(base), "user": "", "chat": "fixed", "next": snapshot(fixed)},
        {"history": [snapshot("def add(a, b):\n")], "current": snapshot(base), "user": "", "chat": "",
         "next": snapshot(base)},
        {"history": [], "current": snapshot(base), "user": "fix add", "chat": "", "next": snapshot(fixed),
         "id": "s-3"},
        {"history": [snapshot("")], "current": snapshot(base), "user": "fix it", "chat": "",
         "next": snapshot(fixed + "\nprint(add(1, 2))\n")},
    ]


def write_json(path: Path, obj) -> Path:
    path.write_bytes(orjson.dumps(obj))
    return path


def test_cli_adds_loc_and_is_reproducible(tmp_path):
    samples = make_samples() * 5
    for i, s in enumerate(samples):
        samples[i] = {**s, "id": f"s-{i}"}
    inp = write_json(tmp_path / "tmp.json", samples)
    out, metrics = tmp_path / "tmp_area.json", tmp_path / "area.json"
    args = ["--input_path", str(inp), "--output_path", str(out), "--metrics_path", str(metrics),
            "--params", str(tmp_path / "absent.yaml")]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    rows = orjson.loads(out.read_bytes())
    assert isinstance(rows, list) and len(rows) == len(samples)
    for row, sample in zip(rows, samples, strict=True):
        assert {k: v for k, v in row.items() if k != "loc"} == sample
        loc = row["loc"]
        assert loc is None or isinstance(loc, int | list)
    first = out.read_bytes()
    assert CliRunner().invoke(command, args).exit_code == 0
    assert out.read_bytes() == first, "a rerun gives byte-identical output"
    m = orjson.loads(metrics.read_bytes())
    assert m["samples"] == 20 and m["no_change"] == 5
    assert sum(m["loc"].values()) == 20
    assert {t: m["mix"][t]["samples"] for t in ("C", "H,C", "C,U", "H,C,U")} == {
        "C": 5, "H,C": 5, "C,U": 5, "H,C,U": 5}
    assert m["mix"]["C"]["share"] == 25.0
    # default seed is 42, so --seed 42 gives the same bytes; another seed gives other locations
    assert CliRunner().invoke(command, [*args, "--seed", "42"]).exit_code == 0
    assert out.read_bytes() == first
    assert CliRunner().invoke(command, [*args, "--seed", "7"]).exit_code == 0
    assert out.read_bytes() != first


def test_cli_reads_params_yaml_section_and_top_level_seed(tmp_path):
    inp = write_json(tmp_path / "in.json", make_samples())
    out = tmp_path / "out.jsonl"
    params = tmp_path / "params.yaml"
    params.write_text("seed: 7\narea:\n  use_loc_prob: 1\n  loc_cursor_prob: 0\n  loc_noisy_prob: 0\n"
                      "  loc_all_noisy_prob: 0\n")
    base = ["--input_path", str(inp), "--output_path", str(out), "--params", str(params)]
    assert CliRunner().invoke(command, base).exit_code == 0
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    for row in rows:
        spans = change_spans(row["current"]["code"], row["next"]["code"])
        assert row["loc"] == [spans[0][0], spans[-1][1]]
    # a flag overrides params.yaml
    assert CliRunner().invoke(command, [*base, "--use_loc_prob", "0"]).exit_code == 0
    assert all(orjson.loads(line)["loc"] is None for line in out.read_bytes().splitlines())
    # out-of-range value: one-line error naming the parameter
    result = CliRunner().invoke(command, [*base, "--loc_cursor_prob", "2"])
    assert result.exit_code == 2 and "loc_cursor_prob" in result.output


def test_top_level_seed_is_used(tmp_path):
    inp = write_json(tmp_path / "in.json", make_samples() * 10)
    params = tmp_path / "params.yaml"
    params.write_text("seed: 7\n")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    runner = CliRunner()
    assert runner.invoke(command, ["--input_path", str(inp), "--output_path", str(a),
                                   "--params", str(params)]).exit_code == 0
    assert runner.invoke(command, ["--input_path", str(inp), "--output_path", str(b),
                                   "--params", str(tmp_path / "none.yaml"), "--seed", "7"]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    params.write_text("seed: seven\n")
    result = runner.invoke(command, ["--input_path", str(inp), "--output_path", str(a), "--params", str(params)])
    assert result.exit_code == 2 and "seed" in result.output


def test_stage_script_runs_the_users_command(tmp_path):
    (tmp_path / "data").mkdir()
    inp = write_json(tmp_path / "data" / "tmp.json", make_samples())
    cmd = [sys.executable, str(ROOT / "stages" / "post_collection.py"),
           "--input_path", "data/tmp.json", "--output_path", "data/tmp_area.json"]
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "data" / "tmp_area.json"
    rows = orjson.loads(out.read_bytes())
    assert len(rows) == 4 and all("loc" in r for r in rows)
    data = out.read_bytes()
    assert subprocess.run(cmd, cwd=tmp_path, capture_output=True, timeout=60).returncode == 0
    assert out.read_bytes() == data
    # the in-process run with the same seed gives the same bytes
    other = tmp_path / "inproc.json"
    run_area(inp, other, AreaParams(), 42)
    assert other.read_bytes() == data


@pytest.mark.parametrize("bad, reason", [
    ({"current": {"code": "x"}}, "next"),
    ({"current": {"code": 1}, "next": {"code": "x"}}, "current.code"),
    ("not a sample", "JSON object"),
    ({"current": {"code": "x"}, "next": {"code": "y"}, "history": "oops"}, "history"),
])
def test_bad_record_is_one_line_error_and_leaves_no_output(tmp_path, bad, reason):
    samples = make_samples()
    samples.insert(2, bad)
    inp = write_json(tmp_path / "bad.json", samples)
    out = tmp_path / "out" / "area.json"
    result = CliRunner().invoke(command, ["--input_path", str(inp), "--output_path", str(out),
                                          "--params", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output  # the rest is the progress bar
    assert str(inp) in errors[0] and "record 2" in errors[0] and reason in errors[0]
    assert not out.exists()
    assert not any(out.parent.iterdir()), "no temporary file left behind"


def test_stage_script_bad_record_exit_code(tmp_path):
    inp = write_json(tmp_path / "bad.json", [make_samples()[0], {"current": {"code": "x"}}])
    out = tmp_path / "area.json"
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "post_collection.py"), "--input_path", str(inp),
                           "--output_path", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bad.json: record 1" in errors[0]
    assert not out.exists()


def test_rerun_on_own_output_and_jsonl_keep_the_location(tmp_path):
    samples = make_samples()  # ids are content hashes for all but one
    inp = write_json(tmp_path / "in.json", samples)
    once, twice, as_jsonl = tmp_path / "once.json", tmp_path / "twice.json", tmp_path / "once.jsonl"
    stats = run_area(inp, once, AreaParams(), 3)
    assert stats["samples"] == 4 and stats["no_change"] == 1 and stats["replaced_loc"] == 0
    again = run_area(once, twice, AreaParams(), 3)
    assert again["replaced_loc"] == 4
    assert once.read_bytes() == twice.read_bytes()
    run_area(inp, as_jsonl, AreaParams(), 3)
    assert [orjson.loads(line) for line in as_jsonl.read_bytes().splitlines()] == orjson.loads(once.read_bytes())
    assert sample_id(samples[2]) == "s-3"


def test_mix_summary_counts_every_type():
    mix = mix_summary(["C", "C", "H,C,U", "C,U"], ["none", "cursor", "range", "range"])
    assert mix["C"] == {"samples": 2, "share": 50.0, "loc": {"none": 1, "cursor": 1, "range": 0}}
    assert mix["H,C"]["samples"] == 0 and mix["H,C"]["share"] == 0.0
    assert mix_summary([], [])["C"]["share"] == 0.0


def test_empty_input_is_an_error_and_leaves_no_output(tmp_path):
    from proginstruct.area.stage import run_area
    from proginstruct.errors import UserError

    inp, out = tmp_path / "empty.json", tmp_path / "out.json"
    inp.write_text("[]")
    with pytest.raises(UserError, match="no samples to locate"):
        run_area(inp, out, AreaParams(), seed=1)
    assert not out.exists() and list(tmp_path.iterdir()) == [inp]
