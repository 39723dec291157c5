"""Progress and pacing under a per-model ``rpm`` limit (docs/models-and-scale.md, "Rate limits").

Run: ``.venv/bin/python bench/rpm.py`` (defaults: 60 records of the default commit input, ``"rpm": 30``,
the loopback simulator at 1 s latency, default concurrency). ``--code DIR`` runs the collection from
another checkout (e.g. an export of an older commit, for a before/after comparison); ``--label`` names
the run in ``bench/results/rpm.json`` (other labels are kept).

What it does:

1. the default commit input: ``stages/prepare_commit.py`` with this repository's ``params.yaml``
   (this repository's own history at the pinned commit), the first ``--records`` records;
2. the simulator (:func:`proginstruct.simulator.server.serve_in_thread`) at ``--latency`` in this process,
   with a middleware that logs the arrival time of every chat-completions request;
3. the seed-style collection (``stages/data_collection.py --data_type commit``, params.yaml defaults,
   a fresh reply cache) as a child process, against a model map whose one model has ``"rpm"``;
4. every 0.1 s, the records written so far (the lines of the checkpoint index ``<out>.partial.idx``).

Figures: ``first_record_s`` (time from the child's start to the first record written),
``records_per_10s`` (records written in each 10-second bucket of the run), ``max_requests_any_60s``
(most request arrivals in any 60-second window, sliding over the arrivals), ``requests_first_60s``,
``wall_s``, ``requests``, ``samples`` and the output's SHA-256 (the same with every code version).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from aiohttp import web
from common import REPO, collection_child, default_commit_records, store_labelled, write_model_map

RESULTS = REPO / "bench" / "results" / "rpm.json"


def arrival_log(times: list[float]):  # noqa: ANN201 - an aiohttp middleware
    """An aiohttp middleware appending ``time.monotonic()`` of every chat-completions request to ``times``."""

    @web.middleware
    async def log(request: web.Request, handler):  # noqa: ANN001, ANN202
        if request.path.endswith("/chat/completions"):
            times.append(time.monotonic())
        return await handler(request)

    return log


def max_in_window(times: list[float], width: float = 60.0) -> int:
    """Most of ``times`` (sorted seconds) inside any half-open window ``[t, t + width)``."""
    return max((bisect.bisect_left(times, t + width) - i for i, t in enumerate(times)), default=0)


def run_collection_child(code: Path, inp: Path, out: Path, model_map: Path, cache: Path,
                         extra: list[str]) -> tuple[list[tuple[float, int]], float, int, str]:
    """Run the collection from checkout ``code``; returns ``(progress, t0, exit status, stderr tail)``
    where ``progress`` lists ``(seconds since t0, records written)`` at every change."""
    argv, env = collection_child(code, inp, out, model_map, cache, extra)
    idx = out.with_name(out.name + ".partial.idx")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    progress: list[tuple[float, int]] = [(0.0, 0)]
    while proc.poll() is None:
        time.sleep(0.1)
        try:
            written = max(0, len(idx.read_bytes().splitlines()) - 1)
        except FileNotFoundError:  # not created yet, or renamed away at the end
            continue
        if written != progress[-1][1]:
            progress.append((time.monotonic() - t0, written))
    err = proc.stderr.read()
    return progress, t0, proc.returncode, err.strip().splitlines()[-1] if err.strip() else ""


def bench(args: argparse.Namespace) -> dict:
    from proginstruct.simulator.server import serve_in_thread

    code = Path(args.code).resolve() if args.code else REPO
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="proginstruct-rpm-") as tmp:
        work = Path(tmp)
        inp = default_commit_records(work, args.records)
        times: list[float] = []
        url, stop = serve_in_thread(latency=args.latency, middlewares=(arrival_log(times),))
        try:
            mm = write_model_map(work / "model_map.json", url, rpm=args.rpm)
            out = work / "out.jsonl"
            extra = ["--num_proc", str(args.num_proc)] if args.num_proc else []
            progress, t0, status, tail = run_collection_child(code, inp, out, mm, work / "cache.sqlite", extra)
        finally:
            stop()
        if status != 0:
            raise SystemExit(f"collection failed with status {status}: {tail}")
        wall = time.monotonic() - t0
        n_records = args.records
        # the checkpoint index vanishes when the output is renamed into place: the last records may land then
        if progress[-1][1] < n_records:
            progress.append((wall, n_records))
        buckets = [0] * (int(wall // 10) + 1)
        prev = 0
        for t, n in progress:
            buckets[min(int(t // 10), len(buckets) - 1)] += n - prev
            prev = n
        arrivals = sorted(t - t0 for t in times)
        metrics = json.loads(out.with_suffix(".metrics.json").read_text())
        first = next((t for t, n in progress if n > 0), None)
        return {"label": args.label, "code": str(code), "records": n_records, "rpm": args.rpm,
                "latency_s": args.latency, "num_proc": args.num_proc or "default", "wall_s": round(wall, 1),
                "first_record_s": round(first, 1) if first is not None else None,
                "records_per_10s": buckets, "requests": len(arrivals),
                "max_requests_any_60s": max_in_window(arrivals),
                "requests_first_60s": sum(1 for t in arrivals if t < 60.0),
                "limit_plus_10pct": round(args.rpm * 1.1, 1),
                "samples": metrics.get("samples"), "output_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
                "load_before": load_before}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=60)
    ap.add_argument("--rpm", type=float, default=30.0)
    ap.add_argument("--latency", type=float, default=1.0, help="simulator latency, seconds")
    ap.add_argument("--num_proc", type=int, default=0, help="llm.num_proc (0 = params.yaml's)")
    ap.add_argument("--code", default="", help="checkout to run the collection from (default: this one)")
    ap.add_argument("--label", default="after")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    res = bench(args)
    print(json.dumps(res, indent=1))
    store_labelled(Path(args.out), args.label, res)


if __name__ == "__main__":
    main()
