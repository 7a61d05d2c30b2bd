"""Shared pytest setup: a private cache folder and the fixture builder."""

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
