"""Plot data for ``dvc plots`` (CSV) and the same plots as PNG images (docs/formats.md).

Files written to a plots folder (``reports/plots`` in the recipe):

| file | columns | what |
|---|---|---|
| ``history.csv`` / ``history.png`` | ``history``, one column per source | samples by number of history snapshots |
| ``input_length.csv``, ``output_length.csv`` / ``lengths.png`` | ``chars_from``, one column per source | samples by input / output length in characters, power-of-two bins (``chars_from`` = lower edge; 0 = under 64) |
| ``languages.csv`` / ``languages.png`` | ``lang``, one column per source, ``total`` | samples by language (``"(none)"`` for an empty lang), most frequent first |

PNGs are drawn with matplotlib's Agg backend under its default settings and the bundled DejaVu fonts,
without the ``Software`` metadata chunk, so the same data gives the same bytes on a given matplotlib version.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl

from ..records import atomic_write_bytes
from .paper import source_label

MIN_BIN = 64  # characters: everything shorter shares bin 0
COLORS = {"aiprogrammer": "#4C72B0", "commit": "#DD8452", "submit": "#55A868"}
OTHER_COLORS = ("#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")
PLOT_FILES = ("history.csv", "input_length.csv", "output_length.csv", "languages.csv",
              "history.png", "lengths.png", "languages.png")


def length_bin(n: int) -> int:
    """Lower edge of ``n``'s power-of-two bin: 0 below :data:`MIN_BIN`, else the largest power of two <= n."""
    return 0 if n < MIN_BIN else 1 << (n.bit_length() - 1)


def _bins_upto(top: int) -> list[int]:
    edges, b = [0], MIN_BIN
    while b <= top:
        edges.append(b)
        b <<= 1
    return edges


def _counts(rows: pl.DataFrame, key: pl.Expr, name: str, keys: list, sources: list[str]) -> pl.DataFrame:
    """A wide table: one row per value of ``keys`` (in that order), one count column per source."""
    counted = rows.select(pl.col("source"), key.alias(name)).group_by("source", name).len()
    out = pl.DataFrame({name: keys})
    for s in sources:
        c = counted.filter(pl.col("source") == s).select(name, pl.col("len").alias(s))
        out = out.join(c, on=name, how="left", maintain_order="left").with_columns(pl.col(s).fill_null(0))
    return out


def plot_tables(rows: pl.DataFrame, sources: list[str]) -> dict[str, pl.DataFrame]:
    """The four plot tables (see the module table) from :func:`figures.measurements` rows."""
    tables: dict[str, pl.DataFrame] = {}
    top = int(rows["history"].max() or 0)
    tables["history"] = _counts(rows, pl.col("history"), "history", list(range(top + 1)), sources)
    for col, name in (("input_chars", "input_length"), ("output_chars", "output_length")):
        binned = pl.col(col).map_elements(length_bin, return_dtype=pl.Int64)
        tables[name] = _counts(rows, binned, "chars_from", _bins_upto(int(rows[col].max() or 0)), sources)
    lang = pl.when(pl.col("lang") == "").then(pl.lit("(none)")).otherwise(pl.col("lang"))
    order = (rows.select(lang.alias("lang")).group_by("lang").len()
             .sort(["len", "lang"], descending=[True, False])["lang"].to_list())
    langs = _counts(rows, lang, "lang", order, sources)
    tables["languages"] = langs.with_columns(pl.sum_horizontal(sources).alias("total") if sources
                                             else pl.lit(0).alias("total"))
    return tables


def _color(source: str, k: int) -> str:
    return COLORS.get(source) or OTHER_COLORS[k % len(OTHER_COLORS)]


def _grouped_bars(ax, table: pl.DataFrame, xcol: str, sources: list[str], labels: list[str]) -> None:
    from matplotlib.ticker import MaxNLocator

    n = max(1, len(sources))
    width = 0.8 / n
    xs = list(range(table.height))
    for k, s in enumerate(sources):
        ax.bar([x - 0.4 + width * (k + 0.5) for x in xs], table[s].to_list(), width=width,
               label=source_label(s), color=_color(s, k))
    step = max(1, len(xs) // 30)  # at most ~30 labels
    ax.set_xticks(xs[::step])
    ax.set_xticklabels(labels[::step], rotation=45 if len(labels) > 8 else 0,
                       ha="right" if len(labels) > 8 else "center")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("samples")
    if sources:
        ax.legend(frameon=False)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def plot_pngs(tables: dict[str, pl.DataFrame], sources: list[str]) -> dict[str, bytes]:
    """PNG bytes of ``history.png``, ``lengths.png`` and ``languages.png`` drawn from :func:`plot_tables`."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    out: dict[str, bytes] = {}
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "proginstruct"})

        fig = Figure(figsize=(7, 3.5))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        h = tables["history"]
        _grouped_bars(ax, h, "history", sources, [str(x) for x in h["history"].to_list()])
        ax.set_xlabel("history snapshots per sample")
        ax.set_title("History snapshots")
        fig.tight_layout()
        out["history.png"] = _png(fig)

        fig = Figure(figsize=(9, 3.5))
        FigureCanvasAgg(fig)
        for i, (name, title) in enumerate((("input_length", "Input length"), ("output_length", "Output length"))):
            ax = fig.add_subplot(1, 2, i + 1)
            t = tables[name]
            labels = [f"<{MIN_BIN}" if b == 0 else _short(b) for b in t["chars_from"].to_list()]
            _grouped_bars(ax, t, "chars_from", sources, labels)
            ax.set_xlabel("characters (bin from)")
            ax.set_title(title)
        fig.tight_layout()
        out["lengths.png"] = _png(fig)

        langs = tables["languages"]
        fig = Figure(figsize=(7, max(2.0, 0.3 * langs.height + 1.2)))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ys = list(range(langs.height))[::-1]
        left = [0] * langs.height
        for k, s in enumerate(sources):
            vals = langs[s].to_list()
            ax.barh(ys, vals, left=left, label=source_label(s), color=_color(s, k))
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_yticks(ys)
        ax.set_yticklabels(langs["lang"].to_list())
        ax.set_xlabel("samples")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("Languages")
        if sources:
            ax.legend(frameon=False)
        fig.tight_layout()
        out["languages.png"] = _png(fig)
    return out


def _short(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 else str(n)


def write_plots(rows: pl.DataFrame, sources: list[str], plots_dir: str | os.PathLike, png: bool = True) -> list[Path]:
    """Write the CSV tables (and with ``png`` the PNGs) into ``plots_dir``, atomically; returns the paths."""
    d = Path(plots_dir)
    tables = plot_tables(rows, sources)
    written = []
    for name, table in tables.items():
        p = d / f"{name}.csv"
        atomic_write_bytes(p, table.write_csv().encode())
        written.append(p)
    if png:
        for name, data in plot_pngs(tables, sources).items():
            atomic_write_bytes(d / name, data)
            written.append(d / name)
    return written
