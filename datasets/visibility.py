"""Which projected points a camera actually sees: in front of it and inside its image.

The AMASS conversion records each view's ``out_of_frame_ratio`` (``datasets.amass.virtual_cameras``); the
viewer marks the frames where any joint is out of frame (``lifting.visualization``). Both use this rule, and
this module stays free of AMASS code so that the viewer's (and evaluation's) code identity does not include
the AMASS converter (``pipelines.lineage.code_identity``).
"""

from __future__ import annotations

import numpy as np

from datasets.cameras import Camera


def out_of_frame_mask(points_camera: np.ndarray, pixels: np.ndarray, camera: Camera) -> np.ndarray:
    """Which points are behind the camera or projected outside the image.

    Args:
        points_camera: (..., 3) metres, camera frame.
        pixels: (..., 2) their projections, pixels.
        camera: The camera (image size).

    Returns:
        (...) bool.
    """
    behind = points_camera[..., 2] <= 0.0
    outside = (
        (pixels[..., 0] < 0)
        | (pixels[..., 0] >= camera.width)
        | (pixels[..., 1] < 0)
        | (pixels[..., 1] >= camera.height)
    )
    return behind | outside


def out_of_frame_ratio(points_camera: np.ndarray, pixels: np.ndarray, camera: Camera) -> float:
    """Fraction of (frame, joint) points behind the camera or projected outside the image.

    Args:
        points_camera: (T, J, 3) metres, camera frame.
        pixels: (T, J, 2) their projections, pixels.
        camera: The camera (image size).

    Returns:
        A ratio in [0, 1]; 0 for an empty sequence.
    """
    if points_camera.size == 0:
        return 0.0
    return float(np.mean(out_of_frame_mask(points_camera, pixels, camera)))
