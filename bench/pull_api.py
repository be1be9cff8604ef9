"""Pull API benchmark (not written yet)."""

from bench.common import BenchResult, Sizes


async def run_pull_api(sizes: Sizes) -> BenchResult:
    raise NotImplementedError("the pull_api benchmark is not written yet")
