"""prepare_submit (SPEC 1.2): filters on the sample corpus, ROUGE-L, statement rendering, determinism,
bad input on small corpora built in tmp_path, and the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from proginstruct.cli.prepare_submit import DEFAULTS, command
from proginstruct.errors import UserError
from proginstruct.sources.problem_statements import load_statements, render_statement
from proginstruct.sources.rouge import lcs_length, rouge_l_f1, rouge_l_upper_bound, tokenize
from proginstruct.sources.submit import METADATA_COLUMNS, SubmitParams, prepare_submit
from proginstruct.stats import Stats

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "samples" / "codenet"
STATEMENTS = SAMPLE / "problem_descriptions.json"


def run_sample(**overrides) -> tuple[list[dict], Stats, dict[str, str]]:
    """Run the stage on the sample corpus; returns (records, counters, {history id: skip reason})."""
    params = SubmitParams(**{**{k: DEFAULTS[k] for k in SubmitParams.__dataclass_fields__}, **overrides})
    stats = Stats()
    skipped: dict[str, str] = {}
    records = list(prepare_submit(SAMPLE, STATEMENTS, params, stats,
                                  on_skip=lambda p, u, r: skipped.__setitem__(f"{p}:{u}", r)))
    return records, stats, skipped


@pytest.fixture(scope="module")
def sample_run():
    return run_sample()


# ------------------------------------------------------------------------------------------ ROUGE-L


def test_tokenize_lowercases_ascii_alnum_runs():
    assert tokenize("int  x=Foo(3);") == ["int", "x", "foo", "3"]
    assert tokenize("a_b\tc-D9 é") == ["a", "b", "c", "d9"]
    assert tokenize("") == []


def test_rouge_l_hand_computed_values():
    # "a b c d" vs "a c d e": LCS "a c d" = 3; P = R = 3/4; F1 = 0.75
    assert lcs_length(tokenize("a b c d"), tokenize("a c d e")) == 3
    assert rouge_l_f1(tokenize("a b c d"), tokenize("a c d e")) == pytest.approx(0.75)
    # "the cat sat" vs "the cat": LCS 2; P = 1, R = 2/3; F1 = 2 * (2/3) / (5/3) = 0.8
    assert rouge_l_f1(tokenize("the cat sat"), tokenize("The CAT")) == pytest.approx(0.8)
    # "x y z" vs "z y x": LCS 1; F1 = 2/6
    assert rouge_l_f1(["x", "y", "z"], ["z", "y", "x"]) == pytest.approx(1 / 3)
    assert rouge_l_f1(["a"], ["b"]) == 0.0
    assert rouge_l_f1([], ["a"]) == 0.0 and rouge_l_f1([], []) == 0.0
    assert rouge_l_f1(tokenize("if (a) b;"), tokenize("IF a b")) == 1.0


def _reference_lcs(a: list[str], b: list[str]) -> int:
    """Textbook dynamic programme, only as a test oracle for small inputs."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from("abcde"), max_size=25), st.lists(st.sampled_from("abcde"), max_size=25))
def test_lcs_matches_reference_and_f1_is_bounded(a, b):
    assert lcs_length(a, b) == _reference_lcs(a, b)
    f1 = rouge_l_f1(a, b)
    assert f1 == rouge_l_f1(b, a)
    assert 0.0 <= f1 <= rouge_l_upper_bound(len(a), len(b)) + 1e-12 <= 1.0 + 1e-12


# -------------------------------------------------------------------------------------- statements


def test_statement_rendering_titled_sections_skipping_empty():
    entry = {"problem_description": " Add two numbers. ", "constraints": "", "input_description": "A B",
             "output_description": None, "sample_inputs": ["1 2\n", "3 4\n"], "sample_outputs": ["3\n", ""]}
    assert render_statement(entry) == (
        "### Problem Description\n\nAdd two numbers.\n\n### Input Description\n\nA B\n\n"
        "### Sample Input 1\n\n1 2\n\n### Sample Output 1\n\n3\n\n### Sample Input 2\n\n3 4")


def test_statement_rendering_uneven_samples_and_empty():
    entry = {"output_description": "N", "sample_inputs": ["1"], "sample_outputs": ["a", "b"]}
    assert render_statement(entry) == ("### Output Description\n\nN\n\n### Sample Input 1\n\n1\n\n"
                                       "### Sample Output 1\n\na\n\n### Sample Output 2\n\nb")
    assert render_statement({"constraints": "  ", "sample_inputs": []}) == ""
    assert render_statement(None) == "" and render_statement(["x"]) == ""


