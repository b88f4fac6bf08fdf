"""Lifting a 2D sequence (``lifting.lift``): evaluation's windows over any length, the model's frame rate, memory.

The windows are checked against the model run on each window alone, with the screen normalisation written
out by hand: VideoPose3D's ``x / w * 2 - 1``, ``y / w * 2 - h / w`` (formats.md; ``normalize_screen_coordinates``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lifting.evaluation.inference as inference
from datasets.windows import WindowConfig
from lifting.evaluation import InferencePlan
from lifting.lift import Lifter, lift_keypoints
from lifting.models import LiftingOutput
from lifting.models.mixste import MixSTE, MixSTEConfig

WIDTH, HEIGHT = 1000, 800
JOINTS = 17


def by_hand(pixels: np.ndarray) -> torch.Tensor:
    """Screen coordinates of (..., 2) pixels for a 1000 x 800 image: x / 500 - 1, y / 500 - 0.8."""
    return torch.from_numpy(np.stack([pixels[..., 0] / 500.0 - 1.0, pixels[..., 1] / 500.0 - 0.8], -1)).float()


def tiny_mixste(frames: int) -> nn.Module:
    torch.manual_seed(0)
    config = MixSTEConfig(max_frames=frames, dim=16, depth=1, num_heads=2, drop_path=0.0)
    return MixSTE(config).eval()


class CopyModel(nn.Module):
    """Predicts each joint's screen coordinates as its 3D (x, y, 0), the root (joint 0) at the origin: linear in the
    input, so resampling is exact, and root-relative already."""

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.config = MixSTEConfig(max_frames=frames, dim=8, depth=1, num_heads=1)

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        sequence = torch.cat([keypoints, torch.zeros_like(keypoints[..., :1])], dim=-1)
        sequence[..., 0, :] = 0.0
        return LiftingOutput(sequence=sequence, centre=sequence[:, sequence.shape[1] // 2])


def lifter(model: nn.Module, mode: str, frames: int, fps: float = 50.0, batch_size: int = 4) -> Lifter:
    window = WindowConfig(frames=frames, key_frame_alignment="global")
    plan = InferencePlan(mode, window, flip_test=False, batch_size=batch_size)
    return Lifter(model, plan, fps, "h36m17", torch.device("cpu"))


def random_pixels(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((frames, JOINTS, 2)) * [WIDTH, HEIGHT]).astype(np.float32)


@torch.no_grad()
def test_centre_lifting_of_a_long_sequence_equals_the_model_on_each_window_alone():
    """Centre mode, N = 9, edge padding: frame t's pose is the centre output of the model on frames t-4..t+4,
    indices clamped to [0, 39] (the first and last frames repeated), normalised by hand, minus its root joint
    (joint 0, the pelvis); same rate in and out."""
    model, pixels = tiny_mixste(9), random_pixels(40)
    lifted = lift_keypoints(lifter(model, "centre", 9), pixels, fps=50.0, image_size=(WIDTH, HEIGHT))
    for t in (0, 3, 17, 39):
        frames = np.clip(np.arange(t - 4, t + 5), 0, 39)
        alone = model(keypoints=by_hand(pixels[frames])[None]).centre[0].numpy()
        np.testing.assert_allclose(lifted[t], alone - alone[0], atol=1e-5)


@torch.no_grad()
def test_seq2seq_lifting_averages_the_tiles_that_cover_a_frame():
    """Seq2seq, N = 9, 20 frames: tiles start at 0 and 9, and a last one ends at frame 19 (starts at 11), so
    frames 11..17 are the mean of two windows' outputs and every other frame one window's (all minus the root,
    joint 0)."""
    model, pixels = tiny_mixste(9), random_pixels(20, seed=1)
    lifted = lift_keypoints(lifter(model, "seq2seq", 9, batch_size=2), pixels, fps=50.0, image_size=(WIDTH, HEIGHT))
    outputs = {}
    for start in (0, 9, 11):
        sequence = model(keypoints=by_hand(pixels[start : start + 9])[None]).sequence[0].numpy()
        outputs[start] = sequence - sequence[:, :1]
    np.testing.assert_allclose(lifted[:9], outputs[0], atol=1e-5)
    np.testing.assert_allclose(lifted[9:11], outputs[9][:2], atol=1e-5)
    np.testing.assert_allclose(lifted[11:18], (outputs[9][2:] + outputs[11][:7]) / 2, atol=1e-5)
    np.testing.assert_allclose(lifted[18:], outputs[11][7:], atol=1e-5)


@pytest.mark.parametrize(("input_fps", "frames", "held_from"), [(30.0, 31, 31), (25.0, 40, 40), (100.0, 61, 59)])
def test_the_3d_comes_back_at_the_input_frame_times(input_fps, frames, held_from):
    """Keypoints moving at a constant pixel velocity (x = 100 + 7 k, y = 300 - 2 k at input frame k) and a model
    copying each frame's screen coordinates, at 50 Hz. T frames at f Hz become floor(T / f * 50) frames at
    50 Hz (datasets.resample): 30 Hz x 31 -> 51, last at 1.0 s = input frame 30; 25 Hz x 40 -> 80, last at
    1.58 s, past input frame 39 (1.56 s); 100 Hz x 61 -> 30, last at 0.58 s = input frame 58. Linear
    interpolation of linear motion is exact, so lifted frame k is input frame k's screen position
    (x_k / 500 - 1, y_k / 500 - 0.8, 0) for every joint but the root, and frames after the last 50 Hz one
    (k >= 59 at 100 Hz) hold it (k = 58)."""
    k = np.arange(frames, dtype=np.float64)
    pixels = np.zeros((frames, JOINTS, 2), np.float32)
    pixels[..., 0], pixels[..., 1] = (100 + 7 * k)[:, None], (300 - 2 * k)[:, None]
    lifted = lift_keypoints(lifter(CopyModel(5), "seq2seq", 5), pixels, fps=input_fps, image_size=(WIDTH, HEIGHT))
    assert lifted.shape == (frames, JOINTS, 3) and lifted.dtype == np.float32
    shown = np.minimum(k, held_from - 1)
    np.testing.assert_array_equal(lifted[:, 0], 0.0)  # the copy model's root
    np.testing.assert_allclose(
        lifted[:, 1:, 0], ((100 + 7 * shown) / 500 - 1)[:, None].repeat(JOINTS - 1, 1), atol=1e-5
    )
    np.testing.assert_allclose(
        lifted[:, 1:, 1], ((300 - 2 * shown) / 500 - 0.8)[:, None].repeat(JOINTS - 1, 1), atol=1e-5
    )
    np.testing.assert_array_equal(lifted[..., 2], 0.0)


@pytest.mark.parametrize(("mode", "window"), [("seq2seq", 243), ("centre", 27)])
def test_a_20000_frame_input_is_lifted_one_batch_of_windows_at_a_time(monkeypatch, mode, window):
    """20,000 frames: no forward pass sees more than batch_size = 64 windows, so the largest window tensor is
    64 x N x 17 x 2 floats, never 20,000 x N x 17 x 2; the copy model's output is the input, every frame."""
    seen = []
    original = inference.predict_windows

    def observed(model, batch, *arguments, **keywords):
        seen.append(batch["keypoints"].shape)
        return original(model, batch, *arguments, **keywords)

    monkeypatch.setattr(inference, "predict_windows", observed)
    frames = 20_000
    pixels = np.broadcast_to(np.linspace(0, WIDTH, frames, dtype=np.float32)[:, None, None], (frames, JOINTS, 2))
    lifted = lift_keypoints(lifter(CopyModel(window), mode, window, batch_size=64), pixels, 50.0, (WIDTH, HEIGHT),
                            progress=False)  # fmt: skip
    assert max(shape[0] for shape in seen) <= 64
    assert max(np.prod(shape) for shape in seen) <= 64 * window * JOINTS * 2
    expected = pixels[:, 0, 0] / 500.0 - 1.0
    np.testing.assert_allclose(lifted[:, 1, 0], expected, atol=1e-5)
