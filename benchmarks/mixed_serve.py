"""The servers `api_mixed_16_clients` puts under load (children of benchmarks.api_mixed).

    python -m benchmarks.mixed_serve formloom|baseline THREADS PORT

Both apps are served by `formloom.serving.serve` (waitress in the same graceful loop as
`formloom run`), with THREADS request threads. The settings come from the environment
(DATABASE_URL, SECRET_KEY, FORMLOOM_INSTANCE), as in production. `formloom()` and
`baseline()` are the WSGI factories gunicorn is pointed at.
"""
from __future__ import annotations

import logging
import os
import sys


def formloom():
    """Formloom's own app factory, configured from the environment only."""
    from formloom.app import create_app
    return create_app()


def baseline():
    from . import env
    return env.baseline_app(os.environ["DATABASE_URL"])


def main() -> None:
    which, threads, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from formloom import serving
    app = formloom() if which == "formloom" else baseline()
    logging.getLogger("waitress").setLevel(logging.ERROR)
    serving.serve(app, host="127.0.0.1", port=port, threads=threads)


if __name__ == "__main__":
    main()
