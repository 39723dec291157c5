"""End to end through the stage scripts: a small git repository -> prepare -> collect -> area -> merge ->
quality -> report, as ``make all`` runs them.

Uses the simulated model in-process (no socket). Checks every sample's invariants (SPEC 0, SPEC 6
step 6, SPEC 7 loc bounds) and provenance, that the report's Quality section agrees with
``metrics/quality.json``, and that a second run sends zero requests and writes identical bytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from proginstruct.collection.sample import reachable
from proginstruct.quality.params import DEFAULT_SETS
from proginstruct.report.paper import source_label
from proginstruct.roles.version import prompt_version

from .gitrepo import Repo

ROOT = Path(__file__).resolve().parents[1]

BASE = "\n".join(
    [
        "import math",
        "",
        "",
        "def area(r):",
        "    return 3.14 * r * r",
        "",
        "",
        "def perimeter(r):",
        "    return 2 * 3.14 * r",
        "",
        "",
        "def describe(r):",
        "    print('radius', r)",
        "    print('area', area(r))",
        "",
    ]
)


def _evolve(text: str, k: int) -> str:
    """A multi-block change: edits near the top, middle and bottom of the file."""
    lines = text.split("\n")
    lines[4] = f"    return math.pi * r * r  # v{k}"
    lines[8] = f"    return 2 * math.pi * r  # v{k}"
    lines.insert(13, f"    print('perimeter', perimeter(r))  # v{k}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = Repo(tmp_path_factory.mktemp("repo"))
    js = "function add(a, b) {\n  return a + b;\n}\n\nfunction sub(a, b) {\n  return a - b;\n}\n"
    repo.write("geo.py", BASE)
    repo.write("ops.js", js)
    repo.write("LICENSE", (ROOT / "LICENSE").read_text())
    repo.commit("c0", "Initial commit")
    text = BASE
    for k in range(1, 7):
        text = _evolve(text, k) if k % 2 else text + f"\n\ndef extra_{k}(r):\n    return r + {k}\n"
        repo.write("geo.py", text)
        js = js.replace("return", f"return /* {k} */", 1) if k % 3 == 0 else js + f"\n// note {k}\n"
        repo.write("ops.js", js)
        repo.commit(f"c{k}", f"Improve geometry helpers, step {k}\n\nLonger body.")
    work = tmp_path_factory.mktemp("work")
    (work / "model_map.json").write_text('{"proginstruct-simulator": {"base": "simulator", "api": ""}}')
    params = {
        "seed": 7,
        "llm": {"model_map": str(work / "model_map.json"), "cache_path": str(work / "cache" / "replies.sqlite"),
                "num_proc": 8},
        "prepare_commit": {"repo": str(repo.path), "rev": repo.shas["c6"]},
        "collect": {"commit": {"limit_one_block_prob": 1.0, "max_per_sample": 3, "use_user_prob": 0.5}},
        "area": {"use_loc_prob": 0.9},
        "quality": {"decontaminate": [{**d, "path": str(ROOT / d["path"])} for d in DEFAULT_SETS]},
    }
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    return work


def run_stage(work: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / script), *args], cwd=work,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def run_recipe(work: Path, tag: str) -> dict[str, bytes]:
    run_stage(work, "prepare_commit.py", "--output_path", f"{tag}/prepared.jsonl")
    run_stage(work, "data_collection.py", "--data_type", "commit", "--input_path", f"{tag}/prepared.jsonl",
              "--output_path", f"{tag}/collected.jsonl", "--metrics_path", f"{tag}/collect.json")
    run_stage(work, "post_collection.py", "--input_path", f"{tag}/collected.jsonl",
              "--output_path", f"{tag}/final.jsonl")
    run_stage(work, "merge_data.py", f"{tag}/merged.jsonl", f"{tag}/final.jsonl")
    run_stage(work, "quality_filter.py", "--input_path", f"{tag}/merged.jsonl", "--output_path",
              f"{tag}/dataset.jsonl", "--also_write", f"{tag}/dataset.parquet", "--metrics_path",
              f"{tag}/metrics/quality.json")
    run_stage(work, "report.py", "--input_path", f"{tag}/dataset.jsonl", "--metrics_path", f"{tag}/report.json",
              "--report_dir", f"{tag}/reports", "--metrics_dir", f"{tag}/metrics", "--no-png")
    return {n: (work / tag / n).read_bytes() for n in ("prepared.jsonl", "collected.jsonl", "final.jsonl",
                                                       "dataset.jsonl", "dataset.parquet", "metrics/quality.json",
                                                       "reports/dataset.md")}


def table_rows(md: str, header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header row starts with ``header``, as cell lists."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def check_quality_section(md: str, m: dict) -> None:
    """Every figure of the report's Quality section is the one in metrics/quality.json."""
    assert "## Quality" in md
    gates = ["too_long", "breaks_syntax", "contaminated", "near_duplicate"]
    rows = {r[0]: r[1:] for r in table_rows(md, "| source | samples | too long |")}
    for source, f in m["sources"].items():
        assert rows[source_label(source)] == [str(f["samples"]), *(str(f["removed"][g]) for g in gates),
                                              str(f["kept"])]
    assert rows["Total"] == [str(m["samples"]), *(str(m["removed"][g]) for g in gates), str(m["kept"])]
    langs = {r[0]: r[1:] for r in table_rows(md, "| language | samples | current parses % |")}
    assert langs == {lang: [str(f["samples"]), f"{100 * f['current_share']:.2f}", f"{100 * f['next_share']:.2f}"]
                     for lang, f in m["syntax"]["languages"].items()}
    sets = {r[0]: r[-1] for r in table_rows(md, "| set |")}
    assert sets == {name: str(n) for name, n in m["contaminated"].items()}


