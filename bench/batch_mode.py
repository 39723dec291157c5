"""Batch mode against online mode: the collect stage on one input, each run a child process with a fresh cache.

    .venv/bin/python bench/batch_mode.py [--input data/prepared/commit.jsonl] [--synthetic 0]

For each back end of the simulated model (in-process ``"base": "simulator"``, and the loopback server
``proginstruct simulate`` with no latency and no batch delay), runs ``proginstruct collect --data_type commit``
in online mode and in batch mode (params.yaml's ``collect.commit`` and ``llm`` sections, fresh reply cache),
checks that both outputs have the same bytes, and records the wall time (the fastest of ``--repeats``
runs, 3) and the counters (requests sent, batch rounds, jobs, lines). ``--synthetic N`` adds the same runs on N synthetic commit records
(``tests/scale_helpers.py``). Writes ``bench/results/batch_mode.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proginstruct.simulator.server import serve_in_thread  # noqa: E402
from tests.scale_helpers import collect_argv, write_inputs, write_model_map  # noqa: E402


def run(inp: Path, work: Path, base: str, mode: str, repeat: int) -> dict:
    """One collect run as a child process; its wall time, counters and output bytes."""
    tag = f"{'server' if base != 'simulator' else 'inproc'}-{mode}-{inp.stem}-{repeat}"
    mm = write_model_map(work / f"mm-{tag}.json", base)
    out, metrics = work / f"{tag}.jsonl", work / f"{tag}.metrics.json"
    cmd = collect_argv(inp, out, mm, work / f"{tag}.sqlite", "--metrics_path", str(metrics), "--mode", mode,
                       "--batch_poll", "0.05", "--params", str(ROOT / "params.yaml"))
    t0 = time.monotonic()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    m = json.loads(metrics.read_text())
    batch = m.get("batch", {})
    return {"mode": mode, "wall_s": round(wall, 2), "records": m["inputs"], "samples": m["samples"],
            "requests_sent": m["requests"]["sent"], "rounds": batch.get("rounds", 0), "jobs": batch.get("jobs", 0),
            "lines": batch.get("lines", 0), "failed_lines": batch.get("failed_lines", 0),
            "_bytes": out.read_bytes()}


def best(inp: Path, work: Path, base: str, mode: str, repeats: int) -> dict:
    """The run with the shortest wall time of ``repeats`` (each with a fresh cache; same counters)."""
    runs = [run(inp, work, base, mode, i) for i in range(repeats)]
    assert len({r["_bytes"] for r in runs}) == 1
    walls = [r["wall_s"] for r in runs]
    return {**min(runs, key=lambda r: r["wall_s"]), "wall_s_all": walls}


def compare(inp: Path, work: Path, base: str, label: str, repeats: int) -> dict:
    online, batch = best(inp, work, base, "online", repeats), best(inp, work, base, "batch", repeats)
    same = online.pop("_bytes") == batch.pop("_bytes")
    print(f"{label}: online {online['wall_s']}s ({online['requests_sent']} requests) | batch {batch['wall_s']}s "
          f"({batch['rounds']} rounds, {batch['jobs']} jobs, {batch['lines']} lines) | same bytes: {same}")
    return {"input": label, "simulator": "in-process" if base == "simulator" else "loopback server",
            "same_bytes": same, "online": online, "batch": batch}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default=str(ROOT / "data/prepared/commit.jsonl"))
    ap.add_argument("--synthetic", type=int, default=0, help="also N synthetic commit records (0 = no)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per setting; the fastest is reported")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        inputs = [(Path(args.input), Path(args.input).name)]
        if args.synthetic:
            inputs.append((write_inputs(work / "synthetic.jsonl", args.synthetic), f"synthetic x{args.synthetic}"))
        for inp, label in inputs:
            rows.append(compare(inp, work, "simulator", label, args.repeats))
            url, stop = serve_in_thread()
            try:
                rows.append(compare(inp, work, url, label, args.repeats))
            finally:
                stop()
    out = ROOT / "bench/results/batch_mode.json"
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "runs": rows}, indent=2) + "\n")
    print(f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
