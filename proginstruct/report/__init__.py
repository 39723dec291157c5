"""The dataset report (docs/formats.md): what the samples contain, per source and overall, beside the paper's figures.

- :mod:`.figures`   per-sample measurements and their summaries (Polars), rejection rates from metrics files
- :mod:`.paper`     the paper's figures quoted in SPEC 9
- :mod:`.markdown`  the human report ``reports/dataset.md``
- :mod:`.plots`     ``dvc plots`` data (CSV) and deterministic PNG plots
- :mod:`.stage`     the report stage
- :mod:`.show`      ``proginstruct show``: samples rendered for a person
"""
