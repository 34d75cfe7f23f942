"""The deferred target: the dbt target whose tables this run may clone, or read in place of
unselected parents missing in its own target.

Resolved once per command, first match wins:

1. orc's setting `defer_to_target` (`[tool.orchestra_dbt]`, `ORCHESTRA_DEFER_TO_TARGET`);
2. `defer_to_target` in the profile's output for the run's target (where dbt State reads
   it), rendered as dbt renders the profile (`env_var()`, `var()` work);
3. the output named `prod`, when the profile has one.

`none` (in either place) means no deferral; a target never defers to itself. A name that
is not an output of the profile is an error naming the profile and its outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import OrcError, one_line

__all__ = ["DEFAULT_DEFERRED_TARGET", "choose_deferred_target", "deferred_target"]

DEFAULT_DEFERRED_TARGET = "prod"
_KEY = "defer_to_target"
_NONE = "none"


def deferred_target(session: DbtSession, settings: Settings) -> str | None:
    """The target this run defers to, or None (see the module docstring)."""
    config = session.config
    profile_name, target_name = str(config.profile_name), str(config.target_name)
    outputs = _raw_outputs(profile_name)
    if not outputs:  # a profile dbt did not read from profiles.yml: nothing to defer to
        outputs = {target_name: {}}
    return choose_deferred_target(
        settings.defer_to_target,
        profile_name,
        target_name,
        outputs,
        lambda value: _rendered(value, config.cli_vars),
    )


def choose_deferred_target(
    setting: str | None,
    profile_name: str,
    target_name: str,
    outputs: Mapping[str, Mapping[str, Any]],
    render: Callable[[Any], Any],
) -> str | None:
    """The rule of `deferred_target` on the profile's raw `outputs` (target name -> its raw
    output); `render` renders one raw value of the profile as dbt does."""
    if setting is not None:
        where = f"orc's setting {_KEY} ({setting!r}, from ORCHESTRA_DEFER_TO_TARGET or pyproject)"
        return _checked(setting, where, profile_name, target_name, outputs)
    output = outputs.get(target_name) or {}
    if output.get(_KEY) is not None:
        value = render(output[_KEY])
        if value is not None and str(value).strip():
            where = f"{_KEY} ({str(value)!r}) in output {target_name} of profile {profile_name}"
            return _checked(str(value), where, profile_name, target_name, outputs)
    if DEFAULT_DEFERRED_TARGET in outputs and target_name != DEFAULT_DEFERRED_TARGET:
        return DEFAULT_DEFERRED_TARGET
    return None


def _checked(
    name: str,
    where: str,
    profile_name: str,
    target_name: str,
    outputs: Collection[str],
) -> str | None:
    name = name.strip()
    if name.lower() == _NONE or name == target_name:
        return None
    if name not in outputs:
        known = ", ".join(sorted(outputs))
        raise OrcError(
            f"{where} is not an output of profile {profile_name} (its outputs: {known}): "
            f"set it to one of them, or to {_NONE} to defer to no target"
        )
    return name


def _raw_outputs(profile_name: str) -> dict[str, Mapping[str, Any]]:
    """The outputs of the profile as written in profiles.yml, read as dbt reads it."""
    from dbt.config.profile import read_profile
    from dbt.flags import get_flags

    try:
        profile = read_profile(str(get_flags().PROFILES_DIR)).get(profile_name)
    except Exception as error:  # dbt parsed it a moment ago: a file changed since
        raise OrcError(f"cannot read profiles.yml again: {one_line(error)}") from None
    outputs = profile.get("outputs") if isinstance(profile, Mapping) else None
    if not isinstance(outputs, Mapping):
        return {}
    return {str(k): v if isinstance(v, Mapping) else {} for k, v in outputs.items()}


def _rendered(value: Any, cli_vars: Mapping[str, Any]) -> Any:
    from dbt.config.renderer import ProfileRenderer

    try:
        return ProfileRenderer(dict(cli_vars)).render_value(value)
    except Exception as error:
        raise OrcError(f"cannot render {_KEY} in profiles.yml: {one_line(error)}") from None
