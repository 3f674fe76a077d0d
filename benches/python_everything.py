#!/usr/bin/env python3
"""Benchmark: "segment everything" with the official Python generators on the benchmark
models, to compare `samlabel bench`'s everything figure against (issue 14).

    tests/fixtures/.venv/bin/python benches/python_everything.py --family sam1|sam2 \\
        --image target/bench-4000x2667.jpg [--points-per-side 32] [--points-per-batch N] \\
        [--pred-iou-thresh F] [--stability-score-thresh F] [--repeats 1] \\
        [--model-dir DIR] [--sam2-variant tiny|base_plus] [--dump FILE]

The PyTorch model is rebuilt exactly as the benchmark ONNX files were made, with the same
builder and seed: sam1 `make_fixtures.build_vit_b` (segment_anything's build_sam_vit_b,
random weights, seed 13; ONNX in target/bench-model-vit-b from `make_fixtures.py --vit-b`),
sam2 `make_sam2_fixtures.build_full_sam2` (the sam2 package's sam2.1_hiera_t.yaml or
_b+.yaml, random weights, seed 23; ONNX in target/bench-model-sam2.1-tiny / -base-plus from
`make_sam2_fixtures.py --full tiny|base_plus`). Before timing, the script checks that it is
the same model: the predictor's own set_image on the benchmark image against the ONNX
encoder on the same preprocessed input (max |onnx - torch| < --tol, default 1e-3, for every
encoder output), and one centre click through the ONNX decoder (fed the ONNX embedding, as
samlabel runs it) against the predictor's low-res logits and IoU scores; the report goes to
stderr and a mismatch exits with status 1.

Timed (time.perf_counter, torch.set_num_threads(--threads, default 2 = all cores, as the Rust
side), under torch.no_grad):
  everything_ms  generator.generate(image): segment_anything.SamAutomaticMaskGenerator or
                 sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator with their default
                 settings (output_mode "binary_mask", no crops, box_nms_thresh 0.7; default
                 thresholds sam1 pred_iou 0.88, sam2 0.8, both stability 0.95) except what
                 is given. generate() runs set_image (the encoder) itself.
  encode_ms      the generator's own predictor.set_image(image) run separately just before
                 (resize, normalize, encoder), so everything_ms = encode + the rest.
The encoder has already run once (the check) before either is timed. The image is read once
with cv2 (BGR -> RGB, benches/python_pipeline.py's reader), not timed.

Memory: the official generators upsample every candidate of a batch to the full image in
float32 before filtering: points_per_batch x 3 x H x W x 4 bytes (64 x 3 x 4000 x 2667 =
8.2 GB), and with its bool / int16 copies the peak reaches about 2.3x that when every
candidate passes the filters. A smaller --points-per-batch gives the same proposals (only
speed and memory change); the JSON says when it is not the default 64. Every candidate that
passes the filters is also kept as an uncompressed RLE (a Python list of run lengths) until
the crop's NMS: the random-weight models' masks are speckled (300k-400k runs per mask), so
with both thresholds at 0 at points_per_side 32 those lists alone take about 10 GB.
peak_rss_mb is the process's ru_maxrss (model, check and run together); generate_peak_rss_mb
is the peak during the timed generate() calls alone (VmHWM after clear_refs, Linux).
cpu_runs gives, per run, set_image's and generate()'s wall time, this process's CPU seconds
and the other processes' (from /proc/stat): other_cpu_s well above 0 means the cores were
shared.

One JSON object on stdout: everything_ms, encode_ms (medians over --repeats; every run in
*_runs), proposals, peak_rss_mb, generate_peak_rss_mb, onnx_check, settings. --dump FILE
writes the proposals of the last run without their masks (area, bbox, predicted_iou,
stability_score, point_coords) as JSON.
"""
import argparse
import gc
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
sys.path.insert(0, str(ROOT / "tests/fixtures"))
sys.dont_write_bytecode = True
from python_pipeline import read_rgb  # noqa: E402

DEFAULT_DIRS = {"sam1": "target/bench-model-vit-b",
                "sam2/tiny": "target/bench-model-sam2.1-tiny",
                "sam2/base_plus": "target/bench-model-sam2.1-base-plus"}
DEFAULT_BATCH = 64


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def vm_hwm_mb():
    """Peak resident set since the last reset_hwm() (or the start), in MB; None off Linux."""
    try:
        m = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
        return round(int(m.group(1)) / 1024, 1)
    except (OSError, AttributeError):
        return None


