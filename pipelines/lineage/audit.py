"""Does a manifest's lineage still hold? Re-derive what can be re-derived and name each field that disagrees.

A version id is derived from its content (``pipelines.lineage.versioning.version_id``: stage, the parents' recorded
output checksums ``parent_content``, inputs, config, code fingerprint), so an edited manifest betrays itself:

* ``id``: the id no longer derives from the recorded fields, or is not its manifest file's name;
* ``parent_content``: a parent's recorded checksums differ from what that parent's own manifest records,
  and the id no longer derives (the checksums were edited);
* ``parents``: a parent does not exist, or a parent's outputs differ from ``parent_content`` while the id
  still derives from it (the list of parents was edited to name another version).

Output files are re-hashed separately (``pipelines.lineage.versioning.verify_version``); ``python flows.py verify``
runs both.
"""

from __future__ import annotations

from datasets.manifest import Manifest, ManifestError
from datasets.workspace import Workspace
from pipelines.lineage.versioning import parent_content, version_id


def lineage_problems(workspace: Workspace, manifest: Manifest) -> list[str]:
    """One sentence per lineage field of ``manifest`` that disagrees with what it can be re-derived from.

    Args:
        workspace: The workspace holding the version and its parents.
        manifest: The version's manifest.

    Returns:
        Sentences naming the version and the field (``id``, ``parents``, ``parent_content``); empty when the
        lineage holds.
    """
    where = f"version {manifest.id}"
    problems = []
    try:
        filed = workspace.get(manifest.id)
    except ManifestError:
        filed = None
    if filed != manifest:
        problems.append(f"{where}: field 'id' is not the name of its manifest file (no registry/{manifest.id}.json "
                        "holds this manifest)")  # fmt: skip
    code = manifest.code.get("fingerprint")
    derived = version_id(manifest.stage, manifest.parent_content, manifest.inputs, manifest.config, str(code))
    if len(manifest.parent_content) != len(manifest.parents):
        problems.append(
            f"{where}: field 'parent_content' records {len(manifest.parent_content)} parents' checksums for "
            f"{len(manifest.parents)} parents"
        )
    edited_content = False
    for index, (parent, recorded) in enumerate(zip(manifest.parents, manifest.parent_content, strict=False)):
        try:
            found = workspace.get(parent)
        except ManifestError as error:
            problems.append(f"{where}: field 'parents' names {parent}, whose manifest is unreadable ({error})")
            continue
        if found is None:
            problems.append(f"{where}: field 'parents' names {parent}, which is not in the workspace")
            continue
        try:
            actual = parent_content(found, list(recorded))
        except KeyError:
            actual = None  # the parent lacks an output the record names
        if actual == dict(recorded):
            continue
        if derived == manifest.id:
            problems.append(
                f"{where}: field 'parents' names {parent}, whose outputs differ from parent_content[{index}] "
                "(from which the id derives): the parent named is not the one this version was made from"
            )
        else:
            edited_content = True
            problems.append(
                f"{where}: field 'parent_content' [{index}] differs from what parent {parent}'s manifest records"
            )
    if derived != manifest.id and not edited_content:
        problems.append(
            f"{where}: field 'id' does not derive from the recorded stage, parent_content, inputs, config and "
            f"code fingerprint (they give {derived}): the id or one of those fields was edited"
        )
    return problems
