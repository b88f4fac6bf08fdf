"""Units. Everything inside mocaplift is metres and seconds; millimetres appear only in reports."""

MILLIMETRES_PER_METRE = 1000.0
"""Multiply metres by this to report millimetres (the unit every paper's tables use)."""

CENTIMETRES_PER_METRE = 100.0
"""Multiply metres by this for centimetres, the length unit of exported BVH files (as most BVH libraries use)."""
