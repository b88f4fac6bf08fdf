"""BVH export, read back with bvhio (an independent, maintained BVH package): forward kinematics must give every
bone the lifted direction (within 0.1 degrees) at the sequence's fixed, median length (within 1 mm)."""

from __future__ import annotations

import bvhio
import numpy as np
import pytest

from datasets.camera_rigs import h36m_cameras
from datasets.cameras import world_to_camera
from datasets.skeletons import convert_joints, get_skeleton
from datasets.synthetic.h36m_archive import H36MArchiveSpec, synthetic_world_poses
from lifting.export.bvh import write_bvh

H36M = get_skeleton("h36m17")


def _lifted_like(sequence: str, frames: int, seed: int) -> np.ndarray:
    """Synthetic Human3.6M motion in camera 0's frame, root-relative, each bone's length jittered by up to
    +-4 % per frame (a lifting model's bones are not rigid): (T, 17, 3) float32 metres."""
    spec = H36MArchiveSpec(subjects=("S1",), sequences=(sequence,), frames=frames)
    world = convert_joints(synthetic_world_poses(spec)["S1"][sequence], "h36m32", "h36m17")
    camera = np.asarray(world_to_camera(world, h36m_cameras("S1")[0]))
    bones = camera - camera[:, [max(p, 0) for p in H36M.parents]]
    bones *= 1.0 + 0.04 * np.random.default_rng(seed).uniform(-1.0, 1.0, size=bones.shape[:2] + (1,))
    poses = np.zeros_like(camera)
    for joint, parent in enumerate(H36M.parents):
        if parent != -1:
            poses[:, joint] = poses[:, parent] + bones[:, joint]
    return poses.astype(np.float32)


def _forward_kinematics(path) -> np.ndarray:
    """(T, 17, 3) world positions (file units) of the H36M joints, by bvhio's forward kinematics."""
    root = bvhio.readAsHierarchy(str(path))
    joints = {joint.Name: joint for joint, _, _ in root.layout()}
    start, end = root.getKeyframeRange()
    positions = []
    for frame in range(start, end + 1):
        root.loadPose(frame)
        positions.append([list(joints[name].PositionWorld) for name in H36M.joint_names])
    return np.asarray(positions)


@pytest.mark.parametrize(("sequence", "seed"), [("Walking", 0), ("Sitting 1", 1), ("Photo", 2)])
def test_bvh_round_trip_reproduces_bone_directions_and_fixed_lengths(tmp_path, sequence, seed):
    """The file is Y up in centimetres (X = x, Y = -y, Z = -z of the camera frame), so the lifted bone
    (x, y, z) metres must come back as (100 x, -100 y, -100 z), at 100 x its median length over frames."""
    poses = _lifted_like(sequence, frames=40, seed=seed)
    path = tmp_path / "take.bvh"
    write_bvh(path, poses, fps=50.0)
    fk = _forward_kinematics(path)
    assert fk.shape == poses.shape
    children = [j for j, p in enumerate(H36M.parents) if p != -1]
    parents = [H36M.parents[j] for j in children]
    lifted = (poses[:, children] - poses[:, parents]).astype(np.float64) * np.array([1.0, -1.0, -1.0])
    read = fk[:, children] - fk[:, parents]
    cosine = np.sum(lifted * read, axis=-1) / np.linalg.norm(lifted, axis=-1) / np.linalg.norm(read, axis=-1)
    angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
    assert angle.max() <= 0.1
    median_cm = 100.0 * np.median(np.linalg.norm(lifted, axis=-1), axis=0)
    np.testing.assert_allclose(np.linalg.norm(read, axis=-1), np.broadcast_to(median_cm, read.shape[:2]), atol=0.1)
    np.testing.assert_allclose(fk[:, 0], 100.0 * poses[:, 0] * np.array([1.0, -1.0, -1.0]), atol=1e-3)
    assert bvhio.readAsBvh(str(path)).FrameTime == pytest.approx(1 / 50.0)


def test_a_bone_pointing_opposite_its_rest_direction_still_round_trips(tmp_path):
    """Rest pose: the right forearm points right (-X). A frame with the forearm pointing left (+X in the
    file, so camera x > 0 relative to the elbow) needs the 180-degree turn; its direction must still come back."""
    poses = _lifted_like("Walking", frames=2, seed=3)
    elbow, wrist = H36M.index("right_elbow"), H36M.index("right_wrist")
    poses[1, wrist] = poses[1, elbow] + np.array([0.25, 0.0, 0.0], np.float32)
    write_bvh(tmp_path / "flip.bvh", poses, fps=25.0)
    fk = _forward_kinematics(tmp_path / "flip.bvh")
    bone = fk[1, wrist] - fk[1, elbow]
    np.testing.assert_allclose(bone / np.linalg.norm(bone), [1.0, 0.0, 0.0], atol=1e-5)


def test_bad_poses_are_refused():
    with pytest.raises(ValueError, match=r"poses_3d must be \(T, 17, 3\)"):
        write_bvh("unused.bvh", np.zeros((4, 16, 3)), fps=30.0)
    with pytest.raises(ValueError, match="zero median length"):
        write_bvh("unused.bvh", np.zeros((4, 17, 3)), fps=30.0)
