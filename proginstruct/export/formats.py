"""One sample -> a WF, LC or SR conversation (SPEC 8).

A conversation is a list of ``{"role": "history" | "current" | "user" | "assistant", "content": str}``:
one ``history`` turn per history snapshot (oldest first), the ``current`` code with the location tokens
inserted before fencing, a ``user`` turn when the sample has an instruction, and the ``assistant`` turn
``<|next_start|>`` + body + ``<|next_end|>``, then a newline and the chat when there is one.

| format | history turn i (snapshot h_i, the next snapshot h_{i+1}, current after the last) | current | assistant body |
|---|---|---|---|
| WF | h_i fenced | fenced | next code fenced |
| LC | LC edits h_{i+1} -> h_i (ranges in the later snapshot, lines from the earlier one) | fenced, numbered from 1 | LC edits current -> next |
| SR | SR edits h_i -> h_{i+1}, each reversible (replacement unique in h_{i+1}) | fenced | SR edits current -> next |

So in LC and SR every history snapshot can be rebuilt from the current code, last one first, and the
assistant's edits applied to ``current.code`` give ``next.code`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .fences import fence_code
from .lc import lc_edits, render_lc
from .location import mark_location
from .sr import render_sr, sr_edits
from .tokens import NEXT_END, NEXT_START

Turn = dict[str, str]
FORMATS = ("wf", "lc", "sr")


def assistant_content(body: str, chat: str) -> str:
    """``<|next_start|>`` + ``body`` + ``<|next_end|>``, then ``"\\n" + chat`` when ``chat`` is non-empty."""
    return f"{NEXT_START}{body}{NEXT_END}" + (f"\n{chat}" if chat else "")


def split_assistant(content: str) -> tuple[str, str]:
    """Inverse of :func:`assistant_content`: ``(body, chat)``. Raises ``ValueError`` when the tokens are missing."""
    if not content.startswith(NEXT_START) or NEXT_END not in content:
        raise ValueError("assistant turn does not start with <|next_start|> ... <|next_end|>")
    body, _, rest = content[len(NEXT_START) :].partition(NEXT_END)
    if rest and not rest.startswith("\n"):
        raise ValueError("text right after <|next_end|> must start with a newline")
    return body, rest[1:]


def _snapshots(sample: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(sample.get("history") or []), sample["current"]]


def _tail(sample: dict[str, Any], current_turn: str, body: str) -> list[Turn]:
    turns = [{"role": "current", "content": current_turn}]
    if sample.get("user"):
        turns.append({"role": "user", "content": sample["user"]})
    turns.append({"role": "assistant", "content": assistant_content(body, sample.get("chat") or "")})
    return turns


def wf_conversation(sample: dict[str, Any]) -> list[Turn]:
    """Whole-file conversation of a SPEC 0 sample (``loc`` optional). Raises ``ValueError`` for a bad ``loc``."""
    cur, nxt = sample["current"], sample["next"]
    history = [{"role": "history", "content": fence_code(h["code"], h.get("lang", ""))}
               for h in sample.get("history") or []]
    current = fence_code(mark_location(cur["code"], sample.get("loc")), cur.get("lang", ""))
    return history + _tail(sample, current, fence_code(nxt["code"], nxt.get("lang", "")))


def lc_conversation(sample: dict[str, Any]) -> list[Turn]:
    """Location-and-change conversation (see the module table). Raises ``ValueError`` for a bad ``loc``."""
    cur, nxt = sample["current"], sample["next"]
    snaps = _snapshots(sample)
    history = [{"role": "history",
                "content": render_lc(lc_edits(snaps[i + 1]["code"], snaps[i]["code"]), snaps[i].get("lang", ""))}
               for i in range(len(snaps) - 1)]
    current = fence_code(mark_location(cur["code"], sample.get("loc")), cur.get("lang", ""), numbered=True)
    return history + _tail(sample, current, render_lc(lc_edits(cur["code"], nxt["code"]), cur.get("lang", "")))


def sr_conversation(sample: dict[str, Any]) -> list[Turn]:
    """Search-and-replace conversation (see the module table). Raises ``ValueError`` for a bad ``loc``."""
    cur, nxt = sample["current"], sample["next"]
    snaps = _snapshots(sample)
    history = [{"role": "history",
                "content": render_sr(sr_edits(snaps[i]["code"], snaps[i + 1]["code"], unique_replace=True),
                                      snaps[i].get("lang", ""))}
               for i in range(len(snaps) - 1)]
    current = fence_code(mark_location(cur["code"], sample.get("loc")), cur.get("lang", ""))
    return history + _tail(sample, current, render_sr(sr_edits(cur["code"], nxt["code"]), cur.get("lang", "")))


CONVERTERS: dict[str, Callable[[dict[str, Any]], list[Turn]]] = {
    "wf": wf_conversation,
    "lc": lc_conversation,
    "sr": sr_conversation,
}


def conversation(sample: dict[str, Any], fmt: str) -> list[Turn]:
    """The ``fmt`` (``"wf"``, ``"lc"`` or ``"sr"``) conversation of ``sample``. Raises ``KeyError`` for another format."""
    return CONVERTERS[fmt](sample)
