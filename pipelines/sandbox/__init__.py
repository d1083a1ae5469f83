"""A local stand-in for the FunctionGraph API, for the demo, the tests and the benchmarks.

It speaks only HTTP: the connector never imports this package, and talks to it over a socket;
nor does this package import the connector (it verifies AK/SK signatures with its own `signing`),
so a bug in the connector cannot hide behind the same bug in its test double.
"""

from .estate import (
    ABSENT,
    Estate,
    Project,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
    tenant_secrets,
    unqualified_urn,
    user_data_text,
)
from .faults import FaultResponse, Faults
from .generator import DEFAULT_PROJECT_ID, DEFAULT_REGION, generate_estate
from .iam import AuthAttempt, AuthResult, Iam
from .replay import Change, DayPlan, apply_day, plan_day
from .server import Hostile, SandboxServer, SeenRequest

__all__ = [
    "ABSENT",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_REGION",
    "AuthAttempt",
    "AuthResult",
    "Change",
    "DayPlan",
    "Estate",
    "FaultResponse",
    "Faults",
    "Hostile",
    "Iam",
    "Project",
    "SandboxServer",
    "SeenRequest",
    "apply_day",
    "function_urn",
    "generate_estate",
    "make_config_item",
    "make_destination",
    "make_function_item",
    "plan_day",
    "tenant_secrets",
    "unqualified_urn",
    "user_data_text",
]
