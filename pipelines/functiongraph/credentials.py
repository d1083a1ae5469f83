"""The credentials spec, resolved by dlt from `sources.functiongraph.credentials`.

Secret fields are typed `TSecretStrValue`: dlt then keeps their values out of traces, and they
may only come from secret providers (`.dlt/secrets.toml`, environment variables).
"""

from __future__ import annotations

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.typing import TSecretStrValue


@configspec
class FunctionGraphCredentials(CredentialsConfiguration):
    """Every field is optional here; `pipelines.functiongraph.auth` decides which kind is set."""

    auth_token: TSecretStrValue | None = None
    """A ready IAM token, sent as `X-Auth-Token`."""

    def kinds(self) -> list[str]:
        """The credential kinds this configuration provides (exactly one is allowed)."""
        return ["auth_token"] if self.auth_token else []
