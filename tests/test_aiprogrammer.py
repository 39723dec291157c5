"""The aiprogrammer source: snippet readers, persona draw, and the stage end to end through the engine."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from proginstruct.cli.aiprogrammer import command
from proginstruct.cli.common import LLM_DEFAULTS
from proginstruct.errors import BadRecord, UserError
from proginstruct.llm.engine import RoleResult
from proginstruct.roles.base import Verdict
from proginstruct.roles.programmer import PERSONAS, ProgrammerRole
from proginstruct.seeding import derive_rng
from proginstruct.sources.aiprogrammer import (
    AIPROGRAMMER_DEFAULTS,
    choose_persona,
    program_snippet,
    run_aiprogrammer,
)
from proginstruct.sources.languages import normalize_language
from proginstruct.sources.snippets import (
    Snippet,
    brace_definitions,
    python_definitions,
    read_snippets,
    snippet_id,
)
from proginstruct.stats import Stats

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data/samples/snippets.json"


def lines(n: int, prefix: str = "x") -> str:
    return "".join(f"{prefix}{i} = {i}\n" for i in range(n))


# ------------------------------------------------------------------ readers: files
def test_json_list_of_strings_guesses_no_language(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(["int main() { return 0; }\n", "import json\n", "int main() { return 0; }\n"]))
    st = Stats()
    snips = list(read_snippets(p, stats=st))
    assert [s.content for s in snips] == ["int main() { return 0; }\n", "import json\n"]
    assert all(s.lang == "" for s in snips)
    assert snips[0].id == snippet_id(snips[0].content)
    assert st["skipped.duplicate"] == 1 and st["snippets.read"] == 2


def test_json_list_of_objects_and_mixed(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps([{"lang": "Go", "content": "package main\n"}, "plain\n",
                             {"content": "fn main() {}\n", "id": "r1"}, {"content": "   \n"}]))
    st = Stats()
    snips = list(read_snippets(p, stats=st))
    assert [(s.lang, s.id) for s in snips] == [
        ("go", snippet_id("package main\n")), ("", snippet_id("plain\n")), ("", "r1")]
    assert st["skipped.empty"] == 1


def test_jsonl_strings_objects_and_lists_with_text_column(tmp_path):
    p = tmp_path / "s.jsonl"
    rows = ['"a = 1\\n"', json.dumps({"code": "b = 2\n", "lang": "python"}),
            json.dumps(["c = 3\n", "d = 4\n"]), "", json.dumps({"code": ["e = 5\n"]})]
    p.write_text("\n".join(rows) + "\n")
    snips = list(read_snippets(p, text_column="code"))
    assert [(s.content, s.lang) for s in snips] == [("a = 1\n", ""), ("b = 2\n", "python"), ("c = 3\n", ""),
                                                    ("d = 4\n", ""), ("e = 5\n", "")]


def test_parquet_text_column_and_lang_column(tmp_path):
    p = tmp_path / "s.parquet"
    frame = pl.DataFrame({"text": ["x = 1\n", "y = 2\n", "x = 1\n"], "lang": ["python", None, "python"]})
    frame.write_parquet(p)
    st = Stats()
    snips = list(read_snippets(p, text_column="text", stats=st))
    assert [(s.content, s.lang) for s in snips] == [("x = 1\n", "python"), ("y = 2\n", "")]
    assert st["skipped.duplicate"] == 1
    with pytest.raises(UserError, match=r"s\.parquet: no column 'content' \(columns: text, lang\)"):
        list(read_snippets(p))


def test_bad_records_skip_or_fail(tmp_path, capsys):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(["ok = 1\n", 42, {"content": 3}, {"text": "x"}, ["a", 1],
                             {"content": "z", "lang": 5}]))
    st = Stats()
    assert [s.content for s in read_snippets(p, stats=st)] == ["ok = 1\n"]
    assert st["skipped.bad_record"] == 5
    assert f"{p}: record 1: expected a string" in capsys.readouterr().err
    with pytest.raises(BadRecord) as err:
        list(read_snippets(p, on_bad_record="fail"))
    assert err.value.index == 1 and str(p) in str(err.value)


def test_bad_options_and_missing_input(tmp_path):
    with pytest.raises(UserError, match="split"):
        list(read_snippets(SHIPPED, split="lines"))
    with pytest.raises(UserError, match="on_bad_record"):
        list(read_snippets(SHIPPED, on_bad_record="ignore"))
    with pytest.raises(UserError, match="min_lines"):
        list(read_snippets(SHIPPED, min_lines=50, max_lines=10))
    with pytest.raises(UserError, match="not found"):
        list(read_snippets(tmp_path / "nope.json"))


# ------------------------------------------------------------------ readers: directory trees
def make_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "node_modules").mkdir()
    (root / "pkg/a.py").write_text(lines(12))
    (root / "pkg/copy_of_a.py").write_text(lines(12))                  # exact duplicate
    (root / "pkg/short.go").write_text("package main\n")                 # too short
    (root / "pkg/long.rs").write_text(lines(200, "let y"))               # too long
    (root / "pkg/readme.md").write_text(lines(20))                       # not code
    (root / "pkg/data.bin").write_bytes(b"\0" * 100)                     # unknown extension
    (root / "pkg/blob.c").write_bytes(b"int x;\0" + b"\n" * 20)          # binary
    (root / "pkg/latin.js").write_bytes(("// caf\xe9\n" * 12).encode("latin-1"))  # not UTF-8
    (root / ".git/hidden.py").write_text(lines(12, "h"))
    (root / "node_modules/dep.js").write_text(lines(12, "var d"))
    (root / "Main.java").write_text(lines(15, "int j"))


def test_directory_tree_whole_files(tmp_path):
    make_tree(tmp_path)
    st = Stats()
    snips = list(read_snippets(tmp_path, stats=st))
    assert [(s.path, s.lang) for s in snips] == [("Main.java", "java"), ("pkg/a.py", "python")]
    assert snips[1].content == lines(12)
    assert {k: st[k] for k in ("skipped.duplicate", "skipped.too_short", "skipped.too_long",
                               "skipped.not_code", "skipped.unknown_language", "skipped.binary",
                               "skipped.not_utf8")} == {
        "skipped.duplicate": 1, "skipped.too_short": 1, "skipped.too_long": 1, "skipped.not_code": 1,
        "skipped.unknown_language": 1, "skipped.binary": 1, "skipped.not_utf8": 1}
    assert [s.path for s in read_snippets(tmp_path, min_lines=1, max_lines=500)] == [
        "Main.java", "pkg/a.py", "pkg/long.rs", "pkg/short.go"]


PY_FILE = '''import os

# helper
@decorator
def first(a):
{body}

X = 1


class Second:
{body}

def broken_indent_is_fine_here():
    pass
'''


def test_directory_tree_python_definitions(tmp_path):
    body = "".join(f"    v{i} = {i}\n" for i in range(10)).rstrip("\n")
    (tmp_path / "m.py").write_text(PY_FILE.format(body=body))
    (tmp_path / "bad.py").write_text("def f(:\n" + lines(20))
    st = Stats()
    snips = list(read_snippets(tmp_path, split="definitions", min_lines=5, stats=st))
    assert [s.path for s in snips] == ["m.py:3", "m.py:20"]
    assert snips[0].content.startswith("# helper\n@decorator\ndef first(a):\n")
    assert snips[0].content.endswith("v9 = 9\n")
    assert snips[1].content.startswith("class Second:\n")
    assert st["skipped.unparsable"] == 1 and st["skipped.too_short"] == 1


def test_brace_definitions_ignore_braces_in_strings_and_comments():
    src = ('#include <stdio.h>\n\n/* } */\nint f(void) {\n    puts("}}");\n    char c = \'{\';\n'
           '    return 0;\n}\n\nstruct p { int x;\n};\nint g;\n')
    assert brace_definitions(src, "c") == [(2, 8), (9, 11)]
    rust = "fn a<'x>(s: &'x str) -> &'x str {\n    s\n}\n"
    assert brace_definitions(rust, "rust") == [(0, 3)]
    js = "const t = `\n}`;\nfunction h() {\n  return 1;\n}\n"
    assert brace_definitions(js, "javascript") == [(0, 5)]
    assert brace_definitions("}}}\nint x;\n", "c") == []  # unbalanced input never raises
    assert python_definitions("async def a():\n    pass\n") == [(0, 2)]


def test_brace_language_definitions_from_tree(tmp_path):
    func = "func f{n}() int {{\n" + "".join(f"\tx{i} := {i}\n" for i in range(10)) + "\treturn 0\n}}\n"
    header = "package main\n\nimport \"fmt\"\n\n"
    (tmp_path / "a.go").write_text(header + func.format(n=1) + "\n" + func.format(n=2))
    (tmp_path / "b.rb").write_text(lines(12, "r"))
    st = Stats()
    snips = list(read_snippets(tmp_path, split="definitions", stats=st))
    assert [s.path for s in snips] == ["a.go:5", "a.go:19", "b.rb:1"]
    assert snips[0].content == func.format(n=1) and snips[0].lang == "go"
    assert st["split.whole_file"] == 1


def test_shipped_snippets_are_objects_in_six_languages_of_10_to_120_lines():
    data = json.loads(SHIPPED.read_text("utf-8"))
    assert 25 <= len(data) <= 40 and all(set(d) == {"lang", "content"} for d in data)
    assert len({d["lang"] for d in data}) >= 6
    assert all(10 <= len(d["content"].rstrip("\n").split("\n")) <= 120 for d in data)
    assert len(list(read_snippets(SHIPPED))) == len(data)  # no duplicates, none malformed


# ------------------------------------------------------------------ persona draw
def test_persona_is_drawn_per_snippet_from_the_seeded_rng():
    assert choose_persona(42, "abc") == derive_rng(42, "aiprogrammer", "abc").choice(PERSONAS)
    drawn = {choose_persona(7, f"id{i}") for i in range(60)}
    assert drawn == set(PERSONAS)


# ------------------------------------------------------------------ end to end through the engine
def llm_params(tmp_path: Path, **over) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    mm = tmp_path / "model_map.json"
    mm.write_text(json.dumps({"proginstruct-simulator": {"base": "simulator"}}))
    return {**LLM_DEFAULTS, "model_map": str(mm), "cache_path": str(tmp_path / "cache/replies.sqlite"),
            "num_proc": 8, **over}


def test_stage_end_to_end_with_the_simulator(tmp_path):
    out, metrics_path = tmp_path / "out/aiprogrammer.jsonl", tmp_path / "metrics.json"
    lp = llm_params(tmp_path)
    metrics = run_aiprogrammer(str(SHIPPED), str(out), AIPROGRAMMER_DEFAULTS, lp, 42, str(metrics_path))
    shipped = json.loads(SHIPPED.read_text("utf-8"))
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(records) == len(shipped)
    for rec, snip in zip(records, shipped, strict=True):
        assert rec["content"] == snip["content"] and rec["output"][-1] == snip["content"]
        assert len(rec["output"]) >= 2 and rec["lang"] == snip["lang"]
        assert rec["source"] == "aiprogrammer" and rec["model"] == "proginstruct-simulator"
        assert rec["persona"] == choose_persona(42, rec["id"]) and rec["id"] == snippet_id(snip["content"])
    assert json.loads(metrics_path.read_text()) == metrics
    assert metrics["histories"]["out"] == len(shipped) and metrics["requests"]["sent"] == len(shipped)
    per = metrics["persona"]
    assert sum(per[p]["snippets"] for p in per) == len(shipped)
    assert per["novice"]["mean_versions"] > per["expert"]["mean_versions"]
    assert all(per[p]["attempts_per_history"] == 1.0 for p in per)
    # same seed and params: byte-identical output, every reply from the cache
    first = out.read_bytes()
    out.unlink()
    again = run_aiprogrammer(str(SHIPPED), str(out), AIPROGRAMMER_DEFAULTS, lp, 42, None)
    assert out.read_bytes() == first and again["requests"]["cache_hits"] == len(shipped)
    assert "sent" not in again["requests"]


class PickyRole:
    """A programmer role whose check rejects a fixed share of snippets with a named reason."""

    name = "programmer"

    def __init__(self, persona: str):
        self.inner = ProgrammerRole(persona)

    def messages(self, query):
        return self.inner.messages(query)

    def check(self, query, reply):
        if "class" in query.code:
            return Verdict.reject("last_mismatch")
        return self.inner.check(query, reply)


def test_failed_snippets_are_dropped_and_counted_by_reason(tmp_path):
    snippets = tmp_path / "s.json"
    snippets.write_text(json.dumps(["class A:\n    x = 1\n", "def f():\n    return 1\n", "y = 2\nz = 3\n"]))
    out = tmp_path / "out.json"
    roles = {p: PickyRole(p) for p in PERSONAS}
    lp = llm_params(tmp_path, max_try=3)
    metrics = run_aiprogrammer(str(snippets), str(out), AIPROGRAMMER_DEFAULTS, lp, 1, None, roles=roles)
    records = json.loads(out.read_text())
    assert [r["content"] for r in records] == ["def f():\n    return 1\n", "y = 2\nz = 3\n"]
    assert all(r["lang"] == "" for r in records)
    assert metrics["dropped"] == {"last_mismatch": 1}
    assert metrics["rejected"]["programmer"]["last_mismatch"] == 3
    persona = choose_persona(1, snippet_id("class A:\n    x = 1\n"))
    assert metrics["persona"][persona]["rejected"]["last_mismatch"] == 3
    assert metrics["persona"][persona]["dropped"] == 1


def test_empty_input_is_a_user_error(tmp_path):
    p = tmp_path / "s.json"
    p.write_text("[]")
    with pytest.raises(UserError, match="no snippets"):
        run_aiprogrammer(str(p), str(tmp_path / "o.jsonl"), AIPROGRAMMER_DEFAULTS, llm_params(tmp_path), 1)
    assert not (tmp_path / "o.jsonl").exists()


def test_cli_seed_command_form_and_params_file(tmp_path):
    lp = llm_params(tmp_path)
    params = tmp_path / "params.yaml"
    params.write_text(f"seed: 3\nllm:\n  cache_path: {lp['cache_path']}\n"
                      "aiprogrammer:\n  text_column: code\n")
    snippets = tmp_path / "code_snippets.jsonl"
    snippets.write_text(json.dumps({"code": "def f():\n    return 1\n", "lang": "python"}) + "\n")
    out = tmp_path / "aiprogrammer.json"
    result = CliRunner().invoke(command, ["--model_map", lp["model_map"], "--input_path", str(snippets),
                                          "--output_path", str(out), "--params", str(params),
                                          "--metrics_path", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(out.read_text())
    assert rec["persona"] == choose_persona(3, snippet_id("def f():\n    return 1\n"))
    assert rec["lang"] == "python"
    assert json.loads((tmp_path / "m.json").read_text())["histories"]["out"] == 1
    bad = CliRunner().invoke(command, ["--model_map", lp["model_map"], "--input_path",
                                       str(tmp_path / "no.json"), "--output_path", str(out),
                                       "--params", str(params)])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1
    assert "no.json: input file not found" in bad.output


def test_stage_script_runs_the_users_seed_command(tmp_path):
    lp = llm_params(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/code_snippets.json").write_text(json.dumps(["int main(void)\n{\n    return 0;\n}\n"]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "stages/aiprogrammer.py"), "--model_map", lp["model_map"],
         "--input_path", "data/code_snippets.json", "--output_path", "data/aiprogrammer.json",
         "--cache_path", lp["cache_path"], "--metrics_path", ""],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (rec,) = json.loads((tmp_path / "data/aiprogrammer.json").read_text())
    assert rec["output"][-1] == "int main(void)\n{\n    return 0;\n}\n" and rec["lang"] == ""


class CrashingRole(PickyRole):
    """Raises on one snippet, as a crash in the middle of a run would."""

    def check(self, query, reply):
        if "Inventory" in query.code:
            raise RuntimeError("crash")
        return self.inner.check(query, reply)


def test_interrupted_run_resumes_to_the_same_bytes(tmp_path):
    clean = tmp_path / "clean.jsonl"
    run_aiprogrammer(str(SHIPPED), str(clean), AIPROGRAMMER_DEFAULTS, llm_params(tmp_path / "a"), 5)
    out = tmp_path / "resumed.jsonl"
    lp = llm_params(tmp_path / "b", num_proc=1, window=1)
    with pytest.raises(RuntimeError, match="crash"):
        run_aiprogrammer(str(SHIPPED), str(out), AIPROGRAMMER_DEFAULTS, lp, 5,
                         roles={p: CrashingRole(p) for p in PERSONAS})
    assert not out.exists()
    done = (tmp_path / "resumed.jsonl.partial").read_bytes().count(b"\n")
    assert done == [json.loads(x)["content"] for x in clean.read_text().splitlines()].index(
        next(d["content"] for d in json.loads(SHIPPED.read_text("utf-8")) if "Inventory" in d["content"]))
    metrics = run_aiprogrammer(str(SHIPPED), str(out), AIPROGRAMMER_DEFAULTS, lp, 5)
    assert out.read_bytes() == clean.read_bytes()
    assert metrics["histories"]["out"] == len(json.loads(SHIPPED.read_text("utf-8")))
    assert not (tmp_path / "resumed.jsonl.partial").exists()


# ------------------------------------------------------------------ language of snippets given without one
class CannedEngine:
    """Answers the programmer role with one fixed reply, checked by the real role (as the engine does)."""

    def __init__(self, reply: str):
        self.reply = reply

    async def ask(self, role, query, seed, stats=None):
        verdict = role.check(query, self.reply)
        return RoleResult(verdict.value, "m", 1) if verdict.ok else RoleResult(None, None, 1, verdict.reason)


def _reply(final: str, *infos: str) -> str:
    draft = final.split("\n")[0] + "\n"
    return "\n\n".join(f"Step {i}:\n```{info}\n{code.rstrip()}\n```"
                       for i, (code, info) in enumerate(zip([draft, final, final], infos, strict=False), 1))


@pytest.mark.parametrize(("snippet_lang", "infos", "want"), [
    ("", ("cpp", "cpp"), "c++"),                 # plain string: the reply's fence, normalised
    ("", ("", "Python title=area"), "python"),   # the last block's info string, first word, lower-cased
    ("", ("rust", ""), ""),                      # the last block has none: unknown
    ("", ("go", "text", "py"), "python"),        # a repeated final block (a summary) is the last block
    ("java", ("python", "python"), "java"),      # the snippet's own language wins
])
def test_snippets_without_language_take_the_last_fence_info(snippet_lang, infos, want):
    final = "int area(int w, int h) {\n    return w * h;\n}\n"
    snippet = Snippet("s1", final, snippet_lang)
    records, stats = asyncio.run(program_snippet(CannedEngine(_reply(final, *infos)), snippet, seed=1))
    assert stats["histories.out"] == 1 and records[0]["output"][-1] == final
    assert records[0]["lang"] == want


def test_normalize_language():
    assert [normalize_language(x) for x in ("Python", "cpp", "C++", "py", "CSharp", "{.js}", "text", "", "bash",
                                            "Haskell", "fortran")] == [
        "python", "c++", "c++", "python", "c#", "javascript", "", "", "shell", "haskell", "fortran"]
