"""Every stage's name, declared once: its flow's name, its command's name and the prefix of its version ids.

Flows (``@flow(name=PRETRAIN)``), commands (``@flow_command(PRETRAIN)``), code identities
(``pipelines.lineage.code_identity.STAGE_CODE``) and the flows' defaults import these; this module imports
nothing, so that the command line reads them without importing any flow.
"""

PREPROCESS_AMASS = "preprocess-amass"
PREPROCESS_H36M = "preprocess-h36m"
PREPROCESS_3DHP = "preprocess-3dhp"
PREPROCESS_HUMANEVA = "preprocess-humaneva"
PRETRAIN = "pretrain"
FINETUNE = "finetune"
EVALUATE = "evaluate"
BASELINE = "baseline"
"""The constant-pose baseline's scores (a task of ``pretrain-finetune``, no command of its own)."""
PRETRAIN_FINETUNE = "pretrain-finetune"
"""Chains the others; its report is printed, not a version."""
IMPORT_CHECKPOINT = "import-checkpoint"
"""An author's released weights file as a checkpoint version."""
LIFT = "lift"
"""A detector's 2D keypoints lifted to 3D with a checkpoint."""

PRETRAIN_DATA = PREPROCESS_AMASS
"""The conversion whose newest version ``pretrain`` reads when not given ``data`` (run on the demo if none)."""
TARGET_DATA = PREPROCESS_H36M
"""The conversion whose newest version ``finetune`` and ``evaluate`` read when not given ``data``."""
EVALUATED_CHECKPOINT = FINETUNE
"""The checkpoint ``evaluate`` scores when not given one: the newest ``finetune`` version."""
EVALUATED_SPLIT = "test"
"""The split ``evaluate`` and ``pretrain-finetune`` score."""
