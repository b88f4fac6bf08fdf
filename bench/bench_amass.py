"""AMASS conversion speed, side by side in one run: I/O floor, in-process loop, the command on 1 and 2 workers.

Generates an N-file archive with the project's generators (``bench.amass_archive``; cached under
``--directory``), then times, interleaved round by round (``baseline, workload, ...`` on the same machine
state) and reported as medians:

- **I/O floor**: ``np.load`` of ``poses`` and ``trans`` of every file (second pass: files in the page cache;
  almost all of it is deflate decompression);
- **in-process loop**: ``convert_amass_file`` over every file (one torch thread), nothing written;
- **the loop on 2 forked processes**: the same loop, every second file in each of two processes forked from
  this one (nothing else: no start-up, no fragments). Its speed-up is what two cores give this work on this
  machine right now (shared virtual cores give less than 2x), the ceiling of ``--workers 2``'s speed-up;
- **conversion phase**: the same files through ``pipelines.convert.store_build.convert_items`` in this process (the loop
  plus validation and the compressed fragments a crash-safe rerun reuses);
- **command, 1 / 2 workers**: ``python flows.py preprocess-amass --workers 1`` / ``2`` into a fresh
  workspace, whole command (start-up, discovery, fingerprints, conversion, store write, validation, publish);
  wall and CPU seconds (this process's children, forked workers included);
- **command, 1-file archive**: the fixed cost;
- **authors' converter** (``--authors-converter PATH``, a checkout of goldbricklemon/AMASS-to-3DHPE): its
  ``src/convert.py``, unmodified, on the same archive; it needs ``human_body_prior`` (AMASS's toolchain, not
  on the package index in a compatible version) and the body models under ``PATH/support_data``: when it
  cannot run, the row says why.

Then the ratios that matter (command / I/O floor, 2 workers / 1 worker, conversion phase / loop).
Wall times on a shared machine are inflated by its load: the printed load average says how much; the CPU
columns and the ratios of interleaved runs are the figures to compare.

    python -m bench.bench_amass                    # 4 files, 1 round (CI-sized)
    python -m bench.bench_amass --files 300 --rounds 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.amass_archive import build_bench_archive
from datasets.synthetic.amass_archive import DemoAmassPaths

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = 4
DEFAULT_DIRECTORY = Path(tempfile.gettempdir()) / "mocaplift-bench-amass"


@dataclass
class Row:
    """One measured line: per-round wall and CPU seconds, and the source frames it processed."""

    name: str
    frames: int
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def seconds(self) -> float:
        """Median wall seconds (nan before any round)."""
        return statistics.median(self.wall) if self.wall else float("nan")

    def line(self, floor: float) -> str:
        """Name, wall, CPU, source frames per second and multiple of the I/O floor."""
        if not self.wall:
            return f"{self.name:<34} {'-':>8} {'-':>8} {'-':>12} {'-':>9}  {self.note}"
        cpu = f"{statistics.median(self.cpu):8.2f}" if self.cpu else f"{'-':>8}"
        return (f"{self.name:<34} {self.seconds:8.2f} {cpu} {self.frames / self.seconds:12.0f} "
                f"{self.seconds / floor:8.1f}x  {self.note}")  # fmt: skip


def amass_config(paths: DemoAmassPaths):
    """The conversion config the command builds from these paths (the default preset)."""
    from datasets.amass.config import AmassConfig
    from datasets.config import load_config

    overrides = {"amass_root": str(paths.amass_root), "body_models": str(paths.body_models),
                 "regressor": str(paths.regressor), "regressor_order": paths.regressor_order}  # fmt: skip
    return load_config(AmassConfig, "amass", "default", overrides)


def timed(function: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; CPU of this process and of the children it waited for."""

    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    wall, before = time.perf_counter(), cpu()
    function()
    return time.perf_counter() - wall, cpu() - before


def io_floor(files: Sequence[Path]) -> None:
    """Read ``poses`` and ``trans`` of every file (what any converter must at least do)."""
    for path in files:
        with np.load(path) as archive:
            archive["poses"], archive["trans"]


