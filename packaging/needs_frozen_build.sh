#!/usr/bin/env bash
# Should CI build the frozen app and run its self-test? Exit 0: yes, 1: no.
#
#   packaging/needs_frozen_build.sh [RANGE]     # RANGE: a git revision range, e.g. origin/main..HEAD
#   packaging/needs_frozen_build.sh --print-inputs-hash
#
# Yes when
#   - FORCE_FROZEN_BUILD=1, or
#   - the commits in RANGE (default: $FROZEN_BUILD_RANGE, else HEAD~1..HEAD) touch a packaging
#     input: build_installer.spec, packaging/, pyproject.toml, requirements*.txt, constraints*.txt, or
#   - the range cannot be resolved (first commit, shallow clone): building is the safe answer, or
#   - this machine has a stamp of the inputs last built under CI (written by build_linux.sh
#     when CI=true) and the inputs differ from it: catches a packaging change in an earlier
#     commit of a multi-commit submission, beyond HEAD~1..HEAD.
# The reason is printed on stderr.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 0

INPUTS=(build_installer.spec packaging pyproject.toml)
is_input() {
  case "$1" in
    build_installer.spec|pyproject.toml|packaging/*|requirements*.txt|constraints*.txt) return 0 ;;
    *) return 1 ;;
  esac
}
inputs_hash() {
  # Blob ids of the committed inputs: cheap, and independent of the working tree's state.
  git ls-tree -r HEAD -- "${INPUTS[@]}" 2>/dev/null | sha256sum | cut -d' ' -f1
}

if [ "${1:-}" = "--print-inputs-hash" ]; then
  inputs_hash
  exit 0
fi
say() { echo "needs_frozen_build: $*" >&2; }

if [ "${FORCE_FROZEN_BUILD:-0}" = 1 ]; then
  say "yes (FORCE_FROZEN_BUILD=1)"
  exit 0
fi
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  say "yes (not a git checkout: cannot tell what changed)"
  exit 0
fi

range="${1:-${FROZEN_BUILD_RANGE:-HEAD~1..HEAD}}"
if ! changed="$(git diff --name-only "$range" -- 2>/dev/null)"; then
  say "yes (cannot resolve the range $range)"
  exit 0
fi
while IFS= read -r f; do
  if [ -n "$f" ] && is_input "$f"; then
    say "yes ($f changed in $range)"
    exit 0
  fi
done <<< "$changed"

stamp="${XDG_CACHE_HOME:-$HOME/.cache}/xrayviewer-ci/frozen-build-inputs.sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$(inputs_hash)" ]; then
  say "yes (packaging inputs differ from the last frozen build on this machine, $stamp)"
  exit 0
fi
say "no (no packaging input changed in $range)"
exit 1
