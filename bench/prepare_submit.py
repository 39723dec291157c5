"""Benchmark for ``prepare_submit`` (SPEC 1.2) on a synthetic CodeNet-shaped corpus.

Run: ``.venv/bin/python bench/prepare_submit.py`` (defaults: 1,000,000 metadata rows over 400 problems,
100,000 source files). Writes ``bench/results/prepare_submit.json``.

The corpus (in a temporary folder, removed afterwards unless ``--keep``):

- ``metadata/pNNNNN.csv``: CodeNet's 12 columns; per problem about ``rows / problems`` rows, users with
  1-10 submissions (35 % one), C++/Python/Java 50/30/20 %, 4 % of users switch language, 55 % of
  users reach ``Accepted`` (20 % of those keep submitting afterwards), dates increasing per user,
  rows shuffled inside a file.
- ``data/<problem>/<language>/<submission>.<ext>``: only histories that can survive the metadata rules
  (one language, an ``Accepted``, two or more submissions up to it) get files, in ``user_id`` order,
  until the problem's share of the file budget (split evenly between the three languages) is spent;
  their submissions after the first Accepted get none. The stage visits histories in ``user_id`` order and stops reading once a problem's caps
  are full, so the histories it reads almost always have their files; metadata rows without a file
  are never read unless a problem runs out of filed histories before its caps fill (then they count
  as ``missing_source``).
- Sources: 20-60 line programs (about 1 KB) from per-language line templates with per-user
  identifiers; an earlier attempt is the final one with 1-3 line edits. Mixed in: 8 % rewritten
  from scratch (low internal similarity), 10 % near-copies of an earlier user's final (external
  similarity), 2 % non-ASCII comments, 3 % identical resubmissions, 2 % blank-line gaps, 1 %
  one-line finals.

The stage runs as a child process (``stages/prepare_submit.py``); its peak memory is the child's
``ru_maxrss`` from ``os.wait4``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "prepare_submit.json"
HEADER = ["submission_id", "problem_id", "user_id", "date", "language", "original_language", "filename_ext",
          "status", "cpu_time", "memory", "code_size", "accuracy"]
LANGS = [("C++", "C++14 (GCC 5.4.1)", "cpp", 0.5), ("Python", "Python (3.4.3)", "py", 0.3),
         ("Java", "Java8 (OpenJDK 1.8.0)", "java", 0.2)]
FAIL = ["Wrong Answer", "Wrong Answer", "Wrong Answer", "Time Limit Exceeded", "Runtime Error", "Compile Error"]
ATTEMPTS = ([1] * 35 + [2] * 25 + [3] * 18 + [4] * 12 + [5] * 6 + [6, 7, 8, 9])

TEMPLATES = {
    "cpp": (["#include <bits/stdc++.h>", "using namespace std;", "", "int main() {"],
            ["    long long {a} = {b} + {n};", "    for (int {i} = 0; {i} < {n}; {i}++) {a} += {b}[{i}];",
             "    if ({a} > {b}) {a} = {b} - {n};", "    cout << {a} << \" \" << {b} << endl;",
             "    {a} = max({a}, {b} * {n});", "    vector<long long> {a}({n}, 0);",
             "    while ({a} > 0) {{ {a} /= {n}; {b}++; }}", "    cin >> {a} >> {b};",
             "    sort({a}.begin(), {a}.end());", "    map<int, int> {a}; {a}[{b}] = {n};"],
            ["    return 0;", "}", ""]),
    "py": (["import sys", "", "", "def {a}():"],
           ["    {a} = {b} + {n}", "    for {i} in range({n}):", "        {a} += {b}[{i}]",
            "    if {a} > {b}:", "        {a} = {b} - {n}", "    print({a}, {b})",
            "    {a} = max({a}, {b} * {n})", "    {a} = [0] * {n}", "    {a}, {b} = map(int, input().split())",
            "    {a}.sort(key=lambda {i}: -{i})"],
           ["", "", "{a}()", ""]),
    "java": (["import java.util.*;", "", "public class Main {", "    public static void main(String[] args) {",
              "        Scanner {a} = new Scanner(System.in);"],
             ["        long {a} = {b} + {n};", "        for (int {i} = 0; {i} < {n}; {i}++) {a} += {b}[{i}];",
              "        if ({a} > {b}) {a} = {b} - {n};", "        System.out.println({a} + \" \" + {b});",
              "        {a} = Math.max({a}, {b} * {n});", "        long[] {a} = new long[{n}];",
              "        while ({a} > 0) {{ {a} /= {n}; {b}++; }}", "        int {a} = {b}.nextInt();",
              "        Arrays.sort({a});", "        Map<Integer, Integer> {a} = new HashMap<>();"],
             ["    }", "}", ""]),
}


def _ident(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 8)))


def _line(rng: random.Random, ext: str, names: list[str]) -> str:
    t = rng.choice(TEMPLATES[ext][1])
    return t.format(a=rng.choice(names), b=rng.choice(names), i=rng.choice("ijk"), n=rng.randint(1, 10 ** 6))


def make_program(rng: random.Random, ext: str) -> list[str]:
    """A 20-60 line program (lines, no trailing newline element) with fresh identifiers."""
    names = [_ident(rng) for _ in range(6)]
    head, _, tail = TEMPLATES[ext]
    body = [_line(rng, ext, names) for _ in range(rng.randint(14, 52))]
    return [h.replace("{a}", names[0]) for h in head] + body + [t.replace("{a}", names[0]) for t in tail]


def history_texts(rng: random.Random, ext: str, n: int, previous_finals: list[list[str]]) -> list[str]:
    """``n`` versions (oldest first) of one user's program, with the corpus quirks listed in the module
    docstring."""
    r = rng.random()
    if r < 0.10 and previous_finals:
        final = list(rng.choice(previous_finals))
        final[rng.randrange(len(final))] = _line(rng, ext, [_ident(rng) for _ in range(3)])
    else:
        final = make_program(rng, ext)
    previous_finals.append(final)
    versions = [final]
    for _ in range(n - 1):
        v = list(versions[0])
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(4, max(5, len(v) - 3))
            op = rng.random()
            if op < 0.5:
                v[k] = _line(rng, ext, [_ident(rng), _ident(rng)])
            elif op < 0.75 and len(v) > 8:
                del v[k]
            else:
                v.insert(k, _line(rng, ext, [_ident(rng), _ident(rng)]))
        versions.insert(0, v)
    q = rng.random()
    if q < 0.08 and n > 1:
        versions[0] = make_program(rng, ext)
    elif q < 0.10:
        versions[-1] = versions[-1][:2] + ["// résultat" if ext != "py" else "# résultat"] + versions[-1][2:]
    elif q < 0.13 and n > 1:
        versions[-2] = list(versions[-1])
    elif q < 0.15:
        versions[-1] = versions[-1][:6] + ["", "", ""] + versions[-1][6:]
    elif q < 0.16:
        versions[-1] = [" ".join(x.strip() for x in versions[-1])]
    return ["\n".join(v) + "\n" for v in versions]


def generate(root: Path, rows: int, files: int, problems: int, seed: int) -> dict:
    """Write the synthetic corpus under ``root``; returns counts (rows, files, bytes, histories with files)."""
    rng = random.Random(seed)
    (root / "metadata").mkdir(parents=True)
    sid = 100_000_000
    uid = 100_000_000
    written_files = written_bytes = filed_histories = 0
    for p in range(problems):
        pid = f"p{p:05d}"
        rows_left = rows // problems + (1 if p < rows % problems else 0)
        budget = files // problems + (1 if p < files % problems else 0)
        files_left = {ext: budget // 3 + (1 if k < budget % 3 else 0) for k, (_, _, ext, _) in enumerate(LANGS)}
        made_dirs: set[Path] = set()
        finals: dict[str, list[list[str]]] = {}
        out: list[list[str]] = []
        date = 1_300_000_000 + p * 3_600
        while rows_left > 0:
            uid += rng.randint(1, 50)
            n = min(rng.choice(ATTEMPTS), rows_left)
            rows_left -= n
            lang = rng.choices(LANGS, weights=[w for *_, w in LANGS])[0]
            langs = [lang] * n
            if rng.random() < 0.04 and n > 1:
                langs[rng.randrange(n)] = rng.choice(LANGS)
            accepted_at = None
            if rng.random() < 0.55:
                accepted_at = n - 1 if (n == 1 or rng.random() < 0.8) else rng.randrange(n - 1)
            statuses = ["Accepted" if k == accepted_at else rng.choice(FAIL) for k in range(n)]
            t = date + rng.randint(0, 30 * 86_400)
            sids, dates = [], []
            for _ in range(n):
                sid += rng.randint(1, 40)
                t += rng.randint(30, 3_000)
                sids.append(f"s{sid:09d}")
                dates.append(str(t))
            texts: list[str] | None = None
            eligible = (accepted_at is not None and accepted_at >= 1 and len({x[0] for x in langs}) == 1)
            if eligible and files_left[lang[2]] >= accepted_at + 1:
                texts = history_texts(rng, lang[2], accepted_at + 1, finals.setdefault(lang[2], []))
                folder = root / "data" / pid / lang[0]
                if folder not in made_dirs:
                    folder.mkdir(parents=True, exist_ok=True)
                    made_dirs.add(folder)
                for s, text in zip(sids, texts, strict=False):
                    data = text.encode("utf-8")
                    (folder / f"{s}.{lang[2]}").write_bytes(data)
                    written_bytes += len(data)
                files_left[lang[2]] -= len(texts)
                written_files += len(texts)
                filed_histories += 1
            user = f"u{uid:09d}"
            for k in range(n):
                name, orig, ext, _ = langs[k]
                size = len(texts[k]) if texts and k < len(texts) else rng.randint(200, 3_000)
                out.append([sids[k], pid, user, dates[k], name, orig, ext, statuses[k],
                            str(rng.choice([0, 10, 20, 50, 120])), str(rng.choice([3200, 5412, 24312])),
                            str(size), f"{rng.randint(0, 10)}/10"])
        rng.shuffle(out)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(out)
        (root / "metadata" / f"{pid}.csv").write_text(buf.getvalue())
    return {"metadata_rows": rows, "problems": problems, "source_files": written_files,
            "source_bytes": written_bytes, "histories_with_files": filed_histories}


def run_stage(root: Path, work: Path) -> dict:
    """Run ``stages/prepare_submit.py`` on ``root`` as a child process; wall time, peak RSS, metrics."""
    out, metrics, err = work / "submit.jsonl", work / "metrics.json", work / "stderr.txt"
    cmd = [sys.executable, str(REPO / "stages" / "prepare_submit.py"), "--params", str(work / "none.yaml"),
           "--root", str(root), "--statements", str(work / "no_statements.json"),
           "--output_path", str(out), "--metrics_path", str(metrics)]
    t0 = time.perf_counter()
    with err.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"stage failed ({proc.returncode}):\n{err.read_text()[-2000:]}")
    summary = [x for x in err.read_text().splitlines() if x.startswith("prepare_submit: kept")]
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "output_bytes": out.stat().st_size, "summary": summary[-1] if summary else "",
            "metrics": json.loads(metrics.read_text())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--problems", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--keep", action="store_true", help="keep the temporary corpus")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_submit_"))
    try:
        t0 = time.perf_counter()
        corpus = generate(work / "codenet", args.rows, args.files, args.problems, args.seed)
        corpus["generate_seconds"] = round(time.perf_counter() - t0, 2)
        print(f"generated {corpus} in {work}", file=sys.stderr)
        load_before = os.getloadavg()[0]
        stage = run_stage(work / "codenet", work)
        m = stage["metrics"]
        result = {
            "benchmark": "prepare_submit",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.system(),
                        "load_average_1m_before_stage": round(load_before, 2)},
            "corpus": corpus,
            "stage_seconds": stage["seconds"],
            "rows_per_second": round(args.rows / stage["seconds"]),
            "peak_rss_mb": stage["peak_rss_mb"],
            "histories_total": m.get("histories", {}).get("total", 0),
            "histories_kept": m.get("histories", {}).get("kept", 0),
            "skipped": m.get("histories", {}).get("skipped", {}),
            "output_bytes": stage["output_bytes"],
            "summary": stage["summary"],
        }
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(json.dumps(result, indent=2, sort_keys=True))
    finally:
        if args.keep:
            print(f"corpus kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
