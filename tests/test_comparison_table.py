"""The pretrain-finetune comparison table: one row per route, MPJPE also as a multiple of the baseline's."""

from __future__ import annotations

from pipelines.evaluate.flows import comparison_table


def test_rows_in_order_with_the_mpjpe_ratio_to_the_reference():
    """Baseline MPJPE 150 mm, pretrained 60 mm, scratch 75 mm: ratios 150/150 = 1.00, 60/150 = 0.40,
    75/150 = 0.50. Metrics are columns in name order; a metric a route lacks prints as "-"."""
    summaries = {
        "mean pose": {"mpjpe_mm": 150.0, "p_mpjpe_mm": 120.0},
        "pretrained + finetuned": {"mpjpe_mm": 60.0, "p_mpjpe_mm": 40.5},
        "from scratch": {"mpjpe_mm": 75.0},
    }
    lines = comparison_table(summaries, reference="mean pose").splitlines()
    assert lines == [
        "| route | mpjpe_mm | p_mpjpe_mm | mpjpe x mean pose |",
        "|---|---:|---:|---:|",
        "| mean pose | 150.00 | 120.00 | 1.00 |",
        "| pretrained + finetuned | 60.00 | 40.50 | 0.40 |",
        "| from scratch | 75.00 | - | 0.50 |",
    ]
    assert comparison_table(summaries).splitlines()[0] == "| route | mpjpe_mm | p_mpjpe_mm |"
