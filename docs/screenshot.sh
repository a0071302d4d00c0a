#!/bin/bash
# Retakes docs/screenshot.png, the README's picture, from a real window: Xvfb at 1440 x 900
# with openbox as window manager (offscreen grabs miss the title bar, layout and dialogs).
# Needs: apt-get install -y xvfb openbox xdotool imagemagick libxcb-cursor0, and the package
# installed. Data: $XRAYVIEWER_DATA, else ../shared/data beside the repository.
# Usage: bash docs/screenshot.sh [out.png]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${XRAYVIEWER_DATA:-$repo/../shared/data}
out=${1:-$repo/docs/screenshot.png}
work=$(mktemp -d)
app= wm= xvfb=
trap 'kill $app $wm $xvfb 2>/dev/null || true; rm -rf "$work"' EXIT

# The films shown: two full-resolution pneumonias, a normal, and an adult DICOM (which the
# model flags as out of its population).
mkdir "$work/films"
cp "$data/fullres/PNEUMONIA/person1170_virus_1969.jpeg" "$repo/resources/samples/person992_bacteria_2919.jpeg" \
   "$repo/resources/samples/IM-0199-0001.jpeg" "$work/films/"
cp "$data/dicom/chest_cr_monochrome2.dcm" "$work/films/adult_chest_cr.dcm"

export DISPLAY=:97 XRAYVIEWER_HOME="$work/home"
Xvfb :97 -screen 0 1440x900x24 >/dev/null 2>&1 & xvfb=$!
sleep 1
openbox >/dev/null 2>&1 & wm=$!
sleep 1
python -m xrayviewer.gui.app --no-single-instance "$work/films" >"$work/app.log" 2>&1 & app=$!
# Wait for the window, then for scoring to finish (a few seconds on a 2-core CPU).
for _ in $(seq 60); do xdotool search --name "XRay Viewer" >/dev/null 2>&1 && break; sleep 0.5; done
sleep 8
import -window root "$out"
echo "wrote $out"
