"""mocaplift's command line and flow entry point.

python flows.py --help                      every subcommand
python flows.py versions                    what the workspace holds
python flows.py show preprocess-amass       a version's manifest and lineage

Prefect's deployments load the flows from ``pipelines/prefect_entry.py`` (``prefect.yaml``), so starting a
command here never imports Prefect.
"""

from pipelines.cli import main

if __name__ == "__main__":
    main()
