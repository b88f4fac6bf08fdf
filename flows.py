"""mocaplift's command line and flow entry point.

python flows.py --help                      every subcommand
python flows.py versions                    what the workspace holds
python flows.py show preprocess-amass       a version's manifest and lineage
"""

from pipelines.cli import main


def __getattr__(name: str):  # noqa: ANN202 - a prefect.Flow, and Prefect is imported only when Prefect asks
    """Prefect's entry points (``prefect.yaml``, ``python flows.py serve``): ``flows.py:preprocess_amass``.

    Prefect's loader wants a ``prefect.Flow`` attribute here, and making one imports Prefect (~1.4 s); as
    plain attributes they would cost every command that, though a command runs its flow in-process without
    Prefect (``pipelines.orchestration``). So each is made on first access, from the flow object of that
    name in ``pipelines.serve.FLOWS`` (the same objects the commands import).
    """
    from pipelines.serve import prefect_flow

    return prefect_flow(name)


if __name__ == "__main__":
    main()
