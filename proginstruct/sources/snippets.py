"""Finished code snippets for the AI-programmer source (SPEC 1 "snippets").

Accepted inputs (:func:`read_snippets`):

- ``.json``: a list whose items are strings (the user's format: language unknown, ``lang = ""``) or
  objects ``{"content": str, "lang": str, "id": str}`` (``lang`` and ``id`` optional; the text field
  is ``text_column``, default ``"content"``). Nothing is guessed for bare strings.
- ``.jsonl``: one value a line: a string, an object as above, or a list of strings.
- ``.parquet``: the ``text_column`` column (strings, or lists of strings); a string ``lang`` column
  is used when present.
- a directory: every source file below it (hidden folders, ``node_modules`` and ``__pycache__``
  skipped; binary, non-UTF-8, over 1 MB or data/markup files skipped), ``lang`` from the extension
  (:mod:`proginstruct.sources.languages`), as whole files (``split="file"``) or top-level definitions
  (``split="definitions"``: Python through :mod:`ast`, brace languages by top-level brace balance,
  other languages whole files), kept when ``min_lines <= lines <= max_lines``.

Every input: blank snippets and exact duplicates (same text) are dropped, and counted. A snippet's
``id`` is its record's ``id`` when given, else 16 hex of the SHA-256 of its text (so seeds do not
depend on input order).
"""

from __future__ import annotations

import ast
import bisect
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRecord, UserError
from ..records import read_records
from ..stats import Stats
from .languages import language_of

SPLITS = ("file", "definitions")
BAD_RECORD_POLICIES = ("skip", "fail")
MAX_FILE_BYTES = 1 << 20
SKIP_DIRS = frozenset({"node_modules", "__pycache__"})
# languages of data and prose files: not code to invent a writing history for
NOT_CODE = frozenset({"markdown", "restructuredtext", "json", "yaml", "toml", "xml", "tex", "html", "css",
                      "scss"})
BRACE_LANGS = frozenset({"c", "c++", "c#", "java", "javascript", "typescript", "go", "rust", "kotlin",
                         "scala", "swift", "php", "dart", "objective-c", "objective-c++", "shell"})
_WARN_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Snippet:
    """One finished piece of code: ``id``, ``content`` (exact text), ``lang`` (``""`` when unknown) and,
    for directory inputs, ``path`` (relative, POSIX, with ``:<first line>`` for a definition)."""

    id: str
    content: str
    lang: str = ""
    path: str = ""


