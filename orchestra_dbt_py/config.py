"""Configuration: the one place that reads `[tool.orchestra_dbt]` and `ORCHESTRA_*` variables.

Everything else receives a `Settings` value; nothing here runs at import time.

Rules (see docs/design.md and the README):

* The pyproject used is the nearest `pyproject.toml`, walking up from the working directory
  (the directory itself first), **that contains a `[tool.orchestra_dbt]` table**. When the
  dbt command names its project elsewhere (`--project-dir`, DBT_PROJECT_DIR), the walk
  starts from that project's folder, and from the working directory only when it finds none. A
  `pyproject.toml` without that table is skipped, so a dbt project inside a monorepo can
  configure orc in its own pyproject while an unrelated pyproject sits closer (or the other way
  round). Every `pyproject.toml` met on the way must be valid TOML: orc cannot know whether a
  broken file was meant to configure it, so it says so rather than guess.
* Precedence per key: an option of the command line (`--no-wait`, `--max-wait`: handed to
  `load_settings` as `overrides`, never written into the environment) wins, then an
  environment variable that is set, then the pyproject value, then the default. An
  environment variable set to the empty string (or only whitespace) counts as not set.
  String values from the environment are stripped of surrounding whitespace.
* A boolean environment variable is `true` or `false`, in any case; any other non-empty value
  (`1`, `yes`, `on`, ...) is an error naming the variable, so that a typo never turns orc off.
  In the pyproject, booleans must be TOML booleans (`true` / `false`, without quotes).
* `orchestra_env` must be `app`, `stage` or `dev` (any case, stored lower case, as
  dbt-orchestra accepts it).
* `ORCHESTRA_API_KEY` and `ORCHESTRA_API_BASE_URL` are read from the environment only; an API
  key written in a pyproject is an error (keys belong in the environment, not in a file that is
  committed). The key never appears in `repr()`/`str()` of `Settings` nor in any message.
* A local `state_file` is made absolute (`~` expanded with HOME from `environ`): from
  `ORCHESTRA_STATE_FILE` relative to the working directory, from the pyproject relative to that
  pyproject's folder. A value with a URI scheme (`s3://...`, `warehouse:...`, `https://...`)
  is kept as written.
* Unknown keys in `[tool.orchestra_dbt]` are errors (typo protection). dbt-orchestra's keys
  for what orc always does (`ALWAYS_ON`) are accepted, type-checked and otherwise ignored, so
  one pyproject can serve both tools.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import StateLocation, has_uri_scheme, parse_location

__all__ = ["ALWAYS_ON", "ORCHESTRA_ENVS", "Settings", "load_settings"]

ORCHESTRA_ENVS: tuple[str, ...] = ("app", "stage", "dev")

_TABLE = "orchestra_dbt"

# pyproject key -> environment variable.
_ENV_VARS: dict[str, str] = {
    "use_stateful": "ORCHESTRA_USE_STATEFUL",
    "state_file": "ORCHESTRA_STATE_FILE",
    "orchestra_env": "ORCHESTRA_ENV",
    "local_run": "ORCHESTRA_LOCAL_RUN",
    "debug": "ORCHESTRA_DBT_DEBUG",
    "integration_account_id": "ORCHESTRA_INTEGRATION_ACCOUNT_ID",
    "seed_state_orchestration": "ORCHESTRA_SEED_STATE_ORCHESTRATION",
    "require_explicit_source_freshness": "ORCHESTRA_REQUIRE_EXPLICIT_SOURCE_FRESHNESS",
    "verify_relations_exist": "ORCHESTRA_VERIFY_RELATIONS_EXIST",
    "scope_source_freshness_to_selection": "ORCHESTRA_SCOPE_SOURCE_FRESHNESS_TO_SELECTION",
    "wait_for_other_runs": "ORCHESTRA_WAIT_FOR_OTHER_RUNS",
    "max_wait_seconds": "ORCHESTRA_MAX_WAIT_SECONDS",
    "claim_lease_seconds": "ORCHESTRA_CLAIM_LEASE_SECONDS",
    "defer_to_target": "ORCHESTRA_DEFER_TO_TARGET",
}
_STR_KEYS = frozenset({"state_file", "orchestra_env", "integration_account_id", "defer_to_target"})
# Numbers of seconds, greater than zero.
_SECONDS_KEYS = frozenset({"max_wait_seconds", "claim_lease_seconds"})
_BOOL_KEYS = frozenset(_ENV_VARS) - _STR_KEYS - _SECONDS_KEYS
# dbt-orchestra 1.5 settings for what orc always does: accepted (and type-checked), and
# `--debug` says once that orc does it anyway.
ALWAYS_ON: dict[str, str] = {
    "verify_relations_exist": "checks that a relation exists before reusing it",
    "scope_source_freshness_to_selection": "measures only the sources the selection reads",
}
# Settings that may only come from the environment.
_ENV_ONLY_KEYS: dict[str, str] = {
    "api_key": "ORCHESTRA_API_KEY",
    "orchestra_api_key": "ORCHESTRA_API_KEY",
    "api_base_url": "ORCHESTRA_API_BASE_URL",
    "orchestra_api_base_url": "ORCHESTRA_API_BASE_URL",
}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one orc invocation."""

    use_stateful: bool = False
    state_file: str | None = None
    orchestra_env: str = "app"
    local_run: bool = True
    debug: bool = False
    integration_account_id: str | None = None
    # dbt-orchestra's setting, read by the planner: with false, every selected seed is built
    # on every run; with true (the default) a seed is decided like any table, reused only
    # when the reuse rules hold (its record, its relation, its definition with the seed
    # file's contents, its table's data version).
    seed_state_orchestration: bool = True
    # Sources without a loaded_at_field / loaded_at_query are not measured (always changed).
    require_explicit_source_freshness: bool = False
    # Overlapping runs on one state: wait for the nodes another live run is building (at
    # most max_wait_seconds, then build them anyway); a claim not renewed for
    # claim_lease_seconds is taken over.
    wait_for_other_runs: bool = True
    max_wait_seconds: float = 3600.0
    claim_lease_seconds: float = 60.0
    # The dbt target this run defers to (`none`: to none); unset, the profile decides
    # (see dbt/deferral.py).
    defer_to_target: str | None = None
    # Whether use_stateful was set at all (a false set on purpose needs no reminder).
    use_stateful_given: bool = False
    # The ALWAYS_ON keys that were set, for the `--debug` note.
    always_on_keys: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    api_base_url: str | None = None
    pyproject: Path | None = None

    @cached_property
    def location(self) -> StateLocation | None:
        """Where the state lives, or None when no state is configured (parsed on first use,
        so that a command that needs no state never fails on it).

        An API key selects the Orchestra API whatever the state file says; otherwise the
        state file decides (see `location.parse_location`).
        """
        if self.api_key:
            return StateLocation("http")
        if self.state_file is None:
            return None
        return parse_location(self.state_file, Path.cwd())


