"""mocaplift's command line and flow entry point.

python flows.py --help                      every subcommand
python flows.py versions                    what the workspace holds
python flows.py show preprocess-amass       a version's manifest and lineage
"""

from pipelines.cli import main

if __name__ == "__main__":
    main()
