"""Online-judge submission histories from a CodeNet-layout folder (SPEC 1.2).

Layout under ``root``::

    metadata/pNNNNN.csv                           one file per problem, CodeNet's 12 columns
    data/<problem_id>/<language>/<submission_id>.<filename_ext>
    derived/duplicates/identical_problem_clusters  optional; "pA,pB,..." one cluster a line

Each ``metadata/p<digits>.csv`` is read with a lazy Polars scan (only the needed columns, every value a
string, ragged rows padded with nulls, bad UTF-8 replaced), one problem at a time, so memory is bounded by
the largest problem, not the corpus. Processing order is fixed: problems by id; inside a problem, users by
``user_id``; a user's submissions by ``(date, submission_id)``. Output is therefore byte-identical across
runs.

Per problem, per user (a *history*), in this order (the first failing rule names the skip reason,
counted as ``histories.skipped.<reason>``):

- ``duplicate_problem``: the problem is a non-first member of an identical-problem cluster;
- ``multiple_languages``: the user used more than one ``language`` for the problem (rule 1);
- ``no_accepted``: the user has no ``Accepted`` submission (rule 1);
- the history is cut after the first ``Accepted`` (rule 2);
- ``single_submission``: one submission left (rule 3);
- ``max_per_problem`` / ``max_per_lang_problem``: the problem (or its language) already has as many kept
  histories as allowed (rule 6). Checked before any file is read because a full cap drops the history
  whatever the other rules say, so the output is the same as checking it last; such a history is counted
  under the cap, not under a rule it might also fail;
- ``missing_source`` / ``undecodable_source``: a listed source file is absent or not UTF-8;
- ``final_single_line`` (the stripped final submission has no newline), ``final_four_newlines``
  (it contains ``"\\n\\n\\n\\n"``), ``identical_consecutive``, ``non_ascii`` (rule 3);
- ``low_internal_similarity``: the best ROUGE-L F1 between the final submission and an earlier one is
  below ``internal_similarity_threshold`` (rule 4);
- ``high_external_similarity``: the final submission's ROUGE-L F1 with the final submission of a history
  already *kept* (emitted) for the same problem, any language, is ``>= external_similarity_threshold``
  (rule 5). Histories are visited in ``user_id`` order, so of two near-duplicates the user with the smaller
  id is kept.

The problem id is the metadata file's name (``p00001.csv`` -> ``p00001``); a row naming another problem
is invalid (``problem_id_mismatch``), as are rows with an empty required field, a ``date`` that is not an
integer (CodeNet dates are Unix seconds), a path-like ``submission_id/problem_id/language/filename_ext``
or a repeated ``submission_id``: all counted as ``rows.invalid.<reason>`` and left out. Unusable metadata
files (empty, header without the needed columns, not CSV) are counted as ``files.metadata_<reason>`` with
a warning; none of this stops the run.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import UserError
from ..progress import Bar
from ..ranges import check_params
from ..stats import Stats
from .problem_statements import load_statements
from .rouge import rouge_l_f1, rouge_l_upper_bound, tokenize

#: CodeNet's metadata columns (SPEC 1.2); only :data:`NEEDED_COLUMNS` must be present.
METADATA_COLUMNS = ("submission_id", "problem_id", "user_id", "date", "language", "original_language",
                    "filename_ext", "status", "cpu_time", "memory", "code_size", "accuracy")
NEEDED_COLUMNS = ("submission_id", "problem_id", "user_id", "date", "language", "filename_ext", "status")
ACCEPTED = "Accepted"
CLUSTERS_PATH = Path("derived") / "duplicates" / "identical_problem_clusters"
_METADATA_NAME = re.compile(r"^p\d+\.csv$")

#: ``on_skip(problem_id, user_id, reason)``: told about every skipped history.
SkipHook = Callable[[str, str, str], None]


@dataclass(frozen=True)
class SubmitParams:
    """Caps and thresholds of SPEC 1.2 (defaults from SPEC 9)."""

    max_per_problem: int = 50
    max_per_lang_problem: int = 10
    internal_similarity_threshold: float = 0.7
    external_similarity_threshold: float = 0.4

    def __post_init__(self) -> None:
        """Raises :class:`~proginstruct.ranges.ParamError` for a value out of its range."""
        check_params(asdict(self), "prepare_submit")

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict (for metrics)."""
        return asdict(self)


# --------------------------------------------------------------------------------------------- layout