def reset_hwm():
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class CpuWatch:
    """Wall time, this process's CPU time and everyone else's (from /proc/stat) over a block:
    other_cpu_s well above 0 means the timing shared the cores with something else."""

    def __enter__(self):
        self.t, self.own, self.busy = time.perf_counter(), self._own(), self._busy()
        return self

    def __exit__(self, *exc):
        wall, own = time.perf_counter() - self.t, self._own() - self.own
        busy = self._busy()
        self.result = {"wall_s": round(wall, 2), "own_cpu_s": round(own, 2),
                       "other_cpu_s": None if busy is None else round(busy - self.busy - own, 2)}

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system

    @staticmethod
    def _busy():
        try:
            f = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None


def mem_available_gb():
    try:
        m = re.search(r"MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        return int(m.group(1)) / 1024 ** 2
    except (OSError, AttributeError):
        return None


def session(path, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def maxdiff(a, b):
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).max())


def build(family, variant):
    if family == "sam1":
        import make_fixtures
        return make_fixtures.build_vit_b(), f"make_fixtures.build_vit_b(seed={make_fixtures.SEED})"
    import make_sam2_fixtures as m2
    return (m2.build_full_sam2(variant),
            f"make_sam2_fixtures.build_full_sam2({variant!r}, seed={m2.SEED})")


def make_generator(family, model, kwargs):
    if family == "sam1":
        from segment_anything import SamAutomaticMaskGenerator
        return SamAutomaticMaskGenerator(model, **kwargs)
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator
    return SAM2AutomaticMaskGenerator(model, **kwargs)


def check_sam1(gen, img, model_dir, threads):
    """SamPredictor.set_image vs encoder.onnx on the same padded input; one centre click
    through decoder.onnx (tokens 1..3 of low_res_masks / iou_predictions) vs predict_torch."""
    import torch
    pred, sam = gen.predictor, gen.predictor.model
    h, w = img.shape[:2]
    t = time.perf_counter()
    pred.set_image(img)
    first_ms = (time.perf_counter() - t) * 1e3
    x = torch.as_tensor(pred.transform.apply_image(img)).permute(2, 0, 1).contiguous()[None]
    x = sam.preprocess(x).numpy()
    enc = session(model_dir / "encoder.onnx", threads)
    (emb,) = enc.run(None, {"images": x})
    del enc
    ref = pred.features.numpy()
    out = {"first_set_image_ms": round(first_ms, 1),
           "encoder": {"image_embeddings": maxdiff(emb, ref)},
           "encoder_max_abs_torch": float(np.abs(ref).max())}
    pt = pred.transform.apply_coords(np.array([[w / 2, h / 2]], np.float32), (h, w))
    dec = session(model_dir / "decoder.onnx", threads)
    feeds = {"image_embeddings": emb,
             "point_coords": np.array([[pt[0], [0.0, 0.0]]], np.float32),
             "point_labels": np.array([[1.0, -1.0]], np.float32),
             "mask_input": np.zeros((1, 1, 256, 256), np.float32),
             "has_mask_input": np.zeros(1, np.float32),
             "orig_im_size": np.array([h, w], np.float32)}
    _, iou, low = dec.run(None, feeds)
    del dec
    with torch.no_grad():
        _, riou, rlow = pred.predict_torch(torch.as_tensor(pt)[None],
                                           torch.ones(1, 1, dtype=torch.int),
                                           multimask_output=True, return_logits=True)
    out["decoder"] = {"low_res_masks": maxdiff(low[:, 1:], rlow),
                      "iou_predictions": maxdiff(iou[:, 1:], riou)}
    pred.reset_image()
    return out


