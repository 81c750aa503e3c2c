"""The station console: a Vietnamese web page (Django) over the station service layer.

The YAML files stay the source of truth: views call loa.station, which reads and writes
them with the same validation as the CLI. Django's own tables (accounts, sessions, the
audit log) live in data_dir()/console.sqlite3 unless LOA_CONSOLE_DB names another.
"""

from __future__ import annotations

import os
from pathlib import Path

SETTINGS_MODULE = "loa.console.settings"


def setup(schedule: str | Path | None = None) -> None:
    """Configure Django for this process (once) and point it at a station's schedule."""
    if schedule is not None:
        os.environ["LOA_SCHEDULE"] = str(Path(schedule).resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django

    django.setup()


def migrate(verbosity: int = 0) -> None:
    """Create or update the console's tables (safe to run at every start)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)
