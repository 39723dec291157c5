"""Outages longer than the retry budget (docs/models-and-scale.md, "Outages"): no sample may be lost.

Run: ``.venv/bin/python bench/outage.py`` (defaults: the first 50 records of the default commit input; a
429 storm of 6.5 s with ``Retry-After: 0.5`` against ``llm.max_retries`` 10, which is a 65 s storm with
``Retry-After: 5`` scaled down ten times; a 5xx outage of 6.5 s against ``llm.max_retries`` 3: both
outlast the retry budget). ``--code DIR`` runs the collection from another checkout (before/after);
``--label`` names the run in ``bench/results/outage.json``.

Scenarios, each a seed-style collection (``stages/data_collection.py --data_type commit``, params.yaml
defaults, a fresh reply cache) as a child process against the simulator in this process:

- ``clean``: no fault;
- ``storm_429``: every chat-completions request answered 429 with ``Retry-After`` from the first request
  for ``--storm`` seconds, then normally;
- ``outage_5xx``: every request answered 500 for ``--storm`` seconds, then normally
  (``max_retries`` 3, ``retry_backoff`` 0.05 s, ``endpoint_cooldown`` 0.2 s: the retry budget is spent
  within the outage);
  when the run stops with an error, it is run again after the outage (``rerun``).

Figures per scenario: exit status, samples, draws tried and skipped by reason, the ``faults.*`` and
``errors.*`` counters, wall time, whether the output has the clean run's bytes, and the error line when it
stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
import time
from pathlib import Path

from aiohttp import web
from common import REPO, collection_child, default_commit_records, store_labelled, write_model_map

RESULTS = REPO / "bench" / "results" / "outage.json"


class Storm:
    """An aiohttp middleware: from the first chat-completions request, answer ``status`` (429 with
    ``Retry-After``, or 500) for ``seconds``, then pass requests through."""

    def __init__(self, status: int, seconds: float, retry_after: str):
        self.status, self.seconds, self.retry_after = status, seconds, retry_after
        self.start: float | None = None
        self.answered = 0

        @web.middleware
        async def middleware(request: web.Request, handler):  # noqa: ANN001, ANN202
            if request.path.endswith("/chat/completions"):
                now = time.monotonic()
                if self.start is None:
                    self.start = now
                if now - self.start < self.seconds:
                    self.answered += 1
                    headers = {"Retry-After": self.retry_after} if self.status == 429 else {}
                    return web.json_response({"error": {"message": f"simulated {self.status}"}},
                                             status=self.status, headers=headers)
            return await handler(request)

        self.middleware = middleware


def _collect(code: Path, inp: Path, out: Path, mm: Path, cache: Path, extra: list[str]) -> dict:
    argv, env = collection_child(code, inp, out, mm, cache, extra)
    metrics = out.with_suffix(".metrics.json")
    metrics.unlink(missing_ok=True)
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=code, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    m = json.loads(metrics.read_text()) if metrics.exists() else {}
    lines = proc.stderr.strip().splitlines()
    return {"exit": proc.returncode, "wall_s": round(wall, 1), "samples": m.get("samples"),
            "draws": m.get("draws", {}), "faults": m.get("faults", {}), "errors": m.get("errors", {}),
            "complete": m.get("complete", True) if m else None,
            "error_line": next((ln for ln in reversed(lines) if ln.startswith("error:")), ""),
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest() if out.exists() else None}


def bench(args: argparse.Namespace) -> dict:
    from proginstruct.simulator.server import serve_in_thread

    code = Path(args.code).resolve() if args.code else REPO
    res: dict = {"label": args.label, "code": str(code), "records": args.records, "storm_s": args.storm,
                 "retry_after": args.retry_after, "max_retries": args.max_retries,
                 "max_retries_5xx": args.max_retries_5xx}
    with tempfile.TemporaryDirectory(prefix="proginstruct-outage-") as tmp:
        work = Path(tmp)
        inp = default_commit_records(work, args.records)
        common = ["--max_retries", str(args.max_retries)]
        fast = ["--max_retries", str(args.max_retries_5xx), "--retry_backoff", "0.05", "--endpoint_cooldown", "0.2"]
        scenarios = [("clean", None, []), ("storm_429", Storm(429, args.storm, args.retry_after), common),
                     ("outage_5xx", Storm(500, args.storm, ""), fast)]
        for name, storm, extra in scenarios:
            url, stop = serve_in_thread(middlewares=(storm.middleware,) if storm else ())
            try:
                mm = write_model_map(work / f"mm_{name}.json", url)
                out, cache = work / f"{name}.jsonl", work / f"{name}.sqlite"
                run = _collect(code, inp, out, mm, cache, extra)
                if run["exit"] != 0 and storm is not None:
                    while time.monotonic() - (storm.start or 0) < storm.seconds:  # rerun once the outage is over
                        time.sleep(0.1)
                    run["rerun"] = _collect(code, inp, out, mm, cache, extra)
                if storm is not None:
                    run["fault_replies"] = storm.answered
            finally:
                stop()
            res[name] = run
            print(name, json.dumps(run), flush=True)
    clean = res["clean"]["sha256"]
    for name in ("storm_429", "outage_5xx"):
        final = res[name].get("rerun", res[name])
        res[name]["same_bytes_as_clean"] = final["sha256"] == clean
        res[name]["samples_lost"] = (res["clean"]["samples"] or 0) - (final["samples"] or 0)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=50)
    ap.add_argument("--storm", type=float, default=6.5, help="seconds of 429s / 500s from the first request")
    ap.add_argument("--retry_after", default="0.5", help="Retry-After of the 429s, seconds")
    ap.add_argument("--max_retries", type=int, default=10, help="llm.max_retries of the 429 storm")
    ap.add_argument("--max_retries_5xx", type=int, default=3, help="llm.max_retries of the 5xx outage")
    ap.add_argument("--code", default="", help="checkout to run the collection from (default: this one)")
    ap.add_argument("--label", default="after")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    store_labelled(Path(args.out), args.label, bench(args))


if __name__ == "__main__":
    main()
