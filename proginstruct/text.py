"""Text conventions (SPEC 2): lines, fenced blocks, line numbers, unified diffs.

Lines are split on ``"\\n"`` only and joined with ``"\\n"``: a trailing newline is an empty last
line and ``"\\r"`` stays part of its line, so ``join_lines(split_lines(s)) == s`` for every ``s``.
"""

from __future__ import annotations

from rapidfuzz.distance import Indel


def split_lines(text: str) -> list[str]:
    """Split ``text`` on ``"\\n"`` only (SPEC 2). ``""`` gives ``[""]``."""
    return text.split("\n")


def join_lines(lines: list[str]) -> str:
    """Inverse of :func:`split_lines`."""
    return "\n".join(lines)


def fence(code: str, lang: str = "", numbered: bool = False) -> str:
    """Wrap ``code`` in a fenced block (SPEC 2).

    ``lang`` is lower-cased and omitted when empty. With ``numbered`` each line becomes
    ``"{n} {line}"`` counting from 1.
    """
    if numbered:
        code = join_lines([f"{i} {line}" for i, line in enumerate(split_lines(code), 1)])
    return f"```{lang.lower()}\n{code}\n```"


def line_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Line-level edit script from ``a`` to ``b`` as ``(tag, i1, i2, j1, j2)`` tuples, half-open, 0-based.

    Tags are ``equal``, ``delete`` and ``insert`` (an LCS diff: no "junk" heuristic, no intra-line
    hints, SPEC 3). Uses rapidfuzz's bit-parallel Indel/LCS on hashed lines; every ``equal`` run is
    verified so a hash collision can never corrupt a diff (falls back to difflib without autojunk).
    """
    ops = Indel.opcodes(a, b).as_list()
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal" and a[i1:i2] != b[j1:j2]:  # pragma: no cover - 64-bit hash collision
            import difflib

            sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
            return [op for op in sm.get_opcodes()]
    return ops


def change_runs(a: list[str], b: list[str]) -> list[tuple[int, int, int, int]]:
    """Maximal runs of changed lines between two unchanged lines, as ``(i1, i2, j1, j2)``.

    ``a[i1:i2]`` is replaced by ``b[j1:j2]`` (half-open, 0-based line indices); runs are in order
    and separated by at least one equal line. This is the line structure behind SPEC 3's edit blocks.
    """
    runs: list[list[int]] = []
    for tag, i1, i2, j1, j2 in line_opcodes(a, b):
        if tag == "equal":
            continue
        if runs and runs[-1][1] == i1 and runs[-1][3] == j1:
            runs[-1][1], runs[-1][3] = i2, j2
        else:
            runs.append([i1, i2, j1, j2])
    return [tuple(r) for r in runs]  # type: ignore[misc]


def unified_diff(a: str, b: str, context: int = 3) -> str:
    """Line-based unified diff of ``a`` -> ``b`` with ``context`` lines, no ``---``/``+++`` header (SPEC 2).

    Hunks start with ``@@ -l,s +l,s @@`` (1-based as in ``diff -u``); within a change, removed
    lines come before added ones. Returns ``""`` when ``a == b``.
    """
    if a == b:
        return ""
    la, lb = split_lines(a), split_lines(b)
    return unified_diff_of_runs(la, lb, change_runs(la, lb), context)


def unified_diff_of_runs(la: list[str], lb: list[str], runs: list[tuple[int, int, int, int]],
                         context: int = 3) -> str:
    """:func:`unified_diff` of the lines ``la`` -> ``lb`` from their :func:`change_runs` ``runs``
    (computed by the caller, who may need them for other things: one LCS diff instead of two)."""
    if not runs:
        return ""
    groups: list[list[tuple[int, int, int, int]]] = [[runs[0]]]
    for run in runs[1:]:
        if run[0] - groups[-1][-1][1] <= 2 * context:  # close enough to share context
            groups[-1].append(run)
        else:
            groups.append([run])
    out: list[str] = []
    for g in groups:
        a_start, b_start = max(0, g[0][0] - context), max(0, g[0][2] - context)
        a_end = min(len(la), g[-1][1] + context)
        b_end = a_end - g[-1][1] + g[-1][3]
        body: list[str] = []
        pos = a_start
        for i1, i2, j1, j2 in g:
            body.extend(" " + line for line in la[pos:i1])
            body.extend("-" + line for line in la[i1:i2])
            body.extend("+" + line for line in lb[j1:j2])
            pos = i2
        body.extend(" " + line for line in la[pos:a_end])
        out.append(f"@@ -{_hunk_pos(a_start, a_end - a_start)} +{_hunk_pos(b_start, b_end - b_start)} @@")
        out.extend(body)
    return join_lines(out)


def _hunk_pos(start: int, length: int) -> str:
    # diff -u convention: an empty range is reported at the line before it
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"
