"""The locks that let runs overlap: re-entrant in a thread, exclusive between threads and
processes, bounded by FGS__LOCK_TIMEOUT, and named when they time out."""

from __future__ import annotations

import threading
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


def test_another_thread_waits_for_the_turn_then_gets_it(pipeline: dlt.Pipeline) -> None:
    outcome: list[str] = []

    def other() -> None:
        try:
            with turn(pipeline):
                outcome.append("got it")
        except LockTimeout as exc:
            outcome.append(str(exc))

    with turn(pipeline):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    path = pipeline.destination.config_params["credentials"]
    assert outcome == [f"another run is using {path} (waited 0s; FGS__LOCK_TIMEOUT sets how long)"]
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert outcome[-1] == "got it"


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