def command(paths: DemoAmassPaths, workers: int, workspace: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``python flows.py preprocess-amass --workers N`` into a fresh ``workspace``."""
    shutil.rmtree(workspace, ignore_errors=True)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    arguments = [sys.executable, "flows.py", "preprocess-amass", "--amass-root", str(paths.amass_root),
                 "--body-models", str(paths.body_models), "--regressor", str(paths.regressor),
                 "--regressor-order", paths.regressor_order, "--workers", str(workers),
                 "--workspace", str(workspace)]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(arguments, cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise RuntimeError(f"preprocess-amass --workers {workers} failed: {run.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def authors_converter(checkout: Path, paths: DemoAmassPaths, output: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of AMASS-to-3DHPE's ``src/convert.py`` (50 Hz) on the archive, run as released."""
    support = checkout / "support_data" / "body_models" / "smplh"
    if not support.is_dir():
        raise RuntimeError(f"no body models under {support} (link {paths.body_models}/smplh and dmpls there)")
    arguments = [sys.executable, "convert.py", "--amass_dir", str(paths.amass_root), "--out_dir", str(output),
                 "--joint_regressor", str(paths.regressor), "--r", "50"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(arguments, cwd=checkout / "src", capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"it failed: {last}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def in_process_work(
    paths: DemoAmassPaths, scratch: Path
) -> tuple[Callable[[], object], Callable[[], object], Callable[[], object]]:
    """Work on one torch thread: the loop over ``convert_amass_file``; the same loop split over two processes
    forked from this one (models loaded, torch imported: what 2 cores give this very work, the ceiling of any
    ``--workers 2``); the same through ``convert_items`` with fragments."""
    from functools import partial

    import torch

    from datasets.amass.convert import convert_amass_file
    from datasets.amass.discovery import discover, manifest_files
    from pipelines.convert.store_build import convert_items
    from pipelines.convert.workers import InProcessWorkers

    torch.set_num_threads(1)
    config = amass_config(paths)
    items = manifest_files(discover(config))
    convert = partial(convert_amass_file, config=config)

    def loop(chosen: Sequence[object] = items) -> None:
        for item in chosen:
            convert(item)

    def loop_on_two_processes() -> None:
        context = multiprocessing.get_context("fork")
        halves = [context.Process(target=loop, args=(items[start::2],)) for start in (0, 1)]
        for process in halves:
            process.start()
        for process in halves:
            process.join()

    def phase() -> None:
        shutil.rmtree(scratch, ignore_errors=True)
        convert_items(InProcessWorkers(), items, convert, scratch, description="conversion phase")

    return loop, loop_on_two_processes, phase


def measure(files: int, rounds: int, directory: Path, authors: Path | None) -> tuple[list[Row], int]:
    """Every row, ``rounds`` interleaved rounds each; returns the rows and the source-frame count."""
    paths = build_bench_archive(directory / f"archive_{files}", files)
    single = build_bench_archive(directory / "archive_1", 1)
    motion_files = sorted(p for p in paths.amass_root.rglob("*.npz") if p.name != "shape.npz")
    frames = sum(len(np.load(path)["trans"]) for path in motion_files)
    single_frames = sum(len(np.load(p)["trans"]) for p in single.amass_root.rglob("*.npz") if p.name != "shape.npz")
    loop, loop_on_two, phase = in_process_work(paths, directory / "fragments")
    rows = {name: Row(name, frames) for name in ("I/O floor (np.load, 2nd pass)", "in-process loop",
                                                  "the loop on 2 forked processes", "conversion phase (fragments)",
                                                  "command --workers 1",
                                                  "command --workers 2")}  # fmt: skip
    rows["command, 1-file archive"] = Row("command, 1-file archive", single_frames)
    authors_row = Row("authors' converter (full mesh)", frames)
    io_floor(motion_files)  # first pass: into the page cache
    loop()  # warm-up: body models loaded and cached
    for _ in range(rounds):
        for name, work in (("I/O floor (np.load, 2nd pass)", lambda: io_floor(motion_files)),
                           ("in-process loop", loop), ("the loop on 2 forked processes", loop_on_two),
                           ("conversion phase (fragments)", phase)):  # fmt: skip
            wall, cpu = timed(work)
            rows[name].wall.append(wall)
            rows[name].cpu.append(cpu)
        for name, source, workers in (("command --workers 1", paths, 1), ("command --workers 2", paths, 2),
                                      ("command, 1-file archive", single, 1)):  # fmt: skip
            wall, cpu = command(source, workers, directory / "workspace")
            rows[name].wall.append(wall)
            rows[name].cpu.append(cpu)
        if authors is not None and not authors_row.note:
            try:
                wall, cpu = authors_converter(authors, paths, directory / "authors_output")
                authors_row.wall.append(wall)
                authors_row.cpu.append(cpu)
            except RuntimeError as error:
                authors_row.note = f"did not run: {error}"
    if authors is not None:
        rows[authors_row.name] = authors_row
    return list(rows.values()), frames


def report(rows: Sequence[Row], files: int, frames: int) -> str:
    """The table and the ratios."""
    by_name = {row.name: row for row in rows}
    floor = by_name["I/O floor (np.load, 2nd pass)"].seconds
    header = f"{'':<34} {'wall s':>8} {'CPU s':>8} {'frames/s':>12} {'x floor':>9}"
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    title = f"AMASS conversion, {files} files, {frames} source frames; {load}"
    lines = [title, header, "-" * len(header), *(row.line(floor) for row in rows), ""]
    one, two = by_name["command --workers 1"].seconds, by_name["command --workers 2"].seconds
    loop, phase = by_name["in-process loop"].seconds, by_name["conversion phase (fragments)"].seconds
    ceiling = loop / by_name["the loop on 2 forked processes"].seconds
    lines += [
        f"command --workers 1 / I/O floor:     {one / floor:6.1f}x  (target <= 12x)",
        f"command --workers 2 speed-up:        {one / two:6.2f}x  (target >= 1.6x)",
        f"  2 processes' speed-up of the loop: {ceiling:6.2f}x  (this machine's ceiling for any --workers 2)",
        f"conversion phase / in-process loop:  {phase / loop:6.2f}x  (target <= 1.3x)",
        f"command on a 1-file archive:         {by_name['command, 1-file archive'].seconds:6.1f} s (target < 10 s)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> str:
    """Parse arguments, measure, print and return the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="motion files in the archive")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians are reported)")
    parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY, help="archive cache and scratch")
    parser.add_argument("--authors-converter", type=Path, default=None,
                        help="checkout of goldbricklemon/AMASS-to-3DHPE to time as well")  # fmt: skip
    arguments = parser.parse_args(argv)
    rows, frames = measure(arguments.files, arguments.rounds, arguments.directory, arguments.authors_converter)
    text = report(rows, arguments.files, frames)
    print(text)
    return text


if __name__ == "__main__":
    main()