def check_sam2(gen, img, model_dir, threads):
    """SAM2ImagePredictor.set_image vs encoder.onnx on the same transformed input; one centre
    click through decoder.onnx (tokens 1..3) vs the predictor's _predict (low-res logits
    clamped to +-32, IoU)."""
    import torch
    pred = gen.predictor
    h, w = img.shape[:2]
    t = time.perf_counter()
    pred.set_image(img)
    first_ms = (time.perf_counter() - t) * 1e3
    x = pred._transforms(img)[None].numpy()
    enc = session(model_dir / "encoder.onnx", threads)
    names = [o.name for o in enc.get_outputs()]
    outs = dict(zip(names, enc.run(names, {"image": x})))
    del enc
    ref = {"high_res_feats_0": pred._features["high_res_feats"][0],
           "high_res_feats_1": pred._features["high_res_feats"][1],
           "image_embed": pred._features["image_embed"]}
    out = {"first_set_image_ms": round(first_ms, 1),
           "encoder": {k: maxdiff(outs[k], v.numpy()) for k, v in ref.items()},
           "encoder_max_abs_torch": max(float(v.abs().max()) for v in ref.values())}
    pt = torch.tensor([[w / 2, h / 2]], dtype=torch.float32)
    pt1024 = pred._transforms.transform_coords(pt, normalize=True, orig_hw=(h, w))
    dec = session(model_dir / "decoder.onnx", threads)
    feeds = dict(outs, point_coords=pt1024.numpy()[None], point_labels=np.ones((1, 1), np.float32),
                 mask_input=np.zeros((1, 1, 256, 256), np.float32),
                 has_mask_input=np.zeros(1, np.float32))
    masks, iou = dec.run(None, feeds)
    del dec
    with torch.no_grad():
        _, riou, rlow = pred._predict(pt1024[None], torch.ones(1, 1, dtype=torch.int),
                                      multimask_output=True, return_logits=True)
    out["decoder"] = {"masks_low_res": maxdiff(masks[:, 1:], rlow),
                      "iou_predictions": maxdiff(iou[:, 1:], riou)}
    pred.reset_predictor()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", choices=["sam1", "sam2"], required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--model-dir", type=Path,
                    help="the benchmark ONNX files (default target/bench-model-vit-b, "
                         "target/bench-model-sam2.1-tiny or -base-plus)")
    ap.add_argument("--sam2-variant", choices=["tiny", "base_plus"], default="tiny")
    ap.add_argument("--points-per-side", type=int, default=32)
    ap.add_argument("--points-per-batch", type=int, default=DEFAULT_BATCH,
                    help="default 64 (the generators' default); smaller needs less memory and "
                         "gives the same proposals")
    ap.add_argument("--pred-iou-thresh", type=float,
                    help="default: the generator's (sam1 0.88, sam2 0.8)")
    ap.add_argument("--stability-score-thresh", type=float,
                    help="default: the generator's (0.95)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--tol", type=float, default=1e-3, help="ONNX vs torch check (default 1e-3)")
    ap.add_argument("--dump", type=Path, help="write the last run's proposals (no masks) here")
    args = ap.parse_args(argv)
    repeats = max(1, args.repeats)

    import torch
    torch.set_num_threads(args.threads)
    key = "sam1" if args.family == "sam1" else f"sam2/{args.sam2_variant}"
    model_dir = args.model_dir or ROOT / DEFAULT_DIRS[key]
    for f in ("encoder.onnx", "decoder.onnx"):
        if not (model_dir / f).is_file():
            how = ("make_fixtures.py --vit-b target/bench-model-vit-b" if args.family == "sam1"
                   else f"make_sam2_fixtures.py --full {args.sam2_variant}")
            raise SystemExit(f"{model_dir / f} missing: build it with tests/fixtures/{how}")

    t = time.perf_counter()
    model, builder = build(args.family, args.sam2_variant)
    log(f"{key}: {builder}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
        f"built in {time.perf_counter() - t:.1f} s")
    img = read_rgb(args.image)
    h, w = img.shape[:2]

    kwargs = {"points_per_side": args.points_per_side, "points_per_batch": args.points_per_batch}
    if args.pred_iou_thresh is not None:
        kwargs["pred_iou_thresh"] = args.pred_iou_thresh
    if args.stability_score_thresh is not None:
        kwargs["stability_score_thresh"] = args.stability_score_thresh
    gen = make_generator(args.family, model, kwargs)
    batch_gb = args.points_per_batch * 3 * h * w * 4 / 1e9
    avail = mem_available_gb()
    log(f"image {w}x{h}; one batch of full-size float masks: "
        f"{args.points_per_batch} x 3 x {h} x {w} x 4 B = {batch_gb:.2f} GB (the peak can reach "
        f"about 2.3x that with the bool / int16 copies); MemAvailable "
        f"{'?' if avail is None else f'{avail:.1f} GB'}")
    if avail is not None and batch_gb * 2.3 > avail:
        log("WARNING: that may not fit; a smaller --points-per-batch gives the same proposals")

    check = (check_sam1 if args.family == "sam1" else check_sam2)(gen, img, model_dir, args.threads)
    gc.collect()
    worst_enc = max(check["encoder"].values())
    worst_dec = max(check["decoder"].values())
    log(f"ONNX check ({model_dir}): first set_image {check['first_set_image_ms']:.0f} ms; encoder "
        + ", ".join(f"{k} |onnx-torch| {v:.2e}" for k, v in check["encoder"].items())
        + f" (max |torch| {check['encoder_max_abs_torch']:.2e}); decoder, centre click, "
        + ", ".join(f"{k} {v:.2e}" for k, v in check["decoder"].items()))
    if not (worst_enc < args.tol and worst_dec < args.tol):
        log(f"FAILED: not the model of {model_dir} (tolerance {args.tol:g})")
        sys.exit(1)
    check["tolerance"] = args.tol
    check["passed"] = True

    enc_ms, every_ms, counts, hwm, cpu = [], [], [], [], []
    hwm_ok = True
    result = None
    for r in range(repeats):
        with torch.no_grad():
            with CpuWatch() as enc_watch:
                t = time.perf_counter()
                gen.predictor.set_image(img)
                enc_ms.append((time.perf_counter() - t) * 1e3)
            if args.family == "sam1":
                gen.predictor.reset_image()
            else:
                gen.predictor.reset_predictor()
            result = None
            gc.collect()
            hwm_ok = reset_hwm() and hwm_ok
            with CpuWatch() as watch:
                t = time.perf_counter()
                result = gen.generate(img)
                every_ms.append((time.perf_counter() - t) * 1e3)
            hwm.append(vm_hwm_mb())
        counts.append(len(result))
        cpu.append({"set_image": enc_watch.result, "generate": watch.result})
        log(f"run {r + 1}/{repeats}: set_image {enc_ms[-1]:.0f} ms, "
            f"generate {every_ms[-1]:.0f} ms, "
            f"{len(result)} proposals, peak RSS in generate {hwm[-1]} MB; CPU in generate: own "
            f"{watch.result['own_cpu_s']} s, other processes {watch.result['other_cpu_s']} s "
            f"(set_image: {enc_watch.result['other_cpu_s']} s)")

    if args.dump is not None:
        recs = [{k: v for k, v in a.items() if k != "segmentation"} for a in result]
        args.dump.write_text(json.dumps(recs))

    effective = {k: getattr(gen, k) for k in (
        "points_per_batch", "pred_iou_thresh", "stability_score_thresh", "stability_score_offset",
        "box_nms_thresh", "crop_n_layers", "min_mask_region_area", "output_mode")}
    effective["points_per_side"] = args.points_per_side
    effective["mask_threshold"] = (gen.predictor.model.mask_threshold if args.family == "sam1"
                                   else gen.mask_threshold)
    settings = {
        "family": args.family, "model": key, "builder": builder, "model_dir": str(model_dir),
        "image": args.image, "image_size": [w, h], "generator": type(gen).__name__,
        "kwargs": kwargs, "effective": effective, "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "repeats": repeats,
    }
    if args.points_per_batch != DEFAULT_BATCH:
        settings["points_per_batch_note"] = (
            f"{args.points_per_batch}, not the generator's default {DEFAULT_BATCH}: chosen to fit "
            f"in memory ({DEFAULT_BATCH} x 3 full-size float masks alone are "
            f"{DEFAULT_BATCH * 3 * h * w * 4 / 1e9:.1f} GB, and a batch's peak is up to about 2.3x "
            f"that); the proposals are the same")
    print(json.dumps({
        "everything_ms": round(float(np.median(every_ms)), 1),
        "encode_ms": round(float(np.median(enc_ms)), 1),
        "rest_ms": round(float(np.median(every_ms) - np.median(enc_ms)), 1),
        "proposals": counts[-1],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "generate_peak_rss_mb": max(hwm) if hwm_ok and None not in hwm else None,
        "points_per_batch": args.points_per_batch,
        "everything_ms_runs": [round(v, 1) for v in every_ms],
        "encode_ms_runs": [round(v, 1) for v in enc_ms],
        "proposals_runs": counts,
        "cpu_runs": cpu,
        "onnx_check": check,
        "settings": settings,
    }))


if __name__ == "__main__":
    main()
