"""The FunctionGraph and IAM API paths the connector calls, and their documented page limits.

Kept in one place so that a newcomer finds every URL here, and a changed path is one edit.
"""

from __future__ import annotations

from pipelines.functiongraph.shaping.urns import quote_urn

FUNCTIONS_PAGE_MAX = 400
"""Largest `maxitems` of ListFunctions (missing, 0 or larger means 400)."""
CONFIGS_PAGE_MAX = 100
"""Largest `limit` of the async-invoke-configs call (larger is clamped)."""

IAM_TOKENS_PATH = "/v3/auth/tokens"
"""`POST`: a project-scoped token for a user's password (`X-Subject-Token`)."""
IAM_PROJECTS_PATH = "/v3/auth/projects"
"""`GET`: the projects the caller may scope to (project discovery with AK/SK)."""


def functions_path(project_id: str) -> str:
    """ListFunctions of a project (paged by `marker`/`maxitems`)."""
    return f"/v2/{project_id}/fgs/functions"


def configs_path(project_id: str, function_urn: str) -> str:
    """Async-invoke configs of every version and alias of one function (paged by `page_info`).

    The unqualified URN is one percent-encoded path segment (`:` and `!` included).
    """
    return f"{functions_path(project_id)}/{quote_urn(function_urn)}/async-invoke-configs"