def metadata_files(root: Path) -> list[Path]:
    """The ``metadata/p<digits>.csv`` files under ``root``, sorted by name (= problem id).

    Raises :class:`UserError` when ``root`` or ``root/metadata`` is not a folder. Other files in
    ``metadata/`` (CodeNet ships ``problem_list.csv`` there) are ignored.
    """
    if not root.is_dir():
        raise UserError(f"{root}: CodeNet root folder not found; pass --root (a folder holding metadata/ and data/)")
    meta = root / "metadata"
    if not meta.is_dir():
        raise UserError(f"{meta}: metadata folder not found; --root must point at a CodeNet-layout folder "
                        "(metadata/pNNNNN.csv, data/<problem>/<language>/...)")
    return sorted(p for p in meta.iterdir() if p.is_file() and _METADATA_NAME.match(p.name))


def load_clusters(path: Path, stats: Stats) -> dict[str, str]:
    """Parse an identical-problem clusters file: ``{dropped problem: the kept first member}``.

    One cluster a line, problem ids separated by commas (spaces and blank lines ignored); the first id
    of a line is kept, the others dropped. A missing file is allowed: warning on stderr and counter
    ``clusters.missing_file``; no problem is dropped.
    """
    if not path.is_file():
        stats.add("clusters.missing_file")
        print(f"warning: {path} not found; no identical problems are dropped", file=sys.stderr)
        return {}
    dropped: dict[str, str] = {}
    for line in path.read_text("utf-8", errors="replace").splitlines():
        ids = [p.strip() for p in line.split(",") if p.strip()]
        if len(ids) < 2:
            continue
        stats.add("clusters.count")
        for pid in ids[1:]:
            if pid != ids[0]:
                dropped.setdefault(pid, ids[0])
    return dropped


# ------------------------------------------------------------------------------------------- metadata


def _nonempty(col: str) -> pl.Expr:
    """Column ``col`` stripped of surrounding whitespace, ``""`` turned into null."""
    s = pl.col(col).str.strip_chars()
    return pl.when(s.str.len_bytes() > 0).then(s).otherwise(None).alias(col)


def scan_metadata(path: Path) -> pl.LazyFrame:
    """Lazy scan of one metadata CSV: the :data:`NEEDED_COLUMNS`, every value a stripped string or null.

    Ragged rows are padded with nulls (or truncated), bad UTF-8 is replaced; nothing is read until the
    frame is collected. Raises a Polars error at collect time for an empty or broken file.
    """
    lf = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy",
                     quote_char='"')
    return lf.select([_nonempty(c) for c in NEEDED_COLUMNS])


def _row_reason(problem_id: str) -> pl.Expr:
    """Why a metadata row is invalid (a string) or null when it is usable."""
    c = pl.col
    unsafe = pl.any_horizontal(
        [c(k).str.contains(r"[/\\]") | c(k).str.starts_with(".") for k in
         ("submission_id", "problem_id", "language", "filename_ext")])
    return (
        pl.when(pl.all_horizontal([c(k).is_null() for k in NEEDED_COLUMNS])).then(pl.lit("blank"))
        .when(c("submission_id").is_null()).then(pl.lit("missing_submission_id"))
        .when(c("problem_id").is_null()).then(pl.lit("missing_problem_id"))
        .when(c("problem_id") != problem_id).then(pl.lit("problem_id_mismatch"))
        .when(c("user_id").is_null()).then(pl.lit("missing_user_id"))
        .when(c("date").is_null()).then(pl.lit("missing_date"))
        .when(c("date").cast(pl.Int64, strict=False).is_null()).then(pl.lit("invalid_date"))
        .when(c("language").is_null()).then(pl.lit("missing_language"))
        .when(c("filename_ext").is_null()).then(pl.lit("missing_filename_ext"))
        .when(c("status").is_null()).then(pl.lit("missing_status"))
        .when(unsafe).then(pl.lit("unsafe_path_field"))
        .otherwise(None)
    )


