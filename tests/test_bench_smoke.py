"""The benchmark suite at its smallest sizes: every row runs and reports figures."""

import json
import math
from pathlib import Path

import pytest

from bench.common import SMOKE, BenchResult
from bench.runner import BENCHMARKS, format_table, run_benchmarks, write_report


@pytest.mark.integration
async def test_every_row_reports_figures(tmp_path: Path) -> None:
    results, report = await run_benchmarks(SMOKE, list(BENCHMARKS))
    json_path = tmp_path / "results.json"
    write_report(report, json_path)

    assert report["failures"] == {}
    assert [result.name for result in results] == list(BENCHMARKS)
    for result in results:
        assert result.ours > 0, result.name
        if result.report_only:
            continue
        assert result.baseline is not None, result.name
        assert result.baseline > 0, result.name
        assert result.ratio is not None, result.name
        assert math.isfinite(result.ratio), result.name

    written = json.loads(json_path.read_text())
    assert [row["name"] for row in written["results"]] == list(BENCHMARKS)
    assert written["mode"] == "smoke"
    assert written["machine"]["cpus"] > 0


def _report_row() -> BenchResult:
    return BenchResult(name="scale", path="register stores", unit="seconds", ours=12.5)


def test_report_row_has_no_ratio() -> None:
    row = _report_row()

    assert row.report_only
    assert row.ratio is None
    assert row.met is None
    assert row.target_text == "report"


def test_report_row_json_keeps_null_baseline() -> None:
    written = json.loads(json.dumps(_report_row().as_dict()))

    assert written["baseline"] is None
    assert written["ratio"] is None
    assert written["met"] is None
    assert written["target"] == "report"
    assert written["ours"] == 12.5


def test_table_shows_dashes_for_report_row() -> None:
    compared = BenchResult(
        name="agent_apply",
        path="apply",
        unit="documents/s",
        ours=40_000.0,
        baseline=80_000.0,
        target=0.5,
        comparison=">=",
    )

    lines = format_table([compared, _report_row()]).splitlines()

    assert lines[2] == (
        "| agent_apply | apply | documents/s | 40,000 | 80,000 | 0.50 | >= 0.5 | yes |"
    )
    assert (
        lines[3] == "| scale | register stores | seconds | 12.5 | - | - | report | - |"
    )
