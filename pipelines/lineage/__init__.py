"""Lineage: what a version is made of and how it is named.

``versioning`` derives version ids and writes manifests, ``code_identity`` fingerprints the code a stage runs,
``file_hashes`` hashes input files (with a cache), ``audit`` re-derives a published manifest's lineage and
names each field that disagrees.
"""
