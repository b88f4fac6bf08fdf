"""mocaplift's command line and flow entry point.

python flows.py --help                      every subcommand
python flows.py versions                    what the workspace holds
python flows.py show preprocess-amass       a version's manifest and lineage
"""

from pipelines.cli import main


def __getattr__(name: str):  # noqa: ANN202 - a prefect.Flow, and Prefect is imported only when Prefect asks
    """Prefect's entry points (``prefect.yaml``, ``python flows.py serve``): ``flows.py:preprocess_amass``.

    Each is that flow as a ``prefect.Flow``, made on first access, so the command line never imports Prefect
    for nothing (``pipelines.orchestration``).
    """
    from pipelines.serve import prefect_flow

    return prefect_flow(name)


if __name__ == "__main__":
    main()