def test_statements_file_bad_entries_counted_and_bad_json_is_user_error(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"p1": {"problem_description": "x"}, "p2": "oops"}))
    stats = Stats()
    assert load_statements(p, stats) == {"p1": "### Problem Description\n\nx"}
    assert stats["statements.invalid"] == 1 and stats["statements.loaded"] == 1
    p.write_text("{not json")
    with pytest.raises(UserError, match="s.json"):
        load_statements(p, Stats())
    p.write_text("[1, 2]")
    with pytest.raises(UserError, match="object keyed by problem id"):
        load_statements(p, Stats())


# ------------------------------------------------------------------------------ filters on the sample


@pytest.mark.parametrize("history, reason", [
    ("p00008:u100000028", "duplicate_problem"),
    ("p00003:u100000011", "multiple_languages"),
    ("p00002:u100000008", "no_accepted"),
    ("p00001:u100000004", "single_submission"),
    ("p00001:u100000006", "final_single_line"),
    ("p00003:u100000014", "final_four_newlines"),
    ("p00002:u100000009", "identical_consecutive"),
    ("p00004:u100000016", "non_ascii"),
    ("p00004:u100000018", "low_internal_similarity"),
    ("p00001:u100000005", "high_external_similarity"),
    ("p00005:u100000021", "missing_source"),
    ("p00005:u100000022", "undecodable_source"),
])
def test_every_filter_fires_on_the_sample(sample_run, history, reason):
    records, stats, skipped = sample_run
    assert stats[f"histories.skipped.{reason}"] > 0
    assert skipped[history] == reason
    assert history not in {r["id"] for r in records}


def test_caps_fire_on_the_sample():
    records, stats, skipped = run_sample(max_per_lang_problem=1)
    assert stats["histories.skipped.max_per_lang_problem"] > 0
    assert skipped["p00009:u100000030"] == "max_per_lang_problem"  # second Python history of p00009
    assert "p00009:u100000029" in {r["id"] for r in records}
    records, stats, skipped = run_sample(max_per_problem=2)
    assert stats["histories.skipped.max_per_problem"] > 0
    assert skipped["p00009:u100000031"] == "max_per_problem"  # third history of p00009
    assert skipped["p00006:u100000025"] == "max_per_problem"
    per_problem: dict[str, int] = {}
    for r in records:
        per_problem[r["problem_id"]] = per_problem.get(r["problem_id"], 0) + 1
    assert max(per_problem.values()) == 2


def test_sample_survivors_and_counters_add_up(sample_run):
    records, stats, skipped = sample_run
    assert len(records) == stats["histories.kept"] == 20
    assert stats["histories.total"] == stats["histories.kept"] + sum(
        v for k, v in stats.items() if k.startswith("histories.skipped."))
    assert stats["rows.total"] == stats["rows.valid"] + sum(
        v for k, v in stats.items() if k.startswith("rows.invalid.") or k == "rows.blank")
    assert stats["rows.invalid.missing_date"] == 1 and stats["rows.invalid.invalid_date"] == 1
    assert stats["rows.invalid.missing_user_id"] == 1
    assert {r["language"] for r in records} == {"C++", "Python", "Java"}
    assert len({r["problem_id"] for r in records}) >= 6


def test_record_shape_and_statement(sample_run):
    records, stats, _ = sample_run
    by_id = {r["id"]: r for r in records}
    r = by_id["p00001:u100000001"]
    assert set(r) == {"id", "source", "problem_id", "user_id", "language", "submission_ids", "submissions",
                      "problems_contexts"}
    assert r["source"] == "submit" and r["language"] == "C++"
    assert r["problems_contexts"].startswith("### Problem Description\n\nGiven two integers A and B")
    assert "### Sample Output 2\n\n999999999993" in r["problems_contexts"]
    folder = SAMPLE / "data" / "p00001" / "C++"
    assert r["submissions"] == [(folder / f"{s}.cpp").read_text() for s in r["submission_ids"]]
    # a problem without a statement gets ""
    assert by_id["p00007:u100000026"]["problems_contexts"] == ""
    assert stats["problems.without_statement"] == 1
    # empty constraints section skipped
    assert "### Constraints" not in by_id["p00006:u100000024"]["problems_contexts"]


def test_history_cut_after_first_accepted_and_ordered_by_date_then_id(sample_run):
    records, _, _ = sample_run
    by_id = {r["id"]: r for r in records}
    java = by_id["p00002:u100000010"]  # WA, AC, then a later Compile Error that must be cut
    assert len(java["submissions"]) == 2
    assert "out.append('\\n')" in java["submissions"][-1]
    meta = {row["submission_id"]: row for row in csv.DictReader(io.StringIO(
        (SAMPLE / "metadata" / "p00001.csv").read_text()))}
    ids = by_id["p00001:u100000003"]["submission_ids"]  # first two share a date: ordered by id
    assert ids == sorted(ids, key=lambda s: (int(meta[s]["date"]), s))
    assert meta[ids[0]]["date"] == meta[ids[1]]["date"]
    assert [meta[s]["status"] for s in ids] == ["Compile Error", "Wrong Answer", "Accepted"]


