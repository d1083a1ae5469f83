"""`demo --days N`: N days of history replayed before today's run, stamped on their days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.__main__ import EXIT_CONFIG, EXIT_OK, main

DAY_LINE = re.compile(
    r"^day -(\d+) \((\d{4}-\d\d-\d\d)\): (\d+) updated, (\d+) created, (\d+) deleted", re.M
)


def demo(folder: Path, *options: str) -> list[str]:
    return ["--quiet", "demo", "--folder", str(folder), "--functions", "20", *options]


VERSIONS = (
    "select func_urn, valid_from, valid_to from staging.stg_async_invoke_configs order by all"
)
BACKWARDS = "select count(*) from staging.stg_async_invoke_configs where valid_to < valid_from"


def rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set timezone = 'UTC'")
        return connection.execute(sql).fetchall()


def test_days_of_history_are_replayed_before_today(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = datetime.now(UTC)
    assert main(demo(tmp_path, "--days", "3")) == EXIT_OK
    out = capsys.readouterr().out
    database = tmp_path / "fgs_async_configs.duckdb"
    today = started.date()
    days = [today - timedelta(days=ago) for ago in (3, 2, 1, 0)]

    # one line per replayed day, then today's usual output
    lines = DAY_LINE.findall(out)
    assert [(int(ago), date.fromisoformat(day)) for ago, day, *_ in lines] == [
        (3, days[0]),
        (2, days[1]),
        (1, days[2]),
    ]
    assert "(the estate as it was then)" in out.splitlines()[1]
    assert out.index("day -1 ") < out.index("API requests served") < out.index("loaded ")

    # versions start on all four days: the first load, three days of changes (today included)
    starts = rows(
        database,
        "select distinct cast(valid_from as date) from staging.stg_async_invoke_configs order by 1",
    )
    assert [day for (day,) in starts] == days
    assert rows(database, BACKWARDS) == [(0,)]

    # the change log counts what the lines say, on the days they say it
    changes = {
        (day, kind): count
        for day, kind, count in rows(
            database,
            "select cast(detected_at as date), change_type, count(*) "
            "from reporting.async_invoke_config_changes group by all",
        )
    }
    for _, day, updated, created, deleted in lines:
        logged = {
            kind: changes.get((date.fromisoformat(day), kind), 0)
            for kind in ("updated", "created", "deleted")
        }
        assert logged == {"updated": int(updated), "created": int(created), "deleted": int(deleted)}
    first_load = int(lines[0][3])
    assert first_load > 20 and lines[0][2] == lines[0][4] == "0"
    for day in days[1:3]:  # every replayed day after the first load changed configs
        assert changes.get((day, "updated"), 0) >= 1 and changes.get((day, "deleted"), 0) >= 1

    # today's run is stamped now, not with the last replayed day (dlt keeps that hint)
    ((latest,),) = rows(
        database, "select max(detected_at) from reporting.async_invoke_config_changes"
    )
    assert latest >= started.replace(tzinfo=latest.tzinfo)
    assert re.search(r"complete, (\d+) created, (\d+) updated", out)

    # policy findings opened and closed on past days
    streaks = rows(
        database,
        "select cast(opened_at as date), cast(closed_at as date) "
        "from reporting.policy_finding_history",
    )
    assert any(days[0] < opened < today for opened, _ in streaks)
    assert any(closed is not None and closed < today for _, closed in streaks)
    daily = rows(database, "select distinct day from reporting.config_changes_daily order by 1")
    assert [day for (day,) in daily] == days


def test_rerunning_on_the_same_folder_only_appends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "fgs_async_configs.duckdb"
    assert main(demo(tmp_path, "--days", "3")) == EXIT_OK
    first = capsys.readouterr().out
    versions = rows(database, VERSIONS)

    assert main(demo(tmp_path, "--days", "3")) == EXIT_OK
    again = capsys.readouterr().out
    assert "day -3 to -1 not replayed: the history in" in again
    assert not DAY_LINE.search(again)
    assert rows(database, BACKWARDS) == [(0,)]
    if DAY_LINE.findall(first)[-1][1] == (datetime.now(UTC) - timedelta(days=1)).date().isoformat():
        # the same day: the replay is deterministic, so today's estate is the one loaded
        assert ", 0 created, 0 updated, 0 deleted," in again
        after = rows(database, VERSIONS)
        assert after == versions

    assert main(demo(tmp_path)) == EXIT_OK  # a plain demo on top works as before


@pytest.mark.parametrize("days", ["-1", "366", "1000"])
def test_days_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    folder = tmp_path / "demo"
    assert main(demo(folder, "--days", days)) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.strip() == f"error: --days must be between 0 and 365, not {days}"
    assert not folder.exists()  # refused before anything was created


def test_days_that_are_not_a_number_are_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--days", "three"])
    assert exit_info.value.code == EXIT_CONFIG
    assert "argument --days: invalid int value: 'three'" in capsys.readouterr().err
