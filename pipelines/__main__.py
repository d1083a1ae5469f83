"""Command line: `python -m pipelines run | check | report | demo | sandbox | models`.

Exit codes: 0 success, 1 the run failed (the API, the network, the database), 2 the
configuration or the command line is wrong, 3 `check` found policy findings at or above its
threshold, 130 interrupted (Ctrl-C). Failures print one line, `error: <reason>`, on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.policy.severity import SEVERITIES
from pipelines.sandbox.cli import DEMO_PROJECT_ID, DEMO_REGION, DEMO_TOKEN
from pipelines.sandbox.cli import add_arguments as add_sandbox_arguments

if TYPE_CHECKING:
    from datetime import datetime

    import dlt
    from dlt.sources import DltSource

    from pipelines.runner import RunSummary
    from pipelines.sandbox import DayPlan

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_FINDINGS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

"""Sections dlt itself reads below `sources.functiongraph`: the source name again (dlt also looks
up `sources.functiongraph.functiongraph.<key>`), the resource, and dlt's extract, data writer
and schema settings. Keys under them are dlt's business, not checked here."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: ...)` for options that have a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        formatter_class=HelpFormatter,
        description="Load Huawei Cloud FunctionGraph async-invoke configs into DuckDB and "
        "report on them in SQL. Configuration comes from dlt: .dlt/config.toml, "
        ".dlt/secrets.toml and SOURCES__FUNCTIONGRAPH__* environment variables.",
        epilog="Exit codes: 0 success, 1 the run failed or was partial, 2 the configuration or "
        "the command line is wrong, 3 `check` found policy findings at or above --fail-on, 130 "
        "interrupted. `python -m pipelines COMMAND --help` explains a command's options.",
    )
    add_quiet(parser, default=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text[0].upper() + help_text[1:] + ".",
            formatter_class=HelpFormatter,
        )
        add_quiet(sub, default=argparse.SUPPRESS)  # `run --quiet` works as well as `--quiet run`
        return sub

    run = command("run", "extract from the configured API, load into DuckDB, apply the SQL models")
    run.add_argument(
        "--database",
        metavar="PATH",
        help="DuckDB file to load into (default: dlt's DESTINATION__DUCKDB__CREDENTIALS, "
        "else fgs_async_configs.duckdb in the current folder)",
    )
    add_warehouse(run)
    add_rules(run)
    run.add_argument(
        "--summary-json",
        metavar="PATH",
        help="also write the run summary as JSON to PATH ('-' prints it instead of the text)",
    )

    check = command(
        "check",
        "evaluate the policy rules on the warehouse; exit 3 on findings at or above --fail-on",
    )
    check.add_argument("--database", metavar="PATH", help="DuckDB file (default: as for `run`)")
    add_warehouse(check)
    add_rules(check)
    check.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default="high",
        help="the least severity that fails the check (high: only high; low: any finding)",
    )
    check.add_argument(
        "--format", choices=("text", "json"), default="text", help="how to print the findings"
    )

    report = command("report", "print the human report of what is loaded, policy findings included")
    report.add_argument("--database", metavar="PATH", help="DuckDB file (default: as for `run`)")
    add_warehouse(report)
    add_rules(report)

    demo = command("demo", "start the sandbox API, run the pipeline against it, print a report")
    demo.add_argument(
        "--folder",
        default="fgs_demo",
        metavar="DIR",
        help="folder of the demo's DuckDB file and dlt working folders (created if missing)",
    )
    demo.add_argument(
        "--functions", type=int, default=60, metavar="N", help="functions in the sandbox estate"
    )
    demo.add_argument(
        "--seed", type=int, default=7, metavar="N", help="seed of the generated estate"
    )
    demo.add_argument(
        "--page-size",
        type=int,
        default=5,
        metavar="N",
        help="largest page the sandbox serves (small pages show the paging)",
    )
    demo.add_argument(
        "--days",
        type=int,
        default=0,
        metavar="N",
        help=f"replay N days of history first (0-{MAX_DEMO_DAYS}): load the estate as it was N "
        "days ago, then change it a little each day (seeded by --seed) and load it again, "
        "stamped that day, up to today's run; days the warehouse's history already covers are "
        "not replayed",
    )

    sandbox = command("sandbox", "serve the local FunctionGraph API double until Ctrl-C")
    add_sandbox_arguments(sandbox)

    models = command(
        "models", "re-apply the SQL models to an existing database, without extracting"
    )
    models.add_argument("--database", metavar="PATH", help="DuckDB file (default: as for `run`)")
    add_warehouse(models)
    return parser


