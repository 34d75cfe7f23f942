"""The HTTP state backend against a real HTTP server on 127.0.0.1 (tests/support/state_servers.py):
round trips, retries, timeouts, invalid answers, refused keys, the unsaved-state file and
`orc state push`, the account prefix, proxies, and that the key never shows up anywhere."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state import open_backend
from orchestra_dbt_py.state.backend import ScopedBackend
from orchestra_dbt_py.state.http import HttpBackend
from orchestra_dbt_py.state.transfer import push
from tests.support.state_servers import (
    Misbehaviour,
    StateApiServer,
    recording_proxy,
    state_api_server,
)
from tests.support.tutorial import Project

KEY = "sk-orc-test-9f8e7d6c5b4a"
T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)


def record(seconds: int = 0, checksum: str | None = None, **extra: Any) -> NodeRecord:
    return NodeRecord(
        last_updated=T0 + timedelta(seconds=seconds),
        checksum=checksum,
        sources={"source.p.raw.orders": T0},
        relation='"db"."main"."orders"',
        extra=extra,
    )


@pytest.fixture
def server() -> Iterator[StateApiServer]:
    with state_api_server(KEY) as running:
        yield running


def backend(server: StateApiServer, tmp_path: Path, **options: Any) -> HttpBackend:
    settings: dict[str, Any] = {
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "max_attempts": 3,
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.05,
    }
    settings.update(options)
    return HttpBackend(server.base_url, KEY, unsaved_dir=tmp_path / ".orchestra", **settings)


# --- round trip ---------------------------------------------------------------------------


def test_round_trip(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path)
    assert api.load() == {}
    assert api.init() is False  # the API always has a document
    assert api.exists() is True
    items = {"model.p.orders": record(0, "abc", custom=[1, 2]), "model.p.customers": record(5)}
    assert api.update(items) == items
    assert api.load() == items
    # Every request carried the bearer token, to the documented path.
    assert {seen.authorization for seen in server.seen} == {f"Bearer {KEY}"}
    assert {seen.path for seen in server.seen} == {"/api/engine/public/state/DBT_CORE"}


def test_patch_sends_only_the_items_and_the_removals(
    server: StateApiServer, tmp_path: Path
) -> None:
    api = backend(server, tmp_path)
    api.update({"a": record(0), "b": record(0), "c": record(0)})
    server.seen.clear()
    merged = api.update({"d": record(1)}, removals=["a"])
    assert set(merged) == {"b", "c", "d"}
    (patch,) = [seen for seen in server.seen if seen.method == "PATCH"]
    assert set(patch.body) == {"state", "removed"}
    assert set(patch.body["state"]) == {"d"}
    assert patch.body["removed"] == ["a"]
    assert patch.body["state"]["d"]["last_updated"] == "2026-11-22T07:31:18Z"


def test_open_backend_selects_http_when_a_key_is_set(
    server: StateApiServer, tmp_path: Path
) -> None:
    settings = Settings(
        state_file=str(tmp_path / "ignored.json"), api_key=KEY, api_base_url=server.base_url
    )
    opened = open_backend(settings, workdir=tmp_path)
    assert isinstance(opened, HttpBackend)
    opened.update({"m": record()})
    assert server.document()["state"]["m"]["checksum"] == ""
    assert not (tmp_path / "ignored.json").exists()


# --- retries ------------------------------------------------------------------------------


def test_503_then_success_is_retried(server: StateApiServer, tmp_path: Path) -> None:
    waits: list[str] = []
    api = backend(server, tmp_path, on_wait=waits.append)
    server.next(Misbehaviour(status=503), Misbehaviour(status=502))
    api.update({"m": record()})
    assert server.document()["state"].keys() == {"m"}
    assert [seen.method for seen in server.seen] == ["PATCH", "PATCH", "PATCH"]
    assert len(waits) == 2 and "503" in waits[0] and "attempt 2 of 3" in waits[0]
    assert not (tmp_path / ".orchestra").exists()


def test_429_honours_retry_after(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path)
    server.next(Misbehaviour(status=429, headers={"Retry-After": "1"}))
    started = time.monotonic()
    assert api.load() == {}
    assert time.monotonic() - started >= 0.95
    assert len(server.seen) == 2


def test_other_4xx_fails_at_once(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path)
    server.next(Misbehaviour(status=422, body=b'{"detail": "bad payload"}'))
    with pytest.raises(OrcError, match="HTTP 422") as caught:
        api.update({"m": record()})
    assert len(server.seen) == 1
    assert "\n" not in str(caught.value)
    assert len(list((tmp_path / ".orchestra").glob("unsaved-state-*.json"))) == 1


def test_timeouts_are_retried_then_fail(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path, read_timeout=0.2, max_attempts=2)
    server.break_down(Misbehaviour(sleep=1.0))
    started = time.monotonic()
    with pytest.raises(OrcError, match="no answer within") as caught:
        api.load()
    assert time.monotonic() - started < 1.5  # did not wait for the slow server
    assert len(server.seen) == 2
    assert "could not read the state" in str(caught.value)


def test_a_slow_answer_then_a_fast_one_succeeds(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path, read_timeout=0.2)
    server.next(Misbehaviour(sleep=1.0))
    api.update({"m": record()})
    assert server.document()["state"].keys() == {"m"}


def test_connection_refused_is_retried_then_fails(tmp_path: Path) -> None:
    with state_api_server(KEY) as gone:
        url = gone.base_url
    api = HttpBackend(url, KEY, unsaved_dir=tmp_path, max_attempts=2, backoff_seconds=0.01)
    with pytest.raises(OrcError, match="cannot connect"):
        api.load()


# --- a save that keeps failing, then `push` -------------------------------------------------


def test_permanent_500_keeps_the_unsaved_records_and_push_saves_them(
    server: StateApiServer, tmp_path: Path
) -> None:
    api = backend(server, tmp_path)
    api.update({"kept": record(0), "dropped": record(0)})
    server.break_down(Misbehaviour(status=500, body=b"internal error"))
    items = {"m1": record(1, "one"), "m2": record(2)}
    with pytest.raises(OrcError) as caught:
        api.update(items, removals=["dropped"])
    message = str(caught.value)
    files = list((tmp_path / ".orchestra").glob("unsaved-state-*.json"))
    assert len(files) == 1
    unsaved = files[0]
    assert f"orc state push {unsaved}" in message
    assert "HTTP 500" in message and "after 3 attempts" in message
    assert "\n" not in message
    assert len([seen for seen in server.seen if seen.method == "PATCH"]) == 1 + 3
    written = json.loads(unsaved.read_text())
    assert set(written["state"]) == {"m1", "m2"}
    assert written["removed"] == ["dropped"]
    assert server.document()["state"].keys() == {"kept", "dropped"}

    # A second failure in the same run adds to the same file.
    with pytest.raises(OrcError):
        api.update({"m3": record(3)})
    assert list((tmp_path / ".orchestra").glob("unsaved-state-*.json")) == [unsaved]
    assert set(json.loads(unsaved.read_text())["state"]) == {"m1", "m2", "m3"}

    # Still down: push fails too, and says so.
    fresh = backend(server, tmp_path / "second")
    with pytest.raises(OrcError, match="could not save"):
        push(fresh, unsaved)

    server.heal()
    result = push(fresh, unsaved)
    assert (result.sent, result.removed) == (3, 1)
    state = server.document()["state"]
    assert set(state) == {"kept", "m1", "m2", "m3"}
    assert state["m1"]["checksum"] == "one"
    assert result.total == 4


ELSEWHERE = {"Location": "https://elsewhere.example/x"}


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (Misbehaviour(status=400, body=b'{"detail": "bad payload"}'), "HTTP 400"),
        (Misbehaviour(status=401), "refused the API key"),
        (Misbehaviour(status=403), "refused the API key"),
        (Misbehaviour(status=404), "HTTP 404"),
        (Misbehaviour(status=413, body=b"too large"), "HTTP 413"),
        (Misbehaviour(status=301, headers=ELSEWHERE), "redirected to https://elsewhere.example/x"),
        (Misbehaviour(status=302, headers=ELSEWHERE), "redirected to https://elsewhere.example/x"),
        (Misbehaviour(status=307, headers=ELSEWHERE), "redirected to https://elsewhere.example/x"),
        (Misbehaviour(status=308, headers=ELSEWHERE), "redirected to https://elsewhere.example/x"),
        (Misbehaviour(short=True), "cut short"),
    ],
    ids=["400", "401", "403", "404", "413", "301", "302", "307", "308", "short-body"],
)
def test_every_failed_save_keeps_the_unsaved_records(
    server: StateApiServer, tmp_path: Path, failure: Misbehaviour, cause: str
) -> None:
    api = backend(server, tmp_path)
    api.update({"kept": record(0), "dropped": record(0)})
    failure.method = "PATCH"
    server.break_down(failure)
    with pytest.raises(OrcError) as caught:
        api.update({"m1": record(1, "one"), "m2": record(2)}, removals=["dropped"])
    message = str(caught.value)
    (unsaved,) = (tmp_path / ".orchestra").glob("unsaved-state-*.json")
    assert f"orc state push {unsaved}" in message
    assert cause in message
    assert "\n" not in message and KEY not in message
    if failure.short:
        # A transfer problem, not a wrong URL.
        assert "ORCHESTRA_API_BASE_URL" not in message and "ORCHESTRA_ENV" not in message
    written = json.loads(unsaved.read_text())
    assert set(written["state"]) == {"m1", "m2"} and written["removed"] == ["dropped"]

    server.heal()
    push(backend(server, tmp_path / "later"), unsaved)
    assert set(server.document()["state"]) == {"kept", "m1", "m2"}


def test_an_interrupted_save_keeps_the_unsaved_records(
    server: StateApiServer, tmp_path: Path
) -> None:
    def interrupt(message: str) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the save waits to try again

    api = backend(server, tmp_path, on_wait=interrupt)
    server.break_down(Misbehaviour(status=503))
    with pytest.raises(KeyboardInterrupt):
        api.save({"m": record()}, removals=["gone"])
    (unsaved,) = (tmp_path / ".orchestra").glob("unsaved-state-*.json")
    written = json.loads(unsaved.read_text())
    assert set(written["state"]) == {"m"} and written["removed"] == ["gone"]


def test_a_body_cut_short_is_retried_as_a_transfer_problem(
    server: StateApiServer, tmp_path: Path
) -> None:
    api = backend(server, tmp_path)
    api.update({"m": record()})
    server.next(Misbehaviour(short=True))
    assert set(api.load()) == {"m"}  # retried
    server.break_down(Misbehaviour(short=True))
    with pytest.raises(OrcError) as caught:
        api.load()
    message = str(caught.value)
    assert "could not read the state" in message and "cut short" in message
    assert "after 3 attempts" in message and "ORCHESTRA_API_BASE_URL" not in message


def test_an_unwritable_unsaved_folder_is_still_an_error(
    server: StateApiServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    api = HttpBackend(server.base_url, KEY, unsaved_dir=blocker / "sub", max_attempts=1)
    server.break_down(Misbehaviour(status=503))
    with pytest.raises(OrcError, match="lost"):
        api.update({"m": record()})


# --- answers that are not a state document --------------------------------------------------


def test_invalid_json_is_an_error_not_an_empty_state(
    server: StateApiServer, tmp_path: Path
) -> None:
    api = backend(server, tmp_path)
    api.update({"m": record()})
    server.next(Misbehaviour(garbage=True))
    with pytest.raises(OrcError, match="invalid JSON"):
        api.load()
    assert server.document()["state"].keys() == {"m"}


def test_a_document_of_the_wrong_shape_is_an_error(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path)
    server.next(Misbehaviour(status=200, body=b'{"items": []}'))
    with pytest.raises(OrcError, match='no top-level "state"'):
        api.load()


def test_a_redirect_is_not_followed(server: StateApiServer, tmp_path: Path) -> None:
    api = backend(server, tmp_path)
    server.next(Misbehaviour(status=302, headers={"Location": "https://elsewhere.example/x"}))
    with pytest.raises(OrcError, match=re.escape("redirected to https://elsewhere.example/x")):
        api.load()
    assert len(server.seen) == 1


# --- 2xx answers to a PATCH that are not the document ----------------------------------------

NOT_A_DOCUMENT = [
    (200, b"{}"),
    (200, b""),
    (204, b""),
    (201, b'{"ok": true}'),
    (202, b"<html>saved</html>"),
    (200, b'{"state": []}'),
]


@pytest.mark.parametrize(("status", "body"), NOT_A_DOCUMENT)
def test_any_2xx_to_a_patch_means_saved(
    server: StateApiServer, tmp_path: Path, status: int, body: bytes
) -> None:
    api = backend(server, tmp_path)
    api.update({"old": record(0)})
    server.break_down(Misbehaviour(status=status, body=body, applied=True, method="PATCH"))
    server.seen.clear()
    # The merged document is asked for: read back with a GET.
    merged = api.update({"m": record(1, "one")}, removals=["old"])
    assert merged == {"m": record(1, "one")}
    assert [seen.method for seen in server.seen] == ["PATCH", "GET"]
    # A run's checkpoints do not need it: one PATCH, nothing else.
    server.seen.clear()
    api.save({"n": record(2)})
    assert [seen.method for seen in server.seen] == ["PATCH"]
    assert set(server.document()["state"]) == {"m", "n"}
    assert not (tmp_path / ".orchestra").exists()


def test_the_read_back_after_a_patch_is_still_checked(
    server: StateApiServer, tmp_path: Path
) -> None:
    api = backend(server, tmp_path)
    server.next(
        Misbehaviour(status=200, body=b"{}", applied=True, method="PATCH"),
        Misbehaviour(status=200, body=b"{}", method="GET"),
    )
    with pytest.raises(OrcError) as caught:
        api.update({"m": record()})
    message = str(caught.value)
    assert 'no top-level "state"' in message and "were saved" in message
    assert "\n" not in message
    assert set(server.document()["state"]) == {"m"}
    assert not (tmp_path / ".orchestra").exists()  # saved: nothing to push


def test_a_scoped_backend_reads_back_within_its_account(
    server: StateApiServer, tmp_path: Path
) -> None:
    server.items["acct2.x"] = {"last_updated": "2026-11-22T07:00:00Z", "checksum": "y"}
    settings = Settings(
        api_key=KEY, api_base_url=server.base_url, integration_account_id="acct1", local_run=False
    )
    api = open_backend(settings, workdir=tmp_path)
    assert isinstance(api, ScopedBackend)
    server.break_down(Misbehaviour(status=204, applied=True, method="PATCH"))
    assert set(api.update({"acct1.m": record()})) == {"acct1.m"}
    api.save({"acct1.n": record(), "acct2.n": record()})
    assert set(server.document()["state"]) == {"acct1.m", "acct1.n", "acct2.x"}


def api_env(server: StateApiServer) -> dict[str, str]:
    return {
        "ORCHESTRA_USE_STATEFUL": "true",
        "ORCHESTRA_API_KEY": KEY,
        "ORCHESTRA_API_BASE_URL": server.base_url,
    }


@pytest.mark.parametrize("target", ["duckdb"])
def test_orc_dbt_build_keeps_the_records_of_a_refused_save(
    project: Project, server: StateApiServer
) -> None:
    env = api_env(server)
    server.break_down(Misbehaviour(status=413, body=b"too large", method="PATCH"))
    failed = project.orc("dbt", "build", expect=2, **env)
    (unsaved,) = (project.dir / ".orchestra").glob("unsaved-state-*.json")
    assert "HTTP 413" in failed.stderr and f"orc state push {unsaved}" in failed.stderr
    assert KEY not in failed.stdout + failed.stderr
    assert server.document()["state"] == {}

    server.heal()
    project.orc("state", "push", str(unsaved), **env)
    assert set(server.document()["state"]) == set(json.loads(unsaved.read_text())["state"])
    artifact = project.build(**env)
    assert {node["decision"] for node in artifact["nodes"]} == {"reuse"}


@pytest.mark.parametrize("target", ["duckdb"])
def test_orc_dbt_build_with_an_api_that_answers_patch_with_an_empty_object(
    project: Project, server: StateApiServer
) -> None:
    env = api_env(server)
    server.break_down(Misbehaviour(status=200, body=b"{}", applied=True, method="PATCH"))
    project.orc("dbt", "build", **env)
    assert server.document()["state"]
    assert not (project.dir / ".orchestra").exists()
    assert {seen.method for seen in server.seen} == {"GET", "PATCH"}
    artifact = project.build(**env)
    assert {node["decision"] for node in artifact["nodes"]} == {"reuse"}


# --- proxies ------------------------------------------------------------------------------


@pytest.fixture
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_plain_http_never_goes_through_a_proxy(
    server: StateApiServer, tmp_path: Path, no_proxy_settings: pytest.MonkeyPatch, variable: str
) -> None:
    with recording_proxy() as proxy:
        no_proxy_settings.setenv(variable, proxy.url)
        api = backend(server, tmp_path, max_attempts=1)
        try:
            api.update({"m": record()})
            assert set(api.load()) == {"m"}
        finally:
            assert KEY not in proxy.everything_seen()
            assert proxy.seen == []
    assert {seen.authorization for seen in server.seen} == {f"Bearer {KEY}"}


def test_https_still_goes_through_the_proxy_as_a_tunnel(
    tmp_path: Path, no_proxy_settings: pytest.MonkeyPatch
) -> None:
    with recording_proxy() as proxy:
        no_proxy_settings.setenv("HTTPS_PROXY", proxy.url)
        api = HttpBackend("https://orchestra.invalid", KEY, unsaved_dir=tmp_path, max_attempts=1)
        with pytest.raises(OrcError) as caught:
            api.update({"m": record()})
    assert [(seen.method, seen.target) for seen in proxy.seen] == [
        ("CONNECT", "orchestra.invalid:443")
    ]
    assert KEY not in proxy.everything_seen() and KEY not in str(caught.value)
    assert "orc state push" in str(caught.value)


# --- the key ------------------------------------------------------------------------------


def test_401_says_the_key_was_refused_without_showing_it(
    server: StateApiServer, tmp_path: Path
) -> None:
    api = HttpBackend(server.base_url, "sk-wrong-key-123456", unsaved_dir=tmp_path)
    with pytest.raises(OrcError) as caught:
        api.load()
    message = str(caught.value)
    assert "refused the API key" in message and "HTTP 401" in message
    assert "sk-wrong-key-123456" not in message
    assert len(server.seen) == 1  # not retried


def test_the_key_never_appears_in_messages_reprs_or_logs(
    server: StateApiServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    said: list[str] = []
    settings = Settings(api_key=KEY, api_base_url=server.base_url)
    api = open_backend(settings, on_wait=said.append, workdir=tmp_path)
    assert isinstance(api, HttpBackend)
    api._timeout = (2.0, 0.2)
    api._backoff = api._max_backoff = 0.01
    said.append(repr(api))
    said.append(repr(settings))
    said.append(str(vars(api)))
    api.update({"m": record()})

    server.next(Misbehaviour(status=503), Misbehaviour(sleep=1.0))
    api.load()
    # A server that echoes the Authorization header back in an error body.
    server.next(Misbehaviour(status=400, body=f"bad request, got Bearer {KEY}".encode()))
    with pytest.raises(OrcError) as echoed:
        api.load()
    said.append(str(echoed.value))
    assert "<hidden>" in str(echoed.value)
    server.next(Misbehaviour(garbage=True))
    with pytest.raises(OrcError) as garbage:
        api.load()
    said.append(str(garbage.value))
    server.break_down(Misbehaviour(status=500))
    with pytest.raises(OrcError) as down:
        api.update({"n": record()})
    said.append(str(down.value))
    server.heal()
    refused = HttpBackend(server.base_url, KEY + "x", unsaved_dir=tmp_path)
    with pytest.raises(OrcError) as wrong:
        refused.load()
    said.append(str(wrong.value))
    said.append(repr(refused))

    captured = capsys.readouterr()
    unsaved = "".join(path.read_text() for path in (tmp_path / ".orchestra").glob("*.json"))
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert any("urllib3" in r.name for r in caplog.records)  # debug logging was on
    assert len(said) >= 8
    for text in [*said, captured.out, captured.err, logged, unsaved]:
        assert KEY not in text


# --- https and the account prefix -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "http://10.0.0.5:8080", "http://app.getorchestra.io", "ftp://x"],
)
def test_plain_http_is_refused_for_hosts_that_are_not_loopback(url: str, tmp_path: Path) -> None:
    with pytest.raises(OrcError, match=r"https|http\(s\)"):
        HttpBackend(url, KEY, unsaved_dir=tmp_path)
    with pytest.raises(OrcError):
        open_backend(Settings(api_key=KEY, api_base_url=url))


def test_account_prefix_filters_what_is_read_and_written(
    server: StateApiServer, tmp_path: Path
) -> None:
    server.items.update(
        {
            "acct1.db.main.orders": {"last_updated": "2026-11-22T07:00:00Z", "checksum": "x"},
            "acct2.db.main.orders": {"last_updated": "2026-11-22T07:00:00Z", "checksum": "y"},
            "model.p.orders": {"last_updated": "2026-11-22T07:00:00Z", "checksum": "z"},
        }
    )
    settings = Settings(
        api_key=KEY, api_base_url=server.base_url, integration_account_id="acct1", local_run=False
    )
    api = open_backend(settings, workdir=tmp_path)
    assert set(api.load()) == {"acct1.db.main.orders"}
    merged = api.update(
        {"acct1.db.main.customers": record(), "acct2.db.main.customers": record()},
        removals=["acct2.db.main.orders", "acct1.db.main.orders"],
    )
    assert set(merged) == {"acct1.db.main.customers"}
    (patch,) = [seen for seen in server.seen if seen.method == "PATCH"]
    assert set(patch.body["state"]) == {"acct1.db.main.customers"}
    assert patch.body["removed"] == ["acct1.db.main.orders"]
    assert set(server.document()["state"]) == {
        "acct1.db.main.customers",
        "acct2.db.main.orders",
        "model.p.orders",
    }
    # local_run on: no prefix, everything is visible.
    everything = open_backend(
        Settings(api_key=KEY, api_base_url=server.base_url, integration_account_id="acct1"),
        workdir=tmp_path,
    )
    assert len(everything.load()) == 3
