"""The human dataset report, ``reports/dataset.md``: this run's figures beside the paper's (SPEC 9).

Pure text rendering of the report JSON (:func:`stage.build_report`); no timestamps or paths that vary,
so the same samples give the same bytes.
"""

from __future__ import annotations

from typing import Any

from ..area.stage import LOC_KINDS, SAMPLE_TYPES
from .paper import PAPER, source_label

NA = "—"
SIMULATOR_MODEL = "proginstruct-simulator"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header: list[str], rows: list[list[Any]], align: str = "r") -> list[str]:
    """The lines of a Markdown table; ``align="r"``: every column but the first right-aligned."""
    sep = ["---"] + [("---:" if align == "r" else "---")] * (len(header) - 1)
    return [_row(header), _row(sep), *(_row(r) for r in rows)]


def _f(x: float) -> str:
    return f"{x:.2f}"


def _mm(stat: dict[str, Any]) -> str:
    return f"{_f(stat['mean'])} / {stat['max']}"


def figures_table(report: dict[str, Any], groups: list[str]) -> list[str]:
    """Samples, languages, history and lengths per group, each beside the paper's column (its Table 2)."""
    header = [""]
    for g in groups:
        header += [source_label(g), "paper"]
    lines = [
        ("samples", lambda f: f["samples"], "samples"),
        ("languages", lambda f: f["languages"], None),
        ("history snippets, mean / max", lambda f: _mm(f["history"]), None),
        ("input length, characters, mean / max", lambda f: _mm(f["input"]["chars"]), None),
        ("input length, whitespace tokens, mean / max", lambda f: _mm(f["input"]["tokens"]), None),
        ("output length, characters, mean / max", lambda f: _mm(f["output"]["chars"]), None),
        ("output length, whitespace tokens, mean / max", lambda f: _mm(f["output"]["tokens"]), None),
    ]
    rows = []
    for label, get, paper_key in lines:
        row: list[Any] = [label]
        for g in groups:
            paper = PAPER.get(g, {}).get(paper_key) if paper_key else None
            row += [get(report[g]), paper or NA]
        rows.append(row)
    return table(header, rows)


def mix_table(report: dict[str, Any], groups: list[str]) -> list[str]:
    """Share of C / H,C / C,U / H,C,U samples per group, this run then the paper (its Table 3)."""
    rows = []
    for g in groups:
        rows.append([f"{source_label(g)}", "this run", *(_f(report[g]["mix"][t]) for t in SAMPLE_TYPES)])
        paper = PAPER.get(g, {}).get("mix")
        rows.append(["", "paper", *((f"{paper[t]:.1f}" if paper else NA) for t in SAMPLE_TYPES)])
    return table(["source", "", *(f"{t} %" for t in SAMPLE_TYPES)], rows)


def area_table(report: dict[str, Any], groups: list[str]) -> list[str]:
    """Shares of loc none / cursor / range and the no-change samples per group."""
    rows = [[source_label(g), *(_f(report[g]["loc"][k]) for k in LOC_KINDS),
             report[g]["no_change"]["samples"], _f(report[g]["no_change"]["share"])] for g in groups]
    return table(["source", *(f"loc {k} %" for k in LOC_KINDS), "no-change samples", "no-change %"], rows)


def roles_table(report: dict[str, Any], groups: list[str]) -> list[str]:
    """Per group and role: calls, attempts, rejected replies, rejection and failure rates."""
    rows = []
    for g in groups:
        for role, r in (report[g].get("roles") or {}).items():
            rows.append([source_label(g), role, r["calls"], r["attempts"], r["rejected"],
                         _f(r["rejection_rate"]), r["failed"], _f(r["failure_rate"])])
    if not rows:
        return ["No collection metrics were found, so there are no role figures."]
    return table(["source", "role", "calls", "attempts", "rejected replies", "rejection rate %",
                   "failed calls", "failure rate %"], rows)


def draws_table(report: dict[str, Any], groups: list[str]) -> list[str]:
    """Per group: input records, draws tried, skipped draws by reason, samples, mean samples per record and
    records by samples given (SPEC 6, from the collection metrics)."""
    rows = []
    for g in groups:
        d = report[g].get("draws")
        if not d or not d["records"]:
            continue
        skipped = ", ".join(f"{r} {n}" for r, n in d["skipped"].items()) or "none"
        spread = ", ".join(f"{k}: {n}" for k, n in d["samples_per_record"]["records"].items())
        rows.append([source_label(g), d["records"], d["tried"], skipped, d["samples"],
                     _f(d["samples_per_record"]["mean"]), spread])
    if not rows:
        return ["No collection metrics were found, so there are no draw figures."]
    return table(["source", "input records", "draws", "skipped draws", "samples", "samples per record",
                   "records by samples given"], rows)


