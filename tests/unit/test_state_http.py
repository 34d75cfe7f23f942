"""The pieces of the remote backends that need no server: base URL rules, Retry-After,
unsaved-state files, S3 URIs, the missing `s3` extra, and how backends are opened from
settings and from URIs (`orc state migrate`)."""

from __future__ import annotations

import builtins
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import parse_unsaved, unsaved_document
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import parse_s3_uri
from orchestra_dbt_py.state import backend_for_uri, open_backend
from orchestra_dbt_py.state.backend import ScopedBackend
from orchestra_dbt_py.state.http import HttpBackend, api_base_url
from orchestra_dbt_py.state.http_failures import retry_after as _retry_after
from orchestra_dbt_py.state.local import LocalFileBackend
from orchestra_dbt_py.state.transfer import migrate, push, read_state_file

KEY = "sk-unit-secret-31337"
T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)


def record(seconds: int = 0, checksum: str | None = None) -> NodeRecord:
    return NodeRecord(last_updated=T0 + timedelta(seconds=seconds), checksum=checksum)


# --- base URL -----------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["app", "stage", "dev"])
def test_the_default_base_url_is_the_deployment(env: str) -> None:
    assert api_base_url(env, None) == f"https://{env}.getorchestra.io"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("https://orchestra.example.com/", "https://orchestra.example.com"),
        ("https://example.com/prefix", "https://example.com/prefix"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:9", "http://localhost:9"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("HTTP://LOCALHOST:1", "HTTP://LOCALHOST:1"),
    ],
)
def test_accepted_base_urls(override: str, expected: str) -> None:
    assert api_base_url("app", override) == expected


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("http://example.com", "use https://"),
        ("http://192.168.1.10:8000", "use https://"),
        ("http://127.0.0.2", "use https://"),
        ("http://localhost.example.com", "use https://"),
        ("ftp://example.com", "not an http(s) URL"),
        ("https://", "not an http(s) URL"),
        ("https://user:pw@example.com", "user name or password"),
        ("https://example.com/?x=1", "query"),
    ],
)
def test_rejected_base_urls(override: str, fragment: str) -> None:
    with pytest.raises(OrcError) as caught:
        api_base_url("app", override)
    assert fragment in str(caught.value)
    assert "pw" not in str(caught.value) or "password" in str(caught.value)


def test_the_backend_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(OrcError, match="ORCHESTRA_API_KEY"):
        HttpBackend("https://example.com", "", unsaved_dir=tmp_path)


@pytest.mark.parametrize("bad", [f"{KEY}\n", f"{KEY} x", f"{KEY}\u00e9", f"\t{KEY}"])
def test_a_key_that_cannot_go_in_a_header_is_refused_without_showing_it(
    bad: str, tmp_path: Path
) -> None:
    with pytest.raises(OrcError) as caught:
        HttpBackend("https://example.com", bad, unsaved_dir=tmp_path)
    assert "ORCHESTRA_API_KEY" in str(caught.value)
    assert KEY not in str(caught.value)


def test_repr_and_description_hide_the_key(tmp_path: Path) -> None:
    api = HttpBackend("https://example.com", KEY, unsaved_dir=tmp_path)
    for text in (repr(api), str(api), api.description, repr(vars(api)), repr(api._auth)):
        assert KEY not in text
    assert api.url == "https://example.com/api/engine/public/state/DBT_CORE"


def test_the_unsaved_state_file_is_written_durably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The only copy of a failed save's records is fsynced before it replaces the last one."""
    from orchestra_dbt_py import files

    synced: list[int] = []
    real_fsync = files.os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    api = HttpBackend("https://example.com", KEY, unsaved_dir=tmp_path / "unsaved")
    path = api._keep_unsaved({"m1": record(1)}, ["m0"], "the server said no")
    assert parse_unsaved(path.read_text(), str(path)) == ({"m1": record(1)}, ["m0"])
    assert len(synced) == 2  # the file, then its folder's rename


# --- Retry-After --------------------------------------------------------------------------


def test_retry_after_seconds_and_dates() -> None:
    assert _retry_after(None) is None
    assert _retry_after("") is None
    assert _retry_after("7") == 7.0
    assert _retry_after("-3") == 0.0
    assert _retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = _retry_after(later)
    assert seconds is not None and 25 <= seconds <= 30
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert _retry_after(earlier) == 0.0


