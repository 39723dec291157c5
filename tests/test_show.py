"""``proginstruct show``: what a person sees (markers at the right place, diffs, texts), filters, colours."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from rich.console import Console

from proginstruct.cli.show import command
from proginstruct.report.show import CURSOR, RANGE_CLOSE, RANGE_OPEN, matches, sample_view, select

CODE = "def area(r):\n    return 3.14 * r * r\n"


def snap(code: str, lang: str = "python") -> dict:
    return {"type": "code", "lang": lang, "code": code}


def make(sid: str, loc, source="commit", lang="python", user="Use math.pi", history=("def area(r):\n",)) -> dict:
    return {"history": [snap(h, lang) for h in history], "current": snap(CODE, lang), "user": user,
            "chat": "Switched to math.pi.", "next": snap(CODE.replace("3.14", "math.pi"), lang), "loc": loc,
            "id": sid, "source": source, "model": "m"}


def render(sample: dict, fmt: str | None = None) -> str:
    console = Console(width=100, record=True, color_system=None, file=io.StringIO())
    console.print(sample_view(0, sample, fmt))
    return console.export_text()


def test_cursor_and_range_are_marked_where_loc_points():
    cursor_at = CODE.index("3.14")
    text = render(make("a", cursor_at))
    assert f"return {CURSOR}3.14 * r * r" in text
    text = render(make("b", [CODE.index("3.14"), CODE.index(" * r *")]))
    assert f"return {RANGE_OPEN}3.14{RANGE_CLOSE} * r * r" in text


def test_history_diffs_instruction_edit_and_chat_are_shown():
    text = render(make("a", None))
    assert "history 1 → current" in text and "+    return 3.14 * r * r" in text
    assert "Use math.pi" in text and "Switched to math.pi." in text
    assert "-    return 3.14 * r * r" in text and "+    return math.pi * r * r" in text
    no_change = {**make("n", None), "next": snap(CODE)}
    assert "no change" in render(no_change)


def test_conversation_view_and_markup_is_never_interpreted():
    sample = make("a", 4, user="[bold]not markup[/bold]")
    text = render(sample, "sr")
    assert "sr · history" in text and "sr · assistant" in text and "<|search_and_replace|>" in text
    assert "[bold]not markup[/bold]" in render(sample)


def test_filters():
    samples = [make("1", None), make("2", 3, source="submit", lang="c++"), make("3", [0, 2], user="", history=())]
    assert [s["id"] for _, s in select(samples, sources=["submit"])] == ["2"]
    assert [s["id"] for _, s in select(samples, langs=["python"], locs=["range", "none"])] == ["1", "3"]
    assert [s["id"] for _, s in select(samples, types=["C"])] == ["3"]
    assert [i for i, _ in select(samples, skip=1, limit=1)] == [1]
    assert matches(samples[0], ids=["1"]) and not matches(samples[0], ids=["2"])


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in
                           [make("1", None), make("2", 5, source="submit"), make("3", [0, 3], user="")]))
    return p


def test_cli(dataset):
    res = CliRunner().invoke(command, [str(dataset), "--source", "submit", "--no-color", "--width", "90"])
    assert res.exit_code == 0, res.output
    assert "#1 submit · 2" in res.output and "\x1b[" not in res.output
    res = CliRunner().invoke(command, [str(dataset), "--type", "H,C", "--color", "--width", "90"])
    assert "\x1b[" in res.output and "commit · 3 · python" in res.output
    res = CliRunner().invoke(command, [str(dataset), "--lang", "rust"])
    assert "no sample matches" in res.output and res.exit_code == 1
    res = CliRunner().invoke(command, [str(dataset), "--as", "lc", "-n", "1", "--no-color"])
    assert "lc · current" in res.output and "1 def area(r):" in res.output
    res = CliRunner().invoke(command, [str(dataset.with_name("missing.jsonl"))])
    assert res.exit_code == 2 and "not found" in res.output
