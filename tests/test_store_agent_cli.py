"""Tests of the store agent's settings and command line."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.serving import free_port
from store_agent.cli import main
from store_agent.local_store import LocalStore
from store_agent.settings import AgentSettings
from tests.test_store_agent_support import live, tombstone


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STORE_ID", "MODE", "HUB_URL", "DATABASE", "ENTITIES"):
        monkeypatch.delenv(f"RETAIL_HUB_AGENT_{name}", raising=False)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite3"
    with LocalStore(path) as store:
        store.apply("items", [live("a", 1), live("b", 2), tombstone("b", 3)])
    return path


def test_settings_defaults() -> None:
    settings = AgentSettings(store_id="0042")

    assert settings.mode == "amqp"
    assert settings.hub_url == "http://127.0.0.1:8080"
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.database_path == Path("store-0042.sqlite3")
    assert settings.entities == ["items"]
    assert settings.pull_interval_seconds == 30
    assert settings.page_size == 500
    assert settings.prefetch == 8


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAIL_HUB_AGENT_STORE_ID", "msk-7")
    monkeypatch.setenv("RETAIL_HUB_AGENT_MODE", "pull")
    monkeypatch.setenv("RETAIL_HUB_AGENT_ENTITIES", '["items"]')

    settings = AgentSettings()

    assert settings.store_id == "msk-7"
    assert settings.mode == "pull"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"store_id": "a.b"}, "invalid store id 'a.b'"),
        ({"store_id": "0042", "entities": ["beer"]}, "unknown entity 'beer'"),
        ({"store_id": "0042", "mode": "pull", "hub_url": ""}, "pull mode needs"),
        ({"store_id": "0042", "page_size": 0}, "greater than or equal to 1"),
    ],
)
def test_settings_reject_invalid(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AgentSettings(**values)  # type: ignore[arg-type]


def test_empty_hub_url_disables_catch_up() -> None:
    settings = AgentSettings(store_id="0042", hub_url=" ")

    assert settings.hub_url is None


def test_status_prints_table(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["status", "--store-id", "0042", "--database", str(database)])

    output = capsys.readouterr().out
    assert code == 0
    assert f"store 0042, database {database}" in output
    row = output.splitlines()[-1].split()
    assert row == ["items", "1", "1", "3", _digest(database)]


def test_status_prints_json(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "--store-id", "0042", "--database", str(database), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["store_id"] == "0042"
    assert report["entities"]["items"] == {
        "documents": 1,
        "tombstones": 1,
        "applied_revision": 3,
        "digest": _digest(database),
    }


def _digest(database: Path) -> str:
    with LocalStore(database) as store:
        return store.digest("items").sha256


def test_status_without_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.sqlite3"

    code = main(["status", "--store-id", "0042", "--database", str(missing)])

    assert code == 1
    assert f"no local copy at {missing}" in capsys.readouterr().err
    assert not missing.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "--store-id", "a.b"], "invalid store id 'a.b'"),
        (["run", "--store-id", "0042", "--page-size", "0"], "invalid page_size 0"),
        (["run", "--store-id", "0042", "--page-size", "many"], "'many'"),
        (["run", "--store-id", "0042", "--mode", "push"], "'push'"),
        (["run", "--store-id", "0042", "--entity", "beer"], "unknown entity 'beer'"),
        (["run"], "missing store_id: pass --store-id or set RETAIL_HUB_AGENT_STORE_ID"),
        ([], "required: command"),
    ],
)
def test_bad_arguments_exit_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_help_names_units(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])

    output = capsys.readouterr().out
    assert exited.value.code == 0
    assert "Seconds between two pulls" in output
    assert "--prefetch" in output


def test_run_without_rabbitmq_exits_1(tmp_path: Path) -> None:
    closed_port = free_port()
    arguments = [
        "run",
        "--store-id",
        "0042",
        "--amqp-url",
        f"amqp://guest:guest@127.0.0.1:{closed_port}/",
        "--hub-url",
        "",
        "--database",
        str(tmp_path / "store.sqlite3"),
    ]

    assert main(arguments) == 1
