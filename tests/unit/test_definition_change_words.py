"""A changed definition is explained by the parts that changed: the fingerprinter's parts
(fingerprint/parts.py), how the planner names them (core/change_words.py), and the record
that carries them from one run to the next (core/finished.py)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestra_dbt_py.core.finished import finished_record
from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.planner import plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.fingerprint.canonical import canonical_json, env_digest, sha256_hex
from orchestra_dbt_py.fingerprint.parts import (
    BUILTIN_MACROS,
    DEFAULT_CONFIG,
    config_defaults,
    definition_parts,
    macro_parts,
)
from orchestra_dbt_py.fingerprint.unit_tests import unit_test_fingerprint, unit_test_parts

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BUILT = NOW - timedelta(hours=1)
MODEL = "model.shop.orders"
RELATION = '"db"."main"."orders"'
GENERIC = "definition changed (code, config, macros, vars or env vars it reads)"

MACROS = {"macro:cents_to_dollars": "aaaa1111", BUILTIN_MACROS: "bbbb2222"}


def payload() -> dict[str, Any]:
    """A payload shaped like the fingerprinter's (fingerprint/definitions.py), small."""
    return {
        "fingerprint_version": 2,
        "settings": {"dispatch": []},
        "resource_type": "model",
        "language": "sql",
        "config": {"materialized": "table", "unique_key": None, "tags": [], "enabled": True},
        "adapter_type": "duckdb",
        "code": "select 1 as id",
        "parents": [
            {"id": "model.shop.stg_orders"},
            {"id": "model.shop.eph", "ephemeral": "f" * 64},
            {
                "id": "source.shop.raw.orders",
                "relation": '"db"."raw"."orders"',
                "external": None,
                "meta": {},
                "config": {},
            },
        ],
        "macros": "c" * 64,
        "vars": {"start_date": {"value": "2026-01-01"}},
        "all_vars": {"start_date": "2026-01-01", "region": "eu"},
        "env_vars": {"API_REGION": env_digest("API_REGION", "eu-west-1")},
        "target": {"schema": sha256_hex(canonical_json("main"))},
    }


# --- the fingerprinter's parts -----------------------------------------------------------


def test_the_parts_name_each_piece_of_the_payload() -> None:
    parts = definition_parts(payload(), MACROS)
    assert set(parts) == {
        "fingerprint_version",
        "settings",
        "config:materialized",
        "config:enabled",
        DEFAULT_CONFIG,
        "adapter_type",
        "sql",
        "parent:stg_orders",
        "ephemeral:eph",
        "source:raw.orders",
        "var:start_date",
        "var:region",
        "env var:API_REGION",
        "target:schema",
        *MACROS,
    }
    assert parts["macro:cents_to_dollars"] == "aaaa1111"


def test_config_keys_at_their_default_share_one_part() -> None:
    defaults = {"enabled": True, "materialized": "view"}
    parts = definition_parts(payload(), MACROS, defaults)
    assert "config:enabled" not in parts and "config:materialized" in parts
    disabled = {**payload(), "config": {**payload()["config"], "enabled": False}}
    assert "config:enabled" in definition_parts(disabled, MACROS, defaults)


def test_config_defaults_come_from_the_config_class() -> None:
    class Config:
        def to_dict(self) -> dict[str, Any]:
            return {"enabled": True, "tags": []}

    class NeedsArguments:
        def __init__(self, required: str) -> None:
            self.required = required

    assert config_defaults(Config) == {"enabled": True, "tags": []}
    assert config_defaults(NeedsArguments) == {}


def test_python_models_and_seeds_name_their_code() -> None:
    python = {**payload(), "language": "python"}
    seed = {**payload(), "resource_type": "seed", "code": {"seed_file_sha256": "0"}}
    assert "python code" in definition_parts(python, {})
    assert "seed file" in definition_parts(seed, {})


def test_a_test_is_one_part_with_what_it_tests() -> None:
    test = {**payload(), "test": {"name": "unique", "kwargs": {"column_name": "id"}}}
    test["test_target"] = {"column_name": "id", "attached_node": MODEL}
    moved = {**test, "test_target": {"column_name": "key", "attached_node": MODEL}}
    before, after = definition_parts(test, {}), definition_parts(moved, {})
    assert {name for name in before if before[name] != after[name]} == {"test"}


