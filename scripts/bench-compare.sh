#!/usr/bin/env bash
# Runs `samlabel bench` and the Python pipeline on the same model, image and clicks, one after the
# other on this machine, and prints the ratios issues 5 and 13 ask for. The Python side follows the
# model's family: a decoder.onnx with an input `high_res_feats_0` (SAM 2 / 2.1, samexporter's layout)
# gets benches/python_sam2_pipeline.py (X-AnyLabeling's SAM 2 pipeline, bench's own click positions),
# any other benches/python_pipeline.py (the SAM 1 pipeline of the Python annotators).
#
#   bash scripts/bench-compare.sh [MODEL_DIR] [IMAGE] [CLICKS] [REPEATS] [SEED]
# Defaults: target/bench-model-vit-b (make it with tests/fixtures/make_fixtures.py --vit-b; SAM 2.1:
# tests/fixtures/make_sam2_fixtures.py --full tiny|base_plus makes target/bench-model-sam2.1-tiny and
# target/bench-model-sam2.1-base-plus), target/bench-4000x2667.jpg (scripts/make-bench-image.py), seed 1.
# Needs the fixtures venv (tests/fixtures/.venv) with onnx, onnxruntime, opencv-python-headless and numpy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model="${1:-target/bench-model-vit-b}"
image="${2:-target/bench-4000x2667.jpg}"
clicks="${3:-50}"
repeats="${4:-3}"
seed="${5:-1}"
python="${PYTHON:-tests/fixtures/.venv/bin/python}"

family=$("$python" -c 'import sys, onnx; g = onnx.load(sys.argv[1], load_external_data=False).graph; print("sam2" if any(i.name == "high_res_feats_0" for i in g.input) else "sam1")' "$model/decoder.onnx")
if [ "$family" = sam2 ]; then
    pipeline=benches/python_sam2_pipeline.py
else
    pipeline=benches/python_pipeline.py
fi
echo "model family: $family; python side: $pipeline"

cargo build --release --quiet
# EVERYTHING=N also compares segment-everything at N points per side with every filter off (each
# candidate through every stage) against the official generator in PyTorch on the same random-weight
# model (benches/python_everything.py; known bench models only; minutes at N=32).
everything="${EVERYTHING:-0}"
rust=$(target/release/samlabel bench --model-dir "$model" "$image" --clicks "$clicks" --repeats "$repeats" --seed "$seed" --everything "$everything")
py=$("$python" "$pipeline" --model-dir "$model" "$image" --clicks "$clicks" --repeats "$repeats" --seed "$seed")
echo "rust:   $rust"
echo "python: $py"
if [ "$everything" != 0 ]; then
    variant=tiny
    case "$model" in *base-plus*|*base_plus*) variant=base_plus ;; esac
    py_everything=$("$python" benches/python_everything.py --family "$family" --sam2-variant "$variant" \
        --image "$image" --model-dir "$model" --points-per-side "$everything" \
        --pred-iou-thresh 0 --stability-score-thresh 0 --points-per-batch 8)
    echo "python everything: $py_everything"
    "$python" - "$rust" "$py_everything" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ratio = r["everything_ms"] / p["rest_ms"]
verdict = "  ok" if ratio <= 0.5 else "  over the goal 0.5"
print(f"everything rust / python (encode excluded, {r['everything_points_per_side']}^2 points, filters off) "
      f"{r['everything_ms'] / 1e3:.1f} s / {p['rest_ms'] / 1e3:.1f} s = {ratio:.2f}{verdict}")
PY
fi
"$python" - "$rust" "$py" "$family" <<'PY'
import json, sys
r, p, family = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
m = lambda d, k: d[k]["p50"]
sam2 = family == "sam2"
rows = [
    ("click total / decoder alone (rust)", m(r, "click_total_ms") / m(r, "decoder_ms"), 1.15),
    ("click total rust / python", m(r, "click_total_ms") / m(p, "click_total_ms"), 0.7),
    ("preprocess rust / python (torch-exact vs cv2)" if sam2 else
     "preprocess rust / python (Pillow-exact vs cv2)", m(r, "preprocess_ms") / m(p, "preprocess_ms"), 1.0),
    ("read+decode rust / python", m(r, "read_decode_ms") / m(p, "read_decode_ms"), 1.2),
    ("encoder rust / python", m(r, "encoder_ms") / m(p, "encoder_ms"), 1.0 if sam2 else None),
]
for name, ratio, goal in rows:
    verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  over the goal {goal}")
    print(f"{name:<36} {ratio:6.2f}{verdict}")
print(f"{'disk cache read / encoder (rust)':<36} {m(r, 'disk_cache_read_ms') / m(r, 'encoder_ms'):6.4f}{'  ok' if m(r, 'disk_cache_read_ms') < 0.05 * m(r, 'encoder_ms') else '  over the goal 0.05'}")
print(f"peak RSS rust {r['peak_rss_mb']} MB, python {p['peak_rss_mb']} MB")
print(f"rust RSS after 10 clicks {r['rss_after_10_clicks_mb']} MB, after {r['clicks']} clicks {r['rss_after_clicks_mb']} MB; "
      f"per click {r['click_rust_allocations_per_click']:.0f} Rust allocations, the largest {r['click_largest_rust_allocation_kb']} KB")
PY