def problem_histories(path: Path, problem_id: str, stats: Stats) -> pl.DataFrame | None:
    """Read one problem's metadata and reduce it to one row per user (SPEC 1.2 rules 1-3, metadata part).

    Returns a frame sorted by ``user_id`` with columns ``user_id, language, submission_id (list),
    filename_ext (list), reason`` where the lists hold the submissions up to and including the first
    ``Accepted`` in ``(date, submission_id)`` order and ``reason`` is null or one of
    ``multiple_languages, no_accepted, single_submission``. Counts ``rows.*`` (total, valid,
    ``invalid.<reason>``, ``blank``). Returns ``None`` (counted as ``files.metadata_<reason>``, with a
    warning) when the file cannot be used.
    """
    acc = pl.col("status") == ACCEPTED
    upto_first_accepted = (acc.cum_sum() - acc.cast(pl.UInt32)) == 0
    valid = pl.col("reason").is_null()
    try:
        schema = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True,
                             encoding="utf8-lossy").collect_schema()
        missing = [c for c in NEEDED_COLUMNS if c not in schema]
        if missing:
            stats.add("files.metadata_bad_header")
            print(f"warning: {path}: header lacks {', '.join(missing)}; file skipped", file=sys.stderr)
            return None
        rows = (
            scan_metadata(path)
            .with_columns(reason=_row_reason(problem_id))
            .with_columns(  # a repeated submission id: the first valid row wins
                reason=pl.when(valid & ~pl.col("submission_id").is_first_distinct().over(valid))
                .then(pl.lit("duplicate_submission_id")).otherwise(pl.col("reason")))
        )
        reasons = rows.group_by("reason").agg(n=pl.len())
        histories = (
            rows.filter(valid)
            .with_columns(pl.col("date").cast(pl.Int64))
            .sort(["user_id", "date", "submission_id"])
            .group_by("user_id", maintain_order=True)
            .agg(
                n_languages=pl.col("language").n_unique(),
                accepted=acc.any(),
                language=pl.col("language").first(),
                submission_id=pl.col("submission_id").filter(upto_first_accepted),
                filename_ext=pl.col("filename_ext").filter(upto_first_accepted),
            )
            .with_columns(
                reason=pl.when(pl.col("n_languages") > 1).then(pl.lit("multiple_languages"))
                .when(~pl.col("accepted")).then(pl.lit("no_accepted"))
                .when(pl.col("submission_id").list.len() < 2).then(pl.lit("single_submission"))
                .otherwise(None)
            )
            .select("user_id", "language", "submission_id", "filename_ext", "reason")
        )
        counts, result = pl.collect_all([reasons, histories])
    except pl.exceptions.NoDataError:
        stats.add("files.metadata_empty")
        print(f"warning: {path}: empty file; skipped", file=sys.stderr)
        return None
    except pl.exceptions.PolarsError as e:
        stats.add("files.metadata_unreadable")
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"warning: {path}: unreadable CSV ({first}); file skipped", file=sys.stderr)
        return None
    for reason, n in counts.iter_rows():
        stats.add("rows.total", n)
        if reason is None:
            stats.add("rows.valid", n)
        else:
            stats.add("rows.blank" if reason == "blank" else f"rows.invalid.{reason}", n)
    return result


# ------------------------------------------------------------------------------------------- histories


def read_sources(root: Path, problem_id: str, language: str, submission_ids: list[str],
                 exts: list[str]) -> tuple[list[str] | None, str | None]:
    """Read a history's source files ``root/data/<problem_id>/<language>/<id>.<ext>`` as UTF-8 text
    (exact bytes decoded, no newline translation).

    Returns ``(codes, None)`` or ``(None, reason)`` with reason ``missing_source`` (a file is absent or
    unreadable) or ``undecodable_source`` (not valid UTF-8).
    """
    folder = os.path.join(root, "data", problem_id, language)
    codes: list[str] = []
    for sid, ext in zip(submission_ids, exts, strict=True):
        try:
            with open(os.path.join(folder, f"{sid}.{ext}"), "rb") as fh:
                raw = fh.read()
        except OSError:
            return None, "missing_source"
        try:
            codes.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return None, "undecodable_source"
    return codes, None


def text_reason(codes: list[str]) -> str | None:
    """SPEC 1.2 rule 3 on the texts of a history (oldest first, at least two): the skip reason or None."""
    final = codes[-1]
    if "\n" not in final.strip():
        return "final_single_line"
    if "\n\n\n\n" in final:
        return "final_four_newlines"
    if any(a == b for a, b in zip(codes, codes[1:])):
        return "identical_consecutive"
    if not all(c.isascii() for c in codes):
        return "non_ascii"
    return None


def best_internal_similarity(tokens: list[list[str]]) -> float:
    """Best ROUGE-L F1 between the last token list and each earlier one (SPEC 1.2 rule 4)."""
    final = tokens[-1]
    return max((rouge_l_f1(t, final) for t in tokens[:-1]), default=0.0)


def is_near_duplicate(final: list[str], kept: list[list[str]], threshold: float) -> bool:
    """Whether ``final`` has ROUGE-L F1 ``>= threshold`` with any token list of ``kept`` (rule 5).
    Pairs whose length bound cannot reach the threshold are skipped without an LCS."""
    n = len(final)
    for other in kept:
        if rouge_l_upper_bound(n, len(other)) >= threshold and rouge_l_f1(final, other) >= threshold:
            return True
    return False


