#!/usr/bin/env python3
"""Benchmark: the pipeline that Python SAM annotators run (OpenCV + NumPy + onnxruntime),
stage by stage, to compare samlabel against.

    tests/fixtures/.venv/bin/python benches/python_pipeline.py --model-dir DIR IMAGE \\
        [--clicks N] [--repeats R] [--threads T] [--seed S]

DIR holds encoder.onnx (input `images` [1,3,1024,1024], normalized and zero-padded) and
decoder.onnx (segment_anything's SamOnnxModel export, return_single_mask=False), e.g. from
`tests/fixtures/.venv/bin/python tests/fixtures/make_fixtures.py --vit-b target/bench-model-vit-b`.
Needs opencv-python-headless (tests/fixtures/requirements.txt, "benchmarks only").

Stages (time.perf_counter; p50/p95 over the repeats or clicks, linear interpolation):
  read_decode_ms  cv2.imread + cvtColor BGR->RGB                          (R times)
  preprocess_ms   cv2.resize INTER_LINEAR, longest side 1024 (new = int(x*1024/max(h,w)+0.5)),
                  float32 normalize, zero pad to 1024x1024, HWC -> 1x3x1024x1024  (R times)
  encoder_ms      encoder session.run                                      (R times)
  decoder_ms      decoder session.run for one positive point + the (0,0) label -1 padding
                  point, orig_im_size = the real (h, w), so `masks` is full-size (N clicks)
  click_total_ms  decoder_ms + masks[0, best] > 0 as a bool array, best = best-of-3 multimask
                  candidate by iou_predictions                              (N clicks)
No warm-up runs: the first encoder run and first click are included, as a user sees them.
Session creation times go to stderr only. One JSON object is printed on stdout.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

IMG_SIZE = 1024
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


def stats(ms):
    a = np.asarray(ms, np.float64)
    return {"p50": round(float(np.percentile(a, 50)), 3),
            "p95": round(float(np.percentile(a, 95)), 3)}


def read_rgb(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resized_size(h, w):
    scale = IMG_SIZE / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def preprocess(rgb):
    h, w = rgb.shape[:2]
    nh, nw = resized_size(h, w)
    x = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    x = (x.astype(np.float32) - MEAN) / STD
    padded = np.zeros((IMG_SIZE, IMG_SIZE, 3), np.float32)
    padded[:nh, :nw] = x
    return np.ascontiguousarray(padded.transpose(2, 0, 1)[None])


def session(path, threads):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    t = time.perf_counter()
    s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    print(f"{path}: session created in {(time.perf_counter() - t) * 1e3:.0f} ms",
          file=sys.stderr)
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("image")
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="onnxruntime intra_op_num_threads (default: onnxruntime's choice)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats)

    read_ms, pre_ms, enc_ms, dec_ms, click_ms = [], [], [], [], []
    for _ in range(repeats):
        t = time.perf_counter()
        rgb = read_rgb(args.image)
        read_ms.append((time.perf_counter() - t) * 1e3)
    h, w = rgb.shape[:2]
    nh, nw = resized_size(h, w)

    for _ in range(repeats):
        t = time.perf_counter()
        x = preprocess(rgb)
        pre_ms.append((time.perf_counter() - t) * 1e3)

    enc = session(args.model_dir / "encoder.onnx", args.threads)
    for _ in range(repeats):
        t = time.perf_counter()
        emb = enc.run(None, {"images": x})[0]
        enc_ms.append((time.perf_counter() - t) * 1e3)

    dec = session(args.model_dir / "decoder.onnx", args.threads)
    rng = np.random.default_rng(args.seed)
    mask_input = np.zeros((1, 1, 256, 256), np.float32)
    has_mask_input = np.zeros(1, np.float32)
    orig_im_size = np.array([h, w], np.float32)
    labels = np.array([[1.0, -1.0]], np.float32)
    area = []
    for _ in range(args.clicks):
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        coords = np.array([[[px * nw / w, py * nh / h], [0.0, 0.0]]], np.float32)
        feeds = {"image_embeddings": emb, "point_coords": coords, "point_labels": labels,
                 "mask_input": mask_input, "has_mask_input": has_mask_input,
                 "orig_im_size": orig_im_size}
        t0 = time.perf_counter()
        masks, iou, _low = dec.run(None, feeds)
        t1 = time.perf_counter()
        best = 1 + int(np.argmax(iou[0, 1:]))
        mask = masks[0, best] > 0
        t2 = time.perf_counter()
        assert masks.shape == (1, 4, h, w), masks.shape  # full-size masks, as the tools use
        dec_ms.append((t1 - t0) * 1e3)
        click_ms.append((t2 - t0) * 1e3)
        area.append(float(mask.mean()))
        del masks, mask
    print(f"mask area fraction: mean {np.mean(area) if area else 0:.3f}", file=sys.stderr)

    empty = {"p50": None, "p95": None}
    print(json.dumps({
        "image": args.image, "image_size": [w, h],
        "read_decode_ms": stats(read_ms), "preprocess_ms": stats(pre_ms),
        "encoder_ms": stats(enc_ms),
        "decoder_ms": stats(dec_ms) if dec_ms else empty,
        "click_total_ms": stats(click_ms) if click_ms else empty,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "clicks": args.clicks, "repeats": repeats,
    }))


if __name__ == "__main__":
    main()
