//! torch's `interpolate(mode="bilinear", align_corners=False, antialias=True)` on f32 planes: what
//! torchvision's `Resize` does to the float image tensor in SAM 2's preprocessing (`SAM2Transforms`).
//!
//! The same arithmetic as torch's CPU kernel (`UpSampleKernel.cpp`, `_compute_indices_min_size_weights_aa`
//! and the separable passes): float weights from the triangle filter, its support widened by the
//! downscale factor, normalized to sum 1; each output value is `src[0] * w[0]` plus the other taps in
//! order, in f32; the width (the contiguous axis) first, then the height. torch's x86-64 kernels
//! (AVX2, AVX-512: what `SAM2ImagePredictor` runs on a PC) add the taps after the first in whole
//! groups of four as rounded products and the remaining `(n - 1) % 4` with fused multiply-adds;
//! this module does the same, so the bytes agree (tests/it/sam2.rs compares the hashes).

/// One axis: per output index, the first input index and the weights from there on.
struct Windows {
    bounds: Vec<(usize, usize)>,
    weights: Vec<f32>,
    taps: usize,
}

impl Windows {
    fn new(in_len: usize, out_len: usize) -> Self {
        let scale = in_len as f32 / out_len as f32;
        // `(interp_size * 0.5) * scale` with interp_size 2 for bilinear, in f32.
        let support: f32 = if scale >= 1.0 { scale } else { 1.0 };
        let taps = support.ceil() as usize * 2 + 1;
        let inverse: f32 = if scale >= 1.0 {
            (1.0 / f64::from(scale)) as f32
        } else {
            1.0
        };
        let mut bounds = Vec::with_capacity(out_len);
        let mut weights = vec![0.0f32; out_len * taps];
        for (i, w) in weights.chunks_exact_mut(taps).enumerate() {
            // C++'s promotions: `scale * (i + 0.5)` in double, stored as float; `center - support`
            // in float, `+ 0.5` in double, truncated.
            let center = (f64::from(scale) * (i as f64 + 0.5)) as f32;
            let min = ((f64::from(center - support) + 0.5) as i64).max(0) as usize;
            let end = ((f64::from(center + support) + 0.5) as i64).min(in_len as i64);
            let n = (end - min as i64).clamp(0, taps as i64) as usize;
            let mut total = 0.0f32;
            for (j, wj) in w[..n].iter_mut().enumerate() {
                let x = (((j + min) as f32 - center) as f64 + 0.5) * f64::from(inverse);
                let x = (x as f32).abs();
                *wj = if x < 1.0 { 1.0 - x } else { 0.0 };
                total += *wj;
            }
            if total != 0.0 {
                for wj in &mut w[..n] {
                    *wj /= total;
                }
            }
            bounds.push((min, n));
        }
        Self {
            bounds,
            weights,
            taps,
        }
    }

    fn window(&self, out: usize) -> (usize, &[f32]) {
        let (min, n) = self.bounds[out];
        (min, &self.weights[out * self.taps..][..n])
    }
}

/// Resizes an `in_w x in_h` plane to `out_w x out_h` into `dst` (row-major). `load_row(y, row)`
/// fills `row` with input row `y`; `temp` and `row` are reused buffers.
pub fn resize_plane(
    load_row: impl Fn(usize, &mut [f32]),
    in_size: (usize, usize),
    dst: &mut [f32],
    out_size: (usize, usize),
    temp: &mut Vec<f32>,
    row: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has FMA and AVX2, all the function's target features ask for.
        return unsafe { resize_plane_fma(load_row, in_size, dst, out_size, temp, row) };
    }
    resize_plane_portable(load_row, in_size, dst, out_size, temp, row);
}

/// [`resize_plane`] compiled for CPUs with FMA: `mul_add` is one instruction instead of a call.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma,avx2")]
fn resize_plane_fma(
    load_row: impl Fn(usize, &mut [f32]),
    in_size: (usize, usize),
    dst: &mut [f32],
    out_size: (usize, usize),
    temp: &mut Vec<f32>,
    row: &mut Vec<f32>,
) {
    resize_plane_portable(load_row, in_size, dst, out_size, temp, row);
}

