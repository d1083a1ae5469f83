"""The locks that let runs overlap: re-entrant in a thread, exclusive between threads and
processes, bounded by FGS__LOCK_TIMEOUT, and named when they time out."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

import dlt
import pytest

from pipelines.locks import LockTimeout, scopes_held, turn
from pipelines.runner import make_pipeline
from tests.support.processes import LOCKS_FILE, held_elsewhere

SCOPE = "cn-north-4/0b1e2a7c5d4f4e3a9c8b7a6d5e4f3a2b"


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dlt.Pipeline:
    monkeypatch.setenv("FGS__LOCK_TIMEOUT", "0")
    return make_pipeline(
        pipeline_name="fgs_locks",
        database=str(tmp_path / "fgs.duckdb"),
        pipelines_dir=str(tmp_path / "dlt"),
    )


def test_a_thread_may_take_its_own_turn_again(pipeline: dlt.Pipeline) -> None:
    with (
        turn(pipeline),
        turn(pipeline),
        scopes_held(pipeline, [SCOPE, SCOPE]),
        scopes_held(pipeline, [SCOPE]),
    ):
        pass
    with turn(pipeline):  # and it was given back
        pass


def in_another_thread(lock: Callable[[], contextlib.AbstractContextManager[None]]) -> str:
    """`got it`, or why another thread (as another run would) could not take `lock()`."""
    outcome: list[str] = []

    def other() -> None:
        try:
            with lock():
                outcome.append("got it")
        except LockTimeout as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    return outcome[0]


def test_another_thread_waits_for_the_turn_then_gets_it(pipeline: dlt.Pipeline) -> None:
    with turn(pipeline):
        blocked = in_another_thread(lambda: turn(pipeline))
    path = pipeline.destination.config_params["credentials"]
    assert blocked == f"another run is using {path} (waited 0s; FGS__LOCK_TIMEOUT sets how long)"
    assert in_another_thread(lambda: turn(pipeline)) == "got it"


def test_a_scope_held_by_another_process_is_named(pipeline: dlt.Pipeline) -> None:
    with scopes_held(pipeline, [SCOPE]):
        (lock,) = Path(f"{pipeline.destination.config_params['credentials']}.scopes").iterdir()
    with (
        held_elsewhere(LOCKS_FILE, lock),
        pytest.raises(LockTimeout) as caught,
        scopes_held(pipeline, ["a/b", SCOPE]),
    ):
        pass
    assert str(caught.value) == (
        f"another run of {SCOPE} is under way (waited 0s; FGS__LOCK_TIMEOUT sets how long)"
    )
    with scopes_held(pipeline, [SCOPE]):  # the holder is gone, and so is its lock
        pass


def test_on_postgresql_a_run_holds_all_its_scopes_on_one_connection(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg2

    monkeypatch.setenv("FGS__LOCK_TIMEOUT", "0")
    pipeline = make_pipeline(warehouse="postgres", pipelines_dir=str(tmp_path / "dlt"))
    scopes = [f"cn-north-4/{n:032x}" for n in range(40)]
    with contextlib.closing(psycopg2.connect(postgres_url)) as other:
        other.autocommit = True
        with other.cursor() as cursor:
            sql = "select count(*) from pg_stat_activity where datname = current_database()"
            cursor.execute(sql)
            ((alone,),) = cursor.fetchall()
            with scopes_held(pipeline, scopes):
                cursor.execute(sql)
                ((during,),) = cursor.fetchall()
                # another run cannot take one of them, and is told which
                blocked = in_another_thread(lambda: scopes_held(pipeline, [scopes[7]]))
    assert during - alone == 1
    assert blocked.startswith(f"another run of {scopes[7]} is under way (waited 0s")
    assert in_another_thread(lambda: scopes_held(pipeline, scopes[5:9])) == "got it"
