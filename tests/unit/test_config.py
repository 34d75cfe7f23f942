"""load_settings: precedence, parsing, path resolution, validation, secrecy of the API key."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings, load_settings
from orchestra_dbt_py.errors import OrcError

SECRET = "sk-orc-SECRET-0123456789"


def kind(settings: Settings) -> str | None:
    return None if settings.location is None else settings.location.kind


def write_pyproject(folder: Path, table: str | None, extra: str = "") -> Path:
    """A pyproject.toml in `folder`; `table` is the body of [tool.orchestra_dbt] (None: none)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = '[project]\nname = "demo"\n' + extra
    if table is not None:
        text += "\n[tool.orchestra_dbt]\n" + table + "\n"
    path = folder / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(cwd: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(OrcError) as caught:
        load_settings(cwd, environ or {})
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.exit_code == 2
    return message


# --- precedence: env that is set > pyproject > default, for every key -----------------------

# key, env var, TOML literal, value from the file, env string, value from env, default
PRECEDENCE: list[tuple[str, str, str, Any, str, Any, Any]] = [
    ("use_stateful", "ORCHESTRA_USE_STATEFUL", "true", True, "false", False, False),
    ("use_stateful", "ORCHESTRA_USE_STATEFUL", "false", False, "true", True, False),
    ("state_file", "ORCHESTRA_STATE_FILE", '"/srv/file.json"', "/srv/file.json",
     "/srv/env.json", "/srv/env.json", None),
    ("orchestra_env", "ORCHESTRA_ENV", '"stage"', "stage", "dev", "dev", "app"),
    ("local_run", "ORCHESTRA_LOCAL_RUN", "false", False, "true", True, True),
    ("local_run", "ORCHESTRA_LOCAL_RUN", "true", True, "false", False, True),
    ("debug", "ORCHESTRA_DBT_DEBUG", "true", True, "FALSE", False, False),
    ("debug", "ORCHESTRA_DBT_DEBUG", "false", False, "True", True, False),
    ("integration_account_id", "ORCHESTRA_INTEGRATION_ACCOUNT_ID", '"acct-file"', "acct-file",
     "acct-env", "acct-env", None),
    ("defer_to_target", "ORCHESTRA_DEFER_TO_TARGET", '"prod"', "prod", " none ", "none", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "env_var", "toml", "file_value", "env_raw", "env_value", "default"), PRECEDENCE
)
@pytest.mark.parametrize("source", ["default", "file", "env", "env_over_file"])
def test_precedence(
    tmp_path: Path,
    source: str,
    key: str,
    env_var: str,
    toml: str,
    file_value: Any,
    env_raw: str,
    env_value: Any,
    default: Any,
) -> None:
    in_file = source in ("file", "env_over_file")
    in_env = source in ("env", "env_over_file")
    # An unrelated key keeps the table present in the "default" case too.
    other = "debug = false" if key != "debug" else "use_stateful = false"
    write_pyproject(tmp_path, f"{key} = {toml}\n{other}" if in_file else other)
    environ = {env_var: env_raw} if in_env else {}
    settings = load_settings(tmp_path, environ)
    expected = env_value if in_env else file_value if in_file else default
    assert getattr(settings, key) == expected


def test_defaults_without_any_pyproject(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {})
    assert settings == Settings(
        use_stateful=False,
        state_file=None,
        orchestra_env="app",
        local_run=True,
        debug=False,
        integration_account_id=None,
        api_key=None,
        api_base_url=None,
        pyproject=None,
    )
    assert settings.location is None


@pytest.mark.parametrize(
    ("env_var", "attribute", "value"),
    [
        ("ORCHESTRA_API_KEY", "api_key", SECRET),
        ("ORCHESTRA_API_BASE_URL", "api_base_url", "http://127.0.0.1:8080/api"),
    ],
)
def test_environment_only_settings(
    tmp_path: Path, env_var: str, attribute: str, value: str
) -> None:
    write_pyproject(tmp_path, "use_stateful = true")
    assert getattr(load_settings(tmp_path, {}), attribute) is None
    assert getattr(load_settings(tmp_path, {env_var: value}), attribute) == value


def test_reads_only_the_given_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRA_USE_STATEFUL", "true")
    monkeypatch.setenv("ORCHESTRA_API_KEY", SECRET)
    settings = load_settings(tmp_path, {})
    assert settings.use_stateful is False
    assert settings.api_key is None


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_env_counts_as_unset(tmp_path: Path, empty: str) -> None:
    write_pyproject(
        tmp_path,
        'use_stateful = true\nlocal_run = false\norchestra_env = "dev"\nstate_file = "s.json"\n'
        'integration_account_id = "acct"',
    )
    environ = {
        "ORCHESTRA_USE_STATEFUL": empty,
        "ORCHESTRA_LOCAL_RUN": empty,
        "ORCHESTRA_ENV": empty,
        "ORCHESTRA_STATE_FILE": empty,
        "ORCHESTRA_INTEGRATION_ACCOUNT_ID": empty,
        "ORCHESTRA_API_KEY": empty,
        "ORCHESTRA_API_BASE_URL": empty,
    }
    settings = load_settings(tmp_path, environ)
    assert settings.use_stateful is True
    assert settings.local_run is False
    assert settings.orchestra_env == "dev"
    assert settings.state_file == str(tmp_path / "s.json")
    assert settings.integration_account_id == "acct"
    assert settings.api_key is None
    assert settings.api_base_url is None
    assert kind(settings) == "local"


# --- boolean environment variables -----------------------------------------------------------

BOOLEAN_ENV_VARS = [
    ("ORCHESTRA_USE_STATEFUL", "use_stateful", False),
    ("ORCHESTRA_LOCAL_RUN", "local_run", True),
    ("ORCHESTRA_DBT_DEBUG", "debug", False),
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        (" true ", True),  # surrounding whitespace is stripped from every env value
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ("\tfalse\n", False),
        ("", None),  # empty is unset: the default
        ("   ", None),
    ],
)
@pytest.mark.parametrize(("env_var", "attribute", "default"), BOOLEAN_ENV_VARS)
def test_boolean_env_parsing(
    tmp_path: Path, env_var: str, attribute: str, default: bool, raw: str, expected: bool | None
) -> None:
    value = getattr(load_settings(tmp_path, {env_var: raw}), attribute)
    assert value is (default if expected is None else expected)


