"""Configuration errors are caught before any request, with a message that says what to fix."""

from __future__ import annotations

import pytest

from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.config.settings import bounded, check_endpoint, make_scope
from pipelines.functiongraph.errors import ConfigError


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"auth_token": "t"}, "auth_token"),
        ({"username": "u", "password": "p", "domain_name": "d"}, "password"),
        ({"access_key": "a", "secret_key": "s"}, "access_key"),
        ({"access_key": "a", "secret_key": "s", "security_token": "x"}, "access_key"),
    ],
)
def test_each_complete_kind_is_recognised(fields: dict[str, str], kind: str) -> None:
    assert FunctionGraphCredentials(**fields).kind() == kind


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "no credentials configured"),
        ({"auth_token": "t", "access_key": "a", "secret_key": "s"}, "more than one credential"),
        ({"username": "u", "password": "p"}, "SOURCES__FUNCTIONGRAPH__CREDENTIALS__DOMAIN_NAME"),
        ({"access_key": "a"}, "SOURCES__FUNCTIONGRAPH__CREDENTIALS__SECRET_KEY"),
        ({"auth_token": "t", "security_token": "x"}, "only goes with an access key pair"),
    ],
)
def test_credential_mistakes(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FunctionGraphCredentials(**fields).kind()


def test_secret_values_never_appear_in_error_messages() -> None:
    with pytest.raises(ConfigError) as raised:
        FunctionGraphCredentials(auth_token="tok-123", access_key="ak", secret_key="sk-456").kind()
    assert "tok-123" not in str(raised.value) and "sk-456" not in str(raised.value)


@pytest.mark.parametrize(
    ("region", "project", "endpoint", "message"),
    [
        (None, "p1", None, "SOURCES__FUNCTIONGRAPH__REGION is not set"),
        ("  ", "p1", None, "SOURCES__FUNCTIONGRAPH__REGION is not set"),
        ("cn-north-4", "", None, "SOURCES__FUNCTIONGRAPH__PROJECT_ID is not set"),
        ("cn/north", "p1", None, "REGION has an invalid value"),
        ("cn-north-4", "p1/../x", None, "PROJECT_ID has an invalid value"),
        ("cn-north-4", "p1", "functiongraph.example.com", r"must be an http\(s\) URL"),
        ("cn-north-4", "p1", "https://x.example.com/?a=1", "must not carry a query"),
    ],
)
def test_scope_mistakes(region, project, endpoint, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make_scope(region, project, endpoint)


def test_scope_defaults_to_the_regional_endpoint() -> None:
    scope = make_scope("eu-west-101", "p1", None)
    assert scope.endpoint == "https://functiongraph.eu-west-101.myhuaweicloud.com"
    assert make_scope("r1", "p1", "http://127.0.0.1:9/base/").endpoint == "http://127.0.0.1:9/base"


@pytest.mark.parametrize(
    ("value", "cast", "expected"),
    [("5", int, 5), (7, int, 7), (" 2.5 ", float, 2.5), ("0", float, 0.0)],
)
def test_bounded_accepts_numbers_and_numeric_text(value, cast, expected) -> None:
    assert bounded("max_workers", value, 0, 10, cast) == expected


@pytest.mark.parametrize(
    ("value", "cast"), [("many", int), ("2.5", int), (True, int), ("nan", float), (11, int)]
)
def test_bounded_names_the_key_and_range(value, cast) -> None:
    with pytest.raises(
        ConfigError, match=r"SOURCES__FUNCTIONGRAPH__MAX_WORKERS must be .* 0 to 10"
    ):
        bounded("max_workers", value, 0, 10, cast)


def test_endpoint_errors_name_their_own_key() -> None:
    with pytest.raises(ConfigError, match="SOURCES__FUNCTIONGRAPH__IAM_ENDPOINT"):
        check_endpoint("iam", "iam_endpoint")
