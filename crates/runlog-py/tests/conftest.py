"""Shared fixtures: a fresh store in a temporary directory."""

import pytest

import runlog


@pytest.fixture
def store(tmp_path):
    """A store, closed after the test."""
    with runlog.open(tmp_path / "db", durability="sync") as opened:
        yield opened


@pytest.fixture
def run(store):
    """A run in the fixture store."""
    return store.start_run("exp", "r")
