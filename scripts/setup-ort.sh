#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that samlabel loads at run time into .ort/lib of this
# checkout (where samlabel looks for it), from the official wheel on PyPI.
#
#   bash scripts/setup-ort.sh          # CPU build (package onnxruntime)
#   bash scripts/setup-ort.sh --gpu    # CUDA build (package onnxruntime-gpu; needs CUDA and cuDNN libraries)
#
# Needs python3 with pip. Nothing is installed into Python itself: the wheel is only unpacked.
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.31.1}"
package="onnxruntime"
if [[ "${1:-}" == "--gpu" ]]; then
    package="onnxruntime-gpu"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.ort/lib"
stamp="$dest/.installed"
want="$package==$ORT_VERSION"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "ONNX Runtime ($want) is already in $dest"
    exit 0
fi

python="$(command -v python3 || command -v python || true)"
if [[ -z "$python" ]]; then
    echo "error: python3 with pip is needed to fetch $want from PyPI" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$want"
wheel="$(ls "$tmp"/*.whl)"

rm -rf "$dest"
mkdir -p "$dest"
# The wheel holds onnxruntime/capi/libonnxruntime.so.X.Y.Z (+ provider libraries for the GPU build).
"$python" - "$wheel" "$dest" <<'PY'
import os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
names = []
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        base = os.path.basename(info.filename)
        if not info.filename.startswith("onnxruntime/capi/"):
            continue
        if "pybind" not in base and base.startswith(("libonnxruntime", "onnxruntime")) and (".so" in base or base.endswith((".dylib", ".dll"))):
            with z.open(info) as src, open(os.path.join(dest, base), "wb") as out:
                out.write(src.read())
            names.append(base)
if not any(n.startswith(("libonnxruntime.so", "libonnxruntime.", "onnxruntime.dll")) for n in names):
    sys.exit("error: the wheel holds no ONNX Runtime library")
print("installed:", ", ".join(sorted(names)))
PY
echo "$want" > "$stamp"
echo "ONNX Runtime $ORT_VERSION ($package) is in $dest"
