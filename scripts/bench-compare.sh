#!/usr/bin/env bash
# Runs `samlabel bench` and the Python pipeline (benches/python_pipeline.py) on the same model and
# image, one after the other on this machine, and prints the ratios issue 5 asks for.
#
#   bash scripts/bench-compare.sh [MODEL_DIR] [IMAGE] [CLICKS] [REPEATS]
# Defaults: target/bench-model-vit-b (make it with tests/fixtures/make_fixtures.py --vit-b) and
# target/bench-4000x2667.jpg (scripts/make-bench-image.py). Needs the fixtures venv (tests/fixtures/.venv)
# with onnxruntime, opencv-python-headless and numpy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
model="${1:-target/bench-model-vit-b}"
image="${2:-target/bench-4000x2667.jpg}"
clicks="${3:-50}"
repeats="${4:-3}"
python="${PYTHON:-tests/fixtures/.venv/bin/python}"

cargo build --release --quiet
rust=$(target/release/samlabel bench --model-dir "$model" "$image" --clicks "$clicks" --repeats "$repeats")
py=$("$python" benches/python_pipeline.py --model-dir "$model" "$image" --clicks "$clicks" --repeats "$repeats")
echo "rust:   $rust"
echo "python: $py"
"$python" - "$rust" "$py" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
m = lambda d, k: d[k]["p50"]
rows = [
    ("click total / decoder alone (rust)", m(r, "click_total_ms") / m(r, "decoder_ms"), 1.15),
    ("click total rust / python", m(r, "click_total_ms") / m(p, "click_total_ms"), 0.7),
    ("preprocess rust / python (Pillow-exact vs cv2)", m(r, "preprocess_ms") / m(p, "preprocess_ms"), 1.0),
    ("read+decode rust / python", m(r, "read_decode_ms") / m(p, "read_decode_ms"), 1.2),
    ("encoder rust / python", m(r, "encoder_ms") / m(p, "encoder_ms"), None),
]
for name, ratio, goal in rows:
    verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  over the goal {goal}")
    print(f"{name:<36} {ratio:6.2f}{verdict}")
print(f"{'disk cache read / encoder (rust)':<36} {m(r, 'disk_cache_read_ms') / m(r, 'encoder_ms'):6.4f}{'  ok' if m(r, 'disk_cache_read_ms') < 0.05 * m(r, 'encoder_ms') else '  over the goal 0.05'}")
print(f"peak RSS rust {r['peak_rss_mb']} MB, python {p['peak_rss_mb']} MB")
print(f"rust RSS after 10 clicks {r['rss_after_10_clicks_mb']} MB, after {r['clicks']} clicks {r['rss_after_clicks_mb']} MB; "
      f"per click {r['click_rust_allocations_per_click']:.0f} Rust allocations, the largest {r['click_largest_rust_allocation_kb']} KB")
PY
