"""The benchmark suite at its smallest sizes: every row runs and reports figures."""

import json
import math
from pathlib import Path

import pytest

from bench.common import SMOKE
from bench.runner import BENCHMARKS, run_benchmarks, write_report

pytestmark = pytest.mark.integration


async def test_every_row_reports_figures(tmp_path: Path) -> None:
    results, report = await run_benchmarks(SMOKE, list(BENCHMARKS))
    json_path = tmp_path / "results.json"
    write_report(report, json_path)

    assert report["failures"] == {}
    assert [result.name for result in results] == list(BENCHMARKS)
    for result in results:
        assert result.ours > 0, result.name
        assert result.baseline > 0, result.name
        assert math.isfinite(result.ratio), result.name

    written = json.loads(json_path.read_text())
    assert [row["name"] for row in written["results"]] == list(BENCHMARKS)
    assert written["mode"] == "smoke"
    assert written["machine"]["cpus"] > 0
