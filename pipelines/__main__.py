"""Command line: `python -m pipelines run | demo | sandbox | models`.

Exit codes: 0 success, 1 the run failed (the API, the network, the database), 2 the
configuration or the command line is wrong, 130 interrupted (Ctrl-C). Failures print one line,
`error: <reason>`, on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.sandbox.cli import DEMO_PROJECT_ID, DEMO_REGION, DEMO_TOKEN
from pipelines.sandbox.cli import add_arguments as add_sandbox_arguments

if TYPE_CHECKING:
    from pipelines.runner import RunSummary

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description="Load Huawei Cloud FunctionGraph async-invoke configs into DuckDB and "
        "report on them in SQL. Configuration comes from dlt: .dlt/config.toml, "
        ".dlt/secrets.toml and SOURCES__FUNCTIONGRAPH__* environment variables.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="extract from the configured API, load into DuckDB, apply the SQL models"
    )
    run.add_argument(
        "--database",
        help="DuckDB file (default: dlt's DESTINATION__DUCKDB__CREDENTIALS, "
        "else fgs_async_configs.duckdb in the current folder)",
    )
    add_destination(run)
    run.add_argument(
        "--summary-json",
        metavar="PATH",
        help="also write the run summary as JSON to PATH ('-' prints it instead of the text)",
    )

    demo = commands.add_parser(
        "demo", help="start the sandbox API, run the pipeline against it, print a report"
    )
    demo.add_argument(
        "--folder", default="fgs_demo", help="where the demo database and dlt state go"
    )
    demo.add_argument("--functions", type=int, default=60, help="functions in the sandbox estate")
    demo.add_argument("--seed", type=int, default=7, help="seed of the generated estate")
    demo.add_argument(
        "--page-size", type=int, default=5, help="sandbox page cap (small pages show the paging)"
    )

    sandbox = commands.add_parser("sandbox", help="serve the local FunctionGraph API double")
    add_sandbox_arguments(sandbox)

    models = commands.add_parser(
        "models", help="re-apply the SQL models to an existing database, without extracting"
    )
    models.add_argument("--database", help="DuckDB file (default as for `run`)")
    add_destination(models)
    return parser


def add_destination(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--destination",
        choices=("duckdb", "postgres", "filesystem"),
        help="where to load (default: dlt config fgs.destination / FGS__DESTINATION, else duckdb;"
        " postgres reads DESTINATION__POSTGRES__CREDENTIALS; filesystem loads the DuckDB file and"
        " publishes parquet to DESTINATION__FILESYSTEM__BUCKET_URL)",
    )


def command_run(args: argparse.Namespace) -> int:
    from pipelines.functiongraph.source import functiongraph
    from pipelines.publish import bucket_url
    from pipelines.runner import destination_name, make_pipeline, run

    destination = destination_name(args.destination)
    publish_to = bucket_url() if destination == "filesystem" else None
    pipeline = make_pipeline(destination=destination, database=args.database)
    summary = run(pipeline, functiongraph(), publish_to=publish_to)
    if args.summary_json and args.summary_json != "-":
        Path(args.summary_json).write_text(summary.to_json() + "\n", encoding="utf-8")
    print(summary.to_json() if args.summary_json == "-" else "\n".join(summary.lines()))
    return report_failures(summary)


def report_failures(summary: RunSummary) -> int:
    """Partial failures still load everything else; the exit code makes a scheduler alert."""
    if summary.ok:
        return EXIT_OK
    print(
        f"error: {len(summary.failures)} scope(s) incomplete, first: {summary.failures[0]}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def command_models(args: argparse.Namespace) -> int:
    from pipelines.runner import make_pipeline, refresh_models

    summary = refresh_models(make_pipeline(destination=args.destination, database=args.database))
    print("\n".join(summary.lines()[1:]))
    return EXIT_OK


def command_demo(args: argparse.Namespace) -> int:
    from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
    from pipelines.functiongraph.source import functiongraph
    from pipelines.report import render_report
    from pipelines.runner import make_pipeline, run
    from pipelines.sandbox import SandboxServer, generate_estate

    folder = Path(args.folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    estate = generate_estate(
        seed=args.seed,
        projects=[(DEMO_REGION, DEMO_PROJECT_ID)],
        functions_per_project=args.functions,
    )
    pipeline = make_pipeline(
        pipeline_name="fgs_async_configs_demo",
        database=str(folder / "fgs_async_configs.duckdb"),
        pipelines_dir=str(folder / "dlt_pipelines"),
    )
    page = args.page_size
    with SandboxServer(
        estate, tokens=(DEMO_TOKEN,), functions_page_cap=page, configs_page_cap=page
    ) as server:
        print(f"sandbox FunctionGraph API listening on {server.url} ({args.functions} functions)")
        source = functiongraph(
            region=DEMO_REGION,
            project_id=DEMO_PROJECT_ID,
            endpoint=server.url,
            credentials=FunctionGraphCredentials(auth_token=DEMO_TOKEN),
        )
        summary = run(pipeline, source)
        requests_served = len(server.requests_seen)
    print(f"{requests_served} API requests served")
    print("\n".join(summary.lines()))
    with pipeline.sql_client() as client:
        print("\n".join(render_report(client)))
    print(f"\nExplore it read-only with DuckDB: {summary.database} (views in schema reporting)")
    return report_failures(summary)


def command_sandbox(args: argparse.Namespace) -> int:
    from pipelines.functiongraph.errors import ConfigError
    from pipelines.sandbox.cli import UsageError, serve

    try:
        return serve(args)
    except UsageError as exc:
        raise ConfigError(str(exc)) from None


COMMANDS = {
    "run": command_run,
    "demo": command_demo,
    "sandbox": command_sandbox,
    "models": command_models,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(
            level=logging.WARNING if args.quiet else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        from pipelines.functiongraph.errors import ConfigError
        from pipelines.runner import interrupted, one_line, root_cause

        try:
            return COMMANDS[args.command](args)
        except Exception as exc:  # one line for the scheduler, never a traceback with secrets
            cause = root_cause(exc)
            if interrupted(cause):  # dlt wraps a Ctrl-C inside its own step errors
                raise KeyboardInterrupt from None
            print(f"error: {one_line(cause)}", file=sys.stderr)
            return EXIT_CONFIG if isinstance(cause, ConfigError) else EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted; nothing retired, the next run starts afresh", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
