"""Deterministic seeds (SPEC 11): every random draw comes from the run seed plus a record's identity.

Nothing here uses the global RNG; results do not depend on concurrency or completion order.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from ``parts`` (stringified, joined with NUL) via SHA-256. Stable across runs and platforms."""
    h = hashlib.sha256("\x00".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") >> 1


def derive_rng(*parts: object) -> random.Random:
    """A fresh ``random.Random`` seeded with :func:`derive_seed` of ``parts``."""
    return random.Random(derive_seed(*parts))
