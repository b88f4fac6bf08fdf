"""Evaluation stages: the ``evaluate`` flow, evaluation and baseline versions, the comparison table.

``flows`` holds them all; the metrics themselves are computed in ``lifting.evaluation``.
"""
