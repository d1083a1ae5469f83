"""Error classes the connector raises.

Each error renders as one line a scheduler can show as the failure reason, naming the scope
(region, project, function) it concerns. None of them ever carries a credential: messages are
built from the API's `error_code`/`error_msg` and our own words, never from request headers.
"""

from __future__ import annotations


class FunctionGraphError(Exception):
    """Base class: everything the connector raises on purpose."""


class ConfigError(FunctionGraphError):
    """The configuration cannot work; raised before any request is sent."""


class ApiError(FunctionGraphError):
    """The API answered with an error that retrying will not fix."""

    def __init__(
        self,
        subject: str,
        status: int,
        error_code: str | None,
        error_msg: str | None,
        request_id: str | None = None,
    ) -> None:
        self.subject = subject
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        code = error_code or "no error_code"
        detail = f": {error_msg}" if error_msg else ""
        # Huawei support asks for the request id of a failed call.
        ticket = f" (X-Request-Id {request_id})" if request_id else ""
        super().__init__(f"{subject}: HTTP {status} {code}{detail}{ticket}")


class FunctionNotFound(ApiError):
    """`404 FSS.1051`: the function was deleted between listing and fetching."""


class AuthError(ApiError):
    """401/403 or a token failure: retrying only hammers IAM, so the run stops at once."""


class RetriesExhausted(FunctionGraphError):
    """A transient failure (429, 5xx, network, broken body) outlasted every attempt."""


class PagingError(FunctionGraphError):
    """A page whose shape cannot be read (e.g. the item list is not a list)."""
