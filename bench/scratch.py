"""The scratch folder and the results file of one benchmark run (used by bench/quality.py and
bench/export_report.py)."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def scratch_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A new temporary folder whose name starts with ``prefix``: removed when the block ends, or, with
    ``keep``, left in place and its path printed."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def write_results(path: str | Path, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` as JSON indented by 2, ending in a newline, and print the same text."""
    text = json.dumps(result, indent=2) + "\n"
    Path(path).write_text(text)
    print(text, end="")
