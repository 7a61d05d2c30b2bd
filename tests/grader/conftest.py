"""Fixtures of the grader's tests: the one batch of the catalogues, and the batch class.

``catalogues`` grades the mutant, cheat and red-team catalogues once per session, in one
batch (catalogue_batch.py), for whichever of test_mutants.py, test_cheats.py and
test_redteam.py were collected; ``catalogue_run`` and ``redteam_run`` are its two halves.
``klass`` is the class of tests/grader/batch_class.py, graded in runs A, B and C once per
session for the batch and sandbox tests; ``solution`` holds the source notebook's answers.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

CATALOGUE_MODULES = ("test_mutants", "test_cheats")
REDTEAM_MODULE = "test_redteam"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of the catalogue tests."""
    config.addinivalue_line(
        "markers",
        "catalogue: grades the mutant, cheat and red-team catalogues through python -m grader "
        "(runs in CI)",
    )


def _collected(session: pytest.Session, *modules: str) -> bool:
    names = {getattr(getattr(item, "module", None), "__name__", None) for item in session.items}
    return bool(names & set(modules))


@pytest.fixture(scope="session")
def catalogues(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Any:
    """Every catalogue this session tests, graded once in one batch.

    The red-team items join only as root (see test_redteam.py), and only when their tests
    were collected; the mutants and cheats only when theirs were. What the attacks left on
    the machine is recorded, then removed at once, before any other test grades.
    """
    from catalogue_batch import run_catalogues
    from redteam.run import cleanup

    session = request.session
    redteam = os.geteuid() == 0 and _collected(session, REDTEAM_MODULE)
    catalogue = _collected(session, *CATALOGUE_MODULES) or not redteam
    found = run_catalogues(tmp_path_factory.mktemp("catalogues"), catalogue, redteam)
    print(f"\ncatalogue batch: { ({k: round(v) for k, v in _seconds(found).items()}) } s")
    if found.redteam is not None:
        cleanup(found.redteam)
    return found


def _seconds(found: Any) -> dict[str, float]:
    run = found.catalogue or found.redteam
    return run.seconds if run is not None else {}


@pytest.fixture(scope="session")
def catalogue_run(catalogues: Any) -> Any:
    """The mutants and cheats of the batch (catalogue_batch.CatalogueRun)."""
    assert catalogues.catalogue is not None, "the mutant and cheat catalogues were not graded"
    return catalogues.catalogue


@pytest.fixture(scope="session")
def redteam_run(catalogues: Any) -> Any:
    """The red-team items of the batch (redteam.run.RedTeamRun)."""
    assert catalogues.redteam is not None, "the red-team catalogue was not graded"
    return catalogues.redteam


@pytest.fixture(scope="session")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The batch class, released and graded in runs A, B (interrupted) and C (batch_class.py)."""
    from batch_class import grade_class

    return grade_class(tmp_path_factory.mktemp("batch"))


@pytest.fixture(scope="module")
def solution() -> dict[str, Any]:
    """The source notebook's imports and graded functions, defined in one namespace."""
    from catalogue import nbgrader_meta as meta
    from catalogue import source_notebook, strip_markers

    namespace: dict[str, Any] = {}
    nb = source_notebook()
    imports = next(c for c in nb.cells if meta(c).get("grade_id") == "imports")
    code = [
        line for line in imports.source.splitlines() if line.startswith(("import ", "from keras"))
    ]
    exec("\n".join(code), namespace)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            source = strip_markers(cell.source).replace(
                "x_initializer=x_initializer", "x_initializer"
            )
            source = source.replace("a_initializer=a_initializer", "a_initializer")
            source = source.replace("c_initializer=c_initializer", "c_initializer")
            exec(source, namespace)
    return namespace
