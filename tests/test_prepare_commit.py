"""The commit source (SPEC 1.1): git mining, dataset files, limits, errors, CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from proginstruct.cli.prepare_commit import command
from proginstruct.errors import UserError
from proginstruct.sources.commit import DEFAULTS, CommitLimits, prepare_commit, split_list
from proginstruct.sources.commit_datasets import normalise_lang
from proginstruct.sources.git_history import decode_text

from .gitrepo import Repo

# ---------------------------------------------------------------- a small deterministic repository

MAX_SIZE = 1000  # bytes, the test's max_file_size

A0 = "def f():\n    return 1\n"
A1 = "def f():\n    return 2\n"
B0 = "function g() {\n  return 1;\n}\n"
B1 = "function g() {\n  return 10;\n}\n"
C0 = "package main\n\nfunc main() {}\n"
C1 = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n'
C2 = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n'
OLD = "".join(f"def step_{i}(x):\n    return x + {i}\n\n" for i in range(8))
RENAMED = OLD.replace("return x + 3", "return x * 3")



@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    r = Repo(tmp_path_factory.mktemp("repo"))
    r.write("a.py", A0)
    r.write("b.js", B0)
    r.write("c.go", C0)
    r.write("old.py", OLD)
    r.write("gone.js", "let x = 1;\n")
    r.write("wide.py", b"\xff\xfe" + "x = 1\n".encode("utf-16-le"))  # NUL bytes: binary
    r.write("latin.py", "s = 'caf\u00e9'\n".encode("latin-1"))  # not UTF-8
    r.write("big.py", "x = 1\n")
    r.write("tool.py", "print('tool')\n")
    r.write("notes.txt", "todo\n")
    r.commit("c1", "Initial import")  # root: skipped
    r.write("a.py", A1)
    r.write("b.js", B1)
    r.write("c.go", C1)
    r.commit("c2", "Modify three files\n\nA body line that is not the subject.")
    r.write("new.py", "y = 2\n")
    (r.path / "gone.js").unlink()
    r.commit("c3", "Add new.py, delete gone.js")
    (r.path / "old.py").unlink()
    r.write("pkg/renamed.py", RENAMED)
    r.commit("c4", "  Rename old.py and tweak step 3  ")
    r.write("wide.py", b"\xff\xfe" + "x = 2\n".encode("utf-16-le"))
    r.commit("c5", "Binary change")
    r.write("latin.py", "s = 'na\u00efve'\n".encode("latin-1"))
    r.commit("c6", "Latin-1 change")
    r.write("big.py", "x = 1\n" * 400)  # 2400 bytes > MAX_SIZE
    r.commit("c7", "Grow big.py")
    (r.path / "tool.py").chmod(0o755)
    r.commit("c8", "Make tool.py executable")
    r.write("notes.txt", "todo: more\n")
    r.commit("c9", "Update notes")
    r.git("checkout", "-q", "-b", "side")
    r.write("a.py", "def f():\n    return 3\n")
    r.commit("side", "Side branch change")
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-ff", "side", "-m", "Merge branch 'side'")
    r.shas["merge"] = r.git("rev-parse", "HEAD")
    r.write("c.go", C2)
    r.commit("c10", "Say hello")
    r.git("tag", "-a", "v1", r.shas["c4"], "-m", "release 1")
    return r


def params(**over: object) -> dict:
    return {**DEFAULTS, "max_file_size": MAX_SIZE, **over}


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def rec(sha: str, path: str, code1: str, code2: str, lang: str, git: str) -> dict:
    return {"id": f"{sha}:{path}", "code1": code1, "code2": code2, "lang": lang, "git": git,
            "commit": sha, "path": path, "source": "commit"}


def expected_records(r: Repo) -> list[dict]:
    s = r.shas
    return [
        rec(s["c10"], "c.go", C1, C2, "go", "Say hello"),
        rec(s["c4"], "pkg/renamed.py", OLD, RENAMED, "python", "Rename old.py and tweak step 3"),
        rec(s["c2"], "a.py", A0, A1, "python", "Modify three files"),
        rec(s["c2"], "b.js", B0, B1, "javascript", "Modify three files"),
        rec(s["c2"], "c.go", C0, C1, "go", "Modify three files"),
    ]


# ---------------------------------------------------------------- git mining


def test_exact_records_in_history_then_path_order(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "commit.jsonl"
    prepare_commit(str(repo.path), "HEAD", [], str(out), params())
    assert read_jsonl(out) == expected_records(repo)


def test_every_skip_counter_fires(repo: Repo, tmp_path: Path) -> None:
    stats = prepare_commit(str(repo.path), "main", [], str(tmp_path / "o.jsonl"), params())
    assert stats["commits.walked"] == 11  # c1..c10 and the merge; the side commit is not on the first-parent chain
    assert stats["commits.merge_skipped"] == 1
    assert stats["commits.root_skipped"] == 1
    skipped = {k: v for k, v in stats.items() if k.startswith("skipped.")}
    assert skipped == {"skipped.added": 1, "skipped.deleted": 1, "skipped.binary": 1, "skipped.undecodable": 1,
                       "skipped.too_large": 1, "skipped.identical": 1, "skipped.language": 1}
    assert stats["records"] == 5
    assert stats["records_by_lang.python"] == 2 and stats["records_by_lang.go"] == 2
    assert stats["records_by_lang.javascript"] == 1
    # c2: 3 files, c3: 2, c4: 1 rename, c5..c9: 1 each, c10: 1
    assert stats["files.seen"] == 3 + 2 + 1 + 5 + 1
    assert "skipped.lang_cap" not in stats and "skipped.bad_record" not in stats


def test_output_is_deterministic_and_json_list_works(repo: Repo, tmp_path: Path) -> None:
    a, b, j = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.json"
    prepare_commit(str(repo.path), "HEAD", [], str(a), params())
    prepare_commit(str(repo.path), "HEAD", [], str(b), params())
    prepare_commit(str(repo.path), "HEAD", [], str(j), params())
    assert a.read_bytes() == b.read_bytes()
    assert orjson.loads(j.read_bytes()) == read_jsonl(a)


@pytest.mark.parametrize("rev_of", [lambda s: s["c4"], lambda s: "v1", lambda s: "HEAD~7", lambda s: s["c4"][:10]])
def test_revision_pinning_walks_from_an_older_commit(repo: Repo, tmp_path: Path, rev_of) -> None:
    out = tmp_path / "o.jsonl"
    stats = prepare_commit(str(repo.path), rev_of(repo.shas), [], str(out), params())
    assert read_jsonl(out) == expected_records(repo)[1:]  # c4 and c2 only
    assert stats["commits.walked"] == 4 and stats["commits.merge_skipped"] == 0


def test_max_commits_limits_the_walk(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    stats = prepare_commit(str(repo.path), "HEAD", [], str(out), params(max_commits=2))
    assert stats["commits.walked"] == 2 and stats["commits.merge_skipped"] == 1
    assert [r["id"] for r in read_jsonl(out)] == [f"{repo.shas['c10']}:c.go"]


def test_per_language_cap(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    stats = prepare_commit(str(repo.path), "HEAD", [], str(out), params(max_per_lang=1))
    assert [(r["lang"], r["path"]) for r in read_jsonl(out)] == [
        ("go", "c.go"), ("python", "pkg/renamed.py"), ("javascript", "b.js")]
    assert stats["skipped.lang_cap"] == 2  # c2's a.py and c.go


def test_language_allow_list_normalised_and_as_list(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    stats = prepare_commit(str(repo.path), "HEAD", [], str(out), params(langs="Go, JavaScript"))
    assert [r["path"] for r in read_jsonl(out)] == ["c.go", "b.js", "c.go"]
    # python files (renamed.py, a.py, and the too-large / binary / ... ones) and notes.txt
    assert stats["skipped.language"] == 7
    assert "skipped.binary" not in stats  # the language check comes first
    prepare_commit(str(repo.path), "HEAD", [], str(out), params(langs=["python"]))
    assert {r["lang"] for r in read_jsonl(out)} == {"python"}


def test_walk_stops_once_every_allowed_language_is_full(repo: Repo, tmp_path: Path) -> None:
    notes: list[str] = []
    out = tmp_path / "o.jsonl"
    stats = prepare_commit(str(repo.path), "HEAD", [], str(out), params(langs="go", max_per_lang=1), notes=notes)
    assert len(read_jsonl(out)) == 1
    assert stats["commits.walked"] == 1
    assert any("stopped early" in n for n in notes)


def test_no_records_is_an_error_and_writes_nothing(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    with pytest.raises(UserError, match=r"no commit records from .*@HEAD .*skipped: .*language.*check langs"):
        prepare_commit(str(repo.path), "HEAD", [], str(out), params(langs="rust"))
    assert not out.exists() and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- dataset files (CommitPackFT / EditPackFT)

ROWS = [
    {"commit": "abc123", "old_file": "x/a.py", "new_file": "x/a.py", "old_contents": "a = 1\n",
     "new_contents": "a = 2\n", "subject": "Bump a\n", "message": "Bump a\n\nlong text", "lang": "Python",
     "license": "mit", "repos": "u/r"},
    {"commit": "abc124", "old_file": "m.cpp", "new_file": "m.cpp", "old_contents": "int x;\n",
     "new_contents": "int y;\n", "subject": "Rename x", "message": "Rename x", "lang": "C++",
     "license": "mit", "repos": "u/r"},
    {"commit": "abc125", "old_file": "p.cs", "new_file": "p.cs", "old_contents": "same\n",
     "new_contents": "same\n", "subject": "Noop", "message": "Noop", "lang": "C#", "license": "mit", "repos": "u/r"},
    {"commit": "abc126", "old_file": "q.cs", "new_file": "q.cs", "old_contents": "class Q {}\n",
     "new_contents": "class Q { }\n" + "// pad\n" * 200, "subject": "Huge", "message": "Huge", "lang": "C#",
     "license": "mit", "repos": "u/r"},
    {"commit": "abc127", "old_file": "r.js", "new_file": "r.js", "old_contents": "var r;\n",
     "new_contents": "let r;\n", "subject": "Use let", "message": "Use let", "lang": "JavaScript",
     "license": "mit", "repos": "u/r"},
    {"commit": "abc128", "old_file": "s.py", "new_file": "s.py", "old_contents": "é = 1\n",
     "new_contents": "é = 2\n", "subject": "Unicode", "message": "Unicode", "lang": "Python",
     "license": "mit", "repos": "u/r"},
]
BAD = {"commit": "abc129", "old_file": "t.py", "new_file": "t.py", "new_contents": "t\n", "subject": "No old",
       "message": "No old", "lang": "Python", "license": "mit", "repos": "u/r"}


def expected_dataset_records() -> list[dict]:
    def r(row: dict, lang: str, git: str) -> dict:
        return {"id": f"{row['commit']}:{row['new_file']}", "code1": row["old_contents"],
                "code2": row["new_contents"], "lang": lang, "git": git, "commit": row["commit"],
                "path": row["new_file"], "source": "commit", "license": row["license"]}  # provenance

    return [r(ROWS[0], "python", "Bump a"), r(ROWS[1], "c++", "Rename x"), r(ROWS[4], "javascript", "Use let"),
            r(ROWS[5], "python", "Unicode")]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in rows))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_dataset_rows_map_to_commit_records(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / f"commitpackft.{fmt}"
    if fmt == "jsonl":
        write_jsonl(src, ROWS)
    elif fmt == "json":
        src.write_bytes(orjson.dumps(ROWS))
    else:
        pl.DataFrame(ROWS).write_parquet(src)
    out = tmp_path / "o.jsonl"
    stats = prepare_commit("", "HEAD", [str(src)], str(out), params(max_file_size=200))
    assert read_jsonl(out) == expected_dataset_records()
    assert stats["skipped.identical"] == 1 and stats["skipped.too_large"] == 1
    assert stats["rows.read"] == len(ROWS) and stats["records"] == 4
    assert "commits.walked" not in stats


def test_dataset_size_limit_counts_utf8_bytes(tmp_path: Path) -> None:
    row = {**ROWS[5], "new_contents": "é" * 60}  # 60 characters, 120 bytes
    src = write_jsonl(tmp_path / "d.jsonl", [ROWS[0], row])
    stats = prepare_commit("", "HEAD", [str(src)], str(tmp_path / "o.jsonl"), params(max_file_size=100))
    assert stats["skipped.too_large"] == 1 and stats["records"] == 1


def test_malformed_row_skip_policy_counts_and_notes(tmp_path: Path) -> None:
    rows = [ROWS[0], BAD, {**ROWS[1], "lang": 3}, "not an object", ROWS[4]]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    out = tmp_path / "o.jsonl"
    notes: list[str] = []
    stats = prepare_commit("", "HEAD", [str(src)], str(out), params(), notes=notes)
    assert stats["skipped.bad_record"] == 3
    assert [r["path"] for r in read_jsonl(out)] == ["x/a.py", "r.js"]
    assert notes == [f"{src}: skipped 3 malformed records (first: record 1: missing field 'old_contents')"]


def test_malformed_row_fail_policy_names_file_and_record(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [ROWS[0], BAD])
    out = tmp_path / "o.jsonl"
    with pytest.raises(UserError) as e:
        prepare_commit("", "HEAD", [str(src)], str(out), params(on_bad_record="fail"))
    assert str(e.value) == (f"{src}: record 1: missing field 'old_contents'; fix the file or set "
                            f"on_bad_record: skip")
    assert not out.exists()


def test_parquet_malformed_row_null_field(tmp_path: Path) -> None:
    src = tmp_path / "d.parquet"
    pl.DataFrame([ROWS[0], {**ROWS[4], "subject": None}]).write_parquet(src)
    stats = prepare_commit("", "HEAD", [str(src)], str(tmp_path / "o.jsonl"), params())
    assert stats["skipped.bad_record"] == 1 and stats["records"] == 1
    with pytest.raises(UserError, match=r"d.parquet: record 1: missing field 'subject'"):
        prepare_commit("", "HEAD", [str(src)], str(tmp_path / "o.jsonl"), params(on_bad_record="fail"))


def test_rows_without_commit_or_path_get_content_ids(tmp_path: Path) -> None:
    row = {"old_contents": "a\n", "new_contents": "b\n", "subject": "s", "lang": "Go"}
    src = write_jsonl(tmp_path / "d.jsonl", [row, {**row, "id": "mine"}])
    out = tmp_path / "o.jsonl"
    prepare_commit("", "HEAD", [str(src)], str(out), params())
    ids = [r["id"] for r in read_jsonl(out)]
    assert len(ids[0]) == 16 and ids[1] == "mine"
    assert read_jsonl(out)[0]["commit"] is None and read_jsonl(out)[0]["lang"] == "go"


def test_git_and_datasets_share_the_language_cap(repo: Repo, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", ROWS)
    out = tmp_path / "o.jsonl"
    stats = prepare_commit(str(repo.path), "HEAD", [str(src)], str(out), params(max_per_lang=2, max_file_size=300))
    recs = read_jsonl(out)
    assert recs[:5] == expected_records(repo)  # git first: python and go already hold 2 records each
    assert [(r["id"], r["lang"]) for r in recs[5:]] == [("abc124:m.cpp", "c++"), ("abc127:r.js", "javascript")]
    assert stats["skipped.lang_cap"] == 2  # both dataset python rows
    assert stats["records_by_lang.python"] == 2 and stats["records"] == 7


# ---------------------------------------------------------------- small pieces


def test_decode_text_reasons() -> None:
    assert decode_text("héllo".encode()) == ("héllo", "")
    assert decode_text(b"\xef\xbb\xbfbom") == ("\ufeffbom", "")
    assert decode_text(b"a\x00b") == (None, "binary")
    assert decode_text(b"a" * 8000 + b"\x00") == ("a" * 8000 + "\x00", "")  # NUL beyond the sniffed prefix
    assert decode_text(b"caf\xe9") == (None, "undecodable")


def test_normalise_lang_spellings() -> None:
    assert [normalise_lang(x) for x in ["C++", "C#", "JavaScript", "Python", " Emacs  Lisp ", "cpp", "Golang"]] == [
        "c++", "c#", "javascript", "python", "emacs lisp", "c++", "go"]


def test_params_validation() -> None:
    assert split_list(" a.jsonl, ,b.parquet ", "input_paths") == ["a.jsonl", "b.parquet"]
    assert split_list(["x", " y "], "langs") == ["x", "y"]
    assert CommitLimits.from_params({"langs": "C++,Python"}).langs == {"c++", "python"}
    with pytest.raises(UserError, match="prepare_commit.max_per_lang must be a non-negative integer"):
        CommitLimits.from_params({"max_per_lang": -1})
    with pytest.raises(UserError, match="on_bad_record must be skip or fail"):
        CommitLimits.from_params({"on_bad_record": "ignore"})
    with pytest.raises(UserError, match="prepare_commit.langs must be"):
        CommitLimits.from_params({"langs": {"python": 1}})


# ---------------------------------------------------------------- CLI


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(command, args)
    return result.exit_code, result.stderr


def test_cli_missing_repo_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    missing = tmp_path / "nope"
    code, err = run_cli(["--repo", str(missing), "--output_path", str(out), "--params", str(tmp_path / "p.yaml")])
    assert code == 2 and not out.exists()
    assert err.strip().splitlines()[-1] == (f"error: {missing}: repository path not found; set prepare_commit.repo "
                                            f"in params.yaml or --repo")
    plain = tmp_path / "plain"
    plain.mkdir()
    code, err = run_cli(["--repo", str(plain), "--output_path", str(out)])
    assert code == 2 and not out.exists()
    assert f"error: {plain} is not a git repository; set prepare_commit.repo" in err


def test_cli_missing_rev_is_a_one_line_error(repo: Repo, tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    code, err = run_cli(["--repo", str(repo.path), "--rev", "deadbeefcafe", "--output_path", str(out)])
    assert code == 2 and not out.exists()
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"error: revision deadbeefcafe not found in {repo.path}; set prepare_commit.rev")
    assert "git fetch --unshallow" in line


def test_cli_reads_params_yaml_and_writes_metrics(repo: Repo, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", ROWS)
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"prepare_commit": {
        "repo": str(repo.path), "rev": repo.shas["c4"], "langs": ["python", "C++"], "input_paths": [str(src)],
        "max_file_size": MAX_SIZE}}))
    out, metrics = tmp_path / "out" / "commit.jsonl", tmp_path / "metrics" / "prepare_commit.json"
    code, err = run_cli(["--params", str(p), "--output_path", str(out), "--metrics_path", str(metrics),
                         "--max_per_lang", "2"])  # a flag overrides params.yaml
    assert code == 0, err
    assert [r["path"] for r in read_jsonl(out)] == ["pkg/renamed.py", "a.py", "m.cpp"]
    m = orjson.loads(metrics.read_bytes())
    assert m["records"] == 3 and m["records_by_lang"] == {"c++": 1, "python": 2}
    assert m["skipped"]["lang_cap"] == 2 and m["commits"]["walked"] == 4
    assert "prepare-commit: 3 commit records (c++ 1, python 2) from 4 commits" in err
    assert "skipped: " in err and "lang_cap 2" in err
