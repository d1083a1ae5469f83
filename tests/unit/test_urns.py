from urllib.parse import quote

import pytest

from pipelines.functiongraph.shaping.urns import (
    FunctionUrn,
    UrnError,
    parse_function_urn,
    quote_urn,
)

BASE = "urn:fss:cn-north-4:0123abcd:function:default:my-func"


@pytest.mark.parametrize(
    ("urn", "expected", "kind"),
    [
        (BASE, FunctionUrn("cn-north-4", "0123abcd", "default", "my-func", None), None),
        (
            f"{BASE}:latest",
            FunctionUrn("cn-north-4", "0123abcd", "default", "my-func", "latest"),
            "latest",
        ),
        (
            f"{BASE}:v20240101-120000",
            FunctionUrn("cn-north-4", "0123abcd", "default", "my-func", "v20240101-120000"),
            "version",
        ),
        (f"{BASE}:1", FunctionUrn("cn-north-4", "0123abcd", "default", "my-func", "1"), "version"),
        (
            f"{BASE}:!prod",
            FunctionUrn("cn-north-4", "0123abcd", "default", "my-func", "!prod"),
            "alias",
        ),
        (
            "urn:fss:ap-southeast-1:p:function:pkg_2:函数:!灰度",
            FunctionUrn("ap-southeast-1", "p", "pkg_2", "函数", "!灰度"),
            "alias",
        ),
    ],
)
def test_parse_valid(urn: str, expected: FunctionUrn, kind: str | None) -> None:
    parsed = parse_function_urn(urn)
    assert parsed == expected
    assert parsed.qualifier_kind == kind
    assert parsed.unqualified == ":".join(urn.split(":")[:7])


@pytest.mark.parametrize(
    ("urn", "reason"),
    [
        ("urn:fss:cn-north-4:p:function:default", "has 6 ':'-separated fields"),
        (f"{BASE}:latest:extra", "has 9 ':'-separated fields"),
        ("urn:fs:cn-north-4:p:function:default:f", "does not start with 'urn:fss:'"),
        ("arn:fss:cn-north-4:p:function:default:f", "does not start with 'urn:fss:'"),
        ("", "does not start with 'urn:fss:'"),
        ("urn:fss:cn-north-4:p:functions:default:f", "5th field is 'functions'"),
        ("urn:fss:cn-north-4:p::default:f", "5th field is ''"),
        ("urn:fss::p:function:default:f", "region is empty"),
        ("urn:fss:cn-north-4::function:default:f", "project_id is empty"),
        ("urn:fss:cn-north-4:p:function::f", "package is empty"),
        ("urn:fss:cn-north-4:p:function:default:", "function name is empty"),
        (f"{BASE}:", "qualifier is empty"),
        (f"{BASE}:!", "alias after '!' is empty"),
        (None, "expected a string, got NoneType"),
        (42, "expected a string, got int"),
    ],
)
def test_parse_invalid(urn: object, reason: str) -> None:
    with pytest.raises(UrnError) as caught:
        parse_function_urn(urn)  # type: ignore[arg-type]
    assert reason in str(caught.value)
    assert repr(urn) in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("urn", "expected"),
    [
        (BASE, "urn%3Afss%3Acn-north-4%3A0123abcd%3Afunction%3Adefault%3Amy-func"),
        (
            f"{BASE}:!prod",
            "urn%3Afss%3Acn-north-4%3A0123abcd%3Afunction%3Adefault%3Amy-func%3A%21prod",
        ),
        (
            f"{BASE}:latest",
            "urn%3Afss%3Acn-north-4%3A0123abcd%3Afunction%3Adefault%3Amy-func%3Alatest",
        ),
        ("urn:fss:r:p:function:a/b:f~x y", "urn%3Afss%3Ar%3Ap%3Afunction%3Aa%2Fb%3Af~x%20y"),
        (
            "urn:fss:r:p:function:pkg:函数",
            "urn%3Afss%3Ar%3Ap%3Afunction%3Apkg%3A%E5%87%BD%E6%95%B0",
        ),
    ],
)
def test_quote_urn(urn: str, expected: str) -> None:
    assert quote_urn(urn) == expected
    assert quote_urn(urn) == quote(urn, safe="")