def test_retry_after_is_capped(tmp_path: Path) -> None:
    api = HttpBackend("https://example.com", KEY, unsaved_dir=tmp_path, max_retry_after_seconds=5.0)
    assert api._delay(1, 3600.0) == 5.0
    assert api._delay(1, 2.0) == 2.0
    assert 0.25 <= api._delay(1, None) <= 0.5
    assert api._delay(10, None) <= 8.0


# --- unsaved-state files and push ---------------------------------------------------------


def test_unsaved_document_round_trip() -> None:
    items = {"a": record(1, "x"), "b": record(2)}
    text = unsaved_document(items, ["c", "d"])
    assert json.loads(text)["removed"] == ["c", "d"]
    assert parse_unsaved(text, "f") == (items, ["c", "d"])
    plain = unsaved_document(items)
    assert "removed" not in json.loads(plain)
    assert parse_unsaved(plain, "f") == (items, [])


def test_parse_unsaved_rejects_a_bad_removed_list() -> None:
    with pytest.raises(OrcError, match='"removed"'):
        parse_unsaved('{"state": {}, "removed": "a"}', "file.json")
    with pytest.raises(OrcError, match=re.escape("file.json")):
        parse_unsaved('{"state": {}, "other": 1}', "file.json")
    with pytest.raises(OrcError, match="not valid JSON"):
        parse_unsaved("{", "file.json")


def test_read_state_file_errors(tmp_path: Path) -> None:
    with pytest.raises(OrcError, match="cannot read state file"):
        read_state_file(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(OrcError, match="not UTF-8"):
        read_state_file(binary)


def test_push_and_migrate_between_local_files(tmp_path: Path) -> None:
    source = LocalFileBackend(tmp_path / "a.json")
    source.init()
    source.update({"m1": record(1, "new"), "m2": record(2)})
    target = LocalFileBackend(tmp_path / "sub" / "b.json")
    target_items = {"m1": record(5, "newer in target"), "m3": record(3)}
    result = migrate(source, target)  # creates the target
    assert (result.sent, result.total) == (2, 2)
    target.update(target_items)
    migrate(source, target)
    loaded = target.load()
    assert set(loaded) == {"m1", "m2", "m3"}
    assert loaded["m1"].checksum == "newer in target"  # the newer item is never replaced
    assert source.load() == {"m1": record(1, "new"), "m2": record(2)}  # the source is only read

    unsaved = tmp_path / "unsaved.json"
    unsaved.write_text(unsaved_document({"m4": record(4)}, ["m3"]))
    result = push(target, unsaved)
    assert (result.sent, result.removed, result.total) == (1, 1, 3)
    assert set(target.load()) == {"m1", "m2", "m4"}
    assert unsaved.exists()


def test_migrate_refuses_the_same_state_twice(tmp_path: Path) -> None:
    backend = LocalFileBackend(tmp_path / "a.json")
    with pytest.raises(OrcError, match="the same state"):
        migrate(backend, LocalFileBackend(tmp_path / "a.json"))


def test_push_into_a_missing_local_file_creates_it(tmp_path: Path) -> None:
    document = tmp_path / "doc.json"
    document.write_text(unsaved_document({"m": record()}))
    push(LocalFileBackend(tmp_path / "missing.json"), document)
    assert LocalFileBackend(tmp_path / "missing.json").load() == {"m": record()}


# --- S3 URIs and the optional extra -------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/state.json", ("bucket", "state.json")),
        ("s3://my-bucket/deep/path/orc.json", ("my-bucket", "deep/path/orc.json")),
        ("S3://bucket/k", ("bucket", "k")),
    ],
)
def test_parse_s3_uri(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["s3://bucket", "s3://bucket/", "s3:///key", "s3://bucket/dir/", "s3://b/k?v=1"]
)
def test_parse_s3_uri_rejects(uri: str) -> None:
    with pytest.raises(OrcError, match=re.escape("s3://bucket/path/state.json")):
        parse_s3_uri(uri)


