"""`python -m soak.worker LEASE_SECONDS`: `formloom worker` with a short lease and
small batches, so the soak can kill it mid-batch and see the next one take over."""
from __future__ import annotations

import logging
import sys

from formloom.automation import Settings, run_forever
from formloom.config import settings_from_env
from formloom.store.apps import AppCatalog
from formloom.store.db import Database


def main() -> None:
    lease = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    logging.basicConfig(level=logging.WARNING)
    db = Database(settings_from_env()["DATABASE_URL"])
    settings = Settings.from_mapping(settings_from_env()).but(lease_seconds=lease, batch_size=10,
                                                              poll_interval=0.2)
    try:
        run_forever(db, AppCatalog(db), settings)
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
