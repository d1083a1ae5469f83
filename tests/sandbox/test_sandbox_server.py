"""The sandbox server over real HTTP on loopback: paging, errors, auth and every fault knob."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest
import requests

from pipelines.sandbox import (
    Estate,
    Faults,
    SandboxServer,
    generate_estate,
    make_config_item,
    make_function_item,
)

PID = "c" * 32
REGION = "cn-north-4"
TOKEN = "sandbox-token"
AUTH = {"X-Auth-Token": TOKEN}


def _urn(name: str, package: str = "default") -> str:
    return f"urn:fss:{REGION}:{PID}:function:{package}:{name}"


def _estate(functions: int = 23, configs: int = 25) -> Estate:
    """Functions f00..fNN in two packages; f00 has `configs` configs, the others one each."""
    estate = Estate()
    for index in range(functions):
        package = "billing" if index % 3 == 0 else "default"
        name = f"f{index:02d}"
        urn = _urn(name, package)
        count = configs if index == 0 else 1
        items = [make_config_item(urn, f"v{n:03d}") for n in range(count)]
        estate.add_function(PID, make_function_item(REGION, PID, package, name), items)
    return estate


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers.update(AUTH)
        yield s


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(_estate()) as srv:
        yield srv


def _functions_url(srv: SandboxServer, project_id: str = PID) -> str:
    return f"{srv.url}/v2/{project_id}/fgs/functions"


def _configs_url(srv: SandboxServer, urn: str, project_id: str = PID) -> str:
    return f"{srv.url}/v2/{project_id}/fgs/functions/{quote(urn, safe='')}/async-invoke-configs"


def _all_functions(
    session: requests.Session, srv: SandboxServer, maxitems: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    marker = 0
    while True:
        body = session.get(
            _functions_url(srv), params={"marker": marker, "maxitems": maxitems}
        ).json()
        bodies.append(body)
        items += body["functions"]
        nxt = body.get("next_marker")
        if not body["functions"] or not nxt or nxt >= body["count"]:
            return items, bodies
        marker = nxt


def _all_configs(
    session: requests.Session, srv: SandboxServer, urn: str, limit: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    marker = 0
    while True:
        params: dict[str, Any] = {"marker": marker}
        if limit is not None:
            params["limit"] = limit
        response = session.get(_configs_url(srv, urn), params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        bodies.append(body)
        items += body["async_invoke_configs"]
        nxt = body["page_info"].get("next_marker")
        if not body["async_invoke_configs"] or not nxt or nxt >= body["count"]:
            return items, bodies
        marker = nxt


# -- ListFunctions --------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["count", "zero", "omit"])
def test_function_pages_concatenate_to_the_estate(style: str, session: requests.Session) -> None:
    estate = _estate()
    with SandboxServer(estate, last_page_marker=style) as srv:  # type: ignore[arg-type]
        items, bodies = _all_functions(session, srv, maxitems=7)
    assert items == estate.functions(PID)
    assert [b["next_marker"] for b in bodies[:-1]] == [7, 14, 21]
    assert [len(b["functions"]) for b in bodies] == [7, 7, 7, 2]
    assert all(b["count"] == 23 and "page_info" not in b for b in bodies)
    last = bodies[-1]
    expected = {"count": 23, "zero": 0}
    if style == "omit":
        assert "next_marker" not in last
    else:
        assert last["next_marker"] == expected[style]


def test_functions_are_ordered_by_urn(server: SandboxServer, session: requests.Session) -> None:
    body = session.get(_functions_url(server)).json()
    urns = [f["func_urn"] for f in body["functions"]]
    assert urns == sorted(urns)
    assert urns[0] == _urn("f00", "billing")


@pytest.mark.parametrize(
    ("maxitems", "expected"),
    [(None, 400), ("", 400), ("0", 400), ("401", 400), ("100000", 400), ("399", 399), ("1", 1)],
)
def test_maxitems_defaults_and_clamps(
    maxitems: str | None, expected: int, session: requests.Session
) -> None:
    estate = Estate()
    for index in range(450):
        name = f"g{index:03d}"
        estate.add_function(PID, make_function_item(REGION, PID, "default", name))
    # A cap above the documented maximum shows the clamp is the API's own, not the cap's.
    with SandboxServer(estate, functions_page_cap=1000) as srv:
        params = {} if maxitems is None else {"maxitems": maxitems}
        body = session.get(_functions_url(srv), params=params).json()
    assert len(body["functions"]) == expected
    assert body["next_marker"] == expected
    assert body["count"] == 450


def test_functions_page_cap(session: requests.Session) -> None:
    with SandboxServer(_estate(), functions_page_cap=5) as srv:
        body = session.get(_functions_url(srv), params={"maxitems": 100}).json()
    assert len(body["functions"]) == 5
    assert body["next_marker"] == 5


def test_marker_past_the_end_is_an_empty_last_page(
    server: SandboxServer, session: requests.Session
) -> None:
    body = session.get(_functions_url(server), params={"marker": 500}).json()
    assert body == {"functions": [], "next_marker": 23, "count": 23}


def test_function_filters(server: SandboxServer, session: requests.Session) -> None:
    body = session.get(_functions_url(server), params={"package_name": "billing"}).json()
    assert body["count"] == 8
    assert {f["package"] for f in body["functions"]} == {"billing"}
    body = session.get(_functions_url(server), params={"func_name": "f04"}).json()
    assert [f["func_urn"] for f in body["functions"]] == [_urn("f04")]


@pytest.mark.parametrize(
    "params",
    [
        {"marker": "-1"},
        {"marker": "abc"},
        {"marker": "1.5"},
        {"maxitems": "-5"},
        {"maxitems": "ten"},
        {"maxitems": "٣"},  # a non-ASCII digit is not a number to the API
    ],
)
def test_bad_function_paging_values_are_400(
    params: dict[str, str], server: SandboxServer, session: requests.Session
) -> None:
    response = session.get(_functions_url(server), params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "FSS.0400"
    assert next(iter(params)) in body["error_msg"]


# -- async-invoke-configs ------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["count", "zero", "omit"])
def test_config_pages_concatenate(style: str, session: requests.Session) -> None:
    estate = _estate()
    urn = _urn("f00", "billing")
    with SandboxServer(estate, last_page_marker=style) as srv:  # type: ignore[arg-type]
        items, bodies = _all_configs(session, srv, urn)
    assert items == estate.configs(urn)
    infos = [b["page_info"] for b in bodies]
    assert [i["current_count"] for i in infos] == [10, 10, 5]  # limit defaults to 10
    assert [i["next_marker"] for i in infos[:-1]] == [10, 20]
    assert [i["previous_marker"] for i in infos] == [0, 0, 10]
    assert all(b["count"] == 25 for b in bodies)
    if style == "omit":
        assert "next_marker" not in infos[-1]
    else:
        assert infos[-1]["next_marker"] == {"count": 25, "zero": 0}[style]


def test_encoded_urn_arrives_as_one_segment(
    server: SandboxServer, session: requests.Session
) -> None:
    urn = _urn("f01")
    response = session.get(_configs_url(server, urn))
    assert response.status_code == 200
    assert [c["func_urn"] for c in response.json()["async_invoke_configs"]] == [f"{urn}:v000"]
    seen = server.requests_seen[-1]
    assert seen.path.endswith(f"/{quote(urn, safe='')}/async-invoke-configs")
    assert "%3A" in seen.path
    assert seen.status == 200


@pytest.mark.parametrize(("limit", "expected"), [("0", 10), ("", 10), ("3", 3), ("250", 100)])
def test_limit_defaults_and_clamps(limit: str, expected: int, session: requests.Session) -> None:
    urn = _urn("f00", "billing")
    with SandboxServer(_estate(functions=1, configs=130), configs_page_cap=1000) as srv:
        body = session.get(_configs_url(srv, urn), params={"limit": limit}).json()
    assert body["page_info"]["current_count"] == expected
    assert len(body["async_invoke_configs"]) == expected
    assert body["page_info"]["next_marker"] == expected
    assert body["count"] == 130


def test_configs_page_cap(session: requests.Session) -> None:
    urn = _urn("f00", "billing")
    with SandboxServer(_estate(), configs_page_cap=4) as srv:
        items, bodies = _all_configs(session, srv, urn, limit=100)
    assert len(items) == 25
    assert len(bodies) == 7


@pytest.mark.parametrize("params", [{"limit": "-1"}, {"limit": "x"}, {"marker": "-3"}])
def test_bad_config_paging_values_are_400(
    params: dict[str, str], server: SandboxServer, session: requests.Session
) -> None:
    response = session.get(_configs_url(server, _urn("f01")), params=params)
    assert response.status_code == 400
    assert response.json()["error_code"] == "FSS.0400"


@pytest.mark.parametrize(
    "urn",
    [
        _urn("nope"),
        f"{_urn('f01')}:latest",  # qualified URNs are not accepted by this API
        f"{_urn('f01')}:!prod",
        f"urn:fss:{REGION}:{'d' * 32}:function:default:f01",  # another project's function
        "not-a-urn",
    ],
)
def test_unknown_function_is_404_fss_1051(
    urn: str, server: SandboxServer, session: requests.Session
) -> None:
    response = session.get(_configs_url(server, urn))
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["error_code"] == "FSS.1051"
    assert urn in body["error_msg"]


def test_function_without_configs_serves_an_empty_page(session: requests.Session) -> None:
    estate = Estate()
    estate.add_function(PID, make_function_item(REGION, PID, "default", "lonely"))
    with SandboxServer(estate) as srv:
        body = session.get(_configs_url(srv, _urn("lonely"))).json()
    assert body["async_invoke_configs"] == []
    assert body["count"] == 0
    assert body["page_info"]["current_count"] == 0


def test_mutations_between_requests_are_served(
    server: SandboxServer, session: requests.Session
) -> None:
    urn = _urn("f01")
    server.estate.upsert_config(make_config_item(urn, "!prod", max_async_retry_attempts=0))
    server.estate.remove_function(_urn("f02"))
    configs = session.get(_configs_url(server, urn)).json()["async_invoke_configs"]
    assert [c["func_urn"] for c in configs] == [f"{urn}:v000", f"{urn}:!prod"]
    listing = session.get(_functions_url(server)).json()
    assert listing["count"] == 22
    assert session.get(_configs_url(server, _urn("f02"))).status_code == 404


def test_generated_estate_round_trips_through_small_pages(session: requests.Session) -> None:
    estate = generate_estate(seed=21, functions_per_project=30)
    (project_id,) = estate.projects
    with SandboxServer(estate, functions_page_cap=4, configs_page_cap=2) as srv:
        listed = []
        marker = 0
        while True:
            url = _functions_url(srv, project_id)
            body = session.get(url, params={"marker": marker}).json()
            listed += body["functions"]
            if body["next_marker"] >= body["count"]:
                break
            marker = body["next_marker"]
        assert listed == estate.functions(project_id)
        for function in listed:
            urn = function["func_urn"]
            url = f"{srv.url}/v2/{project_id}/fgs/functions/{quote(urn, safe='')}"
            fetched: list[dict[str, Any]] = []
            marker = 0
            while True:
                response = session.get(f"{url}/async-invoke-configs", params={"marker": marker})
                body = response.json()
                fetched += body["async_invoke_configs"]
                if body["page_info"]["next_marker"] >= body["count"]:
                    break
                marker = body["page_info"]["next_marker"]
            assert fetched == estate.configs(urn)


# -- auth and routing ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "wrong"}, {"X-Auth-Token": ""}])
def test_missing_or_wrong_token_is_401(headers: dict[str, str], server: SandboxServer) -> None:
    for url in (_functions_url(server), _configs_url(server, _urn("f01"))):
        response = requests.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "error_code": "APIG.1002",
            "error_msg": "Incorrect token or token resolution failed",
        }
        assert "wrong" not in response.text


def test_custom_tokens(session: requests.Session) -> None:
    with SandboxServer(_estate(), tokens=("alpha", "beta")) as srv:
        assert session.get(_functions_url(srv)).status_code == 401
        ok = requests.get(_functions_url(srv), headers={"X-Auth-Token": "beta"})
        assert ok.status_code == 200
        assert "beta" not in ok.text


def test_unknown_project_is_403(server: SandboxServer, session: requests.Session) -> None:
    response = session.get(_functions_url(server, "e" * 32))
    assert response.status_code == 403
    assert response.json()["error_code"] == "FSS.0403"
    assert session.get(_configs_url(server, _urn("f01"), "e" * 32)).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1/{pid}/fgs/functions",
        "/v2/{pid}/fgs/functions/",
        "/v2/{pid}/fgs/functions/{urn}",
        "/v2/{pid}/fgs/functions/{urn}/versions",
        "/v2/{pid}/fgs/functions//async-invoke-configs",
    ],
)
def test_unknown_route_is_404_apig(
    path: str, server: SandboxServer, session: requests.Session
) -> None:
    url = server.url + path.format(pid=PID, urn=quote(_urn("f01"), safe=""))
    response = session.get(url)
    assert response.status_code == 404
    assert response.json() == {
        "error_code": "APIG.0101",
        "error_msg": "The API does not exist or has not been published in the environment",
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_non_get_is_405(method: str, server: SandboxServer, session: requests.Session) -> None:
    response = session.request(method, _functions_url(server), json={"x": 1})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    # The server stays healthy afterwards.
    assert session.get(_functions_url(server)).status_code == 200


def test_requests_seen_records_paging(server: SandboxServer, session: requests.Session) -> None:
    server.clear_requests_seen()
    _all_functions(session, server, maxitems=10)
    seen = server.requests_seen
    assert [(s.method, s.query, s.status) for s in seen] == [
        ("GET", {"marker": "0", "maxitems": "10"}, 200),
        ("GET", {"marker": "10", "maxitems": "10"}, 200),
        ("GET", {"marker": "20", "maxitems": "10"}, 200),
    ]
    assert {s.path for s in seen} == {f"/v2/{PID}/fgs/functions"}


def test_concurrent_requests(server: SandboxServer) -> None:
    urns = [f["func_urn"] for f in server.estate.functions(PID)]

    def fetch(urn: str) -> int:
        return requests.get(_configs_url(server, urn), headers=AUTH).json()["count"]

    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(fetch, urns * 3))
    assert counts == [len(server.estate.configs(u) or []) for u in urns] * 3


def test_stop_closes_the_socket_and_keepalive_connections(session: requests.Session) -> None:
    srv = SandboxServer(_estate()).start()
    assert session.get(_functions_url(srv)).status_code == 200  # opens a pooled connection
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(_functions_url(srv))
    with pytest.raises(RuntimeError):
        srv.start()
    srv.stop()  # idempotent


def test_serve_forever_until_stopped_from_another_thread(session: requests.Session) -> None:
    srv = SandboxServer(_estate())
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        assert session.get(_functions_url(srv)).status_code == 200
        with pytest.raises(RuntimeError):
            srv.start()  # already serving
    finally:
        srv.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        session.get(_functions_url(srv))


def test_quiet_unless_verbose(capfd: pytest.CaptureFixture[str], session: requests.Session) -> None:
    with SandboxServer(_estate()) as srv:
        session.get(_functions_url(srv))
        requests.get(_functions_url(srv), headers={"X-Auth-Token": "leaked-secret"})
    assert capfd.readouterr().err == ""
    with SandboxServer(_estate(), verbose=True) as srv:
        session.get(_functions_url(srv))
        requests.get(_functions_url(srv), headers={"X-Auth-Token": "leaked-secret"})
    err = capfd.readouterr().err
    assert f"GET /v2/{PID}/fgs/functions" in err
    assert "401" in err
    assert "leaked-secret" not in err
    assert TOKEN not in err


def test_rejects_unknown_last_page_marker() -> None:
    with pytest.raises(ValueError):
        SandboxServer(Estate(), last_page_marker="never")  # type: ignore[arg-type]


# -- faults --------------------------------------------------------------------------------------


def test_injected_429_with_retry_after(server: SandboxServer, session: requests.Session) -> None:
    server.faults.inject(status=429, retry_after="3", times=2)
    for _ in range(2):
        response = session.get(_functions_url(server))
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json()["error_code"] == "FSS.0429"
    assert server.faults.scripted_remaining == 0
    assert session.get(_functions_url(server)).status_code == 200


def test_injections_match_paths_and_are_consumed_in_order(
    server: SandboxServer, session: requests.Session
) -> None:
    server.faults.inject(path_contains="async-invoke-configs", status=503)
    server.faults.inject(path_contains="async-invoke-configs", status=500)
    server.faults.inject(path_contains="function:default:f04", status=502)  # decoded path
    assert session.get(_functions_url(server)).status_code == 200  # not a match
    first = session.get(_configs_url(server, _urn("f01")))
    assert (first.status_code, first.json()["error_code"]) == (503, "FSS.0503")
    assert "Retry-After" not in first.headers
    assert session.get(_configs_url(server, _urn("f01"))).status_code == 500
    assert session.get(_configs_url(server, _urn("f01"))).status_code == 200
    assert session.get(_configs_url(server, _urn("f04"))).status_code == 502
    assert session.get(_configs_url(server, _urn("f04"))).status_code == 200


def test_html_502(server: SandboxServer, session: requests.Session) -> None:
    server.faults.inject(body="html")
    response = session.get(_functions_url(server))
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text
    with pytest.raises(ValueError):
        response.json()


def test_truncated_body_is_200_and_not_json(
    server: SandboxServer, session: requests.Session
) -> None:
    server.faults.inject(body="truncated", path_contains="async-invoke-configs")
    response = session.get(_configs_url(server, _urn("f00", "billing")))
    assert response.status_code == 200
    assert response.text.startswith('{"async_invoke_configs": [')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert session.get(_configs_url(server, _urn("f00", "billing"))).json()["count"] == 25


def test_drop_closes_without_response(server: SandboxServer, session: requests.Session) -> None:
    server.faults.inject_drop(path_contains="/fgs/functions", times=1)
    with pytest.raises(requests.ConnectionError):
        session.get(_functions_url(server))
    assert server.requests_seen[-1].status == 0
    assert session.get(_functions_url(server)).status_code == 200


def test_fail_function_persistent(server: SandboxServer, session: requests.Session) -> None:
    server.faults.fail_function(_urn("f01"), status=503)
    for _ in range(4):
        assert session.get(_configs_url(server, _urn("f01"))).status_code == 503
    assert session.get(_configs_url(server, _urn("f04"))).status_code == 200
    assert session.get(_functions_url(server)).status_code == 200
    server.faults.clear()
    assert session.get(_configs_url(server, _urn("f01"))).status_code == 200


def test_fail_function_times(server: SandboxServer, session: requests.Session) -> None:
    server.faults.fail_function(_urn("f01"), times=2)
    statuses = [session.get(_configs_url(server, _urn("f01"))).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_vanish(server: SandboxServer, session: requests.Session) -> None:
    server.faults.vanish(_urn("f01"))
    listed = [f["func_urn"] for f in session.get(_functions_url(server)).json()["functions"]]
    assert _urn("f01") in listed
    response = session.get(_configs_url(server, _urn("f01")))
    assert response.status_code == 404
    assert response.json()["error_code"] == "FSS.1051"


def test_random_errors_are_seeded(server: SandboxServer, session: requests.Session) -> None:
    def statuses(seed: int) -> list[int]:
        server.faults.reseed(seed)
        server.faults.random_error_rate = 0.5
        return [session.get(_functions_url(server)).status_code for _ in range(30)]

    first = statuses(1)
    assert set(first) == {200, 429, 503}
    assert statuses(1) == first
    server.faults.random_error_rate = 1.0
    assert {session.get(_functions_url(server)).status_code for _ in range(10)} <= {429, 503}
    server.faults.clear()
    assert session.get(_functions_url(server)).status_code == 200


def test_fault_precedence() -> None:
    faults = Faults(random_error_rate=1.0)
    urn = _urn("f01")
    faults.vanish(urn)
    faults.fail_function(urn, status=500, times=1)
    faults.inject(status=429)
    targets = ("/x",)
    picked = [faults.pick(targets, urn) for _ in range(4)]
    assert [(p.status if p else None) for p in picked[:3]] == [429, 500, 404]
    assert picked[3] is not None and picked[3].error_code == "FSS.1051"
    assert faults.pick(targets, None) is not None  # random errors apply to any request
    faults.clear()
    assert faults.pick(targets, urn) is None


def test_fault_knobs_validate() -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        faults.inject(body="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        faults.inject(times=0)
    with pytest.raises(ValueError):
        faults.random_error_rate = 1.5
    with pytest.raises(ValueError):
        faults.latency_s = -1


def test_latency_is_added(server: SandboxServer, session: requests.Session) -> None:
    server.faults.latency_s = 0.05
    started = time.perf_counter()
    assert session.get(_functions_url(server)).status_code == 200
    assert time.perf_counter() - started >= 0.05
