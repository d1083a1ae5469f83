"""`python -m pipelines sandbox`: serve the sandbox API from the command line.

It prints `export` lines to paste into another shell so the connector talks to this sandbox; they
carry the real values (quoted for the shell), never placeholders, and exactly one credential kind,
because the connector refuses a configuration naming two.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
from collections.abc import Sequence

from .generator import generate_estate
from .server import Hostile, SandboxServer

# What `demo` and `sandbox` serve unless told otherwise.
DEMO_TOKEN = "sandbox-token"
DEMO_REGION = "cn-north-4"
DEMO_PROJECT_ID = "0b1e2a7c5d4f4e3a9c8b7a6d5e4f3a2b"

_ENV = "SOURCES__FUNCTIONGRAPH__"


class UsageError(ValueError):
    """A combination of options that cannot work (the CLI exits 2 with its message)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on; 0 picks a free one"
    )
    parser.add_argument(
        "--functions", type=int, default=60, help="functions in the generated estate"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated estate")
    parser.add_argument("--region", default=DEMO_REGION, help="region of the one project served")
    parser.add_argument(
        "--project-id", default=DEMO_PROJECT_ID, help="id of the one project served"
    )
    parser.add_argument(
        "--token",
        default=DEMO_TOKEN,
        help="the X-Auth-Token it accepts; with keys, only they are printed",
    )
    parser.add_argument("--access-key", help="an AK whose signed requests it accepts")
    parser.add_argument("--secret-key", help="the SK of --access-key")
    parser.add_argument(
        "--security-token",
        help="makes --access-key/--secret-key a temporary pair, accepted only with this token",
    )
    parser.add_argument("--page-size", type=int, default=100, help="largest page it serves")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to each request")
    parser.add_argument(
        "--throttle-rps",
        type=float,
        default=0.0,
        metavar="N",
        help="the gateway's flow control: beyond N requests per second, answer 429 APIG.0308 "
        "without Retry-After (0: off)",
    )
    hostile = parser.add_argument_group("hostile listings (see pipelines.sandbox.Hostile)")
    hostile.add_argument(
        "--last-page-marker",
        choices=("count", "zero", "omit"),
        default="count",
        help="next_marker on a last page: the item count, 0, or left out",
    )
    hostile.add_argument(
        "--lie-count",
        type=int,
        default=0,
        metavar="N",
        help="both listings claim N more items in `count` than they serve (negative: fewer)",
    )
    hostile.add_argument(
        "--omit-page-info", action="store_true", help="configs pages come without page_info"
    )
    hostile.add_argument(
        "--endless-paging",
        action="store_true",
        help="listings never end: no count, every page has items, next_marker always advances",
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Raise `UsageError` for options that cannot work together."""
    if bool(args.access_key) != bool(args.secret_key):
        raise UsageError("--access-key and --secret-key go together")
    if getattr(args, "security_token", None) and not args.access_key:
        raise UsageError("--security-token needs --access-key and --secret-key")


def build_server(args: argparse.Namespace) -> SandboxServer:
    """The server `serve` runs (bound, not yet serving), from parsed arguments."""
    check_arguments(args)
    estate = generate_estate(
        seed=args.seed,
        projects=[(args.region, args.project_id)],
        functions_per_project=args.functions,
    )
    access_keys = temporary_keys = None
    if args.access_key and args.security_token:
        temporary_keys = {args.access_key: (args.secret_key, args.security_token)}
    elif args.access_key:
        access_keys = {args.access_key: args.secret_key}
    server = SandboxServer(
        estate,
        access_keys=access_keys,
        temporary_keys=temporary_keys,
        host=args.host,
        port=args.port,
        tokens=(args.token,),
        functions_page_cap=min(args.page_size, 400),
        configs_page_cap=min(args.page_size, 100),
        last_page_marker=args.last_page_marker,
        hostile=Hostile(
            count_extra=args.lie_count,
            omit_page_info=args.omit_page_info,
            endless_paging=args.endless_paging,
        ),
    )
    server.faults.latency_s = args.latency_ms / 1000
    server.gateway.per_second = args.throttle_rps
    return server


def export_lines(
    *,
    url: str,
    region: str,
    project_id: str,
    token: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    security_token: str | None = None,
) -> list[str]:
    """Shell lines pointing the connector at a sandbox, to paste as printed.

    With an access key pair: ACCESS_KEY, SECRET_KEY (SECURITY_TOKEN when given) and the
    IAM_ENDPOINT for project discovery, and no AUTH_TOKEN (the connector refuses two kinds);
    otherwise the AUTH_TOKEN. Values are quoted with `shlex.quote`.
    """
    values: list[tuple[str, str]] = [
        ("ENDPOINT", url),
        ("REGION", region),
        ("PROJECT_ID", project_id),
    ]
    if access_key and secret_key:
        values += [
            ("CREDENTIALS__ACCESS_KEY", access_key),
            ("CREDENTIALS__SECRET_KEY", secret_key),
        ]
        if security_token:
            values.append(("CREDENTIALS__SECURITY_TOKEN", security_token))
        values.append(("IAM_ENDPOINT", url))
    elif token:
        values.append(("CREDENTIALS__AUTH_TOKEN", token))
    return [f"export {_ENV}{name}={shlex.quote(value)}" for name, value in values]


def serve(args: argparse.Namespace) -> int:
    """Build the estate, print how to point the connector at it, serve until Ctrl-C."""
    server = build_server(args)
    lines = export_lines(
        url=server.url,
        region=args.region,
        project_id=args.project_id,
        token=args.token,
        access_key=args.access_key,
        secret_key=args.secret_key,
        security_token=args.security_token,
    )
    print(f"sandbox FunctionGraph API on {server.url}  (Ctrl-C stops it)")
    print("\n".join(f"  {line}" for line in lines), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipelines.sandbox.cli`: the same as `python -m pipelines sandbox`."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.sandbox.cli")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except UsageError as exc:
        parser.error(str(exc))  # exits 2


if __name__ == "__main__":
    raise SystemExit(main())
