"""The model layer: model map, async engine with reply cache, simulated model. Knows nothing about DVC."""
