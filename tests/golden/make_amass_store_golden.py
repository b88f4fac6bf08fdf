"""Windows and direct reads of a small AMASS store, saved as the golden file ``amass_store_windows.npz``.

The golden file was made with store schema version 1 (camera-frame 3D and 2D copied into every view), before
schema 2 stored one world-frame array per sequence; ``tests/test_store_world.py`` runs the same functions on
today's code and compares. Only our own code is used, so the file is a regression guard: it catches a change
in what the conversion and the windows produce, not an error that the code shared when the file was made::

    python tests/golden/make_amass_store_golden.py tests/golden/amass_store_windows.npz

What it does: ``build_demo_amass`` writes the deterministic demo archive; ``GOLDEN_FILES`` (three files: SMPL+H
at 120 and 100 Hz, SMPL-X at 60 Hz) are converted with ``GOLDEN_CAMERAS`` (the four Human3.6M cameras, and
three random look-at cameras) into two stores with ``write_store`` (chunks of ``GOLDEN_CHUNK_FRAMES``); then
``sample_windows`` gathers fixed windows (seeded ``PoseWindows`` in RAM and chunk modes, with and without
virtual cameras and key-frames) and direct ``read``/``window`` calls.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[2]
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from datasets.amass.config import AmassConfig  # noqa: E402
from datasets.amass.convert import convert_amass_file  # noqa: E402
from datasets.amass.discovery import discover, manifest_files  # noqa: E402
from datasets.skeletons import get_skeleton  # noqa: E402
from datasets.store import PoseStore, write_store  # noqa: E402
from datasets.synthetic.amass_archive import build_demo_amass  # noqa: E402
from datasets.views import View  # noqa: E402
from datasets.windows import PoseWindows, VirtualCameraConfig, WindowConfig  # noqa: E402

GOLDEN_FILES = (
    "CMU/01/01_01_poses.npz",
    "KIT/3/walking_slow01_poses.npz",
    "TotalCapture/s1/walking1_stageii.npz",
)
GOLDEN_CAMERAS = ("h36m", "random:3")
GOLDEN_CHUNK_FRAMES = 64
WINDOW_INDICES = np.array([0, 57, 311, 512, 901], dtype=np.int64)
"""Windows gathered from each dataset (modulo its length)."""

WINDOW_CONFIGS = {
    "plain": WindowConfig(frames=27, cache="memory"),
    "chunks": WindowConfig(frames=27, cache="chunks", cache_chunks=2),
    "strided": WindowConfig(frames=81, output_stride=5, input_strides=(5, 10, 20), padding="zero", cache="memory"),
    "virtual": WindowConfig(frames=27, cache="memory", virtual_cameras=VirtualCameraConfig()),
    "virtual_chunks": WindowConfig(frames=27, cache="chunks", virtual_cameras=VirtualCameraConfig(distort=False)),
}
WINDOW_KEYS = ("keypoints", "joints_3d", "root", "valid", "view_id", "centre_frame")


def convert_views(root: Path, cameras: str) -> list[View]:
    """The views of ``GOLDEN_FILES`` converted with the demo archive under ``root`` (built if missing)."""
    paths = build_demo_amass(root)
    config = AmassConfig(amass_root=paths.amass_root, body_models=paths.body_models, regressor=paths.regressor,
                         regressor_order=paths.regressor_order, cameras=cameras)  # fmt: skip
    items = {item.relative_path: item for item in manifest_files(discover(config))}
    views = []
    for relative_path in GOLDEN_FILES:
        result = convert_amass_file(items[relative_path], config)
        assert isinstance(result, list), result
        views.extend(result)
    return views


def build_store(root: Path, cameras: str) -> PoseStore:
    """Convert and write one golden store under ``root``; returns it opened."""
    views = convert_views(root / "demo", cameras)
    directory = root / f"store_{cameras.replace(':', '_')}"
    write_store(directory, views, "h36m17", get_skeleton("h36m17").joint_names, chunk_frames=GOLDEN_CHUNK_FRAMES)
    return PoseStore(directory)


def sample_windows(store: PoseStore, prefix: str) -> dict[str, np.ndarray]:
    """Fixed windows and direct reads of ``store``, keyed ``<prefix>/<what>/<array>``."""
    samples = {}
    for name, config in WINDOW_CONFIGS.items():
        windows = PoseWindows(store, config, splits=("train", "validation"), seed=7)
        keys = [(3, int(index) % len(windows)) for index in WINDOW_INDICES]
        batch = windows.__getitems__(keys)
        for key in WINDOW_KEYS:
            if key in batch:
                samples[f"{prefix}/{name}/{key}"] = batch[key]
    views = store.index.num_rows
    for view_id in (0, views - 1):
        for array in ("joints_3d", "keypoints_2d"):
            samples[f"{prefix}/read{view_id}/{array}"] = store.read(array, view_id)
            samples[f"{prefix}/window{view_id}/{array}"] = store.window(array, view_id, start=-5, length=40, pad="zero")
    return samples


def main() -> None:
    """Build the stores in a scratch folder and save the samples."""
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    arguments = parser.parse_args()
    samples = {}
    with tempfile.TemporaryDirectory() as scratch:
        for cameras in GOLDEN_CAMERAS:
            samples.update(sample_windows(build_store(Path(scratch), cameras), cameras))
    np.savez_compressed(arguments.output, **samples)
    print(f"wrote {len(samples)} arrays to {arguments.output}")


if __name__ == "__main__":
    main()
