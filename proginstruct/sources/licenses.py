"""Which licence a source's code is under, as an SPDX id, when the source says so (sample provenance).

:func:`detect_license` recognises the text of a licence file with ``identify`` (pre-commit's file
identification library): after dropping the copyright line and normalising whitespace, a text within 5 %
edits of one of the 35 licences of choosealicense.com (MIT, Apache-2.0, BSD-2/3-Clause, GPL-2.0/3.0,
LGPL, MPL-2.0, ISC, Unlicense, ...) gets that licence's id; anything else gets ``None``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pygit2

# root file names looked for, in this order (compared case-insensitively)
LICENSE_FILES = ("license", "license.md", "license.txt", "license.rst", "licence", "licence.md", "licence.txt",
                 "copying", "copying.md", "copying.txt")


def detect_license(text: str) -> str | None:
    """The SPDX id of the licence ``text`` holds (see the module doc), or ``None`` when none is recognised."""
    from identify.identify import license_id

    fd, path = tempfile.mkstemp(suffix=".txt", prefix="license-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return license_id(path)
    finally:
        os.unlink(path)


def tree_license(repo: pygit2.Repository, tree: pygit2.Tree) -> str | None:
    """The SPDX id of the licence file at the root of ``tree`` (the first of :data:`LICENSE_FILES` present
    that is a regular file), or ``None`` when there is none, it is not UTF-8, or it is not recognised."""
    entries = {e.name.lower(): e for e in tree if e.type_str == "blob"}
    for name in LICENSE_FILES:
        entry = entries.get(name)
        if entry is not None:
            try:
                return detect_license(repo[entry.id].data.decode("utf-8"))
            except UnicodeDecodeError:
                return None
    return None


def folder_license(root: str | os.PathLike) -> str | None:
    """The SPDX id of the licence file directly in folder ``root`` (the first of :data:`LICENSE_FILES`
    present), or ``None`` when there is none, it is not UTF-8, or it is not recognised."""
    p = Path(root)
    if not p.is_dir():
        return None
    from identify.identify import license_id

    files = {f.name.lower(): f for f in p.iterdir() if f.is_file()}
    for name in LICENSE_FILES:
        if name in files:
            try:
                return license_id(str(files[name]))  # reads the file itself (UTF-8): no copy to a temporary file
            except UnicodeDecodeError:
                return None
    return None
