#!/usr/bin/env bash
# Build the Hindsight desktop bundle with PyInstaller (packaging/hindsight.spec).
#
#   pip install '.[packaging]' && packaging/build.sh
#
# Output in $DIST_DIR (default dist/): hindsight/ on Linux, Hindsight.app on macOS,
# Hindsight/Hindsight.exe on Windows (run it from Git Bash, or run the pyinstaller line by
# hand). PYTHON picks the interpreter (default: python3, or python on Windows);
# HINDSIGHT_DEBUG_CONSOLE=1 builds a Windows/macOS executable that keeps a console.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$(command -v python3 || command -v python)}"
dist="${DIST_DIR:-$root/dist}"
work="${WORK_DIR:-$root/build/pyinstaller}"

"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work" "$root/packaging/hindsight.spec"

case "$(uname -s)" in
    Darwin) bundle="$dist/Hindsight.app"; executable="$bundle/Contents/MacOS/Hindsight" ;;
    MINGW* | MSYS* | CYGWIN*) bundle="$dist/Hindsight"; executable="$bundle/Hindsight.exe" ;;
    *) bundle="$dist/hindsight"; executable="$bundle/hindsight" ;;
esac
echo "Built $bundle ($(du -sh "$bundle" | cut -f1))"
echo "Try it: $executable --self-test"
