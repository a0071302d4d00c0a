#!/usr/bin/env bash
# Build the Linux one-folder app from build_installer.spec, run its --self-test, and pack
# dist/XRayViewer-<version>-linux-x86_64.tar.gz. Works from a clean clone.
#
#   packaging/build_linux.sh               # Python: the active virtual environment ($VIRTUAL_ENV),
#                                          #   PyInstaller installed into it (pip install ".[build]")
#                                          #   if missing; with no venv active, creates build/venv-linux
#   packaging/build_linux.sh --no-venv     # use the `python` on PATH as it is (CI: .ci/run installs
#                                          #   ".[build]" first); fails if PyInstaller is missing
#   options: --no-selftest  --no-tarball  --python PYTHON (interpreter for a new venv, default python3)
#
# Needs: Python 3.10+ (3.11 is what CI and the release workflow use), ~6 GB free disk, and for
# the self-test Qt's runtime libraries (libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3).
# Takes ~10-15 minutes on 2 cores; the build runs under `nice` (XRAYVIEWER_BUILD_NICE, default 10).
# Outputs in dist/: XRayViewer/ (the app), the tarball, selftest-linux.txt, sizes-linux.txt,
# build-linux.txt (timings).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

use_venv=auto
selftest=1
tarball=1
base_python=python3
while [ $# -gt 0 ]; do
  case "$1" in
    --no-venv) use_venv=no ;;
    --no-selftest) selftest=0 ;;
    --no-tarball) tarball=0 ;;
    --python) base_python="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build_linux.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "build_linux: $*"; }

if [ "$(uname -s)" != "Linux" ]; then
  echo "build_linux.sh builds the Linux app; on macOS use packaging/macos/build_dmg.sh, on Windows the release workflow" >&2
  exit 2
fi

# ---- Python ---------------------------------------------------------------------------------
if [ "$use_venv" = no ]; then
  PY=python
elif [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
  log "using the active virtual environment $VIRTUAL_ENV"
else
  venv="$ROOT/build/venv-linux"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv with $base_python"
    "$base_python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  PY="$venv/bin/python"
fi
if ! "$PY" -c "import PyInstaller, xrayviewer" >/dev/null 2>&1; then
  if [ "$use_venv" = no ]; then
    echo "build_linux.sh: PyInstaller or xrayviewer is not installed for $(command -v python); run: pip install -e '.[build]'" >&2
    exit 1
  fi
  log "installing .[build] into $("$PY" -c 'import sys; print(sys.prefix)')"
  "$PY" -m pip install -q ".[build]"
fi
"$PY" - <<'EOF'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"build_linux.sh: Python {sys.version.split()[0]} is too old; XRay Viewer needs 3.10+")
EOF

VERSION="$("$PY" -c 'import sys; sys.path.insert(0, "packaging"); import spec_helpers as h; print(h.read_version())')"
ARCH="$(uname -m)"
[ "$ARCH" = x86_64 ] || log "warning: building on $ARCH; the tarball name still says x86_64 only if you are on it"
TARBALL="dist/XRayViewer-$VERSION-linux-$ARCH.tar.gz"
APP_DIR="dist/XRayViewer"
log "XRay Viewer $VERSION, $("$PY" -c 'import PyInstaller, sys; print("PyInstaller", PyInstaller.__version__, "on Python", sys.version.split()[0])')"

# ---- build ----------------------------------------------------------------------------------
rm -rf "$APP_DIR" build/pyinstaller
mkdir -p dist
build_start=$(date +%s)
nice -n "${XRAYVIEWER_BUILD_NICE:-10}" "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller build_installer.spec
build_seconds=$(( $(date +%s) - build_start ))
log "PyInstaller finished in ${build_seconds} s"

install -m 0755 packaging/linux/install-desktop-entry.sh "$APP_DIR/install-desktop-entry.sh"

# ---- size report ----------------------------------------------------------------------------
{
  echo "XRay Viewer $VERSION, Linux $ARCH bundle: $(du -sh "$APP_DIR" | cut -f1) in $(find "$APP_DIR" -type f | wc -l) files"
  echo "largest top-level entries of $APP_DIR/_internal (du -sh):"
  # awk, not head: head exits early, sort gets SIGPIPE, and pipefail + set -e ended the build (141).
  du -sh "$APP_DIR"/_internal/* 2>/dev/null | sort -rh | awk 'NR <= 30'
} > dist/sizes-linux.txt
cat dist/sizes-linux.txt

# ---- self-test ------------------------------------------------------------------------------
selftest_seconds=0
if [ "$selftest" = 1 ]; then
  log "running the frozen app's self-test"
  st_home="$ROOT/build/selftest-home"
  rm -rf "$st_home"
  st_start=$(date +%s)
  set +e
  XRAYVIEWER_HOME="$st_home" timeout 900 "$APP_DIR/XRayViewer" --self-test --report dist/selftest-linux.txt
  st_rc=$?
  set -e
  selftest_seconds=$(( $(date +%s) - st_start ))
  if [ "$st_rc" -ne 0 ]; then
    echo "build_linux.sh: the frozen app's self-test failed (exit $st_rc); report: dist/selftest-linux.txt" >&2
    exit 1
  fi
fi

# ---- tarball --------------------------------------------------------------------------------
pack_seconds=0
if [ "$tarball" = 1 ]; then
  pack_start=$(date +%s)
  rm -f "$TARBALL"
  if command -v pigz >/dev/null; then
    tar -C dist -cf - XRayViewer | pigz -6 > "$TARBALL"
  else
    tar -C dist -czf "$TARBALL" XRayViewer
  fi
  pack_seconds=$(( $(date +%s) - pack_start ))
  log "packed $TARBALL ($(du -h "$TARBALL" | cut -f1)) in ${pack_seconds} s"
fi

{
  echo "version=$VERSION"
  echo "build_seconds=$build_seconds"
  echo "selftest_seconds=$selftest_seconds"
  echo "pack_seconds=$pack_seconds"
  echo "bundle_bytes=$(du -sb "$APP_DIR" | cut -f1)"
  [ "$tarball" = 1 ] && echo "tarball_bytes=$(stat -c %s "$TARBALL")"
} > dist/build-linux.txt

# Remember which packaging inputs this machine last built and self-tested under CI, so that
# packaging/needs_frozen_build.sh also catches changes in earlier commits of a submission.
if [ "${CI:-}" = true ] && [ "$selftest" = 1 ]; then
  stamp_dir="${XDG_CACHE_HOME:-$HOME/.cache}/xrayviewer-ci"
  mkdir -p "$stamp_dir"
  bash packaging/needs_frozen_build.sh --print-inputs-hash > "$stamp_dir/frozen-build-inputs.sha256" || true
fi
log "done: build ${build_seconds} s, self-test ${selftest_seconds} s, pack ${pack_seconds} s"
