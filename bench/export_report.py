"""Benchmark for the merge, export and report stages on a synthetic dataset of realistic size.

Run: ``.venv/bin/python bench/export_report.py`` (default 200,000 samples, the paper's scale). Writes
``bench/results/export_report.json``.

The samples (in a temporary folder, removed afterwards unless ``--keep``) are built from this
repository's own Python, Markdown and JSON files: per sample a file (cut to at most 150 lines), an
"older" version with 1-6 random line edits (deletions, insertions, replacements, duplicated lines so
SR search texts need widening), the SPEC 3 edit series between them, and a random split into
history / current / next; random ``user`` / ``chat`` / ``loc`` as the pipeline makes them. They are
spread over three source files (``commit`` / ``aiprogrammer`` / ``submit``) with 1 % exact duplicates.
Each stage runs as a child process through its stage script; peak memory is the child's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from scratch import scratch_folder, write_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proginstruct.blocks import edit_series  # noqa: E402


def corpus() -> list[tuple[str, str]]:
    """(lang, text) of the repository's own files, each cut to at most 150 lines."""
    out = []
    for ext, lang in ((".py", "python"), (".md", "markdown"), (".json", "json")):
        for p in sorted(ROOT.glob(f"proginstruct/**/*{ext}")) + sorted(ROOT.glob(f"tests/*{ext}")):
            text = "\n".join(p.read_text("utf-8").split("\n")[:150])
            if text.strip():
                out.append((lang, text))
    return out


def older(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.35 and len(lines) > 1:
            del lines[i]
        elif op < 0.6:
            lines.insert(i, lines[rng.randrange(len(lines))])  # a duplicated line
        else:
            lines[i] = lines[i].replace("self", "this").replace("return", "yield") + "  # old"
    return "\n".join(lines)


def make_samples(n: int, seed: int) -> Iterator[dict]:
    """``n`` samples, streamed (1 % are copies of one of the last 100 with another id)."""
    rng = random.Random(seed)
    files = corpus()
    recent: list[dict] = []
    for k in range(n):
        if recent and rng.random() < 0.01:
            yield {**rng.choice(recent), "id": f"dup{k}"}
            continue
        lang, final = rng.choice(files)
        versions = edit_series(older(final, rng), final, rng)
        c = rng.randrange(len(versions))
        history = versions[:c] if rng.random() < 0.6 else []
        nxt = versions[-1] if rng.random() < 0.8 else versions[c]
        cur = versions[c]
        loc = rng.choice([None, rng.randint(0, len(cur)), sorted([rng.randint(0, len(cur)), rng.randint(0, len(cur))])])
        snap = lambda code, lang=lang: {"type": "code", "lang": lang, "code": code}  # noqa: E731
        sample = {"history": [snap(h) for h in history], "current": snap(cur),
                  "user": rng.choice(["", "Please finish the function and add a docstring."]),
                  "chat": rng.choice(["", "I completed the function and documented it."]),
                  "next": snap(nxt), "loc": loc, "id": str(k), "model": "bench", "seed": k}
        recent = [*recent[-99:], sample]
        yield sample


def run(cmd: list[str], cwd: Path) -> dict:
    err = cwd / "stderr.txt"
    t0 = time.perf_counter()
    with err.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=fh)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[1]} failed:\n{err.read_text()[-2000:]}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "summary": err.read_text().strip().splitlines()[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    with scratch_folder("bench_export_", args.keep) as work:
        t0 = time.perf_counter()
        sources = ("commit", "aiprogrammer", "submit")
        inputs = [work / f"{source}.jsonl" for source in sources]
        handles = [p.open("wb") for p in inputs]
        for k, sample in enumerate(make_samples(args.samples, args.seed)):
            handles[k % 3].write(orjson.dumps({**sample, "source": sources[k % 3]}) + b"\n")
        for h in handles:
            h.close()
        gen = round(time.perf_counter() - t0, 1)
        py = sys.executable
        merged = work / "programming_instruct.jsonl"
        results = {
            "merge": run([py, str(ROOT / "stages/merge_data.py"), str(merged), *map(str, inputs),
                          "--also_write", str(work / "programming_instruct.parquet")], work),
            "export": run([py, str(ROOT / "stages/export.py"), "--input_path", str(merged),
                           "--output_dir", str(work / "export")], work),
            "report": run([py, str(ROOT / "stages/report.py"), "--input_path", str(merged), "--metrics_path",
                           str(work / "report.json"), "--report_dir", str(work / "reports"),
                           "--metrics_dir", str(work)], work),
        }
        sizes = {p.name: p.stat().st_size for p in [merged, work / "programming_instruct.parquet",
                                                     *sorted((work / "export").iterdir())]}
        out = {
            "samples": args.samples, "generate_seconds": gen, "stages": results,
            "samples_per_second": {k: round(args.samples / v["seconds"]) for k, v in results.items()},
            "bytes": sizes, "bytes_per_sample": round(sizes["programming_instruct.jsonl"] / args.samples), "python": platform.python_version(), "cpus": os.cpu_count(),
            "load_before": os.getloadavg()[0],
        }
        write_results(ROOT / "bench" / "results" / "export_report.json", out)


if __name__ == "__main__":
    main()
