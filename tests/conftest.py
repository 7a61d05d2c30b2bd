"""Shared pytest setup: a private cache folder, and the ``--update-golden`` option.

``--update-golden`` is used only by the grader's tests (tests/grader/), but pytest reads
command-line options only from the conftest.py files it finds before collecting, so it
is declared here.
"""

from __future__ import annotations

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
    """``--update-golden``: rewrite the golden tables in tests/grader/golden/ from this run."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/grader/golden/ from this run instead of comparing with it",
    )