#[inline(always)]
fn resize_plane_portable(
    load_row: impl Fn(usize, &mut [f32]),
    (in_w, in_h): (usize, usize),
    dst: &mut [f32],
    (out_w, out_h): (usize, usize),
    temp: &mut Vec<f32>,
    row: &mut Vec<f32>,
) {
    let dst = &mut dst[..out_w * out_h];
    if out_w == 0 || out_h == 0 || in_w == 0 || in_h == 0 {
        return;
    }
    // The width first; torch skips a pass whose size does not change.
    let horizontal = (in_w != out_w).then(|| Windows::new(in_w, out_w));
    temp.resize(out_w * in_h, 0.0);
    row.resize(in_w, 0.0);
    for (y, out_row) in temp.chunks_exact_mut(out_w).enumerate() {
        load_row(y, row);
        match &horizontal {
            None => out_row.copy_from_slice(row),
            Some(windows) => {
                for (x, o) in out_row.iter_mut().enumerate() {
                    let (min, w) = windows.window(x);
                    *o = weighted_sum(row[min..].iter().copied(), w);
                }
            }
        }
    }
    if in_h == out_h {
        dst.copy_from_slice(temp);
        return;
    }
    let windows = Windows::new(in_h, out_h);
    for (y, out_row) in dst.chunks_exact_mut(out_w).enumerate() {
        let (min, w) = windows.window(y);
        let rows = |j: usize| &temp[(min + j) * out_w..(min + j + 1) * out_w];
        match w.split_first() {
            None => out_row.fill(0.0),
            Some((&w0, rest)) => {
                for (o, &v) in out_row.iter_mut().zip(rows(0)) {
                    *o = v * w0;
                }
                for (j, &wj) in rest.iter().enumerate() {
                    let row = rows(j + 1);
                    if fused(j + 1, w.len()) {
                        for (o, &v) in out_row.iter_mut().zip(row) {
                            *o = v.mul_add(wj, *o);
                        }
                    } else {
                        for (o, &v) in out_row.iter_mut().zip(row) {
                            *o += v * wj;
                        }
                    }
                }
            }
        }
    }
}

/// How tap `k` (1-based after the first) of `n` is added: torch's x86-64 kernels add whole groups
/// of four as rounded products and fuse the rest.
#[inline(always)]
fn fused(k: usize, n: usize) -> bool {
    k > (n - 1) / 4 * 4
}

/// `v[0] * w[0] + v[1] * w[1] + ...` in this order, in f32, rounded as torch's kernel rounds.
#[inline(always)]
fn weighted_sum(values: impl Iterator<Item = f32>, weights: &[f32]) -> f32 {
    let n = weights.len();
    let mut pairs = values.zip(weights);
    let Some((v0, &w0)) = pairs.next() else {
        return 0.0;
    };
    pairs.enumerate().fold(v0 * w0, |acc, (j, (v, &w))| {
        if fused(j + 1, n) {
            v.mul_add(w, acc)
        } else {
            acc + v * w
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_sum_to_one_and_widen_when_shrinking() {
        let down = Windows::new(100, 25);
        assert_eq!(down.taps, 4 * 2 + 1);
        for out in 0..25 {
            let (_, w) = down.window(out);
            let sum: f32 = w.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        }
        let up = Windows::new(10, 40);
        assert_eq!(up.taps, 3);
    }

    #[test]
    fn constant_planes_stay_constant() {
        let mut dst = vec![0.0; 16 * 9];
        let load = |_: usize, row: &mut [f32]| row.fill(0.25);
        resize_plane(
            load,
            (37, 23),
            &mut dst,
            (16, 9),
            &mut Vec::new(),
            &mut Vec::new(),
        );
        assert!(dst.iter().all(|&v| (v - 0.25).abs() < 1e-6), "{dst:?}");
    }
}
