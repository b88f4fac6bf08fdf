"""Out-of-frame ratio of every AMASS view under each placement: the evidence behind the default in docs/amass.md.

For each motion file and each of the four Human3.6M cameras (``--camera-subject``'s extrinsics), converts the
file with ``datasets.amass.convert.convert_amass_file`` once per ``PLACEMENTS`` entry and prints the view's
``out_of_frame_ratio`` (fraction of (frame, joint) points behind the camera or outside the image) as a
Markdown table, then each placement's frame-weighted mean per camera. Without paths it measures the
licence-free demo archive (generated in a temporary folder) and, when present, the real AMASS recording
``../shared/data/amass_sample.npz`` posed with the demo's synthetic body model::

    python -m bench.amass_placement
    python -m bench.amass_placement --camera-subject S9
    python -m bench.amass_placement --amass-root /data/AMASS --body-models /data/models --regressor r.npy
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
from pathlib import Path

import numpy as np

from datasets.amass.config import PLACEMENTS, AmassConfig
from datasets.amass.convert import convert_amass_file
from datasets.amass.discovery import discover, manifest_files
from datasets.camera_rigs import H36M_CAMERA_IDS
from datasets.synthetic.amass_archive import build_demo_amass

AMASS_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/amass_sample.npz"
REAL_SAMPLE_PATH = "real/sample/sample_poses.npz"
"""Where the real recording is copied inside the demo archive (its own sub-dataset, ``real``)."""


def measure(config: AmassConfig) -> dict[str, dict[str, dict[str, tuple[float, int]]]]:
    """``{file: {placement: {camera: (out-of-frame ratio, frames)}}}`` for every accepted file of ``config``."""
    table: dict[str, dict[str, dict[str, tuple[float, int]]]] = {}
    for item in manifest_files(discover(config)):
        for placement in PLACEMENTS:
            views = convert_amass_file(item, dataclasses.replace(config, placement=placement))
            if not isinstance(views, list):
                break  # rejected: not a motion this table is about
            per_camera = {view.camera.name: (view.extra_columns["out_of_frame_ratio"], view.frames) for view in views}
            table.setdefault(item.relative_path, {})[placement] = per_camera
    return table


def markdown(table: dict[str, dict[str, dict[str, tuple[float, int]]]]) -> str:
    """Per-file rows (one column per placement and camera) and a frame-weighted mean row per placement."""
    header = [f"{placement} {camera}" for placement in PLACEMENTS for camera in H36M_CAMERA_IDS]
    lines = ["| file | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for path, placements in table.items():
        cells = [f"{placements[p][c][0]:.3f}" for p in PLACEMENTS for c in H36M_CAMERA_IDS]
        lines.append(f"| {path} | " + " | ".join(cells) + " |")
    means = []
    for placement in PLACEMENTS:
        for camera in H36M_CAMERA_IDS:
            ratios, frames = zip(*(placements[placement][camera] for placements in table.values()), strict=True)
            means.append(f"{np.average(ratios, weights=frames):.3f}")
    lines.append("| mean (frame-weighted) | " + " | ".join(means) + " |")
    return "\n".join(lines)


def main() -> None:
    """Parse the options, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amass-root", type=Path, help="archive to measure (default: the demo + the real sample)")
    parser.add_argument("--body-models", type=Path)
    parser.add_argument("--regressor", type=Path)
    parser.add_argument("--regressor-order", default="spin")
    parser.add_argument("--camera-subject", default="S1", help="whose Human3.6M extrinsics place the cameras")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if options.amass_root is None:
            demo = build_demo_amass(Path(scratch))
            options.amass_root, options.body_models = demo.amass_root, demo.body_models
            options.regressor, options.regressor_order = demo.regressor, demo.regressor_order
            if AMASS_SAMPLE.is_file():
                (demo.amass_root / REAL_SAMPLE_PATH).parent.mkdir(parents=True)
                shutil.copyfile(AMASS_SAMPLE, demo.amass_root / REAL_SAMPLE_PATH)  # temporary copy
        config = AmassConfig(
            amass_root=options.amass_root, body_models=options.body_models, regressor=options.regressor,
            regressor_order=options.regressor_order, h36m_camera_subject=options.camera_subject,
        )  # fmt: skip
        print(markdown(measure(config)))


if __name__ == "__main__":
    main()
