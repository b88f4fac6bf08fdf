"""mocaplift's command line and flow entry point.

python flows.py --help                      every subcommand
python flows.py versions                    what the workspace holds
python flows.py show preprocess-amass       a version's manifest and lineage
"""

import os

# Prefect's temporary server otherwise tries to send usage telemetry, which fails (and logs) offline.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from pipelines.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