def add_quiet(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="log warnings and errors only (for schedulers)",
    )


def add_warehouse(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--warehouse",
        "--destination",
        dest="warehouse",
        choices=("duckdb", "postgres", "filesystem"),
        help="where to load, dlt's destination (default: dlt config fgs.warehouse / "
        "FGS__WAREHOUSE, else duckdb; postgres reads DESTINATION__POSTGRES__CREDENTIALS; "
        "filesystem loads the DuckDB file and publishes parquet to "
        "DESTINATION__FILESYSTEM__BUCKET_URL); --destination is its former name",
    )


def add_rules(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--rules",
        metavar="PATH",
        help="your policy rules: a TOML file or a folder of them, added to the packaged rules "
        "(default: dlt config fgs.policy_rules / FGS__POLICY_RULES)",
    )


def check_source_keys() -> None:
    """Refuse unknown source keys before anything runs (exit 2), naming the closest key."""
    from pipelines.functiongraph.config.keys import unknown_source_keys
    from pipelines.functiongraph.errors import ConfigError

    problems = list(unknown_source_keys(os.environ))
    if problems:
        raise ConfigError("; ".join(problems))


def command_run(args: argparse.Namespace) -> int:
    from pipelines.functiongraph.source import functiongraph, source_scopes
    from pipelines.policy.evaluations import generated_models
    from pipelines.policy.rules import rules_path
    from pipelines.publish import bucket_url
    from pipelines.runner import make_pipeline, run, warehouse_kind

    check_source_keys()
    generated = generated_models(rules_path(args.rules))  # wrong rules: exit 2, nothing fetched
    warehouse = warehouse_kind(args.warehouse)
    publish_to = bucket_url() if warehouse == "filesystem" else None
    # resolve dlt's destination settings (DESTINATION__POSTGRES__CREDENTIALS, ...) now, before
    # the source is created (which may already ask IAM for projects); nothing is connected
    make_pipeline(warehouse=warehouse, database=args.database).destination_client()
    source = functiongraph()
    # the run's own working folder (and PostgreSQL staging tables): runs of other scopes into
    # the same warehouse may run at the same time
    pipeline = make_pipeline(
        warehouse=warehouse, database=args.database, scopes=source_scopes(source)
    )
    summary = run(pipeline, source, publish_to=publish_to, generated=generated)
    if args.summary_json and args.summary_json != "-":
        Path(args.summary_json).write_text(summary.to_json() + "\n", encoding="utf-8")
    if args.summary_json == "-":
        print(summary.to_json())
    else:
        print("\n".join([*summary.lines(), inspect_hint(pipeline)]))
    return report_failures(summary)


def inspect_hint(pipeline: dlt.Pipeline, pipelines_dir: str | None = None) -> str:
    """How to look at this pipeline with dlt's own command line (`dlt pipeline NAME info`)."""
    from dlt.common.pipeline import get_dlt_pipelines_dir

    dlt_cli = Path(sys.executable).parent / "dlt"
    program = "dlt"
    if dlt_cli.exists() and shutil.which("dlt") != str(dlt_cli):
        program = shortest(dlt_cli)
    where = ""
    if pipelines_dir is not None or Path(pipeline.pipelines_dir) != Path(get_dlt_pipelines_dir()):
        where = f" --pipelines-dir {shortest(Path(pipelines_dir or pipeline.pipelines_dir))}"
    return (
        f"dlt pipeline {pipeline.pipeline_name}, working folder {pipeline.working_dir}\n"
        f"inspect it with: {program} pipeline{where} {pipeline.pipeline_name} info"
    )


