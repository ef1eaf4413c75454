"""How `make test` shares the tests between its two pytest-xdist workers (tests/conftest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def _conftest():
    spec = importlib.util.spec_from_file_location("tests_conftest_copy", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _split_scope():
    conftest = _conftest()
    config = SimpleNamespace(option=SimpleNamespace(loadscopereorder=True))
    made = []

    class FakeScheduling:  # stands in for xdist's class: only _split_scope is under test
        def __init__(self, config, log):  # noqa: ANN001
            made.append(config)

    import xdist.scheduler

    original = xdist.scheduler.LoadScopeScheduling
    xdist.scheduler.LoadScopeScheduling = FakeScheduling
    try:
        scheduler = conftest.pytest_xdist_make_scheduler(config, log=None)
    finally:
        xdist.scheduler.LoadScopeScheduling = original
    assert made and config.option.loadscopereorder is False, "xdist would re-sort the units by size"
    return scheduler._split_scope


def test_a_notebooks_cells_are_one_unit() -> None:
    split = _split_scope()
    cells = [f"chapters/04_kl_divergence.ipynb::Cell {i}" for i in range(3)]
    assert {split(cell) for cell in cells} == {"chapters/04_kl_divergence.ipynb"}


def test_a_test_file_is_one_unit_but_page_tests_go_one_by_one() -> None:
    split = _split_scope()
    colab = ["tests/test_colab_runtime.py::test_a", "tests/test_colab_runtime.py::test_b[x]"]
    assert {split(node) for node in colab} == {"tests/test_colab_runtime.py"}
    pages = ["tests/test_website.py::test_page[a]", "tests/test_website.py::test_page[b]"]
    assert [split(node) for node in pages] == pages


def test_the_ordering_names_files_that_exist() -> None:
    # A renamed chapter or test file would silently fall back to the end of the queue.
    conftest = _conftest()
    for name in [*conftest.LONGEST_FIRST, *conftest.ONE_TEST_PER_UNIT]:
        assert (ROOT / name).is_file(), f"tests/conftest.py names {name}, which does not exist"


def test_longest_files_come_first_and_a_files_order_is_kept() -> None:
    conftest = _conftest()
    names = ["chapters/01_comparing_beliefs.ipynb::Cell 0", "tests/test_colab_runtime.py::test_b",
             "chapters/01_comparing_beliefs.ipynb::Cell 1", "tests/test_colab_runtime.py::test_a"]
    items = [SimpleNamespace(nodeid=name) for name in names]
    conftest.pytest_collection_modifyitems(items)
    assert [item.nodeid for item in items] == [names[1], names[3], names[0], names[2]]
