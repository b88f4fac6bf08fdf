"""The authors' released weights (Uplift-and-Upsample ``.h5``, MixSTE ``.bin``, Strided ``.pth``) as checkpoints.

    imported = import_released("h36m_351.h5", "uplift-upsample", "h36m-351")
    save_checkpoint(Path("checkpoint_best.pt"), imported.checkpoint)

Modules: ``safe_load`` (torch files read with no code run), ``torch_layouts`` and ``keras_layout`` (the released
names and layouts mapped to ours, declared as data), ``importer`` (read, map, check, wrap).
"""

from lifting.released.importer import (
    RELEASED_FORMATS,
    ImportedCheckpoint,
    ReleasedFormat,
    default_training_preset,
    import_released,
)

__all__ = ["RELEASED_FORMATS", "ImportedCheckpoint", "ReleasedFormat", "default_training_preset", "import_released"]
