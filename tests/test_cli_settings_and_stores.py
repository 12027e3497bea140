"""Bad settings and store options are one clear line, never a traceback: a PIXSEEK_* variable out of range,
an unknown --storage-option, az:// (which pyarrow does not read), and gs:// gives up in seconds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pixseek.catalog.storage import short_cause
from pixseek.cli import app
from pixseek.cli.app import make_settings
from pixseek.errors import SettingsError, StorageError
from pixseek.indexing.sources import open_source
from pixseek.locations import as_location, object_store_fs


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("PIXSEEK_COMPRESSED_THRESHOLD", "500", "greater than or equal to 1000"),  # its documented floor
        ("PIXSEEK_MAX_K", "abc", "valid integer"),
        ("PIXSEEK_ANN_WARMUP", "bogus", "bogus"),
        ("PIXSEEK_CORS_ORIGINS", '["https://a.example"', "not a JSON list"),
        ("PIXSEEK_PROVIDERS", "[CPUExecutionProvider]", "not a JSON list"),
        ("PIXSEEK_CORS_ORIGINS", "[1, 2]", "not a JSON list of strings"),
    ],
)
def test_a_bad_setting_names_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    for command in (["info"], ["serve"], ["duplicates"]):
        result = CliRunner().invoke(app, [*command, "--db", str(tmp_path / "db")])
        assert result.exit_code == 1, (command, result.output)
        line = result.output.strip()
        assert line.startswith("error: ") and variable in line and said in line, line
        assert "Traceback" not in result.output and len(line.splitlines()) == 1


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://a.example", ("https://a.example",)),  # a plain value was a pydantic-settings traceback
        (" https://a.example , https://b.example ", ("https://a.example", "https://b.example")),
        ('["https://a.example", "https://b.example"]', ("https://a.example", "https://b.example")),
        ('["", " https://a.example "]', ("https://a.example",)),  # kept as given, it could match no origin
    ],
)
def test_list_settings_take_a_json_list_or_commas(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: tuple[str, ...]
) -> None:
    monkeypatch.setenv("PIXSEEK_CORS_ORIGINS", value)
    monkeypatch.setenv("PIXSEEK_PROVIDERS", value)
    settings = make_settings()
    assert settings.cors_origins == settings.providers == origins


def test_no_cors_origins_is_allowed_but_no_providers_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXSEEK_CORS_ORIGINS", "")
    assert make_settings().cors_origins == ()
    monkeypatch.setenv("PIXSEEK_PROVIDERS", " ")
    with pytest.raises(SettingsError, match=r"^providers \(PIXSEEK_PROVIDERS\): .*at least 1 item"):
        make_settings()


def test_a_bad_value_from_an_option_is_named_as_the_option_s() -> None:
    with pytest.raises(
        SettingsError, match=r"^max_k \(its option\): Input should be greater than or equal to 1"
    ):
        make_settings(max_k=0)


def test_an_unknown_storage_option_is_named() -> None:
    with pytest.raises(StorageError, match=r"unexpected keyword argument 'foo'.*endpoint, access_key"):
        object_store_fs("s3://bucket/prefix", {"foo": "bar"})
    object_store_fs("s3://bucket/prefix", {"endpoint": "http://127.0.0.1:9"})  # a known one is fine


def test_az_uris_say_which_form_pyarrow_reads() -> None:
    with pytest.raises(StorageError, match="abfs://CONTAINER@ACCOUNT"):
        object_store_fs("az://container/photos")


def test_gs_gives_up_after_a_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow's own default retries for 15 minutes, deaf to Ctrl-C (seen offline)."""
    made: list[dict[str, Any]] = []
    monkeypatch.setattr("pyarrow.fs.GcsFileSystem", lambda **kw: made.append(kw) or "gcs")
    assert object_store_fs("gs://bucket/photos") == ("gcs", "bucket/photos")
    assert made == [{"retry_time_limit": timedelta(seconds=20)}]  # the README's "gives up after 20 s"


def test_a_uri_with_no_bucket_is_refused() -> None:
    for uri in ("s3://", "gs://", "s3:///photos"):
        with pytest.raises(StorageError, match="names no bucket"):
            as_location(uri)
        with pytest.raises(StorageError, match="names no bucket"):
            open_source(uri)
    assert as_location("s3://photos/2024/") == "s3://photos/2024"


def test_a_storage_error_keeps_what_a_user_can_act_on() -> None:
    lance = OSError(
        'Generic { store: "S3", source: Status { status: 403, body: Some("<?xml version=\\"1.0\\"?>'
        '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>") } }'
    )
    assert short_cause(lance) == "AccessDenied: Access Denied"
    assert short_cause(RuntimeError("first line\nsecond")) == "first line"
    assert short_cause(ValueError("x" * 500)) == "x" * 299 + "…"
    assert short_cause(OSError()) == "OSError"
    rust = RuntimeError(  # a damaged file, as Lance reported it here: where in its Rust is of no use
        "lance error: LanceError(IO): Generic LocalFileSystem error: failed to fill whole buffer, "
        "/rustc/2d8144b7880597b6e6d3dfd63a9a9efae3f533d3/library/core/src/ops/function.rs:250:5"
    )
    assert short_cause(rust) == (
        "lance error: LanceError(IO): Generic LocalFileSystem error: failed to fill whole buffer"
    )
    crate = RuntimeError(
        "lance error: LanceError(IO): does not have sufficient data, len: 10, "
        "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lance-io-13.0.0/src/utils.rs:224:20"
    )
    assert short_cause(crate) == "lance error: LanceError(IO): does not have sufficient data, len: 10"
