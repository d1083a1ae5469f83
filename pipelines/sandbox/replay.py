"""Days of change for a sandbox estate, so that a demo warehouse has a history to look at.

Why: a demo loads one snapshot, so every report built on history (the change log,
`reporting.config_changes_daily`, `reporting.policy_finding_history`, `since` in `check`) shows a
single day, and a plot over time shows a dot. `python -m pipelines demo --days N` therefore loads
the generated estate as it was N days ago, then, for each later day up to today, changes the
estate a little with `plan_day` / `apply_day` and loads it again, its history stamped that day.

What a day changes, in every project (`plan_day`):

* 3 to 5 configs are edited: retries, event age, the success or failure destination, the status
  log. About half of the edits fix a policy rule the config breaks (`failure_destination_required`,
  `max_retries`, `min_event_age`, `status_log_required`), most others start breaking one, the
  rest change a destination or a value without changing what is broken;
* one or two configs are deleted;
* a function publishes a new version config (`v<date>-<time>`); every other day or so a new
  function appears with one or two configs (some without a failure destination); now and then
  (one day in five) a function is removed, with its configs: a config that sent results to it
  now has a dangling target.

Configs with a FunctionGraph destination and their functions are left alone (neither edited,
deleted nor removed), so the generated loops and dangling targets stay for the reports. Every edit
sets `last_modified` to when it was made: some hours before the run that sees it.

Pure and deterministic: `plan_day` only reads the estate, and the same estate, seed, day and
`seen_at` always give the same plan; its random draws come from an RNG of (seed, day), never from
the clock, and `seen_at` only dates what it writes (to the day: edits are made the evening
before). `apply_day` applies a plan through `Estate`'s own methods, which refuse anything
inconsistent (a config under another function, a function listed twice, a config that is not
there), so a plan never builds an estate the sandbox could not serve.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any, Literal

from .estate import (
    DEFAULT_DOMAIN_ID,
    Estate,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
    unqualified_urn,
)

__all__ = ["Change", "DayPlan", "apply_day", "plan_day"]

_CST = timezone(timedelta(hours=8))  # the zone of the API's naive timestamps

#: Limits of the packaged policy rules that the edits aim at (pipelines/policy/default_rules.toml).
MAX_RETRIES = 3
MIN_EVENT_AGE = 300
RETRIES, AGE = "max_async_retry_attempts", "max_async_event_age_in_seconds"

_TOPICS = ("async-failures", "ops-alerts", "oncall", "dead-letters")
_NOUNS = ("signup", "search", "cart", "email", "image", "quota", "pricing", "review", "feed")
_VERBS = ("index", "notify", "export", "score", "sync", "render", "expire", "rollup")

Action = Literal[
    "update_config", "create_config", "delete_config", "add_function", "remove_function"
]


@dataclass(frozen=True)
class Change:
    """One change of a day: `urn` is a qualified config URN, or a function's for functions."""

    action: Action
    urn: str
    note: str
    """What changed, for people, e.g. "retries 3 → 6 (breaks max_retries)"."""
    item: dict[str, Any] | None = None
    """The config item after the change (update, create), or the new function's item."""
    configs: tuple[dict[str, Any], ...] = ()
    """A new function's configs, or those a removed function took with it."""


@dataclass(frozen=True)
class DayPlan:
    """The changes of one day (`day` counts the days of change, from 1), in applying order."""

    day: int
    seen_at: datetime
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        """Configs updated, created and deleted, and functions added and removed."""
        actions = Counter(change.action for change in self.changes)
        with_function: Counter[str] = Counter()
        for change in self.changes:
            with_function[change.action] += len(change.configs)
        return {
            "updated": actions["update_config"],
            "created": actions["create_config"] + with_function["add_function"],
            "deleted": actions["delete_config"] + with_function["remove_function"],
            "functions_added": actions["add_function"],
            "functions_removed": actions["remove_function"],
        }


def plan_day(estate: Estate, *, seed: int, day: int, seen_at: datetime) -> DayPlan:
    """The changes of the `day`-th day of change, for a run at `seen_at` (see the module)."""
    if seen_at.tzinfo is None:
        raise ValueError("seen_at must be timezone-aware")
    snapshot = estate.to_dict()
    rng = random.Random(f"fgs-replay:{seed}:{day}")
    # Edits are made the evening before the run that sees them: deterministic within a day.
    midnight = datetime.combine(seen_at.astimezone(UTC).date(), time(), tzinfo=UTC)
    changes: list[Change] = []
    for project_id in sorted(snapshot):
        changes += _ProjectDay(rng, snapshot[project_id], project_id, midnight).plan()
    return DayPlan(day, seen_at, tuple(changes))