def prepare_problem(root: Path, problem_id: str, histories: pl.DataFrame, statement: str,
                    params: SubmitParams, stats: Stats,
                    on_skip: SkipHook | None = None) -> Iterator[dict[str, Any]]:
    """Apply SPEC 1.2 rules 3-6 to one problem's candidate histories (from :func:`problem_histories`,
    already free of duplicate-problem skips) and yield output records in ``user_id`` order. Every
    history is counted as ``histories.kept`` or ``histories.skipped.<reason>`` (and passed to ``on_skip``).

    Record: ``{"id": "<problem_id>:<user_id>", "source": "submit", "problem_id", "user_id", "language",
    "submission_ids": [str], "submissions": [str] (oldest first, ending with the first Accepted),
    "problems_contexts": statement}``.
    """
    kept_total = 0
    kept_per_lang: Counter[str] = Counter()
    kept_finals: list[list[str]] = []  # tokens of the kept final submissions (rule 5)
    columns = [histories.get_column(c).to_list()
               for c in ("user_id", "language", "submission_id", "filename_ext", "reason")]
    for user_id, lang, submission_ids, exts, reason in zip(*columns, strict=True):
        if reason is None and kept_total >= params.max_per_problem:
            reason = "max_per_problem"
        elif reason is None and kept_per_lang[lang] >= params.max_per_lang_problem:
            reason = "max_per_lang_problem"
        codes: list[str] | None = None
        if reason is None:
            codes, reason = read_sources(root, problem_id, lang, submission_ids, exts)
        if codes is not None and reason is None:
            reason = text_reason(codes)
        if codes is not None and reason is None:
            tokens = [tokenize(c) for c in codes]
            if best_internal_similarity(tokens) < params.internal_similarity_threshold:
                reason = "low_internal_similarity"
            elif is_near_duplicate(tokens[-1], kept_finals, params.external_similarity_threshold):
                reason = "high_external_similarity"
            else:
                kept_finals.append(tokens[-1])
        if reason is not None or codes is None:
            stats.add(f"histories.skipped.{reason}")
            if on_skip is not None:
                on_skip(problem_id, user_id, str(reason))
            continue
        kept_total += 1
        kept_per_lang[lang] += 1
        stats.add("histories.kept")
        yield {
            "id": f"{problem_id}:{user_id}",
            "source": "submit",
            "problem_id": problem_id,
            "user_id": user_id,
            "language": lang,
            "submission_ids": submission_ids,
            "submissions": codes,
            "problems_contexts": statement,
        }


def prepare_submit(root: str | Path, statements: str | Path | None, params: SubmitParams, stats: Stats,
                   progress: bool = False, on_skip: SkipHook | None = None) -> Iterator[dict[str, Any]]:
    """Yield SPEC 1 submit records (plus provenance) from a CodeNet-layout folder, in problem-id order.

    ``statements`` is the statements JSON (missing = allowed, every problem gets ``""``). Counters go to
    ``stats`` (see the module docstring); ``progress`` shows a bar over metadata files on stderr;
    ``on_skip(problem_id, user_id, reason)`` is called for every skipped history.
    Raises :class:`UserError` for a missing ``root``/``metadata`` folder or a statements file that is
    not a JSON object; every other problem is counted and skipped.
    """
    root = Path(root)
    files = metadata_files(root)
    rendered = load_statements(statements, stats)
    dropped = load_clusters(root / CLUSTERS_PATH, stats)
    stats.add("files.metadata", len(files))
    if not files:
        print(f"warning: {root / 'metadata'}: no pNNNNN.csv files", file=sys.stderr)
    for path in Bar(files, desc="prepare_submit", unit="problem", disable=not progress, file=sys.stderr):
        problem_id = path.stem
        histories = problem_histories(path, problem_id, stats)
        if histories is None:
            continue
        stats.add("problems.total")
        stats.add("histories.total", histories.height)
        if problem_id in dropped:
            stats.add("problems.duplicate")
            stats.add("histories.skipped.duplicate_problem", histories.height)
            if on_skip is not None:
                for user_id in histories.get_column("user_id"):
                    on_skip(problem_id, user_id, "duplicate_problem")
            continue
        statement = rendered.get(problem_id, "")
        n_kept = 0
        for record in prepare_problem(root, problem_id, histories, statement, params, stats, on_skip):
            n_kept += 1
            yield record
        if n_kept:
            stats.add("problems.with_histories")
            if not statement:
                stats.add("problems.without_statement")


def summary_line(stats: Stats) -> str:
    """One line for stderr: kept/total histories, skips and invalid rows by reason, file problems."""
    def group(prefix: str) -> str:
        items = sorted((k[len(prefix):], v) for k, v in stats.items() if k.startswith(prefix) and v)
        return ", ".join(f"{k}={v}" for k, v in items) or "none"

    line = (f"prepare_submit: kept {stats['histories.kept']} of {stats['histories.total']} histories "
            f"from {stats['problems.total']} problems; skipped: {group('histories.skipped.')}; "
            f"invalid rows: {group('rows.invalid.')}")
    files = group("files.metadata_")
    if files != "none":
        line += f"; bad metadata files: {files}"
    missing = [name for name, key in (("statements", "statements.missing_file"),
                                      ("clusters", "clusters.missing_file")) if stats[key]]
    if missing:
        line += f"; missing: {', '.join(missing)}"
    return line
