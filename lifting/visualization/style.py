"""Colours and view settings shared by the HTML viewer and the video, so both look the same.

Colours are RGB 0-255. Ground truth and prediction use matplotlib's C0 (blue) and C1 (orange); per-joint
errors run green -> yellow -> red from 0 to ``ERROR_LIMIT_MM``.
"""

from __future__ import annotations

import math

COLOURS: dict[str, tuple[int, int, int] | list[tuple[int, int, int]]] = {
    "truth": (31, 119, 180),
    "prediction": (255, 127, 14),
    "errorScale": [(44, 160, 44), (255, 200, 0), (214, 39, 40)],
    "camera": (90, 90, 90),
    "otherCamera": (190, 190, 190),
    "grid": (222, 222, 222),
    "image": (244, 244, 244),
    "background": (255, 255, 255),
    "outOfFrame": (214, 39, 40),
    "text": (30, 30, 30),
}
ERROR_LIMIT_MM = 100.0
"""Per-joint error drawn fully red, millimetres (a Human3.6M model is typically 30-60 mm MPJPE)."""
AZIMUTH_OFFSET_RAD = math.pi / 4
"""The 3D panel first looks from 45 degrees beside the first view's camera: the camera's own view is the 2D
panel below, so the 3D panel shows the depth that view hides."""
ELEVATION_RAD = math.radians(20.0)
"""Initial elevation of the 3D panel's viewpoint above the ground plane."""
GRID_STEP_M = 0.5
"""Spacing of the ground grid, metres."""


def rgb_float(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    """An RGB 0-255 colour as matplotlib's 0-1 floats."""
    return tuple(channel / 255.0 for channel in colour)  # type: ignore[return-value]