def test_parents_of_one_name_from_two_packages_share_a_part() -> None:
    twins = {
        **payload(),
        "parents": [
            {"id": "model.shop.stg", "relation": "a"},
            {"id": "model.other.stg", "relation": "b"},
        ],
    }
    parts = definition_parts(twins, {})
    moved = {**twins, "parents": [twins["parents"][0], {"id": "model.other.stg", "relation": "c"}]}
    assert "parent:stg" in parts
    assert definition_parts(moved, {})["parent:stg"] != parts["parent:stg"]


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def test_every_change_to_the_payload_changes_a_part() -> None:
    before = definition_parts(payload(), MACROS)
    # The closure's digest is covered by the macro parts, given apart (see the next tests).
    paths = [path for path in leaves(payload()) if path != ("macros",)]
    assert len(paths) > 20
    for path in paths:
        changed = copy.deepcopy(payload())
        holder = changed
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = ["something else"]
        assert definition_parts(changed, MACROS) != before, path


def test_secret_values_keep_a_single_byte_of_digest() -> None:
    parts = definition_parts(payload(), MACROS)
    assert len(parts["env var:API_REGION"]) == 2
    assert len(parts["target:schema"]) == 2
    assert len(parts["var:start_date"]) == 8


def test_a_var_read_by_name_and_by_a_computed_name_is_one_part_covering_both() -> None:
    changed = payload()
    changed["all_vars"]["start_date"] = "2027-01-01"
    before, after = definition_parts(payload(), {}), definition_parts(changed, {})
    assert {name for name in before if before[name] != after.get(name)} == {"var:start_date"}


def test_macros_of_dbt_and_the_adapter_share_one_part() -> None:
    digests = {
        "macro.shop.cents_to_dollars": "1" * 64,
        "macro.dbt_utils.star": "2" * 64,
        "macro.dbt.run_query": "3" * 64,
        "macro.dbt_duckdb.duckdb__create_table_as": "4" * 64,
    }
    names = {
        "macro.shop.cents_to_dollars": "cents_to_dollars",
        "macro.dbt_utils.star": "dbt_utils.star",
        "macro.dbt.run_query": "run_query",
        "macro.dbt_duckdb.duckdb__create_table_as": "duckdb__create_table_as",
    }
    builtin = {"macro.dbt.run_query", "macro.dbt_duckdb.duckdb__create_table_as"}
    parts = macro_parts(digests, names, builtin)
    assert set(parts) == {"macro:cents_to_dollars", "macro:dbt_utils.star", BUILTIN_MACROS}
    moved = macro_parts({**digests, "macro.dbt.run_query": "5" * 64}, names, builtin)
    assert moved[BUILTIN_MACROS] != parts[BUILTIN_MACROS]
    assert moved["macro:cents_to_dollars"] == parts["macro:cents_to_dollars"]


class FakeUnitTest:
    def __init__(self, expect: list[dict[str, int]], schema: str = "main") -> None:
        self.expect = expect
        self.schema = schema

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": "converts",
            "expect": {"rows": self.expect},
            "created_at": 1.0,
            "schema": self.schema,
        }


def test_a_unit_test_has_its_models_parts_and_its_own() -> None:
    model_parts = {"sql": "00000000", "macro:cents_to_dollars": "11111111"}
    unit_test = FakeUnitTest([{"id": 1}])
    parts = unit_test_parts(unit_test, [model_parts])
    assert parts is not None
    assert {name: parts[name] for name in model_parts} == model_parts
    changed = unit_test_parts(FakeUnitTest([{"id": 2}]), [model_parts])
    assert changed is not None and changed["unit test"] != parts["unit test"]
    assert unit_test_parts(unit_test, [None]) is None
    assert unit_test_parts(unit_test, [model_parts, model_parts]) is None
    # The fingerprint stays what it was: the definition and the models' fingerprints.
    assert unit_test_fingerprint(unit_test, ["fp"]) == sha256_hex(
        '[{"expect": {"rows": [{"id": 1}]}, "name": "converts"}, ["fp"]]'
    )
    # Its schema is the target's: the same unit test in another target is the same.
    assert unit_test_fingerprint(FakeUnitTest([{"id": 1}], "dev_ann"), ["fp"]) == (
        unit_test_fingerprint(unit_test, ["fp"])
    )


# --- the planner's reasons ---------------------------------------------------------------


BASE = definition_parts(payload(), MACROS)


