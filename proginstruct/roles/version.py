"""``prompt_version``: a short hash of what decides the LLM replies, carried by every collected sample.

It covers every role prompt file (``roles/prompts/*.json``: the system messages and the worked examples,
compared as canonical JSON so line endings and indentation do not count) and
:data:`REPLY_PROTOCOL_VERSION`, the version of the reply markers of SPEC 5. Changing a prompt changes the
version of the samples made with it; a reader selects samples by it (``proginstruct show
--prompt_version``, or the ``prompt_version`` column of the Parquet dataset).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from ..records import dumps

# SPEC 5's reply protocol (the ``**instruction:**`` / ``**chat:**`` / ``**Decision:**`` markers and fenced
# programmer versions): bump when a marker or the shape of a reply changes
REPLY_PROTOCOL_VERSION = 1
VERSION_CHARS = 12  # hex characters of the SHA-256 kept


def version_of(folder: Traversable, protocol: int) -> str:
    """12 hex characters of the SHA-256 of ``protocol`` and every ``*.json`` file of ``folder`` (in name
    order, each as its name and canonical JSON). Raises ``ValueError`` when a file is not valid JSON."""
    h = hashlib.sha256(f"reply-protocol {protocol}\n".encode())
    for entry in sorted((e for e in folder.iterdir() if e.name.endswith(".json")), key=lambda e: e.name):
        h.update(entry.name.encode() + b"\n" + dumps(json.loads(entry.read_text("utf-8"))) + b"\n")
    return h.hexdigest()[:VERSION_CHARS]


@cache
def prompt_version() -> str:
    """The ``prompt_version`` of this installation: :func:`version_of` the package's prompt folder and
    :data:`REPLY_PROTOCOL_VERSION`."""
    return version_of(resources.files("proginstruct.roles").joinpath("prompts"), REPLY_PROTOCOL_VERSION)
