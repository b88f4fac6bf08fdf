"""An N-file AMASS-format archive from the project's generators, for timing the AMASS conversion.

``bench_files(n)`` spreads ``n`` procedural motions over 8 sub-datasets and about n / 8.5 subjects (the
default 300-file archive: 35 subjects), at 60, 100 and 120 Hz, 10-25 s each (about 1,600 source frames per
file on average), mostly SMPL+H with every ninth file an SMPL-X male. ``build_bench_archive(root, n)``
writes them with the demo's synthetic body models and regressor (``datasets.synthetic.amass_archive``):
the same file formats and the same code paths as real AMASS, deterministic bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.synthetic.amass_archive import (
    DEMO_REGRESSOR_ORDER,
    DEMO_SMPLX_GENDERS,
    ArchiveFile,
    DemoAmassPaths,
    write_demo_archive,
)
from datasets.synthetic.amass_motion import MOTIONS
from datasets.synthetic.body_model import write_body_models, write_h36m_regressor
from datasets.synthetic.body_template import GENDERS

SUBSETS = ("CMU", "KIT", "ACCAD", "BMLrub", "EyesJapanDataset", "SFU", "TotalCapture", "MPI_HDM05")
"""Sub-datasets of the bench archive (SFU is the validation one, as in Uplift-and-Upsample)."""
FILES_PER_SUBJECT = 8.5
"""Average files per subject folder (300 files -> 35 subjects)."""
FRAME_RATES = (60.0, 100.0, 120.0)
SECONDS = (10.0, 25.0)
"""Range of file durations, s."""
SMPLX_EVERY = 9
"""Every ninth file is an SMPL-X (``*_stageii.npz``) male."""
BENCH_SEED = 17


def bench_files(n: int, seed: int = BENCH_SEED) -> tuple[ArchiveFile, ...]:
    """``n`` archive files with deterministic motion kinds, rates, durations, genders and folders."""
    rng = np.random.default_rng(seed)
    subjects = max(1, round(n / FILES_PER_SUBJECT))
    files = []
    for number in range(n):
        subject = number % subjects
        subset = SUBSETS[subject % len(SUBSETS)]
        smplx = number % SMPLX_EVERY == SMPLX_EVERY - 1
        gender = "male" if smplx else ("male", "female")[subject % 2]
        suffix = "stageii" if smplx else "poses"
        files.append(ArchiveFile(
            relative_path=f"{subset}/subject{subject:03d}/take{number:04d}_{suffix}.npz",
            motion=MOTIONS[int(rng.integers(len(MOTIONS)))], fps=FRAME_RATES[int(rng.integers(len(FRAME_RATES)))],
            seconds=float(np.round(rng.uniform(*SECONDS), 2)), gender=gender,
            model_type="smplx" if smplx else "smplh",
        ))  # fmt: skip
    return tuple(files)


def build_bench_archive(root: Path, n: int) -> DemoAmassPaths:
    """Write body models, regressor and an ``n``-file archive under ``root`` (reused when already complete).

    Returns:
        The paths to pass to ``preprocess-amass``.
    """
    root = Path(root)
    paths = DemoAmassPaths(root / "amass", root / "body_models", root / "J_regressor_h36m_synthetic.npy")
    done = root / f"complete_{n}"
    if done.exists():
        return paths
    write_body_models(paths.body_models, smplh_genders=GENDERS, smplx_genders=DEMO_SMPLX_GENDERS)
    write_h36m_regressor(paths.regressor, DEMO_REGRESSOR_ORDER)
    write_demo_archive(paths.amass_root, bench_files(n))
    done.touch()
    return paths