def languages_table(langs: list[dict[str, Any]], sources: list[str]) -> list[str]:
    """Samples per language and source (rows of the languages plot table)."""
    rows = [[r["lang"], *(r[s] for s in sources), r["total"]] for r in langs]
    return table(["language", *(source_label(s) for s in sources), "total"], rows)


def models_line(models: dict[str, int]) -> list[str]:
    """Which models made the samples, with a warning when it was the built-in simulator."""
    listed = ", ".join(f"`{m or '(unknown)'}` ({n})" for m, n in models.items())
    out = [f"Samples per model: {listed}."]
    if SIMULATOR_MODEL in models:
        out += ["", f"> **Note:** samples marked `{SIMULATOR_MODEL}` come from the built-in simulated model, not a "
                "language model: they show the recipe works, not what a real model writes."]
    return out


DEFINITIONS = [
    "- **history snippets**: snapshots in `history` (earlier versions of the file).",
    "- **input**: all history code + current code + instruction; **output**: next code + chat. Lengths are "
    "summed over those parts, in characters (code points) and in whitespace-separated tokens.",
    "- **languages**: distinct non-empty `current.lang` values.",
    "- **mix**: C current only, H history, U user instruction (H when `history` is non-empty, U when `user` is).",
    "- **loc**: no target area / a cursor / a selected range (SPEC 7); **no change**: `next.code == current.code`.",
    "- **rejection rate**: LLM replies rejected by the role's checks / attempts; **failure rate**: role calls "
    "that gave up after `max_try` attempts (or a transport error) / calls. From `metrics/collect_<source>.json` "
    "and, for the AI programmer, `metrics/aiprogrammer.json` (the programmer role).",
    "- **draws**: candidate versions drawn as `current` (SPEC 6); a skipped draw (no history at version 0, a "
    "blank current without instruction, no candidate change, a failed role) is redrawn until `max_per_sample` "
    "samples or no candidate is left. **samples per record**: samples the collection gave per valid input "
    "record (before merge removes duplicates); **records by samples given**: `k: records that gave k samples`.",
    "- **paper**: the CursorCore paper's figures as quoted in SPEC 9 (sample counts and the mix); "
    f"{NA} where the SPEC quotes none.",
]


def render_markdown(report: dict[str, Any], sources: list[str], langs: list[dict[str, Any]],
                    models: dict[str, int], dataset: str, extra: list[str] | None = None) -> str:
    """The whole ``dataset.md``: ``report`` maps ``"overall"`` and each source to its figures; ``langs`` is
    the languages plot table as dicts; ``dataset`` the dataset path shown in the text; ``extra`` more
    Markdown lines (whole sections) placed before the plots."""
    groups = [*sources, "overall"]
    n = report["overall"]["samples"]
    out = [
        "# Dataset report",
        "",
        f"The `report` stage measured `{dataset}`: {n} samples from {len(sources)} source"
        f"{'s' if len(sources) != 1 else ''} ({', '.join(source_label(s) for s in sources) or 'none'}). "
        "The same figures are in `metrics/report.json` (`dvc metrics show`); the plot data is in `plots/*.csv` "
        "(`dvc plots show`).",
        "",
        *models_line(models),
        "",
        "## Samples, languages and lengths",
        "",
        "Beside each source, the paper's figure (cf. CursorCore, Table 2).",
        "",
        *figures_table(report, groups),
        "",
        "## Mix of inputs",
        "",
        "Share of samples by the inputs present, this run and the paper (cf. CursorCore, Table 3).",
        "",
        *mix_table(report, groups),
        "",
        "## Target area and no-change samples",
        "",
        *area_table(report, groups),
        "",
        "## LLM roles",
        "",
        *roles_table(report, groups),
        "",
        "## Draws and samples per record",
        "",
        *draws_table(report, groups),
        "",
        "## Languages",
        "",
        *languages_table(langs, sources),
        "",
        *(extra or []),
        "## Plots",
        "",
        "![History snapshots per sample](plots/history.png)",
        "",
        "![Input and output lengths](plots/lengths.png)",
        "",
        "![Languages](plots/languages.png)",
        "",
        "## Definitions",
        "",
        *DEFINITIONS,
        "",
    ]
    return "\n".join(out)
