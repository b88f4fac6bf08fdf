"""How a ``python flows.py`` command talks to Prefect when the user has not said: the temporary local API.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server (a uvicorn subprocess with a SQLite
database under ``~/.prefect``) for the command and stops it at exit. Prefect waits 20 s for it by default,
which a loaded machine misses: with both cores busy, ``preprocess-amass`` failed with "Timed out while
attempting to connect to ephemeral Prefect API server" (issue #10). The defaults below apply only where the
user's environment says nothing; a user who runs a Prefect server sets ``PREFECT_API_URL`` and none of this
matters (``docs/operations.md``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

EPHEMERAL_STARTUP_TIMEOUT_S = 600
"""Seconds to wait for the temporary API server. Measured start-up: 7-20 s on a quiet 2-core machine, 40-115 s
with 8 busy processes on it; 10 minutes is far beyond any healthy start and still ends a stuck one."""

PREFECT_DEFAULTS: Mapping[str, str] = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(EPHEMERAL_STARTUP_TIMEOUT_S),
    # The temporary server otherwise tries to send usage telemetry, which fails (and logs) offline.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
"""Prefect settings (environment variables) a command applies unless the environment already sets them."""


def apply_prefect_defaults(environment: MutableMapping[str, str] = os.environ) -> None:
    """Set each of ``PREFECT_DEFAULTS`` the environment does not set; call before Prefect is imported."""
    for name, value in PREFECT_DEFAULTS.items():
        environment.setdefault(name, value)
