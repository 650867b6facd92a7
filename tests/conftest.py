"""Shared test setup: Brian2 standalone builds go to a per-session temporary folder."""

import os

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session", autouse=True)
def _build_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("brainkit-builds")
    old = os.environ.get("BRAINKIT_BUILD_ROOT")
    os.environ["BRAINKIT_BUILD_ROOT"] = str(root)
    yield root
    if old is None:
        os.environ.pop("BRAINKIT_BUILD_ROOT", None)
    else:
        os.environ["BRAINKIT_BUILD_ROOT"] = old
