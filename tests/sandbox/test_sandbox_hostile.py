"""Hostile listings and request ids, over real HTTP on loopback.

Each knob of `SandboxServer.hostile` is checked from the client's side: what a connector would
actually receive, byte for byte where the body is not JSON an encoder would write.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from pipelines.sandbox import (
    Estate,
    Hostile,
    SandboxServer,
    make_config_item,
    make_function_item,
)

PID = "c" * 32
REGION = "cn-north-4"
TOKEN = "sandbox-token"
AUTH = {"X-Auth-Token": TOKEN}
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def _urn(name: str) -> str:
    return f"urn:fss:{REGION}:{PID}:function:default:{name}"


def _estate(functions: int = 7, configs: int = 5) -> Estate:
    """Functions f00..fNN; f00 has `configs` configs (v000..), f01 none, the others one each."""
    estate = Estate()
    for index in range(functions):
        name = f"f{index:02d}"
        count = configs if index == 0 else (0 if index == 1 else 1)
        items = [make_config_item(_urn(name), f"v{n:03d}") for n in range(count)]
        estate.add_function(PID, make_function_item(REGION, PID, "default", name), items)
    return estate


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers.update(AUTH)
        yield s


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(_estate(), functions_page_cap=3, configs_page_cap=2) as srv:
        yield srv


def _functions_url(srv: SandboxServer, project_id: str = PID) -> str:
    return f"{srv.url}/v2/{project_id}/fgs/functions"


def _configs_url(srv: SandboxServer, urn: str) -> str:
    return f"{srv.url}/v2/{PID}/fgs/functions/{quote(urn, safe='')}/async-invoke-configs"


def _get(session: requests.Session, url: str, marker: int | None = None) -> dict[str, Any]:
    params = {} if marker is None else {"marker": marker}
    response = session.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _names(items: list[dict[str, Any]]) -> list[str]:
    return [str(item.get("func_urn", "?")).split(":", 6)[-1] for item in items]


# -- X-Request-Id --------------------------------------------------------------------------------


def _check_request_id(srv: SandboxServer, response: requests.Response) -> str:
    request_id = response.headers.get("X-Request-Id", "")
    assert REQUEST_ID.fullmatch(request_id), response.headers
    assert srv.requests_seen[-1].request_id == request_id
    return request_id


def test_every_written_response_carries_a_fresh_request_id(
    server: SandboxServer, session: requests.Session
) -> None:
    server.clear_requests_seen()
    responses = [
        session.get(_functions_url(server)),
        session.get(_configs_url(server, _urn("f00"))),
        session.get(_configs_url(server, _urn("nope"))),  # 404 FSS.1051
        session.get(_functions_url(server), params={"marker": "-1"}),  # 400
        session.get(_functions_url(server), headers={"X-Auth-Token": "wrong"}),  # 401
        session.get(f"{server.url}/v1/nothing"),  # 404 APIG.0101
        session.post(_functions_url(server), json={}),  # 405
        session.post(f"{server.url}/v3/auth/tokens", data=b"not json"),  # IAM 400
        session.get(f"{server.url}/v3/auth/projects"),  # IAM route, authenticated
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 401, 404, 405, 400, 200]
    ids = [r.headers.get("X-Request-Id", "") for r in responses]
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids), ids
    assert [s.request_id for s in server.requests_seen] == ids
    assert len(set(ids)) == len(ids)

    for kind in ("json", "html", "truncated"):
        server.faults.inject(body=kind)  # type: ignore[arg-type]
        faulted = session.get(_functions_url(server))
        assert faulted.status_code != 0
        ids.append(_check_request_id(server, faulted))
    assert len(set(ids)) == len(ids)


def test_request_ids_are_recorded_in_order(
    server: SandboxServer, session: requests.Session
) -> None:
    server.clear_requests_seen()
    sent = [session.get(_functions_url(server), params={"marker": m}) for m in (0, 3, 6)]
    seen = server.requests_seen
    assert [s.request_id for s in seen] == [r.headers["X-Request-Id"] for r in sent]
    # The id comes last: the first four fields read as before.
    method, path, query, status = seen[0][:4]
    assert (method, path, query, status) == (
        "GET",
        f"/v2/{PID}/fgs/functions",
        {"marker": "0"},
        200,
    )


def test_dropped_connection_has_no_request_id(
    server: SandboxServer, session: requests.Session
) -> None:
    server.faults.inject_drop()
    with pytest.raises(requests.ConnectionError):
        session.get(_functions_url(server))
    assert server.requests_seen[-1].status == 0
    assert server.requests_seen[-1].request_id == ""


# -- count_extra ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("style", "last"), [("count", 7), ("zero", 0), ("omit", None)])
def test_count_extra_lies_on_every_functions_page(
    style: str, last: int | None, session: requests.Session
) -> None:
    estate = _estate()
    hostile = Hostile(count_extra=5)
    with SandboxServer(
        estate,
        functions_page_cap=3,
        last_page_marker=style,  # type: ignore[arg-type]
        hostile=hostile,
    ) as srv:
        bodies = [_get(session, _functions_url(srv), m) for m in (0, 3, 6)]
        past = _get(session, _functions_url(srv), 7)
    assert [b["count"] for b in bodies] == [12, 12, 12]
    assert [f for b in bodies for f in b["functions"]] == estate.functions(PID)
    assert [b["next_marker"] for b in bodies[:2]] == [3, 6]
    assert bodies[2].get("next_marker") == last  # the real end, below the claimed count
    assert past["functions"] == []
    assert past["count"] == 12


@pytest.mark.parametrize(("style", "last"), [("count", 5), ("zero", 0), ("omit", None)])
def test_count_extra_lies_on_every_configs_page(
    style: str, last: int | None, session: requests.Session
) -> None:
    estate = _estate()
    with SandboxServer(
        estate,
        configs_page_cap=2,
        last_page_marker=style,  # type: ignore[arg-type]
    ) as srv:
        srv.hostile.count_extra = 3  # settable after construction
        url = _configs_url(srv, _urn("f00"))
        bodies = [_get(session, url, m) for m in (0, 2, 4)]
        past = _get(session, url, 5)
    assert [b["count"] for b in bodies] == [8, 8, 8]
    assert [c for b in bodies for c in b["async_invoke_configs"]] == estate.configs(_urn("f00"))
    infos = [b["page_info"] for b in bodies]
    assert [i["current_count"] for i in infos] == [2, 2, 1]
    assert [i["next_marker"] for i in infos[:2]] == [2, 4]
    assert infos[2].get("next_marker") == last
    assert (past["async_invoke_configs"], past["count"]) == ([], 8)


def test_negative_count_extra_claims_fewer_than_served(
    server: SandboxServer, session: requests.Session
) -> None:
    server.hostile.count_extra = -4
    first = _get(session, _functions_url(server))
    assert (len(first["functions"]), first["next_marker"], first["count"]) == (3, 3, 3)
    assert _get(session, _functions_url(server), 3)["functions"]  # items beyond the claim
    assert _get(session, _configs_url(server, _urn("f00")))["count"] == 1


# -- omit_page_info ------------------------------------------------------------------------------


def test_omit_page_info(server: SandboxServer, session: requests.Session) -> None:
    server.hostile.omit_page_info = True
    body = _get(session, _configs_url(server, _urn("f00")))
    assert set(body) == {"async_invoke_configs", "count"}
    assert _names(body["async_invoke_configs"]) == ["f00:v000", "f00:v001"]
    functions = _get(session, _functions_url(server))
    assert set(functions) == {"functions", "next_marker", "count"}  # a configs-only knob
    server.hostile.clear()
    assert "page_info" in _get(session, _configs_url(server, _urn("f00")))


# -- endless_paging ------------------------------------------------------------------------------


def _pages(session: requests.Session, url: str, key: str, pages: int) -> list[dict[str, Any]]:
    """Follow next_marker for `pages` pages (the client's own cap), checking each step."""
    bodies = []
    marker = 0
    for _ in range(pages):
        body = _get(session, url, marker)
        bodies.append(body)
        assert body[key], body
        assert "count" not in body
        info = body.get("page_info", body)
        assert info["next_marker"] == marker + len(body[key])
        marker = info["next_marker"]
    return bodies


def test_endless_functions(server: SandboxServer, session: requests.Session) -> None:
    server.hostile.endless_paging = True
    server.hostile.count_extra = 9  # nothing to act on: there is no count
    bodies = _pages(session, _functions_url(server), "functions", 40)
    names = [_names(b["functions"]) for b in bodies]
    assert names[:3] == [
        ["f00", "f01", "f02"],
        ["f03", "f04", "f05"],
        ["f06"],  # the real last page
    ]
    assert all(page == ["f04", "f05", "f06"] for page in names[3:])  # repeated past the end
    assert bodies[-1]["next_marker"] == 7 + 37 * 3


def test_endless_configs(server: SandboxServer, session: requests.Session) -> None:
    server.hostile.endless_paging = True
    url = _configs_url(server, _urn("f00"))
    bodies = _pages(session, url, "async_invoke_configs", 25)
    names = [_names(b["async_invoke_configs"]) for b in bodies]
    assert names[:3] == [["f00:v000", "f00:v001"], ["f00:v002", "f00:v003"], ["f00:v004"]]
    assert all(page == ["f00:v003", "f00:v004"] for page in names[3:])
    assert [b["page_info"]["current_count"] for b in bodies[:4]] == [2, 2, 1, 2]


def test_endless_empty_listings_serve_a_phantom(session: requests.Session) -> None:
    estate = Estate()
    estate.add_project(REGION, PID)
    with SandboxServer(estate, hostile=Hostile(endless_paging=True)) as srv:
        functions = _pages(session, _functions_url(srv), "functions", 5)
        assert {tuple(_names(b["functions"])) for b in functions} == {("endless-phantom",)}
        filtered = _get(session, _functions_url(srv) + "?package_name=billing&func_name=x")
        assert filtered["functions"][0]["func_urn"].endswith(":function:billing:x")

        srv.estate.add_function(PID, make_function_item(REGION, PID, "default", "lonely"))
        url = _configs_url(srv, _urn("lonely"))
        configs = _pages(session, url, "async_invoke_configs", 5)
        assert {tuple(_names(b["async_invoke_configs"])) for b in configs} == {("lonely:latest",)}
        # Unknown functions are still unknown: the knob only changes successful pages.
        assert session.get(_configs_url(srv, _urn("nope"))).status_code == 404


def test_endless_with_omit_page_info_has_no_marker_at_all(
    server: SandboxServer, session: requests.Session
) -> None:
    server.hostile.endless_paging = True
    server.hostile.omit_page_info = True
    assert set(_get(session, _configs_url(server, _urn("f00")))) == {"async_invoke_configs"}


# -- transform -----------------------------------------------------------------------------------


def test_transform_sees_kind_key_and_a_private_copy(
    server: SandboxServer, session: requests.Session
) -> None:
    calls: list[tuple[str, str]] = []

    def vandalise(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append((kind, key))
        items = payload["functions" if kind == "functions" else "async_invoke_configs"]
        for item in items:
            item["func_urn"] = "vandalised"
        payload["extra"] = kind
        return payload

    server.hostile.transform = vandalise
    functions = _get(session, _functions_url(server))
    configs = _get(session, _configs_url(server, _urn("f00")))
    assert functions["extra"] == "functions" and configs["extra"] == "configs"
    assert {f["func_urn"] for f in functions["functions"]} == {"vandalised"}
    assert calls == [("functions", PID), ("configs", _urn("f00"))]
    # The estate is untouched, and errors never reach the transform.
    assert server.estate.function_urns(PID)[0] == _urn("f00")
    assert session.get(_configs_url(server, _urn("nope"))).status_code == 404
    assert len(calls) == 2
    server.hostile.transform = None
    assert _get(session, _functions_url(server))["functions"][0]["func_urn"] == _urn("f00")


def test_transform_serves_one_config_on_two_pages(
    server: SandboxServer, session: requests.Session
) -> None:
    def repeat_first(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        items = payload["async_invoke_configs"]
        if kind == "configs" and items and _names(items)[0] == "f00:v002":
            items[0] = make_config_item(_urn("f00"), "v000")  # the first config, on page two
        return payload

    server.hostile.transform = repeat_first
    url = _configs_url(server, _urn("f00"))
    pages = [_names(_get(session, url, m)["async_invoke_configs"]) for m in (0, 2, 4)]
    assert pages == [["f00:v000", "f00:v001"], ["f00:v000", "f00:v003"], ["f00:v004"]]


def test_transform_serves_one_function_on_two_pages(
    server: SandboxServer, session: requests.Session
) -> None:
    first_page: list[dict[str, Any]] = []

    def overlap(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        if payload["next_marker"] == 3:
            first_page[:] = payload["functions"]
        elif first_page:
            payload["functions"].insert(0, first_page[-1])
        return payload

    server.hostile.transform = overlap
    pages = [_names(_get(session, _functions_url(server), m)["functions"]) for m in (0, 3)]
    assert pages == [["f00", "f01", "f02"], ["f02", "f03", "f04", "f05"]]


def test_transform_drops_func_urn(server: SandboxServer, session: requests.Session) -> None:
    def drop(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        items = payload["functions" if kind == "functions" else "async_invoke_configs"]
        del items[0]["func_urn"]
        return payload

    server.hostile.transform = drop
    function = _get(session, _functions_url(server))["functions"][0]
    config = _get(session, _configs_url(server, _urn("f00")))["async_invoke_configs"][0]
    assert "func_urn" not in function and function["func_name"] == "f00"
    assert "func_urn" not in config and "destination_config" in config


def test_transform_big_numbers(server: SandboxServer, session: requests.Session) -> None:
    def huge(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        config = payload["async_invoke_configs"][0]
        config["max_async_retry_attempts"] = 99999999999999999999
        config["max_async_event_age_in_seconds"] = 1e30
        return payload

    server.hostile.transform = huge
    response = session.get(_configs_url(server, _urn("f00")))
    assert '"max_async_retry_attempts": 99999999999999999999' in response.text
    assert '"max_async_event_age_in_seconds": 1e+30' in response.text
    assert response.json()["async_invoke_configs"][0]["max_async_retry_attempts"] > 2**64


def test_transform_bytes_are_served_verbatim(
    server: SandboxServer, session: requests.Session
) -> None:
    raw = (
        b'{"async_invoke_configs": [{"func_urn": "%s:latest", "max_async_retry_attempts": 1e30,'
        b' "max_async_event_age_in_seconds": 99999999999999999999}], "count": 1}'
        % _urn("f00").encode()
    )
    server.hostile.transform = lambda kind, key, payload: raw
    response = session.get(_configs_url(server, _urn("f00")))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.content == raw
    assert REQUEST_ID.fullmatch(response.headers["X-Request-Id"])


def test_transform_deeply_nested_body(server: SandboxServer, session: requests.Session) -> None:
    depth = 100_000
    raw = b'{"functions": ' + b"[" * depth + b"]" * depth + b', "count": 1}'
    server.hostile.transform = lambda kind, key, payload: raw
    response = session.get(_functions_url(server))
    assert response.status_code == 200
    assert response.content == raw
    assert int(response.headers["Content-Length"]) == len(raw)


def test_lone_surrogate_is_served_as_an_escape(
    server: SandboxServer, session: requests.Session
) -> None:
    def surrogate(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        payload["async_invoke_configs"][0]["destination_config"]["on_success"] = {
            "destination": "OBS",
            "param": '{"bucket": "b-\ud800", "prefix": "账单"}',
        }
        return payload

    server.hostile.transform = surrogate
    response = session.get(_configs_url(server, _urn("f00")))
    assert response.status_code == 200
    text = response.content.decode("utf-8")  # still valid UTF-8: nothing unencodable was sent
    assert "b-\\ud800" in text  # the surrogate, written as a JSON escape
    assert "\\u8d26" in text  # the fallback escapes every non-ASCII character
    side = response.json()["async_invoke_configs"][0]["destination_config"]["on_success"]
    assert side["param"] == '{"bucket": "b-\ud800", "prefix": "账单"}'


def test_lone_surrogate_in_the_estate_does_not_crash_the_server(
    session: requests.Session,
) -> None:
    estate = _estate()
    estate.add_function(
        PID, make_function_item(REGION, PID, "default", "odd", description="x\ud800y")
    )
    with SandboxServer(estate) as srv:
        response = session.get(_functions_url(srv), params={"func_name": "odd"})
    assert response.status_code == 200
    assert b"x\\ud800y" in response.content
    assert response.json()["functions"][0]["description"] == "x\ud800y"


def test_a_failing_transform_is_a_loud_500(
    server: SandboxServer, session: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("oops")

    server.hostile.transform = broken
    response = session.get(_functions_url(server))
    assert response.status_code == 500
    assert response.json()["error_code"] == "SANDBOX.0500"
    assert "KeyError" in response.json()["error_msg"]
    assert "hostile transform failed" in capfd.readouterr().err
    server.hostile.transform = lambda kind, key, payload: {"x": {1, 2}}  # not JSON-able
    assert session.get(_functions_url(server)).status_code == 500


def test_truncated_fault_cuts_the_transformed_body(
    server: SandboxServer, session: requests.Session
) -> None:
    server.hostile.transform = lambda kind, key, payload: b'{"functions": [], "count": 0}' * 2
    server.faults.inject(body="truncated")
    response = session.get(_functions_url(server))
    assert response.content == b'{"functions": [], "count": 0}'


# -- one config under two functions ---------------------------------------------------------------


def test_a_config_served_under_two_functions(session: requests.Session) -> None:
    estate = _estate()
    foreign = make_config_item(_urn("f00"), "v000")
    with pytest.raises(ValueError, match="does not belong"):
        estate.set_configs(_urn("f02"), [foreign])
    estate.set_configs(
        _urn("f02"), [foreign, make_config_item(_urn("f02"), "latest")], foreign_ok=True
    )
    with SandboxServer(estate) as srv:
        own = _get(session, _configs_url(srv, _urn("f00")))["async_invoke_configs"]
        other = _get(session, _configs_url(srv, _urn("f02")))["async_invoke_configs"]
    assert own[0] == other[0] == foreign
    assert _names(other) == ["f00:v000", "f02:latest"]


def test_the_gateway_limit_is_a_token_bucket() -> None:
    from pipelines.sandbox.gateway import GatewayLimit

    now = [100.0]
    gate = GatewayLimit(2, clock=lambda: now[0])
    assert [gate.admit(), gate.admit(), gate.admit()] == [True, True, False]
    now[0] += 0.5  # one token back
    assert [gate.admit(), gate.admit()] == [True, False]
    gate.per_second = 0
    assert all(gate.admit() for _ in range(100))


def test_the_gateway_answers_429_apig_0308_without_retry_after(
    server: SandboxServer, session: requests.Session
) -> None:
    server.gateway.per_second = 1
    first = session.get(_functions_url(server))
    second = session.get(_functions_url(server))
    assert first.status_code == 200
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert second.json()["error_code"] == "APIG.0308"
    assert second.headers["X-Request-Id"]
