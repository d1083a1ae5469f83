"""A local stand-in for the FunctionGraph API, for the demo, the tests and the benchmarks.

It speaks only HTTP: the connector never imports this package, and talks to it over a socket.
"""

from .estate import (
    ABSENT,
    Estate,
    Project,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
    unqualified_urn,
)
from .faults import FaultResponse, Faults
from .generator import DEFAULT_PROJECT_ID, DEFAULT_REGION, generate_estate
from .iam import AuthAttempt, AuthResult, Iam
from .server import SandboxServer, SeenRequest

__all__ = [
    "ABSENT",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_REGION",
    "AuthAttempt",
    "AuthResult",
    "Estate",
    "FaultResponse",
    "Faults",
    "Iam",
    "Project",
    "SandboxServer",
    "SeenRequest",
    "function_urn",
    "generate_estate",
    "make_config_item",
    "make_destination",
    "make_function_item",
    "unqualified_urn",
]