@pytest.mark.parametrize(
    "raw", ["maybe", "1", "0", "yes", "no", "on", "off", "t", "f", "truee", "true false", "'true'"]
)
@pytest.mark.parametrize(("env_var", "attribute", "default"), BOOLEAN_ENV_VARS)
def test_an_invalid_boolean_env_value_is_an_error(
    tmp_path: Path, env_var: str, attribute: str, default: bool, raw: str
) -> None:
    # It names the variable, the value and what is accepted, whatever the pyproject says.
    write_pyproject(tmp_path, f"{attribute} = {str(not default).lower()}")
    message = error_of(tmp_path, {env_var: raw})
    assert message.startswith(f"{env_var}={raw!r} is not true or false")
    assert "any case" in message and "unset" in message


# --- state_file resolution ----------------------------------------------------------------


def test_relative_state_file_from_env_is_relative_to_cwd(tmp_path: Path) -> None:
    write_pyproject(tmp_path / "proj", 'state_file = "file_state.json"')
    cwd = tmp_path / "proj" / "models"
    cwd.mkdir()
    settings = load_settings(cwd, {"ORCHESTRA_STATE_FILE": "state/env.json"})
    assert settings.state_file == str(cwd / "state" / "env.json")


def test_relative_state_file_from_pyproject_is_relative_to_its_folder(tmp_path: Path) -> None:
    pyproject = write_pyproject(tmp_path / "proj", 'state_file = "state/orc.json"')
    cwd = tmp_path / "proj" / "models" / "staging"
    cwd.mkdir(parents=True)
    settings = load_settings(cwd, {})
    assert settings.pyproject == pyproject
    assert settings.state_file == str(tmp_path / "proj" / "state" / "orc.json")
    assert Path(settings.state_file).is_absolute()


def test_relative_cwd_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("."), {"ORCHESTRA_STATE_FILE": "s.json"})
    assert settings.state_file is not None
    assert Path(settings.state_file) == tmp_path / "s.json"


