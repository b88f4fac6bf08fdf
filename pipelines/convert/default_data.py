"""The data a training or evaluation reads when not told: the newest version of a conversion stage.

``default_data`` picks that version (converting the licence-free demo when the workspace has none) and says
whether the code that made it differs from the stage's code now; ``report_newest`` is that message, also for
the newest checkpoint ``evaluate`` picks by stage name.
"""

from __future__ import annotations

from collections.abc import Mapping

from datasets.workspace import Manifest, Workspace
from pipelines.convert.amass import preprocess_amass
from pipelines.convert.benchmarks import preprocess_3dhp, preprocess_h36m, preprocess_humaneva
from pipelines.convert.run_options import regrouped
from pipelines.lineage.code_identity import CodeIdentity, changed_sources, stage_code_identity
from pipelines.lineage.versioning import rerun_parameters
from pipelines.orchestration import FlowDefinition

CONVERSIONS: Mapping[str, FlowDefinition] = {
    flow.name: flow for flow in (preprocess_amass, preprocess_h36m, preprocess_3dhp, preprocess_humaneva)
}
"""The conversion flows by stage name (``pipelines.stage_names``): what ``default_data`` runs."""


def default_data(root: str, stage: str, refresh: bool = False) -> str:
    """The newest version of conversion ``stage`` (running it on the demo data if there is none).

    Says which version it picked and whether the code that made it differs from the stage's current code
    (``pipelines.lineage.code_identity``). With ``refresh``, reruns the stage first with the arguments that made
    the newest version: nothing is done if its code, config and inputs are unchanged, and when the rerun
    produces identical arrays every downstream version is reused (early cutoff).

    Args:
        root: The workspace root.
        stage: A conversion stage, a key of ``CONVERSIONS``.
        refresh: Rerun the newest version's call first.
    """
    convert = CONVERSIONS[stage]
    manifests = Workspace(root).manifests(stage)
    if not manifests:
        return convert(workspace=root)  # in-process when the calling flow is
    newest = manifests[-1]
    if refresh:
        print(f"{stage}: --refresh: rerunning the call that made {newest.id}")
        return convert(**{**regrouped(rerun_parameters(newest)), "workspace": root})
    report_newest(newest, stage_code_identity(stage), "Add --refresh to rerun it.")
    return newest.id


def report_newest(newest: Manifest, current: CodeIdentity, remedy: str) -> None:
    """Say which version a default picked, and whether code that differs from the current code made it."""
    changed = changed_sources(newest.code, current)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        print(f"{newest.stage}: using {newest.id}, the newest version; the code that made it differs from the "
              f"current code ({shown}). {remedy}")  # fmt: skip
    else:
        print(f"{newest.stage}: using {newest.id}, the newest version (made by the current code)")