def load_settings(
    cwd: Path,
    environ: Mapping[str, str],
    overrides: Mapping[str, bool | float | str] | None = None,
    project_dir: Path | None = None,
) -> Settings:
    """Read the configuration for a run started in `cwd` with environment `environ`, on the
    dbt project in `project_dir` when the command names one.

    `overrides` (setting name -> value) are the command line's options: they win over the
    environment and the pyproject, and are checked as a pyproject value is.
    Raises OrcError (one line, naming the key or file and the fix) for any invalid value.
    """
    cwd = cwd.absolute()
    pyproject, table = _find_pyproject((cwd / project_dir).resolve()) if project_dir else (None, {})
    if pyproject is None:
        pyproject, table = _find_pyproject(cwd)
    file_values = _validate_table(table, pyproject) if pyproject is not None else {}
    given = {
        key: _checked(key, value, "on the command line") for key, value in (overrides or {}).items()
    }

    def env_value(key: str) -> str | None:
        raw = environ.get(key)
        if raw is None:
            return None
        stripped = raw.strip()
        return stripped or None

    def bool_setting(key: str, default: bool) -> bool:
        if key in given:
            return bool(given[key])
        variable = _ENV_VARS[key]
        raw = env_value(variable)
        if raw is not None:
            if raw.lower() not in ("true", "false"):
                raise OrcError(
                    f"{variable}={raw!r} is not true or false: "
                    "set it to true or false (any case), or unset it"
                )
            return raw.lower() == "true"
        value = file_values.get(key)
        return default if value is None else bool(value)

    def str_setting(key: str) -> tuple[str | None, str]:
        """The value and where it came from ("option", "env" or "file"; "" when unset)."""
        if key in given:
            return str(given[key]), "option"
        raw = env_value(_ENV_VARS[key])
        if raw is not None:
            return raw, "env"
        value = file_values.get(key)
        if value is None:
            return None, ""
        return str(value), "file"

    def where(key: str, value: str, origin: str, in_file: str) -> str:
        """Where a value came from, for a message."""
        if origin == "option":
            return f"{key}={value!r} on the command line"
        return f"{_ENV_VARS[key]}={value!r}" if origin == "env" else f"{in_file} in {pyproject}"

    orchestra_env, env_origin = str_setting("orchestra_env")
    if orchestra_env is None:
        orchestra_env = "app"
    elif orchestra_env.lower() not in ORCHESTRA_ENVS:
        named = where(
            "orchestra_env", orchestra_env, env_origin, f"orchestra_env = {orchestra_env!r}"
        )
        raise OrcError(f"{named} is not one of app, stage, dev: set it to one of those")
    orchestra_env = orchestra_env.lower()

    state_file, state_origin = str_setting("state_file")
    if state_file is not None:
        base = pyproject.parent if state_origin == "file" and pyproject else cwd
        state_file = _resolve_state_file(state_file, base, environ)

    api_base_url = env_value("ORCHESTRA_API_BASE_URL")
    if api_base_url is not None and not api_base_url.lower().startswith(("http://", "https://")):
        raise OrcError(
            f"ORCHESTRA_API_BASE_URL={api_base_url!r} is not an http(s) URL: "
            "set it to e.g. https://app.getorchestra.io or unset it"
        )

    integration_account_id, _ = str_setting("integration_account_id")
    defer_to_target, _ = str_setting("defer_to_target")

    def seconds_setting(key: str, default: float) -> float:
        raw, origin = str_setting(key)
        if raw is None:
            return default
        named = where(key, raw, origin, key)
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 < value < 10**9:  # also false for NaN
            raise OrcError(
                f"{named} is not a number of seconds above 0 and below 10^9: fix it, or unset it"
            )
        return value

    return Settings(
        use_stateful=bool_setting("use_stateful", False),
        use_stateful_given="use_stateful" in given
        or "use_stateful" in file_values
        or env_value(_ENV_VARS["use_stateful"]) is not None,
        state_file=state_file,
        orchestra_env=orchestra_env,
        local_run=bool_setting("local_run", True),
        debug=bool_setting("debug", False),
        integration_account_id=integration_account_id,
        seed_state_orchestration=bool_setting("seed_state_orchestration", True),
        require_explicit_source_freshness=bool_setting("require_explicit_source_freshness", False),
        wait_for_other_runs=bool_setting("wait_for_other_runs", True),
        max_wait_seconds=seconds_setting("max_wait_seconds", 3600.0),
        claim_lease_seconds=seconds_setting("claim_lease_seconds", 60.0),
        defer_to_target=defer_to_target,
        always_on_keys=tuple(
            key
            for key in ALWAYS_ON
            if key in given or key in file_values or env_value(_ENV_VARS[key])
        ),
        api_key=env_value("ORCHESTRA_API_KEY"),
        api_base_url=api_base_url,
        pyproject=pyproject,
    )


