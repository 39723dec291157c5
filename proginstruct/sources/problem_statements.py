"""Problem statements for online-judge submissions (SPEC 1.2): loading and rendering.

The statements file is a JSON object keyed by problem id; each value is an object with the fields
``problem_description, constraints, input_description, output_description`` (strings) and
``sample_inputs, sample_outputs`` (parallel lists of strings). A statement is rendered as titled
sections in this order, skipping empty ones::

    ### Problem Description\\n\\n<text>\\n\\n### Constraints\\n\\n<text>\\n\\n### Input Description ...
    ... ### Sample Input 1\\n\\n<text>\\n\\n### Sample Output 1\\n\\n<text> ...

Heading style: ``"### " + title``, a blank line, the section text with surrounding whitespace
stripped; sections are separated by one blank line; no trailing newline. Sample pairs are numbered
from 1; when the two lists differ in length, the longer one's extra entries are rendered alone.
A problem with no statement, or whose sections are all empty, renders as ``""``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from ..errors import UserError
from ..stats import Stats

TEXT_SECTIONS: tuple[tuple[str, str], ...] = (
    ("problem_description", "Problem Description"),
    ("constraints", "Constraints"),
    ("input_description", "Input Description"),
    ("output_description", "Output Description"),
)


def _text(value: Any) -> str:
    """A section's text: strings stripped, numbers as text, anything else (None, lists, dicts) empty."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _samples(value: Any) -> list[str]:
    """A samples field as a list of texts; a lone string counts as one sample, anything else as none."""
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, str):
        return [_text(value)]
    return []


def render_statement(entry: Any) -> str:
    """Render one statement object (see module docstring) as titled sections; ``""`` when there is
    nothing to show or ``entry`` is not a dict."""
    if not isinstance(entry, dict):
        return ""
    parts: list[tuple[str, str]] = [(title, _text(entry.get(key))) for key, title in TEXT_SECTIONS]
    inputs, outputs = _samples(entry.get("sample_inputs")), _samples(entry.get("sample_outputs"))
    for i in range(max(len(inputs), len(outputs))):
        if i < len(inputs):
            parts.append((f"Sample Input {i + 1}", inputs[i]))
        if i < len(outputs):
            parts.append((f"Sample Output {i + 1}", outputs[i]))
    return "\n\n".join(f"### {title}\n\n{text}" for title, text in parts if text)


def load_statements(path: str | Path | None, stats: Stats) -> dict[str, str]:
    """Read the statements JSON at ``path`` and return ``{problem_id: rendered statement}``.

    A missing file (or ``path`` empty/None) is allowed: a warning goes to stderr, the counter
    ``statements.missing_file`` is set and every problem gets ``""``. Entries that are not objects are
    counted as ``statements.invalid`` and render as ``""``; ``statements.loaded`` counts the rest.
    Raises :class:`UserError` when the file is not valid JSON or not a JSON object.
    """
    if not path or not Path(path).is_file():
        stats.add("statements.missing_file")
        print(f"warning: statements file {path or '(none)'} not found; every problem gets an empty statement",
              file=sys.stderr)
        return {}
    p = Path(path)
    try:
        data = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as e:
        raise UserError(f"{p}: not valid JSON ({e}); expected an object keyed by problem id "
                        "(fix the file or point --statements elsewhere)") from None
    if not isinstance(data, dict):
        raise UserError(f"{p}: expected a JSON object keyed by problem id, got {type(data).__name__}; "
                        "fix the file or point --statements elsewhere")
    out: dict[str, str] = {}
    for pid, entry in data.items():
        if not isinstance(entry, dict):
            stats.add("statements.invalid")
            continue
        stats.add("statements.loaded")
        out[str(pid)] = render_statement(entry)
    return out
