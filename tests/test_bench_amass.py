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
