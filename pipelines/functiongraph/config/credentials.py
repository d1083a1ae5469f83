"""The credentials spec, resolved by dlt from `sources.functiongraph.credentials`.

Secret fields are typed `TSecretStrValue`: dlt then keeps their values out of traces, and they
may only come from secret providers (`.dlt/secrets.toml`, environment variables).
"""

from __future__ import annotations

import unicodedata

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.typing import TSecretStrValue

from pipelines.functiongraph.config.settings import env_key
from pipelines.functiongraph.errors import ConfigError

ALL_FIELDS = (
    "auth_token",
    "username",
    "password",
    "domain_name",
    "access_key",
    "secret_key",
    "security_token",
)

HEADER_FIELDS = frozenset({"auth_token", "access_key", "security_token"})
"""Values sent as (part of) HTTP headers, where surrounding spaces are never meant."""

# Each credential kind and the fields it needs, all of them.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "auth_token": ("auth_token",),
    "password": ("username", "password", "domain_name"),
    "access_key": ("access_key", "secret_key"),
}


@configspec
class FunctionGraphCredentials(CredentialsConfiguration):
    """Every field is optional here; `kind()` decides which one complete kind is configured."""

    auth_token: TSecretStrValue | None = None
    """A ready IAM token, sent as `X-Auth-Token`."""
    username: str | None = None
    """IAM user name, for tokens fetched with a password."""
    password: TSecretStrValue | None = None
    domain_name: str | None = None
    """The account (domain) the IAM user belongs to."""
    access_key: str | None = None
    """AK of an AK/SK pair; requests are signed with SDK-HMAC-SHA256."""
    secret_key: TSecretStrValue | None = None
    security_token: TSecretStrValue | None = None
    """With a temporary AK/SK pair only: sent, signed, as `X-Security-Token`."""

    def kind(self) -> str:
        """The one credential kind configured; a `ConfigError` saying what to fix otherwise."""
        self.check_values()
        started = [k for k, fields in KIND_FIELDS.items() if any(getattr(self, f) for f in fields)]
        if not started:
            raise ConfigError(
                "no credentials configured: set one of "
                f"{env_key('credentials__auth_token')}; "
                f"{env_key('credentials__username')}, ..._PASSWORD and ..._DOMAIN_NAME; "
                f"or {env_key('credentials__access_key')} and ..._SECRET_KEY"
            )
        if len(started) > 1:
            raise ConfigError(
                f"more than one credential kind configured ({', '.join(started)}): keep one"
            )
        kind = started[0]
        missing = [env_key(f"credentials__{f}") for f in KIND_FIELDS[kind] if not getattr(self, f)]
        if missing:
            raise ConfigError(f"{kind} credentials are incomplete: set {', '.join(missing)}")
        if self.security_token and kind != "access_key":
            raise ConfigError(
                f"{env_key('credentials__security_token')} only goes with an access key pair"
            )
        return kind

    def check_values(self) -> None:
        """Refuse values that cannot be sent as they are, naming the key but never the value.

        A `.env` file saved with CRLF line endings leaves a `\\r` at the end of every value;
        sent as a header, `requests` would raise an error quoting the whole secret, and dlt
        would keep that error in its trace. Blank values are refused for the same reason:
        they are mistakes, and would otherwise surface as a confusing auth failure.
        """
        for name in ALL_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            text = str(value)
            key = env_key(f"credentials__{name}")
            if not text.strip():
                raise ConfigError(f"{key} is blank: set a value or unset the key")
            if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text):
                raise ConfigError(
                    f"{key} contains a control character (a line ending from a file saved with "
                    "CRLF line endings?): remove it; the value is not shown"
                )
            if name in HEADER_FIELDS and text != text.strip():
                raise ConfigError(f"{key} starts or ends with spaces: remove them")