def shortest(path: Path) -> str:
    """`path` relative to the current folder when it is inside it, else absolute."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path.absolute())


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

    summary = refresh_models(make_pipeline(warehouse=args.warehouse, database=args.database))
    print("\n".join([*summary.lines()[1:], *(f"  {view}" for view in summary.models)]))
    return EXIT_OK


def command_check(args: argparse.Namespace) -> int:
    from pipelines.locks import turn
    from pipelines.policy.evaluations import evaluations_model
    from pipelines.policy.findings import failing, read_findings, render_json, render_text
    from pipelines.policy.rules import load_rules, rules_path
    from pipelines.runner import make_pipeline, refresh_models

    rules = load_rules(rules_path(args.rules))
    pipeline = make_pipeline(warehouse=args.warehouse, database=args.database)
    with turn(pipeline):
        refresh_models(pipeline, generated=[evaluations_model(rules)])
        with pipeline.sql_client() as client:
            findings = read_findings(client)
    if args.format == "json":
        print(render_json(findings, rules, args.fail_on))
    else:
        print("\n".join(render_text(findings, rules, args.fail_on)))
    return EXIT_FINDINGS if failing(findings, rules, args.fail_on) else EXIT_OK


def command_report(args: argparse.Namespace) -> int:
    from pipelines.locks import turn
    from pipelines.policy.evaluations import generated_models
    from pipelines.policy.rules import rules_path
    from pipelines.report import render_report
    from pipelines.runner import make_pipeline, refresh_models

    generated = generated_models(rules_path(args.rules))
    pipeline = make_pipeline(warehouse=args.warehouse, database=args.database)
    with turn(pipeline):
        summary = refresh_models(pipeline, generated=generated)
        with pipeline.sql_client() as client:
            lines = render_report(client)
    print(f"{summary.functions} functions and {summary.configs} live configs in {summary.database}")
    print("\n".join(lines))
    return EXIT_OK


def command_demo(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from pipelines.functiongraph.errors import ConfigError
    from pipelines.report import render_report
    from pipelines.runner import make_pipeline, run
    from pipelines.sandbox import SandboxServer, apply_day, generate_estate, plan_day

    if not 0 <= args.days <= MAX_DEMO_DAYS:
        raise ConfigError(f"--days must be between 0 and {MAX_DEMO_DAYS}, not {args.days}")
    check_source_keys()
    folder = Path(args.folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    estate = generate_estate(
        seed=args.seed,
        projects=[(DEMO_REGION, DEMO_PROJECT_ID)],
        functions_per_project=args.functions,
    )
    database = folder / "fgs_async_configs.duckdb"
    pipelines_dir = folder / "dlt_pipelines"
    pipeline = make_pipeline(
        pipeline_name="fgs_async_configs_demo",
        database=str(database),
        pipelines_dir=str(pipelines_dir),
    )
    now = datetime.now(UTC)
    # History is only ever appended: a day the warehouse's history already reaches is not replayed.
    reaches = demo_history_end(pipeline) if args.days and database.exists() else None
    skipped = [
        ago for ago in range(args.days, 0, -1) if reaches and now - timedelta(days=ago) <= reaches
    ]
    page = args.page_size
    with SandboxServer(
        estate, tokens=(DEMO_TOKEN,), functions_page_cap=page, configs_page_cap=page
    ) as server:
        print(f"sandbox FunctionGraph API listening on {server.url} ({args.functions} functions)")
        if skipped:
            print(
                f"day -{skipped[0]}{f' to -{skipped[-1]}' if len(skipped) > 1 else ''} not "
                f"replayed: the history in {shortest(database)} already reaches "
                f"{reaches:%Y-%m-%d %H:%M} UTC (a new --folder replays every day)"
            )
        # Day -N loads the estate as generated; each later day, today included, changes it.
        for ago in range(args.days, -1, -1):
            day = args.days - ago
            stamp = now - timedelta(days=ago)
            plan = plan_day(estate, seed=args.seed, day=day, seen_at=stamp) if day else None
            if plan is not None:
                apply_day(estate, plan)
            if ago == 0 or ago in skipped:
                continue
            summary = run(pipeline, demo_source(server.url, stamp))
            if not summary.ok:
                print("\n".join(summary.lines()))
                return report_failures(summary)
            print(demo_day_line(pipeline, ago, stamp, plan))
        served_before = len(server.requests_seen)
        summary = run(pipeline, demo_source(server.url, None))
        requests_served = len(server.requests_seen) - served_before
    print(f"{requests_served} API requests served")
    print("\n".join(summary.lines()))
    with pipeline.sql_client() as client:
        print("\n".join(render_report(client)))
    print(f"\nExplore it read-only with DuckDB: {summary.database} (views in schema reporting)")
    print(inspect_hint(pipeline, str(pipelines_dir)))
    print(
        "In Python (dlt does not store the file's path, so pass it): dlt.attach("
        f"{pipeline.pipeline_name!r}, pipelines_dir={shortest(pipelines_dir)!r}, "
        f"destination=dlt.destinations.duckdb({shortest(database)!r})).dataset()"
    )
    return report_failures(summary)


MAX_DEMO_DAYS = 365
"""The longest history `demo --days` replays: a year."""


def demo_source(endpoint: str, stamp: datetime | None) -> DltSource:
    """The source for one demo run against the sandbox; its history is stamped `stamp`.

    dlt's `scd2` dates the versions a load writes (and the ends of those it retires) with the
    `boundary_timestamp` of the write disposition, by default the load's own start. A replayed
    day sets it to that day, on both tables; today's run sets it to None, because dlt keeps
    the hint in the pipeline's schema: without clearing it, today's run (and every later run)
    would still be stamped with the last replayed day.
    """
    from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
    from pipelines.functiongraph.retirement import DISPOSITIONS
    from pipelines.functiongraph.source import INVENTORY_RESOURCE, TABLES, functiongraph

    source = functiongraph(
        region=DEMO_REGION,
        project_id=DEMO_PROJECT_ID,
        endpoint=endpoint,
        credentials=FunctionGraphCredentials(auth_token=DEMO_TOKEN),
    )
    for table in TABLES:
        source.resources[INVENTORY_RESOURCE].apply_hints(
            table_name=table,
            write_disposition={**DISPOSITIONS[table], "boundary_timestamp": stamp},
            create_table_variant=True,
        )
    return source


def demo_history_end(pipeline: dlt.Pipeline) -> datetime | None:
    """The latest instant the warehouse's history holds (a version's start or end), or None."""
    from pipelines.runner import DATASET_NAME, has_tables

    if not has_tables(pipeline):
        return None
    stamps = " union all ".join(
        f"select _dlt_valid_from as stamp from {DATASET_NAME}.{table} "
        f"union all select _dlt_valid_to from {DATASET_NAME}.{table}"
        for table in ("functions", "async_invoke_configs")
    )
    with pipeline.sql_client() as client:
        ((latest,),) = client.execute_sql(f"select max(stamp) from ({stamps}) as history")
    return latest


def demo_day_line(pipeline: dlt.Pipeline, ago: int, stamp: datetime, plan: DayPlan | None) -> str:
    """One line per replayed day: the configs changed, counted from the change log."""
    with pipeline.sql_client() as client:
        counts = dict(
            client.execute_sql(
                "select change_type, count(*) from reporting.async_invoke_config_changes "
                "where abs(extract(epoch from detected_at) - %s) < 0.001 group by 1",
                stamp.timestamp(),
            )
        )
    line = f"day -{ago} ({stamp:%Y-%m-%d}): " + ", ".join(
        f"{counts.get(kind, 0)} {kind}" for kind in ("updated", "created", "deleted")
    )
    if plan is None:
        return f"{line} (the estate as it was then)"
    counted = plan.counts()
    functions = [
        f"{counted[f'functions_{change}']} {change}"
        for change in ("added", "removed")
        if counted[f"functions_{change}"]
    ]
    return f"{line}; functions: {', '.join(functions)}" if functions else line


def command_sandbox(args: argparse.Namespace) -> int:
    from pipelines.functiongraph.errors import ConfigError
    from pipelines.sandbox.cli import UsageError, serve

    try:
        return serve(args)
    except UsageError as exc:
        raise ConfigError(str(exc)) from None


COMMANDS = {
    "run": command_run,
    "check": command_check,
    "report": command_report,
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
        from pipelines.failures import interrupted, one_line, root_cause
        from pipelines.functiongraph.errors import ConfigError

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
