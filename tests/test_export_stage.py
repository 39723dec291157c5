"""The export stage: data/export/{wf,lc,sr}.jsonl from the merged dataset, through the stage script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from proginstruct.errors import BadRecord, UserError
from proginstruct.export.fences import unfence_code
from proginstruct.export.formats import split_assistant
from proginstruct.export.lc import apply_lc, parse_lc
from proginstruct.export.sr import apply_sr, parse_sr
from proginstruct.export.stage import run_export

ROOT = Path(__file__).resolve().parents[1]

BASE = "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\ndef perimeter(r):\n    return 2 * 3.14 * r\n"


def snap(code: str, lang: str = "python") -> dict:
    return {"type": "code", "lang": lang, "code": code}


def dataset(tmp_path: Path) -> Path:
    fixed = BASE.replace("3.14 * r * r", "math.pi * r * r")
    rows = [
        {"history": [snap("import math\n"), snap(BASE.replace("\n\ndef perimeter(r):\n    return 2 * 3.14 * r", ""))],
         "current": snap(BASE), "user": "Use math.pi.", "chat": "Switched to math.pi.", "next": snap(fixed),
         "loc": [40, 60], "id": "a", "source": "commit"},
        {"history": [], "current": snap(BASE), "user": "", "chat": "", "next": snap(BASE), "loc": 3,
         "id": "b", "source": "submit"},
        {"history": [], "current": snap("x = '<|target|>'\n"), "user": "", "chat": "", "next": snap("x = 1\n"),
         "loc": None, "id": "tok", "source": "commit"},
    ]
    p = tmp_path / "programming_instruct.jsonl"
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return p


def read(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_stage_script_writes_three_formats_deterministically(tmp_path):
    src = dataset(tmp_path)
    for out in ("out1", "out2"):
        proc = subprocess.run([sys.executable, str(ROOT / "stages" / "export.py"), "--input_path", str(src),
                               "--output_dir", str(tmp_path / out), "--metrics_path", str(tmp_path / f"{out}.json")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    for fmt in ("wf", "lc", "sr"):
        assert (tmp_path / "out1" / f"{fmt}.jsonl").read_bytes() == (tmp_path / "out2" / f"{fmt}.jsonl").read_bytes()
    metrics = orjson.loads((tmp_path / "out1.json").read_bytes())
    assert metrics["samples"] == 3 and metrics["skipped"]["special_token"] == 1
    assert metrics["exported"] == {"wf": 2, "lc": 2, "sr": 2}
    assert metrics["harness_unreadable"] == {"fence_in_code": 0}

    samples = {s["id"]: s for s in read(src)}
    wf, lc, sr = (read(tmp_path / "out1" / f"{f}.jsonl") for f in ("wf", "lc", "sr"))
    assert [r["id"] for r in wf] == ["a", "b"], "dataset order, the sample with a special token skipped"
    assert {r["source"] for r in wf} == {"commit", "submit"}
    for w, c, s in zip(wf, lc, sr, strict=True):
        sample = samples[w["id"]]
        cur, nxt = sample["current"]["code"], sample["next"]["code"]
        assert unfence_code(split_assistant(w["conversation"][-1]["content"])[0])[1] == nxt
        assert apply_lc(cur, parse_lc(split_assistant(c["conversation"][-1]["content"])[0])) == nxt
        assert apply_sr(cur, parse_sr(split_assistant(s["conversation"][-1]["content"])[0])) == nxt
    roles = [t["role"] for t in lc[0]["conversation"]]
    assert roles == ["history", "history", "current", "user", "assistant"]


def test_only_some_formats(tmp_path):
    stats = run_export(dataset(tmp_path), tmp_path / "out", formats=["sr"])
    assert stats["exported.sr"] == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["sr.jsonl"]
    with pytest.raises(UserError, match="unknown export format"):
        run_export(dataset(tmp_path), tmp_path / "out", formats=["xml"])


def test_code_with_fence_lines_is_exported_and_counted(tmp_path):
    """Code holding a line that starts with ``` is kept (our parsers read it back) and counted as unreadable
    by fence regexes such as CursorCore's harness."""
    doc = 'doc = """\n```python\nprint(1)\n```\n"""\n'
    rows = [{"history": [], "current": snap(doc), "user": "", "chat": "", "next": snap(doc.replace("1", "2")),
             "loc": None, "id": "in_current"},
            {"history": [], "current": snap("x = 1\n"), "user": "", "chat": "", "next": snap("```\nx = 1\n"),
             "loc": None, "id": "in_next"},
            {"history": [], "current": snap("x = '```'\n"), "user": "", "chat": "", "next": snap("x = 2\n"),
             "loc": None, "id": "not_at_line_start"}]
    src = tmp_path / "d.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    stats = run_export(src, tmp_path / "out", metrics_path=tmp_path / "m.json")
    assert stats["exported.wf"] == stats["exported.lc"] == stats["exported.sr"] == 3
    assert orjson.loads((tmp_path / "m.json").read_bytes())["harness_unreadable"] == {"fence_in_code": 2}
    for r in read(tmp_path / "out" / "sr.jsonl"):
        sample = next(x for x in rows if x["id"] == r["id"])
        body = split_assistant(r["conversation"][-1]["content"])[0]
        assert apply_sr(sample["current"]["code"], parse_sr(body)) == sample["next"]["code"]


def test_bad_loc_names_file_and_record(tmp_path):
    src = tmp_path / "bad.jsonl"
    good = {"history": [], "current": snap("ab"), "user": "", "chat": "", "next": snap("ac"), "loc": 1}
    src.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps({**good, "loc": 9}) + b"\n")
    with pytest.raises(BadRecord, match=r"bad.jsonl: record 1: cursor 9 outside \[0, 2\]"):
        run_export(src, tmp_path / "out")
    assert not (tmp_path / "out" / "wf.jsonl").exists()
