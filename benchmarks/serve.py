"""Serve one of the two apps with waitress on a loopback port (a child of benchmarks.run).

    python -m benchmarks.serve formloom|baseline URL PORT WORKDIR
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from waitress import serve

from . import env


def main() -> None:
    which, url, port, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    app = env.formloom_app(url, workdir) if which == "formloom" else env.baseline_app(url)
    logging.getLogger("waitress").setLevel(logging.ERROR)
    print("ready", flush=True)
    serve(app, host="127.0.0.1", port=port, threads=4, connection_limit=100, ident=None, _quiet=True)


if __name__ == "__main__":
    main()