def reason(recorded: dict[str, str] | None, current: dict[str, str] | None) -> str:
    """The planner's reason for MODEL, built at BUILT with `recorded` parts and now
    defined by `current` parts (the fingerprints differ)."""
    node = Node(MODEL, "model", "table", (), RELATION, "fp-new", definition=current)
    record = NodeRecord(
        last_updated=BUILT,
        fingerprint="fp-old",
        relation=RELATION,
        status="success",
        version={},
        definition=recorded,
    )
    decided = plan({MODEL: node}, {MODEL}, {MODEL: record}, {}, {RELATION}, NOW)
    decision = decided.decisions[MODEL]
    assert decision.action == "build"
    return decision.reason


def edited(**changes: Any) -> dict[str, str]:
    changed = payload()
    for key, value in changes.items():
        changed[key] = value
    return definition_parts(changed, MACROS)


def with_config(**config: Any) -> dict[str, str]:
    return edited(config={**payload()["config"], **config})


CHANGES = [
    ("sql", edited(code="select 2 as id"), "definition changed: its SQL"),
    (
        "config keys",
        with_config(materialized="incremental", unique_key="id"),
        "definition changed: config materialized, unique_key",
    ),
    (
        "a config key given its default value",
        definition_parts(payload(), MACROS, {"materialized": "table"}),
        "definition changed: config materialized",
    ),
    (
        "an empty config value only",
        with_config(tags={}),
        "definition changed: a config key at its default or without a value",
    ),
    (
        "macro",
        definition_parts(payload(), {**MACROS, "macro:cents_to_dollars": "aaaa9999"}),
        "definition changed: macro cents_to_dollars",
    ),
    (
        "dbt's macros",
        definition_parts(payload(), {**MACROS, BUILTIN_MACROS: "bbbb9999"}),
        "definition changed: dbt's or the adapter's macros",
    ),
    (
        "var and env var",
        edited(
            vars={"start_date": {"value": "2027-01-01"}},
            all_vars={"start_date": "2027-01-01", "region": "eu"},
            env_vars={"API_REGION": env_digest("API_REGION", "us-east-1")},
        ),
        "definition changed: var start_date; env var API_REGION",
    ),
    (
        "parent gone",
        edited(parents=payload()["parents"][1:]),
        "definition changed: parent stg_orders (gone)",
    ),
    (
        "ephemeral parent and source",
        edited(
            parents=[
                payload()["parents"][0],
                {"id": "model.shop.eph", "ephemeral": "e" * 64},
                {**payload()["parents"][2], "meta": {"owner": "x"}},
            ]
        ),
        "definition changed: ephemeral parent eph; source raw.orders",
    ),
    (
        "a new parent and a var no longer read",
        edited(
            parents=[*payload()["parents"], {"id": "seed.shop.codes"}],
            vars={},
            all_vars={},
        ),
        "definition changed: var region (gone), start_date (gone); parent codes (new)",
    ),
    (
        "target attribute and fingerprint version",
        edited(target={"schema": "changed"}, fingerprint_version=3),
        "definition changed: target schema; orc's fingerprint version",
    ),
    (
        "more than four names",
        edited(
            code="select 3",
            config={"materialized": "view", "unique_key": "k", "tags": ["t"], "enabled": False},
            adapter_type="postgres",
        ),
        "definition changed: its SQL; its adapter type; config enabled, materialized (and 2 more)",
    ),
]


@pytest.mark.parametrize(
    ("current", "expected"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES]
)
def test_a_changed_definition_names_what_changed(current: dict[str, str], expected: str) -> None:
    assert reason(BASE, current) == expected


def test_without_recorded_parts_the_reason_stays_generic() -> None:
    assert reason(None, edited(code="select 2")) == GENERIC


def test_when_no_recorded_part_differs_the_reason_stays_generic() -> None:
    assert reason(BASE, dict(BASE)) == GENERIC
    assert reason(BASE, None) == GENERIC


def test_reasons_name_no_values() -> None:
    secret = "ap-south-2"
    current = edited(env_vars={"API_REGION": env_digest("API_REGION", secret)}, code="s3cr3t")
    text = reason(BASE, current)
    assert "API_REGION" in text
    assert secret not in text and "s3cr3t" not in text


# --- the record ---------------------------------------------------------------------------


def test_a_finished_build_records_its_definition_parts() -> None:
    node = Node(MODEL, "model", "table", (), RELATION, "fp", definition=BASE)
    record = finished_record(
        {MODEL: node}, MODEL, "success", 1.0, known={}, versions={}, checksum=None, now=NOW
    )
    assert record is not None
    assert dict(record.definition or {}) == BASE
