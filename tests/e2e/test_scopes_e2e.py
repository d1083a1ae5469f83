"""Many projects and regions in one run: configured, discovered, and isolated from each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.config.scopes import configured_scopes, region_filter
from pipelines.functiongraph.errors import ConfigError
from pipelines.sandbox import (
    SandboxServer,
)
from tests.support.estates import (
    OMEGA,
    PROJECT,
    PROJECT_B,
    REGION,
    REGION_B,
    TOKEN,
    small_estate,
    two_project_estate,
)
from tests.support.loader import Loader


def both(url: str) -> list[dict[str, str]]:
    return [
        {"region": REGION, "project_id": PROJECT, "endpoint": url},
        {"region": REGION_B, "project_id": PROJECT_B, "endpoint": url},
    ]


def live_per_scope(loader: Loader) -> list[tuple[str, str, int]]:
    return loader.query(
        "select region, project_id, count(*) from reporting.current_async_invoke_configs "
        "group by all order by all"
    )


EXPECTED_BOTH = [(REGION_B, PROJECT_B, 2), (REGION, PROJECT, 9)]


def test_listed_projects_load_together(tmp_path: Path) -> None:
    with SandboxServer(two_project_estate(), tokens=(TOKEN,)) as server:
        loader = Loader(tmp_path, server)
        summary = loader.run(region=None, project_id=None, projects=json.dumps(both(server.url)))
    assert summary.ok
    assert live_per_scope(loader) == EXPECTED_BOTH
    assert set(summary.changes) == {f"{REGION}/{PROJECT}", f"{REGION_B}/{PROJECT_B}"}
    assert summary.changes[f"{REGION_B}/{PROJECT_B}"]["created"] == 2


def test_a_failing_scope_does_not_stop_the_others(tmp_path: Path) -> None:
    with SandboxServer(two_project_estate(), tokens=(TOKEN,)) as server:
        loader = Loader(tmp_path, server)
        loader.run(region=None, project_id=None, projects=both(server.url))
        server.estate.remove_function(OMEGA)  # would be retired, but the scope will fail
        server.faults.inject(path_contains=f"{PROJECT_B}/fgs/functions", status=503, times=10)
        summary = loader.run(
            region=None, project_id=None, projects=both(server.url), max_attempts=2
        )
    (failure,) = summary.failures
    assert failure.startswith(f"listing functions of project {PROJECT_B} in {REGION_B}")
    assert live_per_scope(loader) == EXPECTED_BOTH


def test_an_unauthorised_project_fails_alone(tmp_path: Path) -> None:
    scopes = [
        {"region": REGION, "project_id": PROJECT},
        {"region": "eu-west-101", "project_id": "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"},
    ]
    with SandboxServer(small_estate(), tokens=(TOKEN,)) as server:
        loader = Loader(tmp_path, server)
        summary = loader.run(
            region=None,
            project_id=None,
            endpoint=None,
            projects=[{**scope, "endpoint": server.url} for scope in scopes],
        )
    (failure,) = summary.failures
    assert "c1c1c1c1" in failure and "auth_token rejected" in failure and "FSS.0403" in failure
    assert live_per_scope(loader) == [(REGION, PROJECT, 9)]


@pytest.mark.parametrize(
    ("regions", "expected"),
    [(None, EXPECTED_BOTH), ([REGION_B], EXPECTED_BOTH[:1]), (f"{REGION}", EXPECTED_BOTH[1:])],
    ids=["all", "regions-list", "regions-text"],
)
def test_projects_are_discovered_with_ak_sk(tmp_path: Path, regions, expected) -> None:
    with SandboxServer(two_project_estate(), access_keys={"AK": "SK"}) as server:
        loader = Loader(tmp_path, server)
        summary = loader.run(
            region=None,
            project_id=None,
            regions=regions,
            iam_endpoint=server.url,
            credentials=FunctionGraphCredentials(access_key="AK", secret_key="SK"),
        )
    assert summary.ok
    assert live_per_scope(loader) == expected


@pytest.mark.parametrize(
    ("region", "project_id", "projects", "message"),
    [
        (None, "p1", '[{"region": "r-1", "project_id": "p2"}]', "not both"),
        (None, None, '{"region": "r-1"}', "must be a list"),
        (None, None, "[{]", "PROJECTS is not valid JSON"),
        (None, None, '[{"region": "r-1"}]', r"PROJECTS\[0\]: SOURCES__FUNCTIONGRAPH__PROJECT_ID"),
        (None, None, '[{"region": "r-1", "project_id": "p", "zone": 1}]', r"PROJECTS\[0\] must"),
        (None, None, [{"region": "r-1", "project_id": "p"}] * 2, "twice"),
    ],
)
def test_project_list_mistakes(region, project_id, projects, message) -> None:
    with pytest.raises(ConfigError, match=message):
        configured_scopes(region, project_id, None, projects)


def test_region_filter_forms() -> None:
    assert region_filter(None, "a-1, b-2") == {"a-1", "b-2"}
    assert region_filter(None, '["a-1"]') == {"a-1"}
    assert region_filter("c-3", None) == {"c-3"}
    assert region_filter(None, None) is None
    with pytest.raises(ConfigError, match="REGIONS must be a list"):
        region_filter(None, [1, 2])
