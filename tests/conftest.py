"""Shared pytest setup: a private cache folder and the fixture builder."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the parsed-file cache of the test run out of the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("JAZZ_UTILS_CACHE", str(tmp_path_factory.mktemp("jazz_cache")))
    mp.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    yield
    mp.undo()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-golden``: rewrite the golden tables in tests/golden/ from this run."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/golden/ from this run instead of comparing with it",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of the mutant and cheat catalogue tests."""
    config.addinivalue_line(
        "markers",
        "catalogue: grades the mutant and cheat catalogues through python -m grader (runs in CI)",
    )


@pytest.fixture(scope="session")
def catalogue_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every mutant and cheat graded once through ``python -m grader`` (tests/catalogue.py)."""
    from catalogue import run_catalogue

    return run_catalogue(tmp_path_factory.mktemp("catalogue"))
