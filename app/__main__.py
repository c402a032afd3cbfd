"""`python -m app` and the `hindsight` command."""

from __future__ import annotations

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # A frozen build (PyInstaller) runs this file for `serve`'s writer process too.
    multiprocessing.freeze_support()
    sys.exit(main())
