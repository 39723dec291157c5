"""The report stage: every figure of metrics/report.json recomputed directly from the samples
(plain Python, no Polars) must agree; the Markdown report and plot tables hold the same numbers; reruns
write identical bytes (PNGs included)."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from proginstruct.errors import BadRecord
from proginstruct.report.figures import measure
from proginstruct.report.plots import length_bin
from proginstruct.report.stage import run_report

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("commit", "aiprogrammer", "submit", "extra")
WORDS = ["x", "=", "1", "def", "f():", "\treturn", "é", "  ", "\n", "\r\n", "if", "{", "}", "// note"]


def random_code(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + rng.choice([" ", "", "\n", "\t"]) for _ in range(rng.randint(0, 60)))


def random_sample(rng: random.Random, i: int) -> dict:
    lang = rng.choice(["python", "c++", "java", "", "go"])
    snap = lambda code: {"type": "code", "lang": lang, "code": code}  # noqa: E731
    current = random_code(rng)
    nxt = current if rng.random() < 0.2 else random_code(rng)
    loc = rng.choice([None, rng.randint(0, len(current)), sorted([rng.randint(0, len(current))] * 2)])
    return {"history": [snap(random_code(rng)) for _ in range(rng.choice([0, 0, 1, 2, 5]))],
            "current": snap(current), "user": rng.choice(["", "", "Fix it", "add a loop\nplease"]),
            "chat": rng.choice(["", "Done.", "I made\n the change"]), "next": snap(nxt), "loc": loc,
            "source": rng.choice(SOURCES), "id": str(i), "model": rng.choice(["m1", "proginstruct-simulator"])}


METRICS = {
    "collect_commit.json": {"roles": {"judge": {"calls": 10, "attempts": 14, "accepted": 9, "failed": 1},
                                      "chat": {"calls": 5, "attempts": 5, "accepted": 5}},
                            "rejected": {"judge": {"count_mismatch": 3, "length": 1}},
                            "draws": {"tried": 19, "skipped": {"no_history": 4, "judge_failed": 1}},
                            "samples_per_record": {"0": 2, "1": 5, "3": 3}, "samples": 14, "inputs": 10},
    "aiprogrammer.json": {"roles": {"programmer": {"calls": 8, "attempts": 12, "accepted": 7, "failed": 1}},
                          "rejected": {"programmer": {"refusal": 2, "fragments": 2}}},
    "collect_aiprogrammer.json": {"roles": {"judge": {"calls": 4, "attempts": 4, "accepted": 4}},
                                  "draws": {"tried": 12, "skipped": {"no_history": 2}},
                                  "samples_per_record": {"1": 6, "10": 1}, "samples": 16, "inputs": 7},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    d = tmp_path_factory.mktemp("report")
    rng = random.Random(5)
    samples = [random_sample(rng, i) for i in range(400)]
    path = d / "programming_instruct.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in samples))
    metrics = d / "metrics"
    metrics.mkdir()
    for name, m in METRICS.items():
        (metrics / name).write_bytes(orjson.dumps(m))
    return path, metrics, samples


# ---------------------------------------------------------------- an independent recomputation


def _pct(k: int, n: int) -> float:
    return round(100.0 * k / n, 2) if n else 0.0


def _stat(values: list[int]) -> dict:
    return {"mean": round(sum(values) / len(values), 2) if values else 0.0, "max": max(values, default=0)}


def expected_figures(samples: list[dict]) -> dict:
    n = len(samples)
    inputs = [[h["code"] for h in s["history"]] + [s["current"]["code"], s["user"]] for s in samples]
    outputs = [[s["next"]["code"], s["chat"]] for s in samples]
    types, kinds = [], []
    for s in samples:
        types.append(("H," if s["history"] else "") + "C" + (",U" if s["user"] else ""))
        kinds.append("none" if s["loc"] is None else "cursor" if isinstance(s["loc"], int) else "range")
    no_change = sum(s["current"]["code"] == s["next"]["code"] for s in samples)
    return {
        "samples": n,
        "languages": len({s["current"]["lang"] for s in samples} - {""}),
        "history": _stat([len(s["history"]) for s in samples]),
        "input": {"chars": _stat([sum(map(len, p)) for p in inputs]),
                  "tokens": _stat([sum(len(t.split()) for t in p) for p in inputs])},
        "output": {"chars": _stat([sum(map(len, p)) for p in outputs]),
                   "tokens": _stat([sum(len(t.split()) for t in p) for p in outputs])},
        "mix": {t: _pct(types.count(t), n) for t in ("C", "H,C", "C,U", "H,C,U")},
        "loc": {k: _pct(kinds.count(k), n) for k in ("none", "cursor", "range")},
        "no_change": {"samples": no_change, "share": _pct(no_change, n)},
    }


def expected_roles(files: list[str]) -> dict:
    total: dict = {}
    for name in files:
        m = METRICS[name]
        for role in set(m.get("roles", {})) | set(m.get("rejected", {})):
            slot = total.setdefault(role, {"calls": 0, "attempts": 0, "accepted": 0, "failed": 0, "rejected": 0})
            for k in ("calls", "attempts", "accepted", "failed"):
                slot[k] += m["roles"].get(role, {}).get(k, 0)
            slot["rejected"] += sum(m.get("rejected", {}).get(role, {}).values())
    return {r: {**c, "rejection_rate": _pct(c["rejected"], c["attempts"]), "failure_rate": _pct(c["failed"], c["calls"])}
            for r, c in total.items()}


def expected_draws(files: list[str]) -> dict:
    tried, skipped, per = 0, {}, {}
    for name in files:
        m = METRICS[name]
        tried += m.get("draws", {}).get("tried", 0)
        for r, n in m.get("draws", {}).get("skipped", {}).items():
            skipped[r] = skipped.get(r, 0) + n
        for k, n in m.get("samples_per_record", {}).items():
            per[int(k)] = per.get(int(k), 0) + n
    records, samples = sum(per.values()), sum(k * n for k, n in per.items())
    return {"records": records, "tried": tried, "skipped": dict(sorted(skipped.items())), "samples": samples,
            "samples_per_record": {"mean": round(samples / records, 2) if records else 0.0,
                                   "records": {str(k): per[k] for k in sorted(per)}}}


ROLE_FILES = {"commit": ["collect_commit.json"], "aiprogrammer": ["aiprogrammer.json", "collect_aiprogrammer.json"],
              "submit": [], "extra": [], "overall": list(METRICS)}


def test_every_figure_agrees_with_a_direct_recomputation(data, tmp_path):
    path, metrics_dir, samples = data
    report = run_report(path, tmp_path / "report.json", tmp_path / "reports", metrics_dir=metrics_dir, png=False)
    assert orjson.loads((tmp_path / "report.json").read_bytes()) == report
    assert list(report) == ["aiprogrammer", "commit", "submit", "extra", "overall"], "paper order, then others"
    for group in report:
        subset = samples if group == "overall" else [s for s in samples if s["source"] == group]
        assert subset, "every group is exercised"
        got = dict(report[group])
        roles, draws = got.pop("roles"), got.pop("draws")
        assert got == expected_figures(subset), group
        assert roles == expected_roles(ROLE_FILES[group]), group
        assert draws == expected_draws(ROLE_FILES[group]), group
    assert report["commit"]["roles"]["judge"]["rejection_rate"] == round(100 * 4 / 14, 2)
    assert report["overall"]["draws"]["samples_per_record"] == {"mean": 1.76,
                                                                "records": {"0": 2, "1": 11, "3": 3, "10": 1}}


def test_markdown_and_plot_tables_carry_the_same_numbers(data, tmp_path):
    path, metrics_dir, samples = data
    report = run_report(path, None, tmp_path, metrics_dir=metrics_dir, png=False)
    md = (tmp_path / "dataset.md").read_text()
    cells = [f"{report[g]['samples']} | {paper}" for g, paper in
             (("aiprogrammer", "70.9K"), ("commit", "88.0K"), ("submit", "60.5K"), ("overall", "219K"))]
    assert f"| samples | {cells[0]} | {cells[1]} | {cells[2]} | {report['extra']['samples']} | — | {cells[3]} |" in md
    c = report["commit"]["mix"]
    assert f"| Git commit | this run | {c['C']:.2f} | {c['H,C']:.2f} | {c['C,U']:.2f} | {c['H,C,U']:.2f} |" in md
    assert "|  | paper | 25.9 | 20.0 | 28.0 | 26.1 |" in md
    assert "`proginstruct-simulator`" in md and "built-in simulated model" in md
    assert "| Git commit | 10 | 19 | judge_failed 1, no_history 4 | 14 | 1.40 | 0: 2, 1: 5, 3: 3 |" in md
    assert "| AI programmer | 7 | 12 | no_history 2 | 16 | 2.29 | 1: 6, 10: 1 |" in md

    def table(name: str) -> list[list[str]]:
        return [line.split(",") for line in (tmp_path / "plots" / f"{name}.csv").read_text().splitlines()]

    history = table("history")
    assert history[0] == ["history", "aiprogrammer", "commit", "submit", "extra"]
    for col, source in enumerate(history[0][1:], 1):
        want = [sum(len(s["history"]) == int(r[0]) for s in samples if s["source"] == source) for r in history[1:]]
        assert [int(r[col]) for r in history[1:]] == want
    inputs = table("input_length")
    for r in inputs[1:]:
        want = sum(length_bin(measure(s)["input_chars"]) == int(r[0]) for s in samples if s["source"] == "commit")
        assert int(r[2]) == want
    langs = table("languages")
    assert sum(int(r[-1]) for r in langs[1:]) == len(samples)
    assert "(none)" in [r[0] for r in langs[1:]]


def test_rerun_writes_identical_bytes_pngs_included(data, tmp_path):
    path, metrics_dir, _ = data
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "report.py"), "--input_path", str(path),
                           "--metrics_path", str(tmp_path / "a" / "report.json"), "--report_dir", str(tmp_path / "a"),
                           "--metrics_dir", str(metrics_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run_report(path, tmp_path / "b" / "report.json", tmp_path / "b", metrics_dir=metrics_dir)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"dataset.md", "report.json", "history.png", "lengths.png", "languages.png",
                                       "history.csv", "input_length.csv", "output_length.csv", "languages.csv"}
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "a" / "plots" / "history.png").read_bytes().startswith(b"\x89PNG")


def test_missing_metrics_and_bad_samples(tmp_path):
    src = tmp_path / "s.jsonl"
    s = {"history": [], "current": {"code": "a", "lang": "c"}, "next": {"code": "b", "lang": "c"}, "loc": None}
    src.write_bytes(orjson.dumps(s) + b"\n")
    report = run_report(src, None, tmp_path / "r", metrics_dir=tmp_path / "nothing", png=False)
    assert report["overall"]["roles"] == {} and report[""]["samples"] == 1
    assert "No collection metrics were found, so there are no role figures." in (tmp_path / "r" / "dataset.md").read_text()
    assert "no draw figures" in (tmp_path / "r" / "dataset.md").read_text()
    src.write_bytes(orjson.dumps(s) + b"\n" + b'{"current": 1}\n')
    with pytest.raises(BadRecord, match="record 1"):
        run_report(src, None, tmp_path / "r", png=False)