def test_external_similarity_keeps_the_smaller_user_id(sample_run):
    records, _, skipped = sample_run
    assert "p00001:u100000001" in {r["id"] for r in records}
    assert skipped["p00001:u100000005"] == "high_external_similarity"


# ------------------------------------------------------------------------------------- determinism


def test_cli_output_is_byte_identical_across_runs(tmp_path):
    outs = []
    for i in range(2):
        out, metrics = tmp_path / f"out{i}.jsonl", tmp_path / f"m{i}.json"
        result = CliRunner().invoke(command, ["--params", str(tmp_path / "none.yaml"), "--root", str(SAMPLE),
                                              "--statements", str(STATEMENTS), "--output_path", str(out),
                                              "--metrics_path", str(metrics)])
        assert result.exit_code == 0, result.output
        assert "prepare_submit: kept 20 of 32 histories" in result.stderr
        outs.append((out.read_bytes(), metrics.read_bytes()))
    assert outs[0] == outs[1]
    lines = outs[0][0].splitlines()
    assert len(lines) == 20
    assert [orjson.loads(x)["id"] for x in lines] == sorted(orjson.loads(x)["id"] for x in lines)


def test_cli_params_yaml_and_flags(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"prepare_submit:\n  root: {SAMPLE}\n  statements: {STATEMENTS}\n  max_per_problem: 1\n")
    out, skipped = tmp_path / "o.jsonl", tmp_path / "skipped.jsonl"
    args = ["--params", str(params), "--output_path", str(out), "--metrics_path", str(tmp_path / "m.json"),
            "--skipped_path", str(skipped)]
    assert CliRunner().invoke(command, args).exit_code == 0
    assert len(out.read_bytes().splitlines()) == 8  # one per problem that has a survivor
    reasons = [orjson.loads(x)["reason"] for x in skipped.read_bytes().splitlines()]
    # 28 histories pass the metadata rules; 8 kept, the cap (checked before the file rules) takes the rest
    assert reasons.count("max_per_problem") == 20
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["params"]["max_per_problem"] == 1
    assert CliRunner().invoke(command, [*args, "--max_per_problem", "50"]).exit_code == 0
    assert len(out.read_bytes().splitlines()) == 20


# --------------------------------------------------------------------------------------- bad input


def write_corpus(root: Path, rows: list[list[str]], files: dict[str, bytes | str], problem: str = "p00010",
                 header: list[str] | None = None, clusters: str | None = None) -> Path:
    """A small CodeNet-layout corpus: one metadata CSV and source files at ``data/<relpath>``."""
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header or list(METADATA_COLUMNS))
    w.writerows(rows)
    (root / "metadata" / f"{problem}.csv").write_text(buf.getvalue())
    for rel, data in files.items():
        p = root / "data" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    if clusters is not None:
        (root / "derived" / "duplicates").mkdir(parents=True, exist_ok=True)
        (root / "derived" / "duplicates" / "identical_problem_clusters").write_text(clusters)
    return root


def row(sid: str, user: str, date: str, status: str, problem: str = "p00010", lang: str = "Python",
        ext: str = "py") -> list[str]:
    return [sid, problem, user, date, lang, "Python (3.8)", ext, status, "10", "100", "50", "1/1"]


WRONG = "def main():\n    x = int(input())\n    print(x + 1)\n\n\nmain()\n"
RIGHT = "def main():\n    x = int(input())\n    print(x * 2)\n\n\nmain()\n"


def run(root: Path, statements: Path | None = None, **kw) -> tuple[list[dict], Stats, dict[str, str]]:
    stats, skipped = Stats(), {}
    params = SubmitParams(**kw)
    records = list(prepare_submit(root, statements, params, stats,
                                  on_skip=lambda p, u, r: skipped.__setitem__(f"{p}:{u}", r)))
    return records, stats, skipped


def test_missing_root_or_metadata_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="root folder not found"):
        run(tmp_path / "nope")
    with pytest.raises(UserError, match="metadata folder not found"):
        run(tmp_path)


def test_missing_clusters_and_statements_are_counted_and_warned(tmp_path, capsys):
    root = write_corpus(tmp_path, [row("s1", "u1", "1", "Wrong Answer"), row("s2", "u1", "2", "Accepted")],
                        {"p00010/Python/s1.py": WRONG, "p00010/Python/s2.py": RIGHT})
    records, stats, _ = run(root, tmp_path / "missing.json")
    assert [r["submissions"] for r in records] == [[WRONG, RIGHT]]
    assert records[0]["problems_contexts"] == ""
    assert stats["clusters.missing_file"] == 1 and stats["statements.missing_file"] == 1
    err = capsys.readouterr().err
    assert "identical_problem_clusters not found" in err and "missing.json not found" in err


