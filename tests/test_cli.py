"""The operator command, run as a separate process like an operator would."""

import json
import os
import subprocess
import sys

import pytest

from hub.repository import Repository
from hub.settings import Settings
from tests.conftest import unique

pytestmark = pytest.mark.integration


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "RETAIL_HUB_MONGO_DATABASE": settings.mongo_database,
        "RETAIL_HUB_EXCHANGE": settings.exchange,
    }
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_commands(settings: Settings) -> None:
    result = _run(settings, "--help")

    assert result.returncode == 0
    for command in ("serve", "connector", "publish", "store", "demo"):
        assert command in result.stdout


def test_store_add_is_idempotent(settings: Settings, cleanup_queues: list[str]) -> None:
    store_id = unique("cli-")
    cleanup_queues.append(f"store.{store_id}.items")
    add = ("store", "add", store_id, "--name", "Тверская 7", "--group", "msk", "--json")

    first = _run(settings, *add)
    second = _run(settings, *add)
    listing = _run(settings, "store", "list", "--json")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert json.loads(first.stdout)["groups"] == ["msk"]
    stores = json.loads(listing.stdout)
    assert [s["store_id"] for s in stores] == [store_id]
    assert stores[0]["name"] == "Тверская 7"


def test_invalid_store_id_is_rejected(settings: Settings) -> None:
    result = _run(settings, "store", "add", "bad.id", "--name", "x")

    assert result.returncode == 2
    assert "invalid store id 'bad.id'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        ("connector", "runs", "--limit", "0"),
        ("connector", "quarantine", "items", "--limit", "-3"),
        ("store", "dead-letters", "s1", "--limit", "0"),
        ("monitor", "thresholds", "set", "msk", "--silent-after", "nan"),
        ("monitor", "thresholds", "set", "msk", "--silent-after", "-5"),
        ("monitor", "thresholds", "set", "msk", "--lag-revisions", "-1"),
        ("monitor", "thresholds", "set", "msk", "--lag-revisions", "1.5"),
        ("monitor", "thresholds", "set", "msk", "--lag-seconds", "0"),
        ("serve", "--port", "70000"),
        ("monitor", "run", "--port", "-1"),
    ],
)
def test_invalid_number_is_rejected(
    settings: Settings, arguments: tuple[str, ...]
) -> None:
    result = _run(settings, *arguments)

    assert result.returncode == 2
    assert f"argument {arguments[-2]}: invalid" in result.stderr
    assert repr(arguments[-1]) in result.stderr
    assert "Traceback" not in result.stderr


def test_update_rejects_group_with_no_groups(settings: Settings) -> None:
    result = _run(settings, "store", "update", "s1", "--group", "spb", "--no-groups")

    assert result.returncode == 2
    assert "not allowed with argument --group" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_erp_fails_clearly(
    settings: Settings, repository: Repository
) -> None:
    env_settings = settings.model_copy()
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "connector", "run", "items", "--no-publish"],
        env={
            **os.environ,
            "RETAIL_HUB_MONGO_DATABASE": env_settings.mongo_database,
            "RETAIL_HUB_ERP_URL": "http://127.0.0.1:1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "ERP unreachable" in result.stderr
    assert "Traceback" not in result.stderr
