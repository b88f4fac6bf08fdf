"""Flows that bring keypoints and released weights to 3D: ``import-checkpoint`` (released weights -> checkpoint)."""
