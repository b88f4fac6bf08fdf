"""Concurrent runs of a demo generate its data once, so both derive the same input fingerprint and version."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from datasets.workspace import Workspace
from pipelines.convert.benchmarks import demo_source, source_fingerprint

BUILD_SECONDS = 0.5
"""Long enough that the second run reaches the check while the first is still building."""


def test_two_runs_at_once_build_the_demo_once_and_fingerprint_it_alike(tmp_path):
    builds = []

    def build(root: Path) -> None:
        builds.append(threading.get_ident())
        root.mkdir(parents=True, exist_ok=True)
        time.sleep(BUILD_SECONDS)
        (root / "data_3d_demo.npz").write_bytes(b"demo")

    roots, fingerprints = [], []

    def run() -> None:
        root = demo_source(Workspace(tmp_path), "demo-dataset", build)
        roots.append(root)
        fingerprints.append(source_fingerprint(root))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert roots[0] == roots[1] and fingerprints[0] == fingerprints[1]
