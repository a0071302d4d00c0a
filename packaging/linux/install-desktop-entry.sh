#!/usr/bin/env bash
# Add XRay Viewer to your desktop's application menu and "Open with" lists (this user only).
# Run it from the unpacked XRayViewer folder; run it again after moving the folder.
#   ./install-desktop-entry.sh            # install
#   ./install-desktop-entry.sh --remove   # remove the menu entry (your models and logs stay)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
DESKTOP="$DATA/applications/xrayviewer.desktop"
ICON="$DATA/icons/hicolor/512x512/apps/xrayviewer.png"

if [ "${1:-}" = "--remove" ]; then
  rm -f "$DESKTOP" "$ICON"
  echo "removed $DESKTOP"
  exit 0
fi

mkdir -p "$(dirname "$DESKTOP")" "$(dirname "$ICON")"
cp "$HERE/_internal/xrayviewer/resources/icon.png" "$ICON"
cat > "$DESKTOP" <<EOF
[Desktop Entry]
Type=Application
Name=XRay Viewer
Comment=Review chest X-rays with a pneumonia second-reader model
Exec="$HERE/XRayViewer" %F
Icon=xrayviewer
Terminal=false
Categories=Graphics;MedicalSoftware;Science;
MimeType=image/jpeg;image/png;image/tiff;application/dicom;
EOF
command -v update-desktop-database >/dev/null && update-desktop-database "$(dirname "$DESKTOP")" || true
echo "installed $DESKTOP"
