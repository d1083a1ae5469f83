"""`python -m pipelines sandbox`: serve the sandbox API from the command line."""

from __future__ import annotations

import argparse
import contextlib

from .generator import generate_estate
from .server import SandboxServer

# What `demo` and `sandbox` serve unless told otherwise.
DEMO_TOKEN = "sandbox-token"
DEMO_REGION = "cn-north-4"
DEMO_PROJECT_ID = "0b1e2a7c5d4f4e3a9c8b7a6d5e4f3a2b"


class UsageError(ValueError):
    """A combination of options that cannot work (the CLI exits 2 with its message)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--functions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--region", default=DEMO_REGION)
    parser.add_argument("--project-id", default=DEMO_PROJECT_ID)
    parser.add_argument("--token", default=DEMO_TOKEN, help="the X-Auth-Token it accepts")
    parser.add_argument("--access-key", help="an AK whose signed requests it accepts")
    parser.add_argument("--secret-key", help="the SK of --access-key")
    parser.add_argument("--page-size", type=int, default=100, help="largest page it serves")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to each request")


def serve(args: argparse.Namespace) -> int:
    """Build the estate, print how to point the connector at it, serve until Ctrl-C."""
    estate = generate_estate(
        seed=args.seed,
        projects=[(args.region, args.project_id)],
        functions_per_project=args.functions,
    )
    if bool(args.access_key) != bool(args.secret_key):
        raise UsageError("--access-key and --secret-key go together")
    server = SandboxServer(
        estate,
        access_keys={args.access_key: args.secret_key} if args.access_key else None,
        host=args.host,
        port=args.port,
        tokens=(args.token,),
        functions_page_cap=min(args.page_size, 400),
        configs_page_cap=min(args.page_size, 100),
    )
    server.faults.latency_s = args.latency_ms / 1000
    print(f"sandbox FunctionGraph API on {server.url}  (Ctrl-C stops it)")
    print(
        f"  export SOURCES__FUNCTIONGRAPH__ENDPOINT={server.url}\n"
        f"  export SOURCES__FUNCTIONGRAPH__REGION={args.region}\n"
        f"  export SOURCES__FUNCTIONGRAPH__PROJECT_ID={args.project_id}\n"
        f"  export SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN=<the --token value>\n"
        f"  (or ..._ACCESS_KEY/_SECRET_KEY with --access-key/--secret-key, and\n"
        f"   SOURCES__FUNCTIONGRAPH__IAM_ENDPOINT={server.url} for project discovery)",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0
