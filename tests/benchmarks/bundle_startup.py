"""Size and start-up time of the built bundle (build it first with packaging/build.sh).

    python tests/benchmarks/bundle_startup.py [dist/hindsight/hindsight]

Prints the bundle's size on disk, then for `--version` and `--self-test` the wall time from
process start to exit: cold (page cache dropped first, when this runs as root on Linux) and
warm (median of five). The self-test time covers opening the window offscreen on a new
database, receiving one report over HTTP, showing it and shutting down.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WARM_RUNS = 5


def folder_size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def timed(executable: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    result = subprocess.run([str(executable), *args], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{executable} {' '.join(args)} failed: {result.stderr}")
    return elapsed, result.stdout.strip()


def main() -> int:
    executable = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "dist/hindsight/hindsight")
    if not executable.is_file():
        sys.exit(f"no bundle at {executable}: run packaging/build.sh first")
    size = folder_size(executable.parent)
    files = sum(1 for _ in executable.parent.rglob("*"))
    print(f"bundle: {executable.parent}  {size / 1e6:.1f} MB in {files} files")
    for args in (("--version",), ("--self-test",)):
        label = " ".join(args)
        if drop_page_cache():
            cold, output = timed(executable, *args)
            print(f"{label:12} cold: {cold * 1000:6.0f} ms   ({output.splitlines()[-1]})")
        else:
            print(f"{label:12} cold: not measured (dropping the page cache needs root)")
        warm = [timed(executable, *args)[0] for _ in range(WARM_RUNS)]
        print(f"{label:12} warm: {statistics.median(warm) * 1000:6.0f} ms median of {WARM_RUNS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
