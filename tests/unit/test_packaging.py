"""What a wheel ships: every package of the code, and the data files it reads at run time.

A package missing from pyproject's explicit list still imports in an editable install (the tests
run in one), but not from a wheel; so the list is checked against the tree here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def test_every_python_package_is_listed() -> None:
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "pipelines").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= set(SETUPTOOLS["packages"])


def test_every_data_file_a_package_reads_is_shipped() -> None:
    data = SETUPTOOLS["package-data"]
    for toml in (ROOT / "pipelines").rglob("*.toml"):
        package = ".".join(toml.parent.relative_to(ROOT).parts)
        assert "*.toml" in data.get(package, []), f"{toml} is not in package-data"