def test_a_missing_boto3_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_boto3(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "boto3" or name.startswith("boto3."):
            raise ImportError("No module named 'boto3'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_boto3)
    with pytest.raises(OrcError) as caught:
        open_backend(Settings(state_file="s3://bucket/state.json"))
    assert "orchestra-dbt-py[s3]" in str(caught.value)


# --- opening backends ---------------------------------------------------------------------


def test_account_prefix() -> None:
    assert KeyScope.of(None, True).prefix is None
    assert KeyScope.of("acct", True).prefix is None  # local_run on
    assert KeyScope.of("acct", False).prefix == "acct."
    assert KeyScope.of(None, False).prefix is None


def test_open_backend_http_uses_the_settings(tmp_path: Path) -> None:
    opened = open_backend(Settings(api_key=KEY, orchestra_env="stage"), workdir=tmp_path)
    assert isinstance(opened, HttpBackend)
    assert opened.url == "https://stage.getorchestra.io/api/engine/public/state/DBT_CORE"
    assert opened.unsaved_dir == tmp_path / ".orchestra"
    override = Settings(
        api_key=KEY,
        api_base_url="https://self.example/x/",
        local_run=False,
        integration_account_id="acct",
    )
    scoped = open_backend(override, workdir=tmp_path)
    assert isinstance(scoped, ScopedBackend) and scoped.scope.prefix == "acct."
    opened = scoped.inner
    assert isinstance(opened, HttpBackend)
    assert opened.url == "https://self.example/x/api/engine/public/state/DBT_CORE"


def test_backend_for_uri_local(tmp_path: Path) -> None:
    relative = backend_for_uri("state/orc.json", Settings(), workdir=tmp_path)
    assert isinstance(relative, LocalFileBackend)
    assert relative.path == tmp_path / "state" / "orc.json"
    absolute = backend_for_uri(str(tmp_path / "x.json"), Settings(), workdir=Path("/"))
    assert isinstance(absolute, LocalFileBackend)
    assert absolute.path == tmp_path / "x.json"


def test_backend_for_uri_orchestra(tmp_path: Path) -> None:
    settings = Settings(api_key=KEY, api_base_url="http://127.0.0.1:9")
    opened = backend_for_uri("orchestra://", settings, workdir=tmp_path)
    assert isinstance(opened, HttpBackend)
    assert opened.url == "http://127.0.0.1:9/api/engine/public/state/DBT_CORE"
    assert opened.unsaved_dir == tmp_path / ".orchestra"
    with pytest.raises(OrcError, match="ORCHESTRA_API_KEY"):
        backend_for_uri("orchestra://", Settings(), workdir=tmp_path)
    with pytest.raises(OrcError, match="write exactly orchestra://"):
        backend_for_uri("orchestra://stage", settings, workdir=tmp_path)


@pytest.mark.parametrize(
    "uri", ["https://app.getorchestra.io", "ftp://host/state.json", "hdfs://host/key", "  "]
)
def test_backend_for_uri_rejects(uri: str, tmp_path: Path) -> None:
    with pytest.raises(OrcError) as caught:
        backend_for_uri(uri, Settings(api_key=KEY), workdir=tmp_path)
    assert "orchestra://" in str(caught.value)
    assert KEY not in str(caught.value)


# --- S3 error messages (a client that fails the way boto3 does) -----------------------------


class FailingS3Client:
    """Stands in for a boto3 client whose every call raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(**kwargs: Any) -> Any:
            raise self.error

        return call


def client_error(code: str, message: str = "", status: int = 403) -> Exception:
    exceptions = pytest.importorskip("botocore.exceptions")
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    error: Exception = exceptions.ClientError(response, "GetObject")
    return error


def s3_error_message(error: Exception, action: str = "load") -> str:
    from orchestra_dbt_py.state.s3 import S3Backend

    backend = S3Backend("team-bucket", "orc/state.json", client=FailingS3Client(error))
    with pytest.raises(OrcError) as caught:
        if action == "load":
            backend.load()
        else:
            backend.update({"m": record()})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_s3_access_denied_names_the_bucket_and_the_permissions() -> None:
    message = s3_error_message(client_error("AccessDenied", "Access Denied"))
    assert "s3://team-bucket/orc/state.json" in message
    assert "denied" in message and "s3:GetObject" in message and "team-bucket" in message


def test_s3_missing_bucket_says_to_create_it() -> None:
    message = s3_error_message(client_error("NoSuchBucket", "no bucket", 404), "update")
    assert "bucket team-bucket does not exist" in message and "create the bucket" in message


def test_s3_without_credentials_says_how_to_configure_them() -> None:
    exceptions = pytest.importorskip("botocore.exceptions")
    message = s3_error_message(exceptions.NoCredentialsError())
    assert "AWS credentials" in message and "s3://team-bucket/orc/state.json" in message


def test_s3_unreachable_endpoint_names_aws_endpoint_url() -> None:
    exceptions = pytest.importorskip("botocore.exceptions")
    error = exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1/team-bucket")
    message = s3_error_message(error)
    assert "AWS_ENDPOINT_URL" in message and "127.0.0.1:1" in message


def test_s3_other_errors_show_code_and_message() -> None:
    message = s3_error_message(client_error("SlowDown", "Please reduce your request rate", 503))
    assert "SlowDown: Please reduce your request rate" in message
