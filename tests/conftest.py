"""Fixtures for every layer: each test runs isolated from the developer's settings and from
the other tests' dlt state. Shared data and helpers live in tests/support/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No telemetry calls from test runs (the machine has no internet anyway).
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"


@pytest.fixture(autouse=True)
def _isolated_dlt_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer's own settings must not leak into a test, nor one test's dlt state into
    another's: each test gets its own working folder and dlt data folder."""
    for key in list(os.environ):
        if key.startswith(("SOURCES__", "DESTINATION__", "FGS__")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.chdir(tmp_path)
