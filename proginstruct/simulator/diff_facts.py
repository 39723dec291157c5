"""Reading a unified diff for the simulated model: which lines changed, and inside which definition.

A unified diff (SPEC 2, no ``---``/``+++`` header) of a known current code is read into
:class:`DiffFacts` (:func:`analyze_diff`): its runs of consecutive changed lines (:class:`Run`), each with
the 1-based line of the current code where it starts and the definition enclosing it. The lines are
cut to :data:`~proginstruct.simulator.code_lines.MAX_LINE` characters. Pure, deterministic, never raises.
:mod:`proginstruct.simulator.describe` says these facts in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .code_lines import MAX_LINE, definition_of, definitions_in, indent_of

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Run:
    """One run of consecutive changed lines of a diff: ``removed`` / ``added`` lines (without their
    prefix), the 1-based ``line`` of ``current`` where it starts, and ``scope``: ``(kind, name)`` of the
    definition enclosing it in ``current`` (``None`` at top level, or when ``current`` is unknown)."""

    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    line: int = 1
    scope: tuple[str, str] | None = None


@dataclass
class DiffFacts:
    """A unified diff read for phrasing: its ``runs`` in order, ``hunks`` count and ``lang``."""

    runs: list[Run] = field(default_factory=list)
    hunks: int = 0
    lang: str = ""

    @property
    def added(self) -> list[str]:
        """Every added line (without its ``+``), in diff order."""
        return [ln for r in self.runs for ln in r.added]

    @property
    def removed(self) -> list[str]:
        """Every removed line (without its ``-``), in diff order."""
        return [ln for r in self.runs for ln in r.removed]


def analyze_diff(diff: str, current: str | list[str] = "", lang: str = "") -> DiffFacts:
    """Read a unified diff (SPEC 2, no ``---``/``+++`` header) of ``current`` (text, or its lines) into
    :class:`DiffFacts`. Hunk positions are 1-based lines of ``current``. Never raises."""
    facts = DiffFacts(lang=lang)
    cur_lines = current.split("\n") if isinstance(current, str) and current else list(current)
    old_line, run = 1, None
    for line in diff.split("\n"):
        m = _HUNK_RE.match(line)
        if m:
            facts.hunks += 1
            old_line = int(m.group(1)) + (1 if m.group(2) == "0" else 0)
            run = None
            continue
        tag, body = line[:1], line[1:]
        if line and tag in "-+":
            if run is None:
                run = Run(line=old_line)
                if cur_lines:
                    run.scope = _enclosing(cur_lines, old_line - 1, indent_of(body))
                facts.runs.append(run)
            (run.removed if tag == "-" else run.added).append(body[:MAX_LINE])
            old_line += tag == "-"
        else:
            run = None
            old_line += 1
    for run in facts.runs:  # a changed definition line: the change is inside that definition
        in_added = definitions_in(run.added)
        common = [d for d in definitions_in(run.removed) if d in in_added]
        if common and run.removed and definition_of(run.removed[0]) is not None:
            run.scope = ("function", common[0])
    return facts


def _enclosing(lines: list[str], index: int, indent: int) -> tuple[str, str] | None:
    """The definition enclosing 0-based line ``index`` of ``lines`` for code at indentation ``indent``.

    Scans upward: a non-blank line with less indentation is a structural parent; the first parent that
    is a definition wins, and a top-level parent that is not one ends the search.
    """
    threshold = indent
    for i in range(min(index, len(lines)) - 1, -1, -1):
        line = lines[i][:MAX_LINE]
        if not line.strip():
            continue
        ind = indent_of(line)
        if ind < threshold:
            d = definition_of(line)
            if d is not None:
                return d[0], d[1]
            if ind == 0:
                return None
            threshold = ind
    return None
