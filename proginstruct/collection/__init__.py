"""Collecting samples (SPEC 4 and 6): code series per input record, then LLM-judged samples."""
