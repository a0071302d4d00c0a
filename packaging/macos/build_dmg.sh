#!/usr/bin/env bash
# Pack "dist/XRay Viewer.app" (built by `pyinstaller build_installer.spec` on an Apple-silicon
# Mac) into dist/XRayViewer-<version>-macos-arm64.dmg with an Applications symlink.
#
#   packaging/macos/build_dmg.sh [--app "dist/XRay Viewer.app"] [--version X.Y.Z]
#
# Signing and notarisation happen only when their secrets are in the environment; without
# them the .app keeps PyInstaller's ad-hoc signature, the DMG is unsigned, and a message says
# so (fine for CI and testing; Gatekeeper then asks users to confirm, see README "Install").
#
#   MACOS_SIGN_IDENTITY           "Developer ID Application: Name (TEAMID)" - enables signing
#   MACOS_CERTIFICATE_P12_BASE64  optional: base64 .p12 with that identity, imported into a
#   MACOS_CERTIFICATE_PASSWORD      temporary keychain (CI); otherwise the login keychain is used
#   Notarisation (needs signing), either an App Store Connect API key:
#   APPLE_API_KEY_ID, APPLE_API_ISSUER_ID, APPLE_API_KEY_P8_BASE64
#   or an Apple ID with an app-specific password:
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
APP="dist/XRay Viewer.app"
VERSION=""
while [ $# -gt 0 ]; do
  case "$1" in
    --app) APP="$2"; shift ;;
    --version) VERSION="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build_dmg.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "build_dmg: $*"; }

[ "$(uname -s)" = Darwin ] || { echo "build_dmg.sh runs on macOS (hdiutil, codesign)" >&2; exit 2; }
[ -d "$APP" ] || { echo "build_dmg.sh: $APP not found; run: pyinstaller --noconfirm build_installer.spec" >&2; exit 1; }
if [ -z "$VERSION" ]; then
  VERSION="$(python3 -c 'import sys; sys.path.insert(0, "packaging"); import spec_helpers as h; print(h.read_version())')"
fi
EXE="$APP/Contents/MacOS/XRayViewer"
if ! lipo -archs "$EXE" | grep -qw arm64; then
  echo "build_dmg.sh: $EXE is not arm64 ($(lipo -archs "$EXE")); build on an Apple-silicon Mac" >&2
  exit 1
fi
DMG="dist/XRayViewer-$VERSION-macos-arm64.dmg"
ENTITLEMENTS="packaging/macos/entitlements.plist"
WORK="$(mktemp -d)"
KEYCHAIN=""
cleanup() {
  [ -n "$KEYCHAIN" ] && security delete-keychain "$KEYCHAIN" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- code signing (optional) ----------------------------------------------------------------
SIGN=0
if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  SIGN=1
  if [ -n "${MACOS_CERTIFICATE_P12_BASE64:-}" ]; then
    KEYCHAIN="$WORK/signing.keychain-db"
    kc_pass="$(uuidgen)"
    security create-keychain -p "$kc_pass" "$KEYCHAIN"
    security set-keychain-settings -lut 3600 "$KEYCHAIN"
    security unlock-keychain -p "$kc_pass" "$KEYCHAIN"
    echo "$MACOS_CERTIFICATE_P12_BASE64" | base64 --decode > "$WORK/cert.p12"
    security import "$WORK/cert.p12" -k "$KEYCHAIN" -P "${MACOS_CERTIFICATE_PASSWORD:-}" -T /usr/bin/codesign
    security set-key-partition-list -S apple-tool:,apple: -s -k "$kc_pass" "$KEYCHAIN" >/dev/null
    # shellcheck disable=SC2046
    security list-keychains -d user -s "$KEYCHAIN" $(security list-keychains -d user | tr -d '"')
  fi
  log "signing with '$MACOS_SIGN_IDENTITY' (hardened runtime, $ENTITLEMENTS)"
  sign() {
    codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" \
      --sign "$MACOS_SIGN_IDENTITY" ${KEYCHAIN:+--keychain "$KEYCHAIN"} "$@"
  }
  # Inside out: every Mach-O file (dylibs, .so extensions, executables), then framework
  # bundles (deepest first), then the app. No --deep: it signs in the wrong order and skips
  # files in Resources.
  while IFS= read -r -d '' f; do
    if file -b "$f" | grep -q "Mach-O"; then sign "$f"; fi
  done < <(find "$APP/Contents" -type f ! -path "$EXE" -print0)
  while IFS= read -r fw; do
    sign "$fw"
  done < <(find "$APP/Contents" -type d -name "*.framework" | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
  sign "$EXE"
  sign "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  log "MACOS_SIGN_IDENTITY not set: skipping code signing and notarisation (the app keeps PyInstaller's ad-hoc signature)"
fi

notary_args=()
if [ "$SIGN" = 1 ]; then
  if [ -n "${APPLE_API_KEY_ID:-}" ] && [ -n "${APPLE_API_ISSUER_ID:-}" ] && [ -n "${APPLE_API_KEY_P8_BASE64:-}" ]; then
    echo "$APPLE_API_KEY_P8_BASE64" | base64 --decode > "$WORK/AuthKey.p8"
    notary_args=(--key "$WORK/AuthKey.p8" --key-id "$APPLE_API_KEY_ID" --issuer "$APPLE_API_ISSUER_ID")
  elif [ -n "${APPLE_ID:-}" ] && [ -n "${APPLE_TEAM_ID:-}" ] && [ -n "${APPLE_APP_PASSWORD:-}" ]; then
    notary_args=(--apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" --password "$APPLE_APP_PASSWORD")
  else
    log "no notarisation credentials (APPLE_API_KEY_* or APPLE_ID/APPLE_TEAM_ID/APPLE_APP_PASSWORD): skipping notarisation"
  fi
fi
notarize() {  # notarize FILE: submit, wait, fail on rejection (the log says why)
  log "notarising $1 (xcrun notarytool submit --wait)"
  out="$(xcrun notarytool submit "$1" "${notary_args[@]}" --wait --output-format json)"
  echo "$out"
  status="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))')"
  if [ "$status" != "Accepted" ]; then
    id="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("id",""))')"
    [ -n "$id" ] && xcrun notarytool log "$id" "${notary_args[@]}" || true
    echo "build_dmg.sh: notarisation of $1 ended with status '$status'" >&2
    exit 1
  fi
}

# Notarise and staple the app itself first, so that a copy dragged out of the DMG passes
# Gatekeeper offline too.
if [ ${#notary_args[@]} -gt 0 ]; then
  ditto -c -k --keepParent "$APP" "$WORK/app.zip"
  notarize "$WORK/app.zip"
  xcrun stapler staple "$APP"
fi

# ---- the DMG --------------------------------------------------------------------------------
STAGE="$WORK/dmg"
mkdir -p "$STAGE"
ditto "$APP" "$STAGE/$(basename "$APP")"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
log "creating $DMG"
hdiutil create -volname "XRay Viewer $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO \
  -imagekey zlib-level=9 -ov "$DMG"
if [ "$SIGN" = 1 ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" ${KEYCHAIN:+--keychain "$KEYCHAIN"} "$DMG"
fi
if [ ${#notary_args[@]} -gt 0 ]; then
  notarize "$DMG"
  xcrun stapler staple "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose "$DMG" || true
fi
hdiutil verify "$DMG"
log "done: $DMG ($(du -h "$DMG" | cut -f1))"
