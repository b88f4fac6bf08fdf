"""`lift` takes an imported checkpoint like a trained one: the released MixSTE fixture lifts a keypoint array.

The released file is the golden fixture of ``tests/test_import_checkpoint.py`` (written by the authors' code); the
import records the 50 Hz its model was trained at, which is where ``lift`` reads the rate to resample to.
"""

from __future__ import annotations

import numpy as np
from test_import_checkpoint import mixste_preset, released_file

from datasets.workspace import Workspace
from pipelines.lift.flow import lift
from pipelines.lift.import_checkpoint import import_checkpoint
from pipelines.orchestration import run_in_process

FRAMES = 30
"""Input frames at 25 Hz: lift resamples them to the import's 50 Hz and back to these frame times."""


def test_lift_runs_on_an_imported_checkpoint(tmp_path):
    """A figure drifting across a 1000 x 1000 image for 30 frames at 25 Hz: the lift version's parent is the import,
    its (30, 17, 3) poses are finite with the root joint at the origin, at the input's own 30 frames."""
    workspace = str(tmp_path / "workspace")
    source = released_file("released_checkpoint_mixste.bin", tmp_path)
    checkpoint = run_in_process(import_checkpoint, {"source": str(source), "model": "mixste",
                                                    "preset": str(mixste_preset(tmp_path)),
                                                    "training_preset": "demo", "workspace": workspace})  # fmt: skip
    rng = np.random.default_rng(0)
    drift = rng.uniform(300, 700, (1, 17, 2)) + np.linspace(0, 100, FRAMES)[:, None, None]  # pixels
    keypoints = np.concatenate([drift, np.full((FRAMES, 17, 1), 0.9)], axis=-1).astype(np.float32)
    np.save(tmp_path / "clip.npy", keypoints)
    options = {"joint_order": "h36m17", "fps": 25.0, "image_size": [1000, 1000]}
    lifted = run_in_process(lift, {"checkpoint": checkpoint, "keypoints": str(tmp_path / "clip.npy"),
                                   "options": options, "workspace": workspace})  # fmt: skip
    registry = Workspace(workspace)
    manifest = registry.get(lifted)
    assert manifest.stage == "lift" and tuple(manifest.parents) == (checkpoint,)
    saved = np.load(registry.output_path(manifest, "poses_3d"))
    assert saved["poses_3d"].shape == (FRAMES, 17, 3) and np.isfinite(saved["poses_3d"]).all()
    np.testing.assert_allclose(saved["poses_3d"][:, 0], 0.0, atol=1e-6)
    assert saved["frame_indices"].tolist() == list(range(FRAMES)) and float(saved["fps"]) == 25.0
