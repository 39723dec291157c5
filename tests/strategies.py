"""Hypothesis strategies shared by the property tests of the export formats and the harness read-back."""

from __future__ import annotations

from hypothesis import strategies as st

from proginstruct.text import split_lines


@st.composite
def line_edits(draw, code: str, line: st.SearchStrategy[str], min_edits: int = 0) -> str:
    """``code`` after ``min_edits`` to 4 line insertions, deletions and replacements at drawn positions, new
    lines drawn from ``line`` (a deletion that would empty the code replaces its line instead); lines
    joined with ``"\\n"``."""
    lines = split_lines(code)
    for _ in range(draw(st.integers(min_edits, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        pos = draw(st.integers(0, len(lines)))
        if op == "insert" or pos == len(lines):
            lines.insert(pos, draw(line))
        elif op == "delete" and len(lines) > 1:
            del lines[pos]
        else:
            lines[pos] = draw(line)
    return "\n".join(lines)