def test_bad_rows_counted_by_reason(tmp_path):
    rows = [
        row("s1", "u1", "1", "Wrong Answer"), row("s2", "u1", "2", "Accepted"),
        row("s3", "", "3", "Accepted"),                       # missing user id
        row("s4", "u2", "soon", "Accepted"),                  # unparseable date
        row("s5", "u2", "", "Accepted"),                      # empty date
        row("s6", "u2", "6", "Accepted", problem="p00099"),   # row of another problem
        row("s7", "u2", "7", "", lang="Python"),              # missing status
        row("s8", "u2", "8", "Accepted", lang=""),            # missing language
        row("s9", "u2", "9", "Accepted", ext="../../x"),      # path outside data/
        row("", "u2", "10", "Accepted"),                      # missing submission id
        row("s1", "u1", "1", "Wrong Answer"),                 # duplicate submission id
        ["s11", "p00010", "u3"],                              # ragged: padded with nulls -> no date
    ]
    root = write_corpus(tmp_path, rows, {"p00010/Python/s1.py": WRONG, "p00010/Python/s2.py": RIGHT})
    with (root / "metadata" / "p00010.csv").open("a") as fh:
        fh.write("\n")  # a blank line
    records, stats, _ = run(root)
    assert len(records) == 1
    inv = {k.removeprefix("rows.invalid."): v for k, v in stats.items() if k.startswith("rows.invalid.")}
    assert inv == {"missing_user_id": 1, "invalid_date": 1, "missing_date": 2, "problem_id_mismatch": 1,
                   "missing_status": 1, "missing_language": 1, "unsafe_path_field": 1,
                   "missing_submission_id": 1, "duplicate_submission_id": 1}
    assert stats["rows.valid"] == 2


def test_missing_and_undecodable_sources_and_broken_metadata_files(tmp_path, capsys):
    rows = [row("s1", "u1", "1", "Wrong Answer"), row("s2", "u1", "2", "Accepted"),
            row("s3", "u2", "1", "Wrong Answer"), row("s4", "u2", "2", "Accepted"),
            row("s5", "u3", "1", "Wrong Answer"), row("s6", "u3", "2", "Accepted")]
    root = write_corpus(tmp_path, rows, {
        "p00010/Python/s1.py": WRONG, "p00010/Python/s2.py": RIGHT,   # u1 fine
        "p00010/Python/s3.py": WRONG,                                  # u2: s4 absent
        "p00010/Python/s5.py": b"# caf\xe9\n" + WRONG.encode(), "p00010/Python/s6.py": RIGHT,  # Latin-1
    })
    (root / "metadata" / "p00011.csv").write_text("")                           # empty file
    (root / "metadata" / "p00012.csv").write_text("submission_id,user_id\ns1,u1\n")  # bad header
    (root / "metadata" / "problem_list.csv").write_text("id,name\n")            # not a problem file
    records, stats, skipped = run(root)
    assert [r["id"] for r in records] == ["p00010:u1"]
    assert skipped == {"p00010:u2": "missing_source", "p00010:u3": "undecodable_source"}
    assert stats["files.metadata_empty"] == 1 and stats["files.metadata_bad_header"] == 1
    assert stats["files.metadata"] == 3
    err = capsys.readouterr().err
    assert "p00011.csv: empty file" in err and "p00012.csv: header lacks" in err


def test_duplicate_cluster_keeps_first_member(tmp_path):
    files = {"p00010/Python/s1.py": WRONG, "p00010/Python/s2.py": RIGHT}
    root = write_corpus(tmp_path, [row("s1", "u1", "1", "Wrong Answer"), row("s2", "u1", "2", "Accepted")],
                        files, clusters="p00011, p00010\n\np00020\n")
    records, stats, skipped = run(root)
    assert records == [] and skipped == {"p00010:u1": "duplicate_problem"}
    assert stats["problems.duplicate"] == 1 and stats["clusters.count"] == 1


def test_bad_params_are_user_errors():
    with pytest.raises(UserError, match="max_per_problem"):
        SubmitParams(max_per_problem=0)
    with pytest.raises(UserError, match="internal_similarity_threshold"):
        SubmitParams(internal_similarity_threshold=1.5)


def test_cli_missing_root_exits_2_with_one_line_error(tmp_path):
    result = CliRunner().invoke(command, ["--params", str(tmp_path / "none.yaml"),
                                          "--root", str(tmp_path / "nowhere"),
                                          "--output_path", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nowhere" in lines[0]
    assert "--root" in lines[0]
    assert not (tmp_path / "o.jsonl").exists()
