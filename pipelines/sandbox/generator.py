"""A seeded generator of realistic estates, mess included.

The same seed always yields the same estate (timestamps included: they derive from the seed, never
from the clock), so demos are reproducible and tests can assert exact rows. With `mess=True` the
generator guarantees that every kind of irregularity the connector must survive appears at least
once per project (when the project has at least `MESS_MIN_FUNCTIONS` functions); without it, every
item is well-formed, which suits exact-row tests of the happy path.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .estate import (
    ABSENT,
    Estate,
    cpu_for_memory,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
    unqualified_urn,
    user_data_text,
)

__all__ = [
    "DEFAULT_PROJECT_ID",
    "DEFAULT_REGION",
    "DESTINATION_MESS",
    "FIELD_MESS",
    "MESS_MIN_FUNCTIONS",
    "generate_estate",
]

DEFAULT_REGION = "cn-north-4"
DEFAULT_PROJECT_ID = "0b5a7e4d3c2f41a6b8e9d0c1f2a3b4c5"
#: Below this many functions in a project there are too few configs to hold every kind of mess.
MESS_MIN_FUNCTIONS = 12

_CST = timezone(timedelta(hours=8))  # the zone the API's naive timestamps are written in
_PACKAGES = ("default", "billing", "orders", "etl", "notify", "auth", "reports")
_PACKAGE_WEIGHTS = (6, 4, 4, 3, 2, 1, 1)
_NOUNS = (
    "invoice",
    "order",
    "payment",
    "customer",
    "report",
    "ledger",
    "refund",
    "shipment",
    "thumbnail",
    "audit",
    "session",
    "coupon",
    "inventory",
    "webhook",
    "export",
    "metric",
)
_VERBS = (
    "render",
    "sync",
    "ingest",
    "notify",
    "validate",
    "archive",
    "resize",
    "reconcile",
    "dispatch",
    "aggregate",
    "cleanup",
    "enrich",
)
_RUNTIMES = (
    ("Python3.9", "index.handler", "index.py"),
    ("Python3.10", "index.handler", "index.py"),
    ("Node.js16.17", "index.handler", "index.js"),
    ("Node.js18.15", "index.handler", "index.js"),
    ("Java11", "com.example.Handler::handle", "app.jar"),
    ("Go1.x", "handler", "handler.zip"),
)
_ALIASES = ("!prod", "!staging", "!canary", "!blue", "!green", "!stable")
_TOPICS = ("async-failures", "ops-alerts", "billing-events", "orders-done", "oncall")

# Kinds of mess in `destination_config`; each lands on a distinct config.
DESTINATION_MESS = (
    "only_on_success",
    "only_on_failure",
    "destination_config_empty",
    "destination_config_absent",
    "destination_config_null",
    "side_empty",
    "param_invalid_json",
    "param_missing_target_key",
    "param_whitespace_unicode",
    "param_empty_string",
    "unknown_destination",
)
# Kinds of mess in the other fields; they combine freely with the destination kinds.
FIELD_MESS = (
    "last_modified_naive",
    "last_modified_offset",
    "created_time_z",
    "retry_attempts_high",
    "retry_attempts_negative",
    "event_age_zero",
    "event_age_high",
    "status_log_absent",
    "extra_field",
)


def generate_estate(
    *,
    seed: int = 7,
    projects: Sequence[tuple[str, str]] = ((DEFAULT_REGION, DEFAULT_PROJECT_ID),),
    functions_per_project: int = 40,
    configs_per_function: tuple[int, int] = (1, 4),
    mess: bool = True,
) -> Estate:
    """Build an estate of `functions_per_project` functions in each (region, project_id).

    About one function in eight has no configs; the others get between `configs_per_function`
    bounds (latest, versions and aliases). Destinations cover OBS, SMN, DIS and FunctionGraph; the
    FunctionGraph ones point at other functions, including an A→B→A cycle, a function that does not
    exist and one in another project or region.
    """
    lo, hi = configs_per_function
    if lo < 0 or hi < lo:
        raise ValueError(f"bad configs_per_function: {configs_per_function}")
    rng = random.Random(seed)
    base = datetime(2020, 6, 1, tzinfo=_CST) + timedelta(
        days=rng.randrange(0, 600), seconds=rng.randrange(0, 86400)
    )
    domain_id = f"{rng.getrandbits(128):032x}"
    estate = Estate()
    for region, project_id in projects:
        estate.add_project(region, project_id)
        functions = _functions(
            rng, seed, base, domain_id, region, project_id, functions_per_project
        )
        for item in functions:
            estate.add_function(project_id, item)
    all_urns = [urn for _, pid in projects for urn in estate.function_urns(pid)]
    for region, project_id in projects:
        gen = _ProjectGenerator(rng, base, estate, region, project_id, all_urns)
        gen.configs(lo, hi)
        reserved = gen.special_targets()
        if mess and functions_per_project >= MESS_MIN_FUNCTIONS:
            gen.mess(reserved)
    return estate


def _functions(
    rng: random.Random,
    seed: int,
    base: datetime,
    domain_id: str,
    region: str,
    project_id: str,
    count: int,
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    used: set[str] = set()
    for _ in range(count):
        package = rng.choices(_PACKAGES, _PACKAGE_WEIGHTS)[0]
        name = f"{rng.choice(_NOUNS)}-{rng.choice(_VERBS)}"
        suffix = 2
        unique = name
        while unique in used:
            unique = f"{name}-{suffix}"
            suffix += 1
        used.add(unique)
        runtime, handler, filename = rng.choice(_RUNTIMES)
        modified = base + timedelta(days=rng.randrange(300, 900), seconds=rng.randrange(86400))
        # Drawn in this order from the shared RNG since the first version: keep it, so a seed
        # keeps serving the same functions and configs. New fields come from `_function_extras`.
        timeout = rng.choice((3, 15, 30, 60, 300, 900))
        memory_size = rng.choice((128, 256, 512, 1024, 2048))
        code_type = rng.choice(("inline", "zip", "obs", "jar"))
        code_size = rng.randrange(300, 40_000_000)
        description = rng.choice(("", "", f"{unique} worker", f"{package}: {unique}"))
        urn = function_urn(region, project_id, package, unique)
        items.append(
            make_function_item(
                region,
                project_id,
                package,
                unique,
                domain_id=domain_id,
                runtime=runtime,
                handler=handler,
                code_filename=filename,
                timeout=timeout,
                memory_size=memory_size,
                code_type=code_type,
                code_size=code_size,
                description=description,
                last_modified=_naive(modified),
                **_function_extras(seed, urn, memory_size, code_type, modified),
            )
        )
    return items


_AGENCIES = ("fgs-async-agency", "fgs-obs-smn-agency", "serverless_trust", "fgs-dis-writer")
_ENV_NAMES = ("DB_PASSWORD", "REDIS_PASSWORD", "SMTP_PASSWORD", "JWT_SIGNING_KEY", "OBS_SK")
_ENCRYPTED_NAMES = ("API_KEY", "PAYMENT_GATEWAY_TOKEN", "WEBHOOK_SECRET", "SK")


def _function_extras(
    seed: int, urn: str, memory_size: int, code_type: str, modified: datetime
) -> dict[str, Any]:
    """The fields added after the first version, from an RNG of their own (seed and URN).

    The shared RNG must not move: drawing even one more value from it would shift every later
    function and config of the estate. Every environment-variable value is distinctive (hex
    from the hash), so a scan for it in the connector's output cannot hit by coincidence.
    """
    digest = hashlib.sha512(f"{seed}\0{urn}".encode()).digest()
    own = random.Random(digest)

    def hex_(length: int) -> str:
        return f"{own.getrandbits(length * 4):0{length}x}"

    def uuid_() -> str:
        h = hex_(32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    package, name = urn.split(":")[5:7]
    region = urn.split(":")[2]
    env = {
        "DB_HOST": f"{package}-db-{hex_(12)}.internal",
        **{key: f"tenant-secret-{hex_(24)}" for key in own.sample(_ENV_NAMES, own.randint(1, 3))},
    }
    encrypted = {
        key: f"tenant-secret-{hex_(24)}"
        for key in own.sample(_ENCRYPTED_NAMES, own.choice((0, 1, 1, 2)))
    }
    agency = own.choices((*_AGENCIES, "", None), (6, 2, 2, 1, 2, 2))[0]
    lts = own.random() < 0.6
    initializer = own.random() < 0.2
    pre_stop = own.random() < 0.1
    concurrency = own.choices((-1, 0, 10, 100), (6, 1, 2, 1))[0]
    extras: dict[str, Any] = {
        "resource_id": uuid_(),
        "cpu": cpu_for_memory(memory_size),
        "code_url": (
            f"https://{package}-code.obs.{region}.myhuaweicloud.com/{name}.zip"
            if code_type == "obs"
            else ""
        ),
        "digest": hex_(128),
        "image_name": f"latest-{modified.astimezone(_CST):%y%m%d%H%M%S}@{hex_(5)}",
        "xrole": ABSENT if agency is None else agency,
        "app_xrole": ABSENT if agency is None else agency,
        "func_vpc_id": uuid_() if own.random() < 0.25 else "",
        "strategy_config": {
            "concurrency": concurrency,
            "concurrent_num": own.choice((1, 1, 1, 5, 10, 100)),
        },
        "extend_config": json.dumps(
            {"enable_lts_log": lts, "lts_custom_tag": None}, separators=(",", ":")
        ),
        "initializer_handler": "index.init" if initializer else "",
        "initializer_timeout": own.choice((3, 30, 60)) if initializer else 0,
        "pre_stop_handler": "index.pre_stop" if pre_stop else "",
        "pre_stop_timeout": own.choice((3, 30)) if pre_stop else 0,
        "log_group_id": uuid_() if lts else "",
        "log_stream_id": uuid_() if lts else "",
        "user_data": user_data_text(env),
        "encrypted_user_data": user_data_text(encrypted),
        "enable_dynamic_memory": own.random() < 0.1,
        "is_stateful_function": own.random() < 0.05,
    }
    return extras


def _offset(moment: datetime) -> str:
    return moment.astimezone(_CST).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _naive(moment: datetime) -> str:
    return moment.astimezone(_CST).strftime("%Y-%m-%d %H:%M:%S")


def _utc(moment: datetime, suffix: str) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + suffix


class _ProjectGenerator:
    """Config generation for one project; a class only to share the RNG and context."""

    def __init__(
        self,
        rng: random.Random,
        base: datetime,
        estate: Estate,
        region: str,
        project_id: str,
        all_urns: list[str],
    ) -> None:
        self.rng = rng
        self.base = base
        self.estate = estate
        self.region = region
        self.project_id = project_id
        self.urns = estate.function_urns(project_id)
        self.all_urns = all_urns
        self._positions = {u: i for i, u in enumerate(all_urns)}

    # -- clean configs -------------------------------------------------------------------------

    def configs(self, lo: int, hi: int) -> None:
        rng = self.rng
        n = len(self.urns)
        empty = set(rng.sample(self.urns, n // 8 if n >= 8 else (1 if n >= 3 else 0)))
        for urn in self.urns:
            if urn in empty:
                continue
            count = rng.randint(lo, hi)
            self.estate.set_configs(urn, [self._config(urn, q) for q in self._qualifiers(count)])

    def _qualifiers(self, count: int) -> list[str]:
        rng = self.rng
        versions = sorted(
            {
                "v"
                + (self.base + timedelta(seconds=rng.randrange(700 * 86400))).strftime(
                    "%Y%m%d-%H%M%S"
                )
                for _ in range(count)
            }
        )
        pool = versions + rng.sample(_ALIASES, min(count, len(_ALIASES)))
        picked = ["latest"] if count and rng.random() < 0.85 else []
        picked += rng.sample(pool, min(count - len(picked), len(pool)))
        return picked

    def _config(self, urn: str, qualifier: str) -> dict[str, Any]:
        rng = self.rng
        created = self.base + timedelta(days=rng.randrange(0, 400), seconds=rng.randrange(86400))
        modified = created + timedelta(days=rng.randrange(0, 200), seconds=rng.randrange(86400))
        return make_config_item(
            urn,
            qualifier,
            on_success=self._side(urn, ("OBS", "DIS", "SMN", "FunctionGraph"), (4, 2, 2, 2)),
            on_failure=self._side(urn, ("SMN", "FunctionGraph", "OBS", "DIS"), (4, 3, 2, 1)),
            max_async_event_age_in_seconds=rng.choice((60, 300, 3600, 3600, 21600, 86400)),
            max_async_retry_attempts=rng.choice((0, 1, 2, 3, 3, 3)),
            created_time=_offset(created),
            last_modified=_naive(modified),
            enable_async_status_log=rng.random() < 0.3,
        )

    def _side(self, urn: str, kinds: Sequence[str], weights: Sequence[int]) -> dict[str, Any]:
        kind = self.rng.choices(kinds, weights)[0]
        return self._destination(kind, urn)

    def _destination(self, kind: str, urn: str) -> dict[str, Any]:
        rng = self.rng
        package, name = urn.split(":")[5:7]
        if kind == "OBS":
            return make_destination(
                "OBS",
                {
                    "bucket": f"{package}-async-results",
                    "prefix": f"/{name}/{rng.choice(('success', 'failure', 'out'))}",
                    "expires": rng.choice((0, 7, 30, 365)),
                },
            )
        if kind == "SMN":
            topic = rng.choice(_TOPICS)
            return make_destination(
                "SMN", {"topic_urn": f"urn:smn:{self.region}:{self.project_id}:{topic}"}
            )
        if kind == "DIS":
            return make_destination("DIS", {"stream_name": f"dis-{package}-events"})
        target = self._other_function(urn)
        return make_destination("FunctionGraph", {"func_urn": self._qualify(target)})

    def _other_function(self, urn: str) -> str:
        """A random function other than `urn` (itself when it is the only one), in O(1):
        building the list of the others for every destination made large estates quadratic."""
        urns, index = self.all_urns, self._positions.get(urn, -1)
        if len(urns) < 2:
            return urns[0] if urns and index < 0 else urn
        pick = self.rng.randrange(len(urns) - 1 if index >= 0 else len(urns))
        return urns[pick + 1] if 0 <= index <= pick else urns[pick]

    def _qualify(self, target: str) -> str:
        roll = self.rng.random()
        if roll < 0.5:
            return f"{target}:latest"
        if roll < 0.8:
            return target
        return f"{target}:{self.rng.choice(_ALIASES)}"

    # -- FunctionGraph targets worth a report -------------------------------------------------

    def special_targets(self) -> set[str]:
        """Plant an A→B→A cycle, a dangling target and a cross-project target.

        Each goes on the first config of a distinct function (functions with configs first), so
        all three need four functions; smaller projects get those that fit. Returns the qualified
        URNs of the configs used, so the mess pass leaves them intact.
        """
        rng = self.rng
        with_configs = [u for u in self.urns if self.estate.configs(u)]
        without = [u for u in self.urns if u not in with_configs]
        picks = rng.sample(with_configs, min(4, len(with_configs)))
        picks += without[: 4 - len(picks)]
        planted: list[dict[str, Any]] = []
        if len(picks) >= 2:
            a, b = picks.pop(0), picks.pop(0)
            planted.append(self._retarget(a, f"{b}:latest", "on_failure"))
            planted.append(self._retarget(b, a, "on_failure"))
        if picks:
            owner = picks.pop(0)
            package, name = owner.split(":")[5:7]
            dangling = function_urn(self.region, self.project_id, package, f"{name}-retired")
            planted.append(self._retarget(owner, f"{dangling}:latest", "on_success"))
        if picks:
            foreign = [u for u in self.all_urns if u.split(":")[3] != self.project_id]
            if foreign:
                cross = rng.choice(foreign)
            else:
                other_project = f"{rng.getrandbits(128):032x}"
                cross = function_urn("ap-southeast-1", other_project, "default", "dead-letter")
            planted.append(self._retarget(picks.pop(0), f"{cross}:latest", "on_success"))
        for item in planted:
            self.estate.upsert_config(item)
        return {item["func_urn"] for item in planted}

    def _first_config(self, urn: str) -> dict[str, Any]:
        items = self.estate.configs(urn) or []
        if items:
            return copy.deepcopy(items[0])
        return self._config(urn, "latest")

    def _retarget(self, owner: str, target: str, side: str) -> dict[str, Any]:
        item = self._first_config(owner)
        item["destination_config"][side] = make_destination("FunctionGraph", {"func_urn": target})
        return item

    # -- mess ------------------------------------------------------------------------------------

    def mess(self, reserved: set[str]) -> None:
        """Apply every mess kind at least once, then sprinkle a few more at random."""
        rng = self.rng
        pool = [
            item
            for urn in self.urns
            for item in (self.estate.configs(urn) or [])
            if item["func_urn"] not in reserved
        ]
        pool = [copy.deepcopy(item) for item in pool]
        rng.shuffle(pool)
        needed = max(len(DESTINATION_MESS), len(FIELD_MESS))
        owners = [u for u in self.urns if self.estate.configs(u)]
        extra = 0
        while len(pool) < needed:
            extra += 1
            owner = owners[extra % len(owners)] if owners else self.urns[0]
            pool.append(self._config(owner, f"v20990101-{extra:06d}"))
        for kind, item in zip(DESTINATION_MESS, pool, strict=False):
            _DESTINATION_MESSERS[kind](self, item)
        for kind, item in zip(FIELD_MESS, pool, strict=False):
            _FIELD_MESSERS[kind](self, item)
        for item in pool[needed:]:
            if rng.random() < 0.15:
                kind = rng.choice(DESTINATION_MESS + FIELD_MESS)
                (_DESTINATION_MESSERS | _FIELD_MESSERS)[kind](self, item)
        for item in pool:
            self.estate.upsert_config(item)
        if self.urns:
            # An unknown field on a function item too: new API fields must not break listing.
            victim = self.urns[rng.randrange(len(self.urns))]
            with self.estate.lock:
                self.estate.projects[self.project_id].functions[victim]["new_field"] = "x"


def _dc(item: dict[str, Any]) -> dict[str, Any]:
    dc = item.get("destination_config")
    if not isinstance(dc, dict):
        dc = item["destination_config"] = {}
    return dc


def _only(side: str) -> Callable[[_ProjectGenerator, dict[str, Any]], None]:
    def apply(gen: _ProjectGenerator, item: dict[str, Any]) -> None:
        dc = _dc(item)
        kept = dc.get(side) or gen._destination("SMN", unqualified_urn(item["func_urn"]))
        item["destination_config"] = {side: kept}

    return apply


def _set_side(side: str, destination: str, param: str) -> Callable[..., None]:
    def apply(gen: _ProjectGenerator, item: dict[str, Any]) -> None:
        _dc(item)[side] = {"destination": destination, "param": param}

    return apply


def _set_field(key: str, value: Any) -> Callable[..., None]:
    def apply(gen: _ProjectGenerator, item: dict[str, Any]) -> None:
        item[key] = value

    return apply


def _retime(key: str, render: Callable[[datetime], str]) -> Callable[..., None]:
    def apply(gen: _ProjectGenerator, item: dict[str, Any]) -> None:
        raw = item[key]
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_CST)
        item[key] = render(moment)

    return apply


def _drop(key: str) -> Callable[..., None]:
    def apply(gen: _ProjectGenerator, item: dict[str, Any]) -> None:
        item.pop(key, None)

    return apply


_WHITESPACE_UNICODE_PARAM = (
    '  {\n    "bucket" : "账单-archive" ,\n\t"prefix": "/结果/成功 ✓/" , "expires" : 30 }  \n'
)

_DESTINATION_MESSERS: dict[str, Callable[[_ProjectGenerator, dict[str, Any]], None]] = {
    "only_on_success": _only("on_success"),
    "only_on_failure": _only("on_failure"),
    "destination_config_empty": _set_field("destination_config", {}),
    "destination_config_absent": _drop("destination_config"),
    "destination_config_null": _set_field("destination_config", None),
    "side_empty": lambda gen, item: _dc(item).__setitem__("on_failure", {}),
    "param_invalid_json": _set_side(
        "on_success", "OBS", '{"bucket": "orders-async-results", "prefix": "/out'
    ),
    "param_missing_target_key": _set_side("on_failure", "SMN", '{"topic": "ops-alerts"}'),
    "param_whitespace_unicode": _set_side("on_success", "OBS", _WHITESPACE_UNICODE_PARAM),
    "param_empty_string": _set_side("on_failure", "SMN", ""),
    "unknown_destination": _set_side("on_failure", "Kafka", '{"topic":"async-failures"}'),
}

_FIELD_MESSERS: dict[str, Callable[[_ProjectGenerator, dict[str, Any]], None]] = {
    "last_modified_naive": _retime("last_modified", _naive),
    "last_modified_offset": _retime("last_modified", lambda m: _utc(m, "+00:00")),
    "created_time_z": _retime("created_time", lambda m: _utc(m, "Z")),
    "retry_attempts_high": _set_field("max_async_retry_attempts", 9),
    "retry_attempts_negative": _set_field("max_async_retry_attempts", -1),
    "event_age_zero": _set_field("max_async_event_age_in_seconds", 0),
    "event_age_high": _set_field("max_async_event_age_in_seconds", 90000),
    "status_log_absent": _drop("enable_async_status_log"),
    "extra_field": _set_field("new_field", "x"),
}
