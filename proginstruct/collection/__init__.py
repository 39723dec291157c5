"""Collecting samples (SPEC 4 and 6): code series per input record, then LLM-judged samples.

- :mod:`.series`   a code series sampled from one input record (SPEC 4), input record checks (SPEC 1)
- :mod:`.sample`   one sample from one drawn index of a series (SPEC 6 steps 2-6)
- :mod:`.collect`  the data_collection stage: records -> samples, streamed, resumable
- :mod:`.shards`   a collection split over machines (``--shard k/n``) and its parts merged back
- :mod:`.workers`  one run split over local processes (``--workers n``); ``collect`` imports it
"""
