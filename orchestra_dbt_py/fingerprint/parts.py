"""Definition parts: a short digest per named part of a node's fingerprint payload, so that a
changed fingerprint can be explained by the names of the parts that changed.

A part's name is either a single word or phrase (`sql`, `adapter_type`, `settings`, `dbt macros`)
or `<group>:<name>` (`config:materialized`, `macro:cents_to_dollars`, `var:start_date`,
`env var:API_REGION`, `target:schema`, `parent:stg_orders`, `ephemeral:eph_orders`,
`source:raw.orders`). `orchestra_dbt_py.core.change_words` reads these names. Config keys
left at dbt's default or without a value (null, empty) share the one part `config`, which
keeps each record small: most of dbt's many config keys are left alone on most nodes.

Parts are derived from the payload the fingerprint hashes, so every change to the payload
changes the digest of at least one part. They explain a change; they never decide one (the
fingerprint does). Digests are short: a part holding a value that may be secret (an env var,
a target attribute such as the password) keeps a single byte of digest, which names a
change with a chance of 255 in 256 but says next to nothing about the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestra_dbt_py.fingerprint.canonical import canonical_json, plain, sha256_hex

# Hex digits of a part's digest: enough to tell a change, short to keep the state small.
PART_DIGEST_LENGTH = 8
SECRET_DIGEST_LENGTH = 2

# The part that stands for every macro of dbt itself and of the adapter in a node's closure.
BUILTIN_MACROS = "dbt macros"
# The part that stands for every config key at its default or without a value.
DEFAULT_CONFIG = "config"

# Payload keys whose value is a mapping of named entries, each its own part: key -> group.
_GROUPED = {
    "config": "config",
    "vars": "var",
    "all_vars": "var",
    "env_vars": "env var",
    "all_env_vars": "env var",
    "target": "target",
}
_EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {})
_SECRET_GROUPS = frozenset({"env var", "target"})
# Payload keys that definition_parts handles itself (or that are covered by other parts).
_SPECIAL = frozenset({"parents", "macros", *_GROUPED})
# Payload keys that share a part with another: what kind of node it is goes with its code
# (it cannot change without the code's part changing name), a test's target with the test.
_FOLDED = {"resource_type": "code", "language": "code", "test_target": "test"}


def part_digest(value: Any, length: int = PART_DIGEST_LENGTH) -> str:
    return sha256_hex(canonical_json(value))[:length]


def definition_parts(
    payload: Mapping[str, Any],
    macros: Mapping[str, str],
    config_defaults: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The named parts of one node's payload, each with its digest.

    `macros` holds the parts of the node's macro closure (see `macro_parts`): the payload
    holds only the closure's digest, which those parts cover. `config_defaults` holds the
    config values dbt gives a node of this kind when nothing sets them.
    """
    defaults = config_defaults or {}
    pieces: dict[str, list[Any]] = {}
    for key, value in payload.items():
        if key not in _SPECIAL:
            part = _FOLDED.get(key, key)
            part = _code_part(payload) if part == "code" else part
            pieces.setdefault(part, []).append([key, value])
    for key, group in _GROUPED.items():
        # `vars` and `all_vars` may both name one var: its part covers both values.
        for name, value in (payload.get(key) or {}).items():
            at_default = name in defaults and defaults[name] == value
            if key == "config" and (value in _EMPTY_VALUES or at_default):
                pieces.setdefault(DEFAULT_CONFIG, []).append([name, value])
            else:
                pieces.setdefault(f"{group}:{name}", []).append([key, value])
    for parent in payload.get("parents") or ():
        # Two parents of one name (from two packages) share a part.
        pieces.setdefault(_parent_part(parent), []).append(parent)
    parts = {
        name: part_digest(
            values,
            SECRET_DIGEST_LENGTH if name.split(":", 1)[0] in _SECRET_GROUPS else PART_DIGEST_LENGTH,
        )
        for name, values in pieces.items()
    }
    parts.update(macros)
    return parts


_DEFAULTS: dict[str, dict[str, Any]] = {}


def config_defaults(config_class: type) -> dict[str, Any]:
    """The config dbt gives a node with this config class when nothing sets it."""
    key = f"{config_class.__module__}.{config_class.__qualname__}"
    found = _DEFAULTS.get(key)
    if found is None:
        try:
            found = dict(plain(config_class().to_dict()))
        except Exception:  # a config class that needs arguments: no defaults known
            found = {}
        _DEFAULTS[key] = found
    return found


def macro_parts(
    pairs: Mapping[str, str], names: Mapping[str, str], builtin: set[str]
) -> dict[str, str]:
    """Parts of a macro closure: `pairs` maps each macro's unique id to its digest, `names`
    each id to its part name; the ids in `builtin` (dbt's and the adapter's) share one part."""
    parts: dict[str, str] = {}
    lumped = []
    for unique_id in sorted(pairs):
        if unique_id in builtin:
            lumped.append(f"{unique_id}={pairs[unique_id]}")
        else:
            parts[f"macro:{names[unique_id]}"] = pairs[unique_id][:PART_DIGEST_LENGTH]
    if lumped:
        parts[BUILTIN_MACROS] = part_digest(lumped)
    return parts


def _code_part(payload: Mapping[str, Any]) -> str:
    if payload.get("resource_type") == "seed":
        return "seed file"
    if payload.get("language") == "python":
        return "python code"
    return "sql"


def _parent_part(parent: Mapping[str, Any]) -> str:
    # The id without its resource type and package: `stg_orders`, `raw.orders`, `dim.v2`.
    name = str(parent["id"]).split(".", 2)[-1]
    if "ephemeral" in parent:
        return f"ephemeral:{name}"
    if "external" in parent:
        return f"source:{name}"
    return f"parent:{name}"
