"""AmassConfig validation: each rule fails with a message naming it and the value."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from datasets.amass.config import H36M_FPS, UPLIFT_UPSAMPLE_VALIDATION_SUBSETS, AmassConfig

ROOTS = {"amass_root": Path("amass"), "body_models": Path("models")}


def test_defaults_follow_the_papers_and_the_issue():
    config = AmassConfig(**ROOTS)
    assert config.fps == H36M_FPS == 50.0
    assert (config.camera_mode, config.camera_count) == ("h36m", 4)
    assert config.num_betas == 16 and config.num_dmpls == 8 and config.unknown_gender == "reject"
    assert config.validation_subsets == UPLIFT_UPSAMPLE_VALIDATION_SUBSETS == ("MPIHDM05", "SFU", "MPImosh")


def test_random_cameras_and_string_paths_and_pickling():
    config = AmassConfig(amass_root="amass", body_models="models", regressor="r.npy", cameras="random:3",
                         include=["CMU/*"])  # fmt: skip
    assert (config.camera_mode, config.camera_count) == ("random", 3)
    assert config.regressor == Path("r.npy") and config.include == ("CMU/*",)
    assert pickle.loads(pickle.dumps(config)) == config
    assert hash(config) == hash(pickle.loads(pickle.dumps(config)))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cameras": "random:0"}, "cameras must be 'h36m' or 'random:K' with K >= 1, got 'random:0'"),
        ({"cameras": "h36m:2"}, "cameras must be"),
        ({"cameras": "orbit"}, "cameras must be"),
        ({"fps": 0.0}, "fps must be a finite positive rate in Hz, got 0.0"),
        ({"fps": float("inf")}, "fps must be"),
        ({"regressor_order": "coco"}, "regressor_order must be one of .*'coco'"),
        ({"unknown_gender": "female"}, "unknown_gender must be one of .*'female'"),
        ({"camera_distance_range": (5.0, 4.0)}, "camera_distance_range must be a finite \\(low, high\\)"),
        ({"camera_distance_range": (0.0, 4.0)}, "camera_distance_range must be positive"),
        ({"camera_azimuth_range": (0.0, float("nan"))}, "camera_azimuth_range must be"),
        ({"num_betas": 0}, "num_betas must be >= 1, got 0"),
        ({"batch_frames": 0}, "batch_frames must be >= 1"),
        ({"num_dmpls": -1}, "num_dmpls must be >= 0"),
        ({"precision": "float16"}, "precision must be one of"),
        ({"placement": "centre"}, "placement must be one of .*'centre'"),
    ],
)
def test_invalid_values_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        AmassConfig(**ROOTS, **overrides)


def test_auto_device_resolves_to_what_is_present():
    config = AmassConfig(**ROOTS, device="auto")
    assert config.resolved_device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert AmassConfig(**ROOTS, device="cpu").resolved_device == "cpu"