def _resolve_state_file(value: str, base: Path, environ: Mapping[str, str]) -> str:
    if has_uri_scheme(value):
        return value
    if value == "~" or value.startswith("~/"):
        home = environ.get("HOME") or str(Path.home())
        value = home + value[1:]
    path = Path(value).expanduser()  # `~user/...`
    if not path.is_absolute():
        path = base / path
    return str(path)


def _find_pyproject(cwd: Path) -> tuple[Path | None, Mapping[str, Any]]:
    """The nearest pyproject.toml with a [tool.orchestra_dbt] table, and that table."""
    for directory in (cwd, *cwd.parents):
        candidate = directory / "pyproject.toml"
        if not candidate.exists():
            continue
        document = _read_toml(candidate)
        tool = document.get("tool")
        if tool is None:
            continue
        if not isinstance(tool, dict):
            raise OrcError(f"{candidate}: `tool` must be a table: fix the file")
        if _TABLE not in tool:
            continue
        table = tool[_TABLE]
        if not isinstance(table, dict):
            raise OrcError(f"{candidate}: [tool.{_TABLE}] must be a table: fix the file")
        return candidate, table
    return None, {}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OrcError(f"cannot read {path} ({reason}): fix its permissions or remove it") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise OrcError(f"{path} is not UTF-8 text: fix the file") from None
    except tomllib.TOMLDecodeError as error:
        detail = " ".join(str(error).split())
        raise OrcError(f"{path} is not valid TOML ({detail}): fix the file") from None


def _validate_table(table: Mapping[str, Any], pyproject: Path) -> dict[str, bool | str]:
    """Type-check `[tool.orchestra_dbt]`; returns the known keys orc uses."""
    values: dict[str, bool | str] = {}
    for key, value in table.items():
        if key in _ENV_ONLY_KEYS:
            variable = _ENV_ONLY_KEYS[key]
            what = "API keys belong" if variable == "ORCHESTRA_API_KEY" else "it belongs"
            raise OrcError(
                f"{key} in [tool.{_TABLE}] of {pyproject} is not allowed: {what} in the "
                f"environment; remove it from the file and set {variable} instead"
            )
        values[key] = _checked(key, value, f"in [tool.{_TABLE}] of {pyproject}")
    return values


def _checked(key: str, value: object, where: str) -> bool | str:
    """One setting's value from the pyproject or the command line (`where`: "in ..." or
    "on the command line"), type-checked; a number of seconds is kept as text, as an
    environment variable holds it."""
    if key in _BOOL_KEYS:
        if not isinstance(value, bool):
            raise OrcError(
                f"{key} {where} must be true or false "
                f"(a TOML boolean, without quotes), not {value!r}"
            )
        return value
    if key in _STR_KEYS:
        if not isinstance(value, str) or not value.strip():
            raise OrcError(
                f"{key} {where} must be a non-empty quoted string, not {value!r}: fix or remove it"
            )
        return value.strip()
    if key in _SECONDS_KEYS:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise OrcError(
                f"{key} {where} must be a number of seconds (without quotes), not {value!r}: "
                "fix or remove it"
            )
        return str(value)
    known = ", ".join(sorted(_ENV_VARS))
    raise OrcError(
        f"unknown key {key!r} {where}: fix the spelling or remove it (known keys: {known})"
    )
