"""Shared test fixtures: small synthetic views and stores, the path of the real AMASS sample; ``gpu`` skips."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from datasets.views import View

SHARED_DIRECTORY = Path(__file__).resolve().parents[2] / "shared"
AMASS_SAMPLE = SHARED_DIRECTORY / "data" / "amass_sample.npz"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``gpu`` when CUDA is absent (CI), naming why; torch is imported only if one is collected."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    for item in gpu_items:
        item.add_marker(pytest.mark.skip(reason="needs a CUDA device (gpu marker); torch.cuda.is_available() is False"))


def open_repository(directory: Path):
    """The Icechunk repository of a local store directory, for tests that read its history or tamper with it."""
    import icechunk

    from datasets.storage import icechunk_storage
    from datasets.store.schema import ARRAYS_DIRECTORY

    return icechunk.Repository.open(icechunk_storage(Path(directory) / ARRAYS_DIRECTORY))


def simple_camera(name: str = "camera_0"):
    """A distortion-free 1000 x 1000 camera 4 m in front of the world origin, looking along +y (world z up)."""
    from datasets.cameras import Camera

    world_to_camera = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    return Camera(
        name=name,
        fx=1000.0,
        fy=1000.0,
        cx=500.0,
        cy=500.0,
        width=1000,
        height=1000,
        rotation=world_to_camera,
        translation=np.array([0.0, 1.0, 4.0]),
    )


def synthetic_views(
    lengths: Sequence[int], joints: int = 17, seed: int = 0, detections: Sequence[str] = ()
) -> list[View]:
    """Views with random-walk joints in front of ``simple_camera`` and their exact projections."""
    rng = np.random.default_rng(seed)
    views = []
    for number, length in enumerate(lengths):
        steps = rng.normal(scale=0.01, size=(length, joints, 3))
        joints_3d = (np.cumsum(steps, axis=0) + np.array([0.0, 0.0, 4.0])).astype(np.float32)
        keypoints_2d = (1000.0 * joints_3d[..., :2] / joints_3d[..., 2:] + 500.0).astype(np.float32)
        views.append(
            View(
                dataset="synthetic",
                subset="unit",
                subject=f"S{number % 2 + 1}",
                action="Walking",
                sequence=f"Walking {number}",
                split="train" if number % 2 == 0 else "test",
                fps=50.0,
                camera=simple_camera(f"camera_{number % 3}"),
                joints_3d=joints_3d,
                keypoints_2d=keypoints_2d,
                extra_keypoints={
                    name: (keypoints_2d + rng.normal(scale=2.0, size=keypoints_2d.shape)).astype(np.float32)
                    for name in detections
                },
            )
        )
    return views


@pytest.fixture
def make_views() -> Callable[..., list[View]]:
    """Factory fixture: ``make_views([40, 7, 100], detections=["cpn"])``."""
    return synthetic_views


@pytest.fixture
def amass_sample() -> Path:
    """The real AMASS recording from ../shared (skips the test when absent)."""
    if not AMASS_SAMPLE.is_file():
        pytest.skip(f"{AMASS_SAMPLE} is absent (licensed data lives only in ../shared).")
    return AMASS_SAMPLE