def snippet_id(content: str) -> str:
    """16 hex of the SHA-256 of ``content`` (UTF-8)."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def count_lines(content: str) -> int:
    """Lines of ``content`` (SPEC 2 split) without its trailing newlines; ``""`` counts as 0."""
    body = content.rstrip("\n")
    return body.count("\n") + 1 if body else 0


def read_snippets(path: str | os.PathLike, *, text_column: str = "content", split: str = "file",
                  min_lines: int = 10, max_lines: int = 120, on_bad_record: str = "skip",
                  stats: Stats | None = None) -> Iterator[Snippet]:
    """Yield the snippets of ``path`` (``.json``/``.jsonl``/``.parquet`` file or directory) in input order.

    ``split``, ``min_lines`` and ``max_lines`` apply to directory inputs only (files are the user's
    chosen snippets). Counters go to ``stats``: ``snippets.read``, ``skipped.<reason>`` (``empty``,
    ``duplicate``, ``bad_record``, ``too_short``, ``too_long``, ``binary``, ``not_utf8``, ``too_large``,
    ``unknown_language``, ``not_code``, ``unparsable``).
    Raises :class:`UserError` for a missing path, an unknown option, a Parquet file without
    ``text_column``, or (``on_bad_record="fail"``) a malformed record (:class:`BadRecord`: file, index,
    reason).
    """
    if split not in SPLITS:
        raise UserError(f"aiprogrammer.split: unknown value {split!r}; use one of {', '.join(SPLITS)}")
    if on_bad_record not in BAD_RECORD_POLICIES:
        raise UserError(f"aiprogrammer.on_bad_record: unknown value {on_bad_record!r}; use skip or fail")
    if min_lines > max_lines:
        raise UserError(f"aiprogrammer: min_lines ({min_lines}) is above max_lines ({max_lines}); "
                        "fix params.yaml")
    st = stats if stats is not None else Stats()
    p = Path(path)
    if p.is_dir():
        raw: Iterator[Snippet] = _from_tree(p, split, min_lines, max_lines, st)
    else:
        raw = _from_file(p, text_column, on_bad_record, st)
    seen: set[str] = set()
    for snip in raw:
        if not snip.content.strip():
            st.add("skipped.empty")
            continue
        key = hashlib.sha256(snip.content.encode("utf-8")).digest()
        if key in seen:
            st.add("skipped.duplicate")
            continue
        seen.add(key)
        st.add("snippets.read")
        yield snip


# ------------------------------------------------------------------ files
def _from_file(p: Path, text_column: str, on_bad: str, st: Stats) -> Iterator[Snippet]:
    if p.suffix.lower() == ".parquet":
        _check_parquet_column(p, text_column)
    warned = 0
    for index, record in read_records(p):
        try:
            yield from _from_record(p, index, record, text_column)
        except BadRecord as err:
            if on_bad == "fail":
                raise
            st.add("skipped.bad_record")
            if warned < _WARN_LIMIT:
                sys.stderr.write(f"warning: {err} (skipped; on_bad_record=fail stops instead)\n")
                warned += 1


def _from_record(p: Path, index: int, record: Any, text_column: str) -> Iterator[Snippet]:
    """The snippets of one record (SPEC 1 snippets); raises :class:`BadRecord` for a malformed one."""
    if isinstance(record, str):
        yield Snippet(snippet_id(record), record)
    elif isinstance(record, list):
        if not all(isinstance(s, str) for s in record):
            raise BadRecord(str(p), index, "a list record must hold only strings (one snippet each)")
        for s in record:
            yield Snippet(snippet_id(s), s)
    elif isinstance(record, dict):
        text = record.get(text_column)
        if isinstance(text, list) and all(isinstance(s, str) for s in text):
            texts = text
        elif isinstance(text, str):
            texts = [text]
        else:
            raise BadRecord(str(p), index, f"expected a string in field {text_column!r} "
                            f"(got {type(text).__name__}); fix the record or set aiprogrammer.text_column")
        lang = record.get("lang")
        if lang is not None and not isinstance(lang, str):
            raise BadRecord(str(p), index, f"field 'lang' must be a string, got {type(lang).__name__}")
        rid = record.get("id")
        for k, t in enumerate(texts):
            if not isinstance(rid, str | int):
                sid = snippet_id(t)
            else:
                sid = str(rid) if len(texts) == 1 else f"{rid}.{k}"
            yield Snippet(sid, t, (lang or "").strip().lower())
    else:
        raise BadRecord(str(p), index, f"expected a string, a list of strings or an object with "
                        f"{text_column!r}, got {type(record).__name__}")


def _check_parquet_column(p: Path, text_column: str) -> None:
    import pyarrow.parquet as pq

    names = pq.read_schema(p).names
    if text_column not in names:
        raise UserError(f"{p}: no column {text_column!r} (columns: {', '.join(names)}); "
                        "set aiprogrammer.text_column / --text_column")


# ------------------------------------------------------------------ directory trees
def _from_tree(root: Path, split: str, min_lines: int, max_lines: int, st: Stats) -> Iterator[Snippet]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(filenames):
            f = Path(dirpath) / name
            rel = f.relative_to(root).as_posix()
            lang = language_of(rel)
            if not lang:
                st.add("skipped.unknown_language")
                continue
            if lang in NOT_CODE:
                st.add("skipped.not_code")
                continue
            text = _read_text(f, st)
            if text is None:
                continue
            for first, piece in _split(text, lang, split, st):
                n = count_lines(piece)
                if n < min_lines:
                    st.add("skipped.too_short")
                elif n > max_lines:
                    st.add("skipped.too_long")
                else:
                    where = rel if split == "file" else f"{rel}:{first + 1}"
                    yield Snippet(snippet_id(piece), piece, lang, where)


def _read_text(f: Path, st: Stats) -> str | None:
    """The UTF-8 text of ``f``, or ``None`` (counted) when it is too large, binary or not UTF-8."""
    try:
        if f.stat().st_size > MAX_FILE_BYTES:
            st.add("skipped.too_large")
            return None
        data = f.read_bytes()
    except OSError:
        st.add("skipped.unreadable")
        return None
    if b"\0" in data[:8000]:
        st.add("skipped.binary")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        st.add("skipped.not_utf8")
        return None


def _split(text: str, lang: str, split: str, st: Stats) -> list[tuple[int, str]]:
    """``(first line, text)`` pieces of a file: the whole file, or its top-level definitions."""
    if split == "file":
        return [(0, text)]
    lines = text.split("\n")
    if lang == "python":
        try:
            spans = python_definitions(text)
        except (SyntaxError, ValueError, RecursionError):
            st.add("skipped.unparsable")
            return []
    elif lang in BRACE_LANGS:
        spans = brace_definitions(text, lang)
    else:
        st.add("split.whole_file")
        return [(0, text)]
    return [(a, "\n".join(lines[a:b]) + "\n") for a, b in spans]


def python_definitions(text: str) -> list[tuple[int, int]]:
    """Top-level functions and classes of Python ``text`` as half-open 0-based line ranges ``[a, b)``,
    decorators and the comment lines right above included. Raises ``SyntaxError`` for invalid code."""
    lines = text.split("\n")
    spans = []
    for node in ast.parse(text).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        a = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        while a > 0 and lines[a - 1].lstrip().startswith("#"):
            a -= 1
        spans.append((a, node.end_lineno or node.lineno))
    return spans


_STRINGS_C = r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\''
_TOKEN = {
    "c": re.compile(r"//[^\n]*|/\*.*?\*/|" + _STRINGS_C + r"|[{}]", re.DOTALL),
    "rust": re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\\n])\'|[{}]', re.DOTALL),
    "js": re.compile(r"//[^\n]*|/\*.*?\*/|" + _STRINGS_C + r"|`(?:\\.|[^`\\])*`|[{}]", re.DOTALL),
    "shell": re.compile(r"(?<![$\w])#[^\n]*|\"(?:\\.|[^\"\\])*\"|'[^']*'|[{}]", re.DOTALL),
}


def _token_re(lang: str) -> re.Pattern[str]:
    if lang == "rust":
        return _TOKEN["rust"]
    if lang in ("javascript", "typescript", "go", "kotlin", "scala", "dart"):
        return _TOKEN["js"]
    if lang == "shell":
        return _TOKEN["shell"]
    return _TOKEN["c"]


def brace_definitions(text: str, lang: str) -> list[tuple[int, int]]:
    """Top-level brace-balanced units of ``text`` as half-open 0-based line ranges ``[a, b)``.

    A unit starts at a non-blank line at brace depth 0 and ends at the first line after which the depth
    is back to 0, having been above 0; a run of brace-less lines (imports, declarations) ending at a
    blank line is not a unit. Braces in comments, strings and character literals are ignored (a simple
    tokenizer per language family; unbalanced input never raises).
    """
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    end_depth = [None] * len(lines)  # type: list[int | None]
    max_depth = [0] * len(lines)
    depth = 0
    for m in _token_re(lang).finditer(text):
        tok = m.group(0)
        if tok not in "{}":
            continue
        i = bisect.bisect_right(starts, m.start()) - 1
        depth = depth + 1 if tok == "{" else max(0, depth - 1)
        end_depth[i] = depth
        max_depth[i] = max(max_depth[i], depth)
    carry = 0
    for i in range(len(lines)):
        start_depth = carry
        if end_depth[i] is None:
            end_depth[i] = carry
        max_depth[i] = max(max_depth[i], start_depth)
        carry = end_depth[i]
    spans = []
    begin, opened = None, False
    for i, line in enumerate(lines):
        if begin is None:
            if not line.strip() or (i > 0 and end_depth[i - 1]):
                continue
            begin, opened = i, False
        opened = opened or max_depth[i] > 0
        if end_depth[i] == 0:
            if opened:
                spans.append((begin, i + 1))
                begin = None
            elif not line.strip():
                begin = None
    return spans
