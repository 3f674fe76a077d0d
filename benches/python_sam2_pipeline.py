#!/usr/bin/env python3
"""Benchmark: the pipeline X-AnyLabeling runs for SAM 2 / SAM 2.1 ONNX models (OpenCV + NumPy +
onnxruntime), stage by stage, to compare samlabel against.

    tests/fixtures/.venv/bin/python benches/python_sam2_pipeline.py --model-dir DIR IMAGE \\
        [--clicks N] [--repeats R] [--threads T] [--seed S]

DIR holds samexporter's SAM 2 layout: encoder.onnx (input `image` [1,3,1024,1024] -> outputs
`high_res_feats_0`, `high_res_feats_1`, `image_embed`) and decoder.onnx (inputs image_embed,
high_res_feats_0, high_res_feats_1, point_coords [L,N,2], point_labels [L,N], mask_input
[L,1,256,256], has_mask_input [L] -> `masks` [L,K,256,256] low-res logits, `iou_predictions`
[L,K]), e.g. from `tests/fixtures/.venv/bin/python tests/fixtures/make_sam2_fixtures.py --full tiny`
(target/bench-model-sam2.1-tiny). Needs opencv-python-headless.

What X-AnyLabeling does (anylabeling/services/auto_labeling/__base__/sam2.py and
segment_anything_2.py), reproduced here stage by stage (written anew, not copied):
  read_decode_ms  cv2.imread + cvtColor BGR->RGB (X-AnyLabeling converts its QImage to an RGB
                  array; the same decoder as benches/python_pipeline.py)             (R times)
  preprocess_ms   cv2.resize(rgb, (1024, 1024)) with the default INTER_LINEAR: stretched to the
                  square, no aspect ratio, no padding, no antialiasing; then
                  (x / 255.0 - mean) / std in float64 with the ImageNet mean / std in 0..1
                  units, transpose HWC -> CHW, add the batch axis, astype(float32). The
                  result is not C-contiguous (astype keeps the transposed layout), so
                  onnxruntime copies it to a contiguous buffer inside run(): that copy is in
                  encoder_ms, as it is in X-AnyLabeling                              (R times)
  encoder_ms      encoder session.run(all outputs)                                   (R times)
  decoder_ms      decoder session.run for one positive point: point_coords [1,1,2] scaled by
                  1024 / w and 1024 / h (the stretch), point_labels [[1]], no padding point (the
                  samexporter graph appends the (0,0) label -1 point itself), mask_input
                  zeros [1,1,256,256], has_mask_input [0]                           (N clicks)
  click_total_ms  one click from the prompt: building the inputs as X-AnyLabeling does
                  (np.array of the marks, float64 scaling, astype float32), decoder_ms, then its
                  postprocess up to the full-size binary mask: the best candidate by argmax of
                  iou_predictions over all K outputs the decoder gives, cv2.resize of its
                  256x256 logits straight to (w, h) (INTER_LINEAR), np.array([[mask]]) (a
                  copy), then masks[masks > 0] = 255, masks[masks <= 0] = 0, astype(uint8).
                  The contour / polygon step that follows in X-AnyLabeling is not timed
                  (samlabel's bench has none either)                                 (N clicks)
Click positions are those of `samlabel bench` with the same --seed (default 1, as bench): its
SplitMix64, x = unit() * w then y = unit() * h in float32, one positive point per click.
Stats are p50/p95 over the repeats or clicks (numpy percentiles, linear interpolation). No
warm-up runs: the first encoder run and first click are included, as a user sees them. Session
creation times go to stderr only. One JSON object is printed on stdout, with the keys of
benches/python_pipeline.py.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np

# The stages both Python pipelines share: the same reader, statistics and session options.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_pipeline import read_rgb, session, stats  # noqa: E402

MASK = (1 << 64) - 1


class SplitMix64:
    """src/cli/bench.rs's click generator, bit for bit (u64 wrapping arithmetic, f32 result)."""

    def __init__(self, seed):
        self.state = seed & MASK

    def unit(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        # (z >> 40) as f32 / (1 << 24) as f32: a 24-bit integer over 2^24, exact in float32
        return np.float32(z >> 40) / np.float32(1 << 24)


def bench_click(rng, w, h):
    """[rng.unit() * w as f32, rng.unit() * h as f32], x first, as bench.rs."""
    x = rng.unit() * np.float32(w)
    y = rng.unit() * np.float32(h)
    return float(x), float(y)


def preprocess(rgb, in_h, in_w):
    """X-AnyLabeling's SAM 2 encoder input: stretch with cv2's default bilinear, float64
    normalization in 0..1 units, CHW with a batch axis, float32 (layout left as astype gives
    it)."""
    resized = cv2.resize(rgb, (in_w, in_h))
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    x = (resized / 255.0 - mean) / std
    return x.transpose(2, 0, 1)[np.newaxis, :, :, :].astype(np.float32)


def decoder_inputs(marks, orig_hw, input_hw):
    """The decoder feeds X-AnyLabeling builds from its marks (points only here): a [1,N,2]
    array in encoder-input pixels, [1,N] labels, an empty mask prompt."""
    points = np.array([m["data"] for m in marks])
    labels = np.array([m["label"] for m in marks])
    coords = points[np.newaxis, ...]
    labs = labels[np.newaxis, ...]
    coords[..., 0] = coords[..., 0] / orig_hw[1] * input_hw[1]
    coords[..., 1] = coords[..., 1] / orig_hw[0] * input_hw[0]
    mask_input = np.zeros((labs.shape[0], 1, input_hw[0] // 4, input_hw[1] // 4), np.float32)
    has_mask_input = np.array([0], np.float32)
    return coords.astype(np.float32), labs.astype(np.float32), mask_input, has_mask_input


def best_full_mask(masks, iou, orig_hw):
    """X-AnyLabeling's postprocess: argmax of the scores over every candidate, bilinear
    resize of those low-res logits to the image size, then its binarization to 0 / 255."""
    scores = iou.squeeze()
    low = masks[0]
    best = low[np.argmax(scores)]
    full = cv2.resize(best, (orig_hw[1], orig_hw[0]))
    out = np.array([[full]])[0][0]
    out[out > 0.0] = 255
    out[out <= 0.0] = 0
    return out.astype(np.uint8)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("image")
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="onnxruntime intra_op_num_threads (default: onnxruntime's choice)")
    ap.add_argument("--seed", type=int, default=1,
                    help="seed of the click positions (samlabel bench's SplitMix64; default 1 "
                         "as bench)")
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats)

    read_ms, pre_ms, enc_ms, dec_ms, click_ms = [], [], [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        rgb = read_rgb(args.image)
        read_ms.append((time.perf_counter() - t) * 1e3)
    h, w = rgb.shape[:2]

    enc = session(args.model_dir / "encoder.onnx", args.threads)
    enc_in = enc.get_inputs()[0]
    in_h, in_w = enc_in.shape[2], enc_in.shape[3]
    enc_outputs = [o.name for o in enc.get_outputs()]
    for _ in range(repeats):
        t = time.perf_counter()
        x = preprocess(rgb, in_h, in_w)
        pre_ms.append((time.perf_counter() - t) * 1e3)

    for _ in range(repeats):
        t = time.perf_counter()
        feats = enc.run(enc_outputs, {enc_in.name: x})
        enc_ms.append((time.perf_counter() - t) * 1e3)
    feats = dict(zip(enc_outputs, feats))
    high_res_feats_0, high_res_feats_1 = feats["high_res_feats_0"], feats["high_res_feats_1"]
    image_embed = feats["image_embed"]

    dec = session(args.model_dir / "decoder.onnx", args.threads)
    dec_inputs = [i.name for i in dec.get_inputs()]
    dec_outputs = [o.name for o in dec.get_outputs()]
    rng = SplitMix64(args.seed)
    area, candidates = [], None
    for _ in range(args.clicks):
        px, py = bench_click(rng, w, h)
        marks = [{"type": "point", "data": [px, py], "label": 1}]
        t0 = time.perf_counter()
        coords, labels, mask_input, has_mask_input = decoder_inputs(marks, (h, w), (in_h, in_w))
        values = (image_embed, high_res_feats_0, high_res_feats_1, coords, labels, mask_input,
                  has_mask_input)
        t1 = time.perf_counter()
        masks, iou = dec.run(dec_outputs, dict(zip(dec_inputs, values)))
        t2 = time.perf_counter()
        mask = best_full_mask(masks, iou, (h, w))
        t3 = time.perf_counter()
        assert mask.shape == (h, w) and mask.dtype == np.uint8, (mask.shape, mask.dtype)
        candidates = masks.shape[1]
        dec_ms.append((t2 - t1) * 1e3)
        click_ms.append((t3 - t0) * 1e3)
        area.append(float((mask > 0).mean()))
        del masks, mask
    print(f"mask area fraction: mean {np.mean(area) if area else 0:.3f}; "
          f"{candidates} candidates per click", file=sys.stderr)

    empty = {"p50": None, "p95": None}
    print(json.dumps({
        "image": args.image, "image_size": [w, h],
        "read_decode_ms": stats(read_ms), "preprocess_ms": stats(pre_ms),
        "encoder_ms": stats(enc_ms),
        "decoder_ms": stats(dec_ms) if dec_ms else empty,
        "click_total_ms": stats(click_ms) if click_ms else empty,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "clicks": args.clicks, "repeats": repeats, "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
