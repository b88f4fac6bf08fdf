"""The AMASS conversion benchmark: its archive has the benchmark's shape, and a CI-sized run prints every ratio."""

from __future__ import annotations

import pytest

from bench.amass_archive import SUBSETS, bench_files


def test_bench_archive_has_the_issues_shape_and_is_deterministic():
    """300 files: 300 / 8.5 = 35.3 -> 35 subject folders over the 8 sub-datasets, every ninth file SMPL-X
    (300 // 9 = 33), and the same list on every call."""
    files = bench_files(300)
    assert files == bench_files(300)
    folders = {spec.relative_path.rsplit("/", 1)[0] for spec in files}
    assert len(folders) == 35
    assert {folder.split("/")[0] for folder in folders} == set(SUBSETS)
    assert sum(spec.model_type == "smplx" for spec in files) == 33
    assert all(10.0 <= spec.seconds <= 25.0 and spec.fps in (60.0, 100.0, 120.0) for spec in files)


@pytest.mark.slow
def test_two_file_run_prints_every_row_and_ratio(tmp_path):
    from bench.bench_amass import main

    text = main(["--files", "2", "--directory", str(tmp_path), "--authors-converter", str(tmp_path / "none")])
    for expected in ("I/O floor", "in-process loop", "the loop on 2 forked processes", "conversion phase",
                     "2 processes' speed-up of the loop:", "command --workers 1",
                     "command --workers 2", "command, 1-file archive", "authors' converter (full mesh)",
                     "did not run: no body models", "command --workers 1 / I/O floor:",
                     "command --workers 2 speed-up:", "conversion phase / in-process loop:"):  # fmt: skip
        assert expected in text


def test_report_computes_each_rate_and_ratio_from_the_median_rounds():
    """1000 source frames. Medians: I/O floor 2 s (rounds 1, 3, 2), in-process loop 8 s, loop on 2 processes 5 s,
    conversion phase 10 s, --workers 1 24 s, --workers 2 12 s, the 1-file archive 7.5 s (50 frames).
    Hence floor 1000 / 2 = 500 frames/s at 1.0x; --workers 1: 1000 / 24 = 41.67 -> 42 frames/s, 24 / 2 = 12.0x
    the floor; speed-up 24 / 12 = 2.00x; the loop's ceiling 8 / 5 = 1.60x; phase / loop 10 / 8 = 1.25x; the 1-file
    archive 50 / 7.5 = 6.7 -> 7 frames/s at 7.5 / 2 = 3.75 -> 3.8x the floor (round half to even)."""
    from bench.bench_amass import Row, report

    seconds = {"I/O floor (np.load, 2nd pass)": [1.0, 3.0, 2.0], "in-process loop": [8.0],
               "the loop on 2 forked processes": [5.0], "conversion phase (fragments)": [10.0],
               "command --workers 1": [24.0], "command --workers 2": [12.0]}  # fmt: skip
    rows = [Row(name, 1000, wall=wall, cpu=[1.0]) for name, wall in seconds.items()]
    rows.append(Row("command, 1-file archive", 50, wall=[7.5], cpu=[1.0]))
    lines = report(rows, files=2, frames=1000).splitlines()
    assert lines[0].startswith("AMASS conversion, 2 files, 1000 source frames;")
    cells = {line[:34].strip(): line[34:].split() for line in lines[3:10]}
    assert cells["I/O floor (np.load, 2nd pass)"] == ["2.00", "1.00", "500", "1.0x"]
    assert cells["command --workers 1"] == ["24.00", "1.00", "42", "12.0x"]
    assert cells["command, 1-file archive"] == ["7.50", "1.00", "7", "3.8x"]
    ratios = "\n".join(lines[-5:])
    for expected in ("command --workers 1 / I/O floor:       12.0x", "command --workers 2 speed-up:          2.00x",
                     "2 processes' speed-up of the loop:   1.60x", "conversion phase / in-process loop:    1.25x",
                     "command on a 1-file archive:            7.5 s"):  # fmt: skip
        assert expected in ratios