def apply_day(estate: Estate, plan: DayPlan) -> None:
    """Apply a plan to the estate (which may be served meanwhile: each step takes its lock)."""
    for change in plan.changes:
        if change.action == "update_config":
            assert change.item is not None
            _require_config(estate, change.urn, exists=True)
            estate.upsert_config(change.item)
        elif change.action == "create_config":
            assert change.item is not None
            _require_config(estate, change.urn, exists=False)
            estate.upsert_config(change.item)
        elif change.action == "delete_config":
            estate.delete_config(change.urn)
        elif change.action == "add_function":
            assert change.item is not None
            project_id = change.urn.split(":")[3]
            estate.add_function(project_id, change.item, change.configs)
        else:
            estate.remove_function(change.urn)


def _require_config(estate: Estate, urn: str, *, exists: bool) -> None:
    served = estate.configs(unqualified_urn(urn))
    if served is None:
        raise KeyError(f"no such function: {unqualified_urn(urn)}")
    if any(item.get("func_urn") == urn for item in served) != exists:
        raise ValueError(f"config {urn} {'is not there' if exists else 'exists already'}")


# -- one project's day ---------------------------------------------------------------------------


def _side(item: Mapping[str, Any], side: str) -> dict[str, Any] | None:
    """A destination side that names a destination, else None (absent, `{}`, mess)."""
    config = item.get("destination_config")
    value = config.get(side) if isinstance(config, dict) else None
    return value if isinstance(value, dict) and value.get("destination") else None


def _owner(item: Mapping[str, Any]) -> str | None:
    """The unqualified URN a config item names, or None when it names none (served mess)."""
    urn = item.get("func_urn")
    try:
        return unqualified_urn(urn) if isinstance(urn, str) else None
    except ValueError:
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _calls_functions(item: Mapping[str, Any]) -> bool:
    config = item.get("destination_config")
    return isinstance(config, dict) and any(
        isinstance(side, dict) and side.get("destination") == "FunctionGraph"
        for side in config.values()
    )


def _editable(item: Mapping[str, Any]) -> bool:
    """A config the day may edit or delete: its numbers and destinations are plain, and it does
    not send results to a function (the loops and dangling targets stay as generated)."""
    return (
        isinstance(item.get("destination_config"), dict)
        and _is_int(item.get(RETRIES))
        and _is_int(item.get(AGE))
        and not _calls_functions(item)
    )


def _drops_failures(item: Mapping[str, Any]) -> bool:
    """What `failure_destination_required` finds: retries or successes, failures nowhere."""
    retries = item[RETRIES] if _is_int(item.get(RETRIES)) else 0
    return _side(item, "on_failure") is None and (
        retries > 0 or _side(item, "on_success") is not None
    )


def _naive(moment: datetime) -> str:
    return moment.astimezone(_CST).strftime("%Y-%m-%d %H:%M:%S")


def _offset(moment: datetime) -> str:
    return moment.astimezone(_CST).strftime("%Y-%m-%dT%H:%M:%S+08:00")