def test_home_in_state_file_uses_given_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = load_settings(tmp_path, {"ORCHESTRA_STATE_FILE": "~/orc.json", "HOME": str(home)})
    assert settings.state_file == str(home / "orc.json")


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("s3://bucket/path/state.json", "s3"),
        ("warehouse:analytics.orc_state", "warehouse"),
        ("https://example.com/state.json", None),
    ],
)
def test_uri_state_files_are_kept_as_written(
    tmp_path: Path, value: str, backend: str | None
) -> None:
    write_pyproject(tmp_path, f'state_file = "{value}"')
    from_file = load_settings(tmp_path, {})
    from_env = load_settings(tmp_path, {"ORCHESTRA_STATE_FILE": value})
    assert from_file.state_file == value
    assert from_env.state_file == value
    if backend is None:  # a scheme orc does not support: an error once the state is needed
        with pytest.raises(OrcError, match="scheme"):
            _ = from_file.location
    else:
        assert kind(from_file) == backend


# --- which pyproject ---------------------------------------------------------------------


def test_pyproject_in_cwd_itself_is_used(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'orchestra_env = "stage"')
    pyproject = write_pyproject(tmp_path / "proj", 'orchestra_env = "dev"')
    settings = load_settings(tmp_path / "proj", {})
    assert settings.pyproject == pyproject
    assert settings.orchestra_env == "dev"


def test_nearest_pyproject_with_the_table_wins(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'orchestra_env = "stage"')
    inner = write_pyproject(tmp_path / "repo" / "proj", 'orchestra_env = "dev"')
    cwd = tmp_path / "repo" / "proj" / "models"
    cwd.mkdir()
    settings = load_settings(cwd, {})
    assert settings.pyproject == inner
    assert settings.orchestra_env == "dev"


def test_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    outer = write_pyproject(tmp_path, 'orchestra_env = "stage"\nstate_file = "orc.json"')
    write_pyproject(tmp_path / "proj", None, extra="[tool.ruff]\nline-length = 100\n")
    cwd = tmp_path / "proj" / "models"
    cwd.mkdir()
    settings = load_settings(cwd, {})
    assert settings.pyproject == outer
    assert settings.orchestra_env == "stage"
    assert settings.state_file == str(tmp_path / "orc.json")


def test_empty_table_counts_as_configured(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'orchestra_env = "stage"')
    inner = write_pyproject(tmp_path / "proj", "")
    settings = load_settings(tmp_path / "proj", {})
    assert settings.pyproject == inner
    assert settings.orchestra_env == "app"


def test_no_pyproject_with_the_table(tmp_path: Path) -> None:
    write_pyproject(tmp_path, None)
    settings = load_settings(tmp_path, {})
    assert settings.pyproject is None
    assert settings.use_stateful is False


# --- invalid configuration ---------------------------------------------------------------


def test_bad_orchestra_env_from_environment(tmp_path: Path) -> None:
    message = error_of(tmp_path, {"ORCHESTRA_ENV": "prod"})
    assert "ORCHESTRA_ENV" in message
    assert "'prod'" in message
    assert "app, stage, dev" in message


def test_bad_orchestra_env_from_file(tmp_path: Path) -> None:
    pyproject = write_pyproject(tmp_path, 'orchestra_env = "production"')
    message = error_of(tmp_path)
    assert "orchestra_env" in message
    assert str(pyproject) in message
    assert "app, stage, dev" in message


def test_orchestra_env_is_case_insensitive(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'orchestra_env = "STAGE"')
    assert load_settings(tmp_path, {}).orchestra_env == "stage"
    assert load_settings(tmp_path, {"ORCHESTRA_ENV": "Dev"}).orchestra_env == "dev"


@pytest.mark.parametrize(
    ("key", "literal"),
    [
        ("use_stateful", '"yes"'),
        ("use_stateful", '"true"'),
        ("local_run", "1"),
        ("debug", "0"),
        ("seed_state_orchestration", '"true"'),
    ],
)
def test_non_boolean_in_toml(tmp_path: Path, key: str, literal: str) -> None:
    pyproject = write_pyproject(tmp_path, f"{key} = {literal}")
    message = error_of(tmp_path)
    assert key in message
    assert str(pyproject) in message
    assert "true or false" in message


@pytest.mark.parametrize(
    ("key", "literal"),
    [
        ("state_file", "3"),
        ("state_file", '""'),
        ("orchestra_env", "true"),
        ("integration_account_id", "12345"),
    ],
)
def test_non_string_in_toml(tmp_path: Path, key: str, literal: str) -> None:
    pyproject = write_pyproject(tmp_path, f"{key} = {literal}")
    message = error_of(tmp_path)
    assert key in message
    assert str(pyproject) in message


