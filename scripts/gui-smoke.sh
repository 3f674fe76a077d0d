#!/usr/bin/env bash
# Drives the real window under Xvfb with xdotool: open an image, click the object, Enter, Ctrl+S,
# then checks that the saved annotation equals what `samlabel segment` gives for the same point;
# then File > Export > COCO (RLE masks) from the menu (no desktop file-dialog service runs under
# Xvfb) and loads the export with pycocotools. Takes screenshots on the way. Needs: xvfb xdotool
# imagemagick bc (apt), a built target/release/samlabel (the README's run command builds it), and a
# Python with pycocotools ($PYTHON, default the fixtures venv, else python3).
#
#   bash scripts/gui-smoke.sh [IMAGE] [MODEL_DIR] [OUT_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
image="${1:-tests/fixtures/images/coffee.png}"
model="${2:-tests/fixtures/model}"
out="${3:-$(mktemp -d)}"
bin=target/release/samlabel
mkdir -p "$out"
cp "$image" "$out/"
img="$out/$(basename "$image")"

export DISPLAY=:97
Xvfb "$DISPLAY" -screen 0 1400x900x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1
SAMLABEL_LOG=samlabel=debug "$bin" "$img" --model-dir "$model" --output "$out/out.json" >"$out/app.log" 2>&1 &
app=$!

# Wait for the window and for the embedding (the status bar says "ready" then; we poll the log-free
# way: give it time, the fixture model encodes in well under a second).
for _ in $(seq 50); do
    win=$(xdotool search --name 'samlabel$' 2>/dev/null | head -1 || true)
    [[ -n "$win" ]] && break
    sleep 0.2
done
[[ -n "${win:-}" ]] || { echo "no window"; exit 1; }
sleep 3
xdotool windowfocus --sync "$win"
xdotool mousemove 560 330 click 1
sleep 1.5
import -window root "$out/preview.png"
start=$(date +%s.%N)
xdotool key Return
# Autosave: no Ctrl+S yet, the annotation must reach the file within about a second (the file itself
# already exists: the opened image was listed in it).
for _ in $(seq 60); do grep -q '"segmentation"' "$out/out.json" 2>/dev/null && break; sleep 0.05; done
saved=$(date +%s.%N)
xdotool key ctrl+s
sleep 0.5
import -window root "$out/accepted.png"
[[ -f "$out/out.json" ]] || { echo "FAIL: out.json was not written"; exit 1; }
echo "autosaved $(echo "$saved - $start" | bc) s after Enter"

point=$(grep -a 'prompt point' "$out/app.log" | head -1 | sed -E 's/.*\[([0-9.]+), ([0-9.]+)\].*/\1,\2/')
"$bin" segment "$img" --model-dir "$model" --point "$point" --coco "$out/reference.json" >/dev/null
python3 - "$out/out.json" "$out/reference.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["annotations"]
b = json.load(open(sys.argv[2]))["annotations"]
assert len(a) == 1, f"expected one annotation, got {len(a)}"
same = a[0]["segmentation"] == b[0]["segmentation"]
print("GUI annotation == samlabel segment at the same point:", same, "area", a[0]["area"], b[0]["area"])
sys.exit(0 if same else 1)
PY

# File > Export > COCO (RLE masks)..., then Enter in the dialog's folder field (prefilled beside the
# dataset). Menu positions are fixed: the window sits at the screen's top-left corner.
xdotool mousemove 19 12 click 1
sleep 0.5
xdotool mousemove 40 140
sleep 0.5
xdotool mousemove 150 140
sleep 0.3
xdotool mousemove 180 140 click 1
sleep 0.7
import -window root "$out/export-dialog.png"
xdotool key Return
sleep 1
import -window root "$out/exported.png"
[[ -f "$out/export-coco/annotations.json" ]] || { echo "FAIL: the menu export wrote nothing"; exit 1; }
python="${PYTHON:-tests/fixtures/.venv/bin/python}"
[[ -x "$python" ]] || python=python3
"$python" - "$out/export-coco/annotations.json" "$out/out.json" <<'PY'
import json, sys
from pycocotools.coco import COCO
exported = COCO(sys.argv[1])
saved = json.load(open(sys.argv[2]))["annotations"]
anns = exported.loadAnns(exported.getAnnIds())
assert len(anns) == len(saved) == 1, (len(anns), len(saved))
area = int(exported.annToMask(anns[0]).sum())
print("menu export loads in pycocotools:", len(anns), "annotation, mask area", area)
sys.exit(0 if area == saved[0]["area"] else 1)
PY
echo "screenshots and logs in $out"
