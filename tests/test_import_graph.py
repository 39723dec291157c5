"""The package's shape: no import cycle inside ``proginstruct``, the simulator beside the model layer (not
inside it), and no module over 500 lines.

The import graph is read from the source files by grimp (nothing is imported), counting every ``import``
statement wherever it is: at the top of a module, inside a function (a lazy import), or under
``if TYPE_CHECKING``. A lazy import still ties two modules together, so it counts as an edge.
"""

from __future__ import annotations

import graphlib
from pathlib import Path

import grimp
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "proginstruct"
MAX_MODULE_LINES = 500


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (dotted names), for the package ``package``
    found on ``sys.path`` (grimp: relative imports resolved, ``from a import b`` pointing at ``a.b`` when
    that is a module, lazy and ``TYPE_CHECKING`` imports included)."""
    graph = grimp.build_graph(package, cache_dir=None)
    return {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` when the graph is acyclic."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        return list(e.args[1])
    return None


def test_the_cycle_finder_sees_a_lazy_import_cycle(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..sub.a import x\n    return x\n")
    (pkg / "c.py").write_text("import pkg.sub.a\nfrom pkg.sub import b\n")
    graph = import_graph("pkg")
    assert graph == {"pkg": set(), "pkg.sub": set(), "pkg.sub.a": {"pkg.sub.b"}, "pkg.sub.b": {"pkg.sub.a"},
                     "pkg.c": {"pkg.sub.a", "pkg.sub.b"}}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"pkg.sub.a", "pkg.sub.b"}
    (pkg / "sub" / "b.py").write_text("X = 1\n")
    assert find_cycle(import_graph("pkg")) is None


def test_no_import_cycle_in_the_package():
    graph = import_graph(PACKAGE.name)
    assert len(graph) > 50 and graph["proginstruct.collection.collect"], "the graph was not read"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_simulator_sits_beside_the_model_layer():
    """The simulated model does not reach into the model layer, and the model layer reaches the
    simulator through one module: the in-process transport (the ``"base": "simulator"`` client)."""
    graph = import_graph(PACKAGE.name)
    sim = {m for m in graph if m.startswith("proginstruct.simulator")}
    llm = {m for m in graph if m.startswith("proginstruct.llm")}
    assert sim and llm
    assert not {(m, t) for m in sim for t in graph[m] if t in llm}
    assert {t for m in llm for t in graph[m] if t in sim} == {"proginstruct.simulator.transport"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE.parent)}: {lines} lines; split it by job"
