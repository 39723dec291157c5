"""The quality stage (docs/quality.md): gates every sample passes after the merge, in order.

- :mod:`.params`    the ``quality`` section of params.yaml
- :mod:`.syntax`    tree-sitter parse checks (``breaks_syntax``)
- :mod:`.decontam`  token n-gram overlap with benchmark sets (``contaminated``)
- :mod:`.neardup`   MinHash LSH over word shingles (``near_duplicate``)
- :mod:`.gates`     gates 1-3 on one sample
- :mod:`.metrics`   the counters and ``metrics/quality.json``
- :mod:`.stage`     streaming the dataset through the gates
"""
