"""The pose store: every dataset's frames in one schema, chunked Zarr v3 in an Icechunk repository.

Public API::

    from datasets.store import open_store
    store = open_store("workspace", "preprocess-amass")     # newest version of a stage, or a version id
    store.index                                             # pyarrow.Table, one row per view
    store.read("joints_3d", view_id=0)                      # (T, J, 3) float32, metres, camera frame
    store.window("keypoints_2d", 0, start=-10, length=243)  # padded at the view's edges
    store.validate()                                        # [] when the store is sound

Schema: ``docs/store.md``.
"""

from datasets.store.reader import PoseStore, open_store
from datasets.store.schema import (
    DEFAULT_CHUNK_FRAMES,
    INDEX_SCHEMA,
    STORE_SCHEMA_VERSION,
    WORLD_ARRAY,
    ArraySpec,
    StoreLayout,
    StoreSchemaError,
    segment_layout,
)
from datasets.store.validate import StoreProblem, StoreValidationError, raise_for_problems, validate_store
from datasets.store.writer import (
    array_specs,
    commit_store,
    create_store,
    index_table,
    merge_specs,
    view_arrays,
    view_row,
    view_specs,
    write_block,
    write_store,
)

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "INDEX_SCHEMA",
    "STORE_SCHEMA_VERSION",
    "WORLD_ARRAY",
    "ArraySpec",
    "PoseStore",
    "StoreLayout",
    "StoreProblem",
    "StoreSchemaError",
    "StoreValidationError",
    "array_specs",
    "commit_store",
    "create_store",
    "index_table",
    "open_store",
    "raise_for_problems",
    "segment_layout",
    "validate_store",
    "merge_specs",
    "view_arrays",
    "view_row",
    "view_specs",
    "write_block",
    "write_store",
]