class _ProjectDay:
    """One project's changes for one day; a class only to share the RNG and the snapshot."""

    def __init__(
        self, rng: random.Random, project: Mapping[str, Any], project_id: str, midnight: datetime
    ) -> None:
        self.rng = rng
        self.region: str = project["region"]
        self.project_id = project_id
        self.functions: dict[str, dict[str, Any]] = project["functions"]
        self.configs: dict[str, list[dict[str, Any]]] = project["configs"]
        self.midnight = midnight
        self.touched: set[str] = set()  # functions whose configs changed today

    def when(self) -> datetime:
        """When an edit was made: between 2 and 10 hours before the day's midnight (UTC)."""
        return self.midnight - timedelta(seconds=self.rng.randrange(2 * 3600, 10 * 3600))

    def plan(self) -> list[Change]:
        changes = self.edits() + self.deletions()
        changes += self.new_version()
        if self.rng.random() < 0.5 or not self.functions:
            changes += self.new_function()
        if self.rng.random() < 0.2:
            changes += self.removal()
        return changes

    def candidates(self) -> list[dict[str, Any]]:
        return [
            item
            for urn in sorted(self.functions)
            for item in self.configs.get(urn) or []
            if _owner(item) == urn and _editable(item)
        ]

    # -- edits -----------------------------------------------------------------------------------

    def edits(self) -> list[Change]:
        """3 to 5 edits. Half of them fix something the config breaks (a `high` or `medium`
        rule, most of the time, when some config breaks one), most others break a rule the config
        keeps, the rest change a destination or a value without changing what is broken."""
        rng = self.rng
        pool = self.candidates()
        changes = []
        for _ in range(min(rng.randint(3, 5), len(pool))):
            fixable = [item for item in pool if self.fixes(item)]
            serious = [item for item in fixable if self.fixes(item, serious=True)]
            if fixable and rng.random() < 0.5:
                urgent = bool(serious) and rng.random() < 0.7
                original = rng.choice(serious if urgent else fixable)
                fix = rng.choice(self.fixes(original, serious=urgent))
            else:
                original = rng.choice(pool)
                breaks = self.breaks(original)
                fix = rng.choice(breaks) if breaks and rng.random() < 0.8 else self.neutral
            pool.remove(original)
            item = copy.deepcopy(original)
            note = fix(item)
            item["last_modified"] = _naive(self.when())
            self.touched.add(unqualified_urn(item["func_urn"]))
            changes.append(Change("update_config", item["func_urn"], note, item))
        return changes

    def fixes(self, item: Mapping[str, Any], serious: bool = False) -> list[Callable[..., str]]:
        """Edits that stop `item` breaking a rule it breaks (`serious`: a high or medium one)."""
        fixes = []
        if _drops_failures(item):
            fixes.append(self.add_failure_destination)
        if item[RETRIES] > MAX_RETRIES:
            fixes.append(self.lower_retries)
        if not serious and item[AGE] < MIN_EVENT_AGE:
            fixes.append(self.lengthen_event_age)
        if not serious and item.get("enable_async_status_log") is not True:
            fixes.append(self.status_log_on)
        return fixes

    def breaks(self, item: Mapping[str, Any]) -> list[Callable[..., str]]:
        """Edits that make `item` break a rule it keeps."""
        breaks = []
        if _side(item, "on_failure") is not None and (
            item[RETRIES] > 0 or _side(item, "on_success") is not None
        ):
            breaks.append(self.remove_failure_destination)
        if item[RETRIES] <= MAX_RETRIES:
            breaks.append(self.raise_retries)
        if item[AGE] >= MIN_EVENT_AGE:
            breaks.append(self.shorten_event_age)
        if item.get("enable_async_status_log") is True:
            breaks.append(self.status_log_off)
        return breaks

    def add_failure_destination(self, item: dict[str, Any]) -> str:
        item["destination_config"]["on_failure"] = self.destination(item, "SMN")
        return "failure destination added: SMN (fixes failure_destination_required)"

    def remove_failure_destination(self, item: dict[str, Any]) -> str:
        kind = item["destination_config"].pop("on_failure")["destination"]
        return f"failure destination {kind} removed (breaks failure_destination_required)"

    def lower_retries(self, item: dict[str, Any]) -> str:
        return self.set_number(item, RETRIES, range(1, MAX_RETRIES + 1), "fixes max_retries")

    def raise_retries(self, item: dict[str, Any]) -> str:
        return self.set_number(item, RETRIES, range(MAX_RETRIES + 1, 9), "breaks max_retries")

    def lengthen_event_age(self, item: dict[str, Any]) -> str:
        return self.set_number(item, AGE, (3600, 21600, 86400), "fixes min_event_age")

    def shorten_event_age(self, item: dict[str, Any]) -> str:
        return self.set_number(item, AGE, (60, 120, 180), "breaks min_event_age")

    def set_number(self, item: dict[str, Any], key: str, values: Sequence[int], effect: str) -> str:
        before = item[key]
        item[key] = self.rng.choice([value for value in values if value != before])
        what = "retries" if key == RETRIES else "event age"
        unit = "" if key == RETRIES else " s"
        return f"{what} {before} → {item[key]}{unit}" + (f" ({effect})" if effect else "")

    def status_log_on(self, item: dict[str, Any]) -> str:
        item["enable_async_status_log"] = True
        return "status log on (fixes status_log_required)"

    def status_log_off(self, item: dict[str, Any]) -> str:
        item["enable_async_status_log"] = False
        return "status log off (breaks status_log_required)"

    def neutral(self, item: dict[str, Any]) -> str:
        """Move the success destination to another type (or add one when failures are sent
        somewhere): what is broken stays broken, what complies still complies."""
        success = _side(item, "on_success")
        kinds = [
            kind for kind in ("OBS", "SMN", "DIS") if not success or kind != success["destination"]
        ]
        if success is None and _side(item, "on_failure") is None:
            # a success destination would make it drop failures: move its event age instead
            ages = (3600, 21600) if item[AGE] >= MIN_EVENT_AGE else (60, 120)
            return self.set_number(item, AGE, ages, "")
        kind = self.rng.choice(kinds)
        item["destination_config"]["on_success"] = self.destination(item, kind)
        moved = f"{success['destination']} → {kind}" if success else f"added: {kind}"
        return f"success destination {moved}"

    def destination(self, item: Mapping[str, Any], kind: str) -> dict[str, Any]:
        package, name = unqualified_urn(item["func_urn"]).split(":")[5:7]
        if kind == "SMN":
            topic = self.rng.choice(_TOPICS)
            return make_destination(
                "SMN", {"topic_urn": f"urn:smn:{self.region}:{self.project_id}:{topic}"}
            )
        if kind == "OBS":
            return make_destination(
                "OBS", {"bucket": f"{package}-async-results", "prefix": f"/{name}/", "expires": 30}
            )
        return make_destination("DIS", {"stream_name": f"dis-{package}-events"})

    # -- deletions, new configs and functions -------------------------------------------------

    def deletions(self) -> list[Change]:
        pool = [
            item
            for item in self.candidates()
            if unqualified_urn(item["func_urn"]) not in self.touched
        ]
        picked = self.rng.sample(pool, min(self.rng.choice((1, 1, 2)), len(pool)))
        for item in picked:
            self.touched.add(unqualified_urn(item["func_urn"]))
        return [Change("delete_config", item["func_urn"], "config deleted") for item in picked]

    def new_version(self) -> list[Change]:
        """A new version config on a function (not one removed or changed today)."""
        owners = [urn for urn in sorted(self.functions) if urn not in self.touched]
        if not owners:
            return []
        owner = self.rng.choice(owners)
        when = self.when()
        qualifier = "v" + when.astimezone(_CST).strftime("%Y%m%d-%H%M%S")
        served = {item.get("func_urn") for item in self.configs.get(owner) or []}
        if f"{owner}:{qualifier}" in served:
            return []
        item = self.new_config(owner, qualifier, when)
        self.touched.add(owner)
        return [Change("create_config", item["func_urn"], "new version published", item)]

    def new_config(self, owner: str, qualifier: str, when: datetime) -> dict[str, Any]:
        rng = self.rng
        stub = {"func_urn": owner}
        on_success = (
            self.destination(stub, rng.choice(("OBS", "SMN", "DIS")))
            if rng.random() < 0.7
            else None
        )
        on_failure = (
            self.destination(stub, rng.choice(("SMN", "OBS"))) if rng.random() < 0.75 else None
        )
        return make_config_item(
            owner,
            qualifier,
            on_success=on_success,
            on_failure=on_failure,
            max_async_event_age_in_seconds=rng.choice((60, 300, 3600, 3600, 21600)),
            max_async_retry_attempts=rng.choice((0, 1, 2, 3, 3, 5)),
            created_time=_offset(when),
            last_modified=_naive(when),
            enable_async_status_log=rng.random() < 0.5,
        )

    def new_function(self) -> list[Change]:
        rng = self.rng
        packages = sorted({urn.split(":")[5] for urn in self.functions}) or ["default"]
        names = {urn.split(":")[6] for urn in self.functions}
        package = rng.choice(packages)
        name = base = f"{rng.choice(_NOUNS)}-{rng.choice(_VERBS)}"
        suffix = 2
        while name in names:
            name, suffix = f"{base}-{suffix}", suffix + 1
        urn = function_urn(self.region, self.project_id, package, name)
        when = self.when()
        domain_ids = [item.get("domain_id") for _, item in sorted(self.functions.items())]
        domain_id = next((d for d in domain_ids if isinstance(d, str)), DEFAULT_DOMAIN_ID)
        item = make_function_item(
            self.region,
            self.project_id,
            package,
            name,
            domain_id=domain_id,
            runtime=rng.choice(("Python3.10", "Node.js18.15", "Java11")),
            memory_size=rng.choice((128, 256, 512)),
            last_modified=_naive(when),
        )
        qualifiers = ["latest"] + (["!prod"] if rng.random() < 0.5 else [])
        configs = tuple(self.new_config(urn, q, when) for q in qualifiers)
        self.functions = {**self.functions, urn: item}  # a later pick today may see it
        self.configs = {**self.configs, urn: list(configs)}
        self.touched.add(urn)
        return [
            Change(
                "add_function", urn, f"function added with {len(configs)} configs", item, configs
            )
        ]

    def removal(self) -> list[Change]:
        """Remove a function none of whose configs sends results to a function (so no loop
        breaks); a config that sent results to it is left with a dangling target."""
        if len(self.functions) < 4:
            return []
        pool = [
            urn
            for urn in sorted(self.functions)
            if urn not in self.touched
            and not any(_calls_functions(item) for item in self.configs.get(urn) or [])
        ]
        if not pool:
            return []
        urn = self.rng.choice(pool)
        gone = tuple(copy.deepcopy(self.configs.get(urn) or []))
        self.touched.add(urn)
        note = f"function removed with {len(gone)} configs"
        return [Change("remove_function", urn, note, configs=gone)]
