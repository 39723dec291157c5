"""Training-ready output (SPEC 8, docs/formats.md): merging the sources and the WF / LC / SR conversation formats.

- :mod:`.tokens`    the special tokens of SPEC 8
- :mod:`.fences`    fenced blocks that always parse back exactly (SPEC 2 fences, longer when the code needs it)
- :mod:`.location`  cursor / range tokens inserted into the current code
- :mod:`.lc`        location-and-change edits (line ranges + replacement lines)
- :mod:`.sr`        search-and-replace edits (unique search texts, close changes merged)
- :mod:`.formats`   one sample -> a WF, LC or SR conversation
- :mod:`.merge`     the merge stage (sources -> one deduplicated dataset, JSONL and Parquet)
- :mod:`.parquet`   the typed Parquet layout of samples
- :mod:`.stage`     the export stage (dataset -> data/export/{wf,lc,sr}.jsonl)
"""
