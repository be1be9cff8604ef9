"""The Prometheus alert rules in deploy/prometheus pass promtool's checks."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing; deploy/dev.sh setup installs it")
        pytest.skip("promtool is missing; run deploy/dev.sh setup as root")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


def test_alert_rules_are_valid(promtool: str) -> None:
    result = _run(promtool, "check", "rules", "alerts.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_tests(promtool: str) -> None:
    result = _run(promtool, "test", "rules", "alerts_test.yml")

    assert result.returncode == 0, result.stdout + result.stderr
