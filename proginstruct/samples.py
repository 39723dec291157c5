"""The sample format of SPEC 0: snapshots and the sample-type mix (C / H,C / C,U / H,C,U)."""

from __future__ import annotations

from typing import Any


def snapshot(code: str, lang: str) -> dict[str, str]:
    """A SPEC 0 snapshot ``{"type": "code", "lang": lang, "code": code}``."""
    return {"type": "code", "lang": lang, "code": code}


def sample_type(sample: dict[str, Any]) -> str:
    """Which inputs a sample has (SPEC 9's mix): ``"C"``, ``"H,C"``, ``"C,U"`` or ``"H,C,U"``;
    H when ``history`` is non-empty, U when ``user`` is."""
    return ("H," if sample.get("history") else "") + "C" + (",U" if sample.get("user") else "")