DBT_ORCHESTRA_1_5 = {
    "seed_state_orchestration": "ORCHESTRA_SEED_STATE_ORCHESTRATION",
    "require_explicit_source_freshness": "ORCHESTRA_REQUIRE_EXPLICIT_SOURCE_FRESHNESS",
    "verify_relations_exist": "ORCHESTRA_VERIFY_RELATIONS_EXIST",
    "scope_source_freshness_to_selection": "ORCHESTRA_SCOPE_SOURCE_FRESHNESS_TO_SELECTION",
}


def test_every_dbt_orchestra_1_5_key_is_accepted(tmp_path: Path) -> None:
    lines = [f"{key} = false" for key in DBT_ORCHESTRA_1_5]
    write_pyproject(tmp_path, "\n".join([*lines, "use_stateful = true"]))
    settings = load_settings(tmp_path, {})
    assert settings.use_stateful is True
    assert settings.seed_state_orchestration is False
    assert settings.require_explicit_source_freshness is False
    assert settings.always_on_keys == (
        "verify_relations_exist",
        "scope_source_freshness_to_selection",
    )


def test_dbt_orchestra_keys_from_the_environment(tmp_path: Path) -> None:
    environ = {variable: "true" for variable in DBT_ORCHESTRA_1_5.values()}
    settings = load_settings(tmp_path, environ)
    assert settings.seed_state_orchestration is True
    assert settings.require_explicit_source_freshness is True
    assert len(settings.always_on_keys) == 2
    defaults = load_settings(tmp_path, {})
    assert defaults.seed_state_orchestration is True  # orc reuses unchanged seeds
    assert defaults.require_explicit_source_freshness is False
    assert defaults.always_on_keys == ()


@pytest.mark.parametrize("key", sorted(DBT_ORCHESTRA_1_5))
def test_dbt_orchestra_keys_are_booleans(tmp_path: Path, key: str) -> None:
    write_pyproject(tmp_path, f'{key} = "yes"')
    assert key in error_of(tmp_path)


def test_unknown_key(tmp_path: Path) -> None:
    pyproject = write_pyproject(tmp_path, "use_statefull = true")
    message = error_of(tmp_path)
    assert "'use_statefull'" in message
    assert str(pyproject) in message


@pytest.mark.parametrize("key", ["api_key", "orchestra_api_key"])
def test_api_key_in_file(tmp_path: Path, key: str) -> None:
    write_pyproject(tmp_path, f'{key} = "{SECRET}"')
    message = error_of(tmp_path)
    assert key in message
    assert "environment" in message
    assert "ORCHESTRA_API_KEY" in message
    assert SECRET not in message


def test_api_base_url_in_file(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'api_base_url = "https://example.com"')
    assert "ORCHESTRA_API_BASE_URL" in error_of(tmp_path)


def test_api_base_url_must_be_http(tmp_path: Path) -> None:
    assert "ORCHESTRA_API_BASE_URL" in error_of(tmp_path, {"ORCHESTRA_API_BASE_URL": "ftp://x"})


def test_invalid_toml(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.orchestra_dbt]\nuse_stateful = \n", encoding="utf-8")
    message = error_of(tmp_path)
    assert str(pyproject) in message
    assert "not valid TOML" in message


def test_invalid_toml_in_a_nearer_pyproject_is_an_error(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "use_stateful = true")
    broken = tmp_path / "proj" / "pyproject.toml"
    broken.parent.mkdir()
    broken.write_text("[project\n", encoding="utf-8")
    assert str(broken) in error_of(tmp_path / "proj")


def test_non_utf8_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_bytes(b'[tool.orchestra_dbt]\nstate_file = "\xff\xfe.json"\n')
    assert str(pyproject) in error_of(tmp_path)


def test_unreadable_pyproject(tmp_path: Path) -> None:
    # A directory named pyproject.toml cannot be read, whoever runs the test (even root).
    (tmp_path / "pyproject.toml").mkdir()
    message = error_of(tmp_path)
    assert str(tmp_path / "pyproject.toml") in message
    assert "cannot read" in message


