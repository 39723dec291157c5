"""The special tokens of the training formats (SPEC 8)."""

from __future__ import annotations

TARGET = "<|target|>"  # the cursor, inserted into the current code
TARGET_START = "<|target_start|>"  # start of a selected range
TARGET_END = "<|target_end|>"  # end of a selected range
NEXT_START = "<|next_start|>"  # before the assistant's code or edits
NEXT_END = "<|next_end|>"  # after the assistant's code or edits
SEARCH_AND_REPLACE = "<|search_and_replace|>"  # between the search and the replacement text of an SR edit

SPECIAL_TOKENS: tuple[str, ...] = (TARGET, TARGET_START, TARGET_END, NEXT_START, NEXT_END, SEARCH_AND_REPLACE)


def special_tokens_in(text: str) -> list[str]:
    """The special tokens that occur in ``text`` (in :data:`SPECIAL_TOKENS` order); ``[]`` for clean text.

    A sample whose code or messages already contain one cannot be exported unambiguously (a tokenizer
    would read it as a control token), so the export stage skips and counts such samples.
    """
    if "<|" not in text:
        return []
    return [t for t in SPECIAL_TOKENS if t in text]
