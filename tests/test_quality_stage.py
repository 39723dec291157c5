"""The quality stage end to end (docs/quality.md): the output is an ordered subset of the input, the same
bytes on a rerun and at any worker count, every removal counted, and bad input stops the stage with a
one-line error and no output."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from proginstruct.cli.quality import command
from proginstruct.errors import BadRecord, UserError
from proginstruct.export.parquet import read_parquet
from proginstruct.quality.params import DEFAULTS, GATES, quality_params
from proginstruct.quality.stage import run_quality
from proginstruct.samples import snapshot

ROOT = Path(__file__).resolve().parents[1]
HUMANEVAL = [json.loads(line) for line in gzip.open(ROOT / "data/benchmarks/HumanEval.jsonl.gz")]


def make(i: int, current: str, nxt: str, lang: str = "python", source: str = "commit", **extra) -> dict:
    return {"history": [], "current": snapshot(current, lang), "user": "", "chat": "", "next": snapshot(nxt, lang),
            "loc": None, "source": source, "id": f"s{i}", **extra}


def function(name: str, k: int) -> str:
    body = "\n".join(f"    total_{j} = {name}_{j}(total_{j - 1}, {k})" for j in range(1, 30))
    return f"def {name}(total_0):\n{body}\n    return total_29\n"


def dataset() -> list[dict]:
    """Every gate trips at least once, per source; the others pass."""
    cpp_ok = "int main() {\n  int x = 1;\n  return x;\n}\n"
    rows = [
        make(0, function("alpha", 1), function("alpha", 1).replace("return", "return 1 +")),
        make(1, "x" * 70_000, "y"),                                      # too long (input)
        make(2, "x = (1)\n", "x = (1\n"),                                 # breaks syntax
        make(3, "# see below\n", HUMANEVAL[3]["prompt"]),                 # contaminated (humaneval)
        make(4, function("alpha", 1), function("alpha", 1).replace("return", "return 2 +")),  # near-dup of 0
        make(5, cpp_ok, cpp_ok.replace("1", "2"), lang="c++", source="submit"),
        make(6, cpp_ok, cpp_ok.replace("x;", "x"), lang="c++", source="submit"),  # breaks syntax (MISSING ;)
        make(7, "local x = 1", "local x = 2", lang="klingon", source="aiprogrammer"),  # no grammar
        make(8, "x = (\n", "x = (1\n", source="aiprogrammer"),               # edit in progress: kept
        make(9, function("beta", 3), function("beta", 4), source="aiprogrammer"),
        make(10, "", "", lang="", source="aiprogrammer"),                   # no words: kept, never a near-dup
        make(11, "", "", lang="", source="aiprogrammer"),
    ]
    rows[0]["prompt_version"] = "abc123"
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in rows))
    return path


def default_params(**over):
    return quality_params({**DEFAULTS, **over})


@pytest.fixture()
def merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)  # the default decontamination sets are paths relative to the project
    return write_jsonl(tmp_path / "merged.jsonl", dataset())


def test_output_is_the_ordered_subset_of_kept_samples_and_every_removal_is_counted(merged, tmp_path):
    out = tmp_path / "final.jsonl"
    m = run_quality(merged, [out, tmp_path / "final.parquet"], default_params(), metrics_path=tmp_path / "q.json")
    lines = merged.read_bytes().splitlines()
    kept = out.read_bytes().splitlines()
    assert kept == [lines[i] for i in (0, 5, 7, 8, 9, 10, 11)]  # input bytes, input order
    assert m["removed"] == {"too_long": 1, "breaks_syntax": 2, "contaminated": 1, "near_duplicate": 1}
    assert m["kept"] + sum(m["removed"].values()) + m["bad_records"] == m["samples"] == 12
    assert m["too_long"] == {"input": 1, "output": 0}
    assert m["contaminated"] == {"humaneval": 1, "apeval": 0}
    assert m["syntax"]["unknown_lang"] == 3 and m["syntax"]["unknown_langs"] == {"(none)": 2, "klingon": 1}
    py = m["syntax"]["languages"]["python"]
    assert (py["samples"], py["current_parses"], py["next_parses"]) == (6, 5, 4)  # samples 0, 2, 3, 4, 8, 9
    assert m["syntax"]["languages"]["c++"] == {"samples": 2, "current_parses": 2, "next_parses": 1,
                                               "current_share": 1.0, "next_share": 0.5}
    src = m["sources"]
    assert src["commit"]["removed"] == {"too_long": 1, "breaks_syntax": 1, "contaminated": 1, "near_duplicate": 1}
    assert src["submit"]["removed"]["breaks_syntax"] == 1 and src["submit"]["kept"] == 1
    assert src["aiprogrammer"]["kept"] == 5 and src["commit"]["contaminated"]["humaneval"] == 1
    assert m["near_duplicate"]["unshingled"] == 2 and m["near_duplicate"]["bands"] == 16
    assert orjson.loads((tmp_path / "q.json").read_bytes()) == m
    assert list(read_parquet(tmp_path / "final.parquet")) == [orjson.loads(x) for x in kept]
    frame = pl.read_parquet(tmp_path / "final.parquet")  # provenance is a typed column: select by it
    assert frame.filter(pl.col("prompt_version") == "abc123")["id"].to_list() == ["s0"]


def test_reruns_and_worker_counts_give_the_same_bytes(merged, tmp_path):
    outs = {}
    for tag, workers in (("a", 1), ("b", 1), ("c", 2)):
        files = [tmp_path / tag / "final.jsonl", tmp_path / tag / "final.parquet", tmp_path / tag / "final.json"]
        run_quality(merged, files, default_params(), metrics_path=tmp_path / tag / "q.json", workers=workers)
        outs[tag] = [p.read_bytes() for p in [*files, tmp_path / tag / "q.json"]]
    assert outs["a"] == outs["b"] == outs["c"]
    assert json.loads(outs["a"][2]) == [orjson.loads(x) for x in outs["a"][0].splitlines()]


def test_json_list_input_and_switched_off_gates(merged, tmp_path):
    src = tmp_path / "merged.json"
    src.write_text(json.dumps(dataset()))
    off = dict.fromkeys(GATES, False)
    m = run_quality(src, [tmp_path / "all.jsonl"], default_params(**off))
    assert m["kept"] == 12 and not any(m["removed"].values())
    assert [orjson.loads(x)["id"] for x in (tmp_path / "all.jsonl").read_bytes().splitlines()] == \
        [f"s{i}" for i in range(12)]


def test_user_sets_in_jsonl_and_parquet_are_named_in_the_metrics(merged, tmp_path):
    fn = HUMANEVAL[0]["prompt"] + HUMANEVAL[0]["canonical_solution"]
    rows = [make(0, "a = 1\n", "a = 2\n"), make(1, "b = 1\n", "b = 2\n" + fn), make(2, "c = 1\n", "c = 2\n")]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    write_jsonl(tmp_path / "mine.jsonl", [{"code": "b = 2\n" + fn}])
    pl.DataFrame({"task": ["x"], "text": ["c = 1"]}).write_parquet(tmp_path / "other.parquet")
    sets = [{"path": str(tmp_path / "mine.jsonl"), "fields": ["code"], "name": "mine"},
            {"path": str(tmp_path / "other.parquet"), "fields": "text"}]
    m = run_quality(data, [tmp_path / "out.jsonl"], default_params(decontaminate=sets))
    assert m["contaminated"] == {"mine": 1, "other": 0}  # "c = 1" is shorter than 13 tokens
    m = run_quality(data, [tmp_path / "out.jsonl"], default_params(decontaminate=[
        {"path": str(ROOT / "data/benchmarks/HumanEval.jsonl.gz"), "fields": ["prompt", "canonical_solution"]},
        *sets]))
    # a sample sharing n-grams with two sets counts for both, and is removed once
    assert m["contaminated"] == {"HumanEval": 1, "mine": 1, "other": 0} and m["removed"]["contaminated"] == 1


def test_bad_records_follow_on_bad_record(merged, tmp_path, capsys):
    data = write_jsonl(tmp_path / "in.jsonl", [dataset()[0], {"current": "not a snapshot"}, dataset()[9]])
    with open(data, "ab") as fh:
        fh.write(b"{not json\n")
    m = run_quality(data, [tmp_path / "out.jsonl"], default_params(on_bad_record="skip"))
    assert (m["samples"], m["bad_records"], m["kept"]) == (4, 2, 2)
    assert "skipped 2 malformed record(s) (record 1: missing 'current' snapshot" in capsys.readouterr().err
    with pytest.raises(BadRecord, match=r"in\.jsonl: record 1: missing 'current' snapshot.*on_bad_record: skip"):
        run_quality(data, [tmp_path / "fail.jsonl", tmp_path / "fail.parquet"], default_params(on_bad_record="fail"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "merged.jsonl", "out.jsonl"]  # nothing half-written


def set_file(tmp_path: Path, name: str, content: bytes | None) -> str:
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    return str(p)


@pytest.mark.parametrize("name,content,fields,message", [
    ("gone.jsonl", None, ["prompt"], r"gone\.jsonl: decontamination set 'gone' not found"),
    ("bad.jsonl.gz", b"not gzip", ["prompt"], r"bad\.jsonl\.gz: cannot read decontamination set 'bad'"),
    ("bad.json", b"[{", ["prompt"], r"bad\.json: cannot read decontamination set 'bad'"),
    ("bad.parquet", b"PAR1 nope", ["prompt"], r"bad\.parquet: cannot read decontamination set 'bad'"),
    ("short.jsonl", b'{"prompt": "x"}\n{"other": 1}\n', ["prompt"],
     r"short\.jsonl: record 1 has no field 'prompt' \(fields: other\)"),
    ("field.json", b'[{"prompt": "x"}]', ["prompt", "solution"], r"field\.json: record 0 has no field 'solution'"),
    ("empty.jsonl", b"\n", ["prompt"], r"empty\.jsonl: decontamination set 'empty' holds no records"),
    ("notes.txt", b"hello", ["prompt"], r"notes\.txt: cannot read .*unsupported format \.txt"),
])
def test_a_bad_decontamination_set_is_a_one_line_error_and_no_output(merged, tmp_path, name, content, fields,
                                                                     message):
    sets = [{"path": set_file(tmp_path, name, content), "fields": fields}]
    out = tmp_path / "out" / "final.jsonl"
    with pytest.raises(UserError, match=message) as err:
        run_quality(merged, [out], default_params(decontaminate=sets), metrics_path=tmp_path / "out" / "q.json")
    assert "\n" not in str(err.value) and "quality.decontaminate" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_cli_reads_params_yaml_and_flags_override_it(merged, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"quality": {"max_input_chars": 10, "near_duplicate": False}}))
    out, metrics = tmp_path / "final.jsonl", tmp_path / "q.json"
    args = ["--input_path", str(merged), "--output_path", str(out), "--metrics_path", str(metrics),
            "--params", str(params), "--workers", "1"]
    res = CliRunner().invoke(command, args)
    assert res.exit_code == 0, res.output
    m = json.loads(metrics.read_text())
    assert m["removed"]["too_long"] == 8 and m["removed"]["near_duplicate"] == 0  # from params.yaml
    res = CliRunner().invoke(command, [*args, "--max_input_chars", "64000", "--near_duplicate", "true"])
    assert res.exit_code == 0 and json.loads(metrics.read_text())["removed"]["near_duplicate"] == 1
    res = CliRunner().invoke(command, [*args, "--decontam_ngram", "0"])
    assert res.exit_code == 2 and "error: quality.decontam_ngram must be an integer >= 1, got 0" in res.output
    res = CliRunner().invoke(command, [*args, "--decontaminate", "[{path: nowhere.jsonl, fields: [a]}]"])
    assert res.exit_code == 2 and res.output.strip().splitlines()[-1] == \
        "error: nowhere.jsonl: decontamination set 'nowhere' not found; fix quality.decontaminate in params.yaml"


def test_stage_script_exit_status_and_empty_input(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    proc = subprocess.run([sys.executable, str(ROOT / "stages/quality_filter.py"), "--input_path", str(empty),
                           "--output_path", str(tmp_path / "o.jsonl"), "--workers", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "error: " in proc.stderr and "no samples to check" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize("over,message", [
    ({"near_dup_threshold": 1.5}, r"quality\.near_dup_threshold must be a number in \(0, 1\], got 1\.5"),
    ({"too_long": "yes"}, "too_long: must be true or false"),
    ({"on_bad_record": "ignore"}, "on_bad_record: must be 'skip' or 'fail'"),
    ({"decontaminate": [{"path": "x.jsonl"}]}, "entry 0 \\(x.jsonl\\) needs 'fields'"),
    ({"decontaminate": [{"path": "a/x.jsonl", "fields": ["a"]}, {"path": "b/x.json", "fields": ["a"]}]},
     "two sets are named 'x'"),
])
def test_param_errors_name_the_key(over, message):
    with pytest.raises(UserError, match=message):
        default_params(**over)