def test_recipe_end_to_end(project: Path) -> None:
    first = run_recipe(project, "run1")
    records = {r["id"]: r for r in map(orjson.loads, first["prepared.jsonl"].splitlines())}
    samples = [orjson.loads(line) for line in first["final.jsonl"].splitlines()]
    assert len(records) == 12  # 6 commits x 2 modified files
    assert len(samples) >= 10
    kinds = set()
    for s in samples:
        assert set(s) >= {"history", "current", "user", "chat", "next", "loc", "source", "id", "model"}
        assert s["source"] == "commit" and s["model"] == "proginstruct-simulator"
        rec = records[s["id"].rsplit(":", 1)[0]]
        lang = s["current"]["lang"]
        assert lang == rec["lang"] and all(h["lang"] == lang for h in s["history"])
        assert all(snap["type"] == "code" for snap in [*s["history"], s["current"], s["next"]])
        # SPEC 6 step 6: next is current with a subset of blocks(current, final) applied
        assert reachable(s["current"]["code"], s["next"]["code"], rec["code2"])
        if s["user"]:
            assert s["next"]["code"] == rec["code2"]
        n = len(s["current"]["code"])
        loc = s["loc"]
        if isinstance(loc, int):
            assert 0 <= loc <= n
            kinds.add("cursor")
        elif isinstance(loc, list):
            assert 0 <= loc[0] <= loc[1] <= n
            kinds.add("range")
        else:
            assert loc is None
        kinds.add(("H" if s["history"] else "") + "C" + ("U" if s["user"] else ""))
    assert {"cursor", "range"} <= kinds and {"C", "CU"} & kinds and {"HC", "HCU"} & kinds
    metrics = orjson.loads((project / "run1" / "collect.json").read_bytes())
    assert metrics["requests"]["sent"] > 0 and metrics["samples"] == len(samples)
    # provenance: the prompts that made each sample, and the repository's licence
    assert {(s["prompt_version"], s["license"]) for s in samples} == {(prompt_version(), "MIT")}

    # the quality stage keeps an ordered subset; the report's Quality section shows its metrics
    kept = first["dataset.jsonl"].splitlines()
    merged = (project / "run1" / "merged.jsonl").read_bytes().splitlines()
    assert kept and set(kept) <= set(merged) and sorted(kept, key=merged.index) == kept
    quality = orjson.loads(first["metrics/quality.json"])
    assert quality["kept"] == len(kept) and quality["samples"] == len(merged)
    assert quality["syntax"]["languages"]["python"]["samples"] > 0
    check_quality_section(first["reports/dataset.md"].decode(), quality)

    # a second run with the same params: no request sent, same bytes everywhere
    second = run_recipe(project, "run2")
    second["reports/dataset.md"] = second["reports/dataset.md"].replace(b"`run2/", b"`run1/")  # the path it names
    assert second == first
    metrics2 = orjson.loads((project / "run2" / "collect.json").read_bytes())
    assert metrics2["requests"].get("sent", 0) == 0
    assert metrics2["requests"]["cache_hits"] == metrics["requests"]["sent"]
