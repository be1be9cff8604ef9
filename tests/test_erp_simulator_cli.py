"""Tests of the ``retail-hub-erp-simulator`` command line."""

from pathlib import Path

import pytest

from erp_simulator.cli import build_catalogue, parse_args

FIXTURES = Path(__file__).parent / "fixtures" / "onec"


def test_parse_args_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETAIL_HUB_ERP_USER", raising=False)
    monkeypatch.delenv("RETAIL_HUB_ERP_PASSWORD", raising=False)
    args = parse_args([])
    assert args.host == "127.0.0.1"
    assert args.port == 8081
    assert args.infobase == "erp"
    assert args.user == "hub"
    assert args.password == "hub"
    assert args.seed == 42
    assert args.items == 5000
    assert args.replay is None


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAIL_HUB_ERP_USER", "integration")
    monkeypatch.setenv("RETAIL_HUB_ERP_PASSWORD", "p@ss")
    args = parse_args([])
    assert args.user == "integration"
    assert args.password == "p@ss"
    assert parse_args(["--user", "other"]).user == "other"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "invalid port 70000"),
        (["--port", "http"], "invalid port 'http'"),
        (["--items", "-3"], "invalid item count -3"),
        (["--items", "many"], "invalid item count 'many'"),
        (["--seed", "x"], "invalid int value: 'x'"),
        (["--infobase", "a/b"], "invalid infobase name 'a/b'"),
        (
            ["--replay", "/nonexistent/folder"],
            "'/nonexistent/folder' is not a directory",
        ),
    ],
)
def test_bad_values_name_the_value(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    output = capsys.readouterr().out
    for option in ("--host", "--port", "--infobase", "--user", "--password"):
        assert option in output
    for option in ("--seed", "--items", "--replay", "RETAIL_HUB_ERP_PASSWORD"):
        assert option in output


def test_build_generated_catalogue() -> None:
    catalogue = build_catalogue(parse_args(["--seed", "3", "--items", "50"]))
    assert catalogue.mode == "generated"
    assert catalogue.seed == 3
    assert "50 items" in catalogue.describe()


def test_build_replayed_catalogue() -> None:
    catalogue = build_catalogue(parse_args(["--replay", str(FIXTURES)]))
    assert catalogue.mode == "replay"
    assert "168 items" in catalogue.describe()
