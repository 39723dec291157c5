"""The CursorCore paper's dataset figures, as quoted in SPEC 9 (and nothing else: figures the SPEC does
not quote are ``None`` and shown as "—")."""

from __future__ import annotations

# source -> the paper's name, sample count (as printed) and mix (percent of samples, SPEC 9 order C / H,C / C,U / H,C,U)
PAPER: dict[str, dict] = {
    "aiprogrammer": {"label": "AI programmer", "samples": "70.9K",
                     "mix": {"C": 24.1, "H,C": 22.2, "C,U": 25.4, "H,C,U": 28.3}},
    "commit": {"label": "Git commit", "samples": "88.0K",
               "mix": {"C": 25.9, "H,C": 20.0, "C,U": 28.0, "H,C,U": 26.1}},
    "submit": {"label": "Online judge", "samples": "60.5K",
               "mix": {"C": 27.5, "H,C": 19.7, "C,U": 29.4, "H,C,U": 23.4}},
    "overall": {"label": "Total", "samples": "219K", "mix": None},
}

# the paper's table order, then any other source by name
SOURCE_ORDER = ("aiprogrammer", "commit", "submit")


def source_label(source: str) -> str:
    """The paper's name of a source (``"aiprogrammer"`` -> ``"AI programmer"``), else the name itself."""
    return PAPER.get(source, {}).get("label", source)


def ordered_sources(sources: set[str] | list[str]) -> list[str]:
    """``sources`` in the paper's order (AI programmer, git commit, online judge), others after, by name."""
    known = [s for s in SOURCE_ORDER if s in sources]
    return known + sorted(s for s in set(sources) if s not in SOURCE_ORDER)
