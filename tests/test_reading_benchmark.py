"""`python -m benchmarks.reading` runs on a small file and keeps the rest of RESULTS.md."""

from __future__ import annotations

from pathlib import Path

from benchmarks import reading
from benchmarks.results import markers, replace_section


def test_a_small_run_writes_its_section_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    out.write_text("# Benchmark results\n\nThe solver's numbers.\n", encoding="utf-8")
    assert reading.main(["--rows", "3000", "--out", str(out)]) == 0
    first = out.read_text(encoding="utf-8")
    assert first.startswith("# Benchmark results\n\nThe solver's numbers.\n")
    start, _end = markers(reading.SECTION)
    assert first.count(start) == 1 and first.count("| MET |") == 3
    assert "30 of 30 (30 lines)" in first  # 1 row in 100 bad, every problem reported
    replace_section(out, reading.SECTION, "new")
    second = out.read_text(encoding="utf-8")
    assert second.count(start) == 1 and "\nnew\n" in second
    assert second.startswith("# Benchmark results\n\nThe solver's numbers.\n")


def test_generated_bad_rows_each_carry_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    case = next(c for c in reading.CASES if c.bad_rows)
    assert reading.write_workloads(path, 1000, case, seed=1) == 10
    assert path.read_text(encoding="utf-8").startswith(reading.HEADER)