@pytest.mark.parametrize(
    "body", ["[tool]\norchestra_dbt = 3\n", 'tool = "x"\n'], ids=["table-not-table", "tool"]
)
def test_malformed_tool_table(tmp_path: Path, body: str) -> None:
    (tmp_path / "pyproject.toml").write_text(body, encoding="utf-8")
    assert str(tmp_path / "pyproject.toml") in error_of(tmp_path)


def test_errors_never_show_the_api_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, {"ORCHESTRA_API_KEY": SECRET, "ORCHESTRA_ENV": "nope"})
    assert SECRET not in message


# --- the API key stays secret ------------------------------------------------------------


def test_api_key_not_in_repr_or_str(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"ORCHESTRA_API_KEY": SECRET})
    assert settings.api_key == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert "api_key" not in repr(settings)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {})
    with pytest.raises(FrozenInstanceError):
        settings.use_stateful = True  # type: ignore[misc]


# --- backend selection -------------------------------------------------------------------


def test_backend_api_key_beats_every_state_file(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'state_file = "s3://bucket/file.json"')
    environ = {"ORCHESTRA_API_KEY": SECRET, "ORCHESTRA_STATE_FILE": "env.json"}
    assert kind(load_settings(tmp_path, environ)) == "http"


def test_backend_env_state_file_beats_pyproject(tmp_path: Path) -> None:
    write_pyproject(tmp_path, 'state_file = "local.json"')
    settings = load_settings(tmp_path, {"ORCHESTRA_STATE_FILE": "s3://bucket/env.json"})
    assert settings.state_file == "s3://bucket/env.json"
    assert kind(settings) == "s3"


@pytest.mark.parametrize(
    ("value", "backend"),
    [
        ("state.json", "local"),
        ("/abs/state.json", "local"),
        ("s3://bucket/state.json", "s3"),
        ("S3://bucket/state.json", "s3"),
        ("warehouse:analytics.orc_state", "warehouse"),
    ],
)
def test_backend_from_pyproject_state_file(tmp_path: Path, value: str, backend: str) -> None:
    write_pyproject(tmp_path, f'state_file = "{value}"')
    assert kind(load_settings(tmp_path, {})) == backend


def test_backend_none_without_state_file(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "use_stateful = true")
    assert load_settings(tmp_path, {}).location is None


# --- the command line's options: over the environment and the pyproject ----------------------


@pytest.mark.parametrize("in_env", [False, True])
@pytest.mark.parametrize("in_file", [False, True])
def test_an_override_wins_over_the_environment_and_the_pyproject(
    tmp_path: Path, in_env: bool, in_file: bool
) -> None:
    write_pyproject(
        tmp_path, "wait_for_other_runs = true\nmax_wait_seconds = 100" if in_file else ""
    )
    environ = (
        {"ORCHESTRA_WAIT_FOR_OTHER_RUNS": "true", "ORCHESTRA_MAX_WAIT_SECONDS": "200"}
        if in_env
        else {}
    )
    overrides = {"wait_for_other_runs": False, "max_wait_seconds": 5.0}
    settings = load_settings(tmp_path, environ, overrides)
    assert (settings.wait_for_other_runs, settings.max_wait_seconds) == (False, 5.0)
    without = load_settings(tmp_path, environ).max_wait_seconds
    assert without == (200.0 if in_env else 100.0 if in_file else 3600.0)


def test_an_override_shadows_an_invalid_environment_variable(tmp_path: Path) -> None:
    """As when the command line's option replaced the variable: the variable is not read."""
    environ = {"ORCHESTRA_MAX_WAIT_SECONDS": "soon"}
    assert load_settings(tmp_path, environ, {"max_wait_seconds": 7.0}).max_wait_seconds == 7.0
    assert "ORCHESTRA_MAX_WAIT_SECONDS='soon'" in error_of(tmp_path, environ)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"max_wait_seconds": 1e10}, "max_wait_seconds='10000000000.0' on the command line is"),
        ({"max_wait_seconds": "5"}, "max_wait_seconds on the command line must be a number"),
        ({"wait_for_other_runs": "false"}, "wait_for_other_runs on the command line must be"),
        ({"max_wait": 5.0}, "unknown key 'max_wait' on the command line"),
    ],
)
def test_an_override_is_checked_as_a_pyproject_value_is(
    tmp_path: Path, overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(OrcError, match=expected.replace(".", r"\.")):
        load_settings(tmp_path, {}, overrides)
