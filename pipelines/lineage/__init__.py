"""Lineage: version ids, manifests and what checks that a manifest still tells the truth."""
