"""Sharing datasets (docs/datasets.md): DVC remotes, the dataset card, and releases that tag recipe and data together.

- :mod:`.tools`    running git and this environment's DVC with one-line errors
- :mod:`.lock`     what ``dvc.lock`` pins: released files (the DAG's leaves), inputs, parameter values
- :mod:`.counts`   records per file, samples per model (the card's fallback counts)
- :mod:`.report`   samples per source from ``metrics/report.json`` when the report stage wrote it
- :mod:`.card`     the dataset card ``data/final/README.md``
- :mod:`.remotes`  the default local remote and the S3 remote configured from the environment
- :mod:`.publish`  ``make release VERSION=x.y.z``: checks, push, card, commit, annotated tag
"""
