"""Flows that bring 2D keypoints and released weights to 3D: ``import-checkpoint`` (the authors' released weights as a
checkpoint version)."""
