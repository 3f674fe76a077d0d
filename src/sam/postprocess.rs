//! Low-res logits (`256 x 256`) → full-resolution `Mask`, exactly as the official predictors
//! postprocess: for SAM 1 bilinear (align_corners = false) to the padded model size, crop the
//! padding, bilinear to the image size; for SAM 2 (the image was stretched, nothing to crop)
//! bilinear straight to the image size; threshold at 0.

use std::borrow::Cow;

use crate::annotate::mask::Mask;

use super::decoder::LOW_RES;
use super::preprocess::{Fit, ModelFromImage};

/// Logits above this are inside the mask.
pub const MASK_THRESHOLD: f32 = 0.0;

/// One axis of torch's bilinear resize with `align_corners = false`: for each output index, the two
/// source indices and the weight of the second.
struct Axis {
    lo: Vec<usize>,
    hi: Vec<usize>,
    frac: Vec<f32>,
}

impl Axis {
    /// `scale` is `in / out` as torch computes it from the sizes (float arithmetic, like torch's CPU kernel).
    fn new(in_len: usize, out_len: usize) -> Self {
        let scale = in_len as f32 / out_len as f32;
        let mut lo = Vec::with_capacity(out_len);
        let mut hi = Vec::with_capacity(out_len);
        let mut frac = Vec::with_capacity(out_len);
        for dst in 0..out_len {
            let src = (scale * (dst as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src as usize).min(in_len - 1);
            let i1 = (i0 + 1).min(in_len - 1);
            lo.push(i0);
            hi.push(i1);
            frac.push(src - i0 as f32);
        }
        Self { lo, hi, frac }
    }
}

impl Axis {
    /// Only the output indices `picked` (ascending), in that order.
    fn select(&self, picked: &[usize]) -> Self {
        Self {
            lo: picked.iter().map(|&i| self.lo[i]).collect(),
            hi: picked.iter().map(|&i| self.hi[i]).collect(),
            frac: picked.iter().map(|&i| self.frac[i]).collect(),
        }
    }

    fn first(&self, n: usize) -> Self {
        let n = n.min(self.lo.len());
        Self {
            lo: self.lo[..n].to_vec(),
            hi: self.hi[..n].to_vec(),
            frac: self.frac[..n].to_vec(),
        }
    }

    fn len(&self) -> usize {
        self.lo.len()
    }
}

/// Bilinear resize (torch's, `align_corners = false`) of the `in_w x in_h` plane `src` (rows `stride`
/// long) to `out_w x out_h`, of which only the top-left `keep_w x keep_h` window is computed: each row of
/// it goes to `sink(row index, values)`.
fn resize_bilinear(
    src: &[f32],
    stride: usize,
    (in_w, in_h): (usize, usize),
    (out_w, out_h): (usize, usize),
    (keep_w, keep_h): (usize, usize),
    sink: impl FnMut(usize, &[f32]),
) {
    if in_w == 0 || in_h == 0 {
        return;
    }
    let xs = Axis::new(in_w, out_w).first(keep_w);
    let ys = Axis::new(in_h, out_h).first(keep_h);
    resize_with_axes(src, stride, in_w, &xs, &ys, sink);
}

/// The output pixels that `xs` and `ys` describe (ascending source rows), row by row into `sink`.
///
/// Separable, with torch's arithmetic: every source row needed is resized horizontally once, then each
/// output row blends two of those rows (a loop over contiguous memory that vectorizes).
fn resize_with_axes(
    src: &[f32],
    stride: usize,
    in_w: usize,
    xs: &Axis,
    ys: &Axis,
    mut sink: impl FnMut(usize, &[f32]),
) {
    let (keep_w, keep_h) = (xs.len(), ys.len());
    if keep_w == 0 || keep_h == 0 {
        return;
    }
    let (first, last) = (ys.lo[0], ys.hi[keep_h - 1]);
    let mut rows = vec![0.0f32; (last - first + 1) * keep_w];
    for (r, row) in rows.chunks_exact_mut(keep_w).enumerate() {
        let s = &src[(first + r) * stride..(first + r) * stride + in_w];
        for (ox, v) in row.iter_mut().enumerate() {
            let (x0, x1, fx) = (xs.lo[ox], xs.hi[ox], xs.frac[ox]);
            *v = (1.0 - fx) * s[x0] + fx * s[x1];
        }
    }
    let mut out_row = vec![0.0f32; keep_w];
    for oy in 0..keep_h {
        let (y0, y1, fy) = (ys.lo[oy], ys.hi[oy], ys.frac[oy]);
        let top = &rows[(y0 - first) * keep_w..(y0 - first + 1) * keep_w];
        let bottom = &rows[(y1 - first) * keep_w..(y1 - first + 1) * keep_w];
        for ((v, &t), &b) in out_row.iter_mut().zip(top).zip(bottom) {
            *v = (1.0 - fy) * t + fy * b;
        }
        sink(oy, &out_row);
    }
}

/// The logits over exactly the image, and their size: what the last bilinear step resizes to the
/// image (or preview) size. SAM 1: the logits at the padded model input's resolution, cropped to the
/// part the image covers (`resized_size`; only that part is computed); SAM 2: the logits themselves.
fn image_logits<'a>(
    logits_256: &'a [f32],
    model_from_image: &ModelFromImage,
) -> (Cow<'a, [f32]>, (usize, usize)) {
    match model_from_image.fit {
        Fit::Stretch => (Cow::Borrowed(logits_256), (LOW_RES, LOW_RES)),
        Fit::LongestSide => {
            let target = model_from_image.target as usize;
            let (rw, rh) = model_from_image.resized_size;
            let (rw, rh) = (rw as usize, rh as usize);
            let mut cropped = Vec::with_capacity(rw * rh);
            resize_bilinear(
                logits_256,
                LOW_RES,
                (LOW_RES, LOW_RES),
                (target, target),
                (rw, rh),
                |_, row| cropped.extend_from_slice(row),
            );
            (Cow::Owned(cropped), (rw, rh))
        }
    }
}

/// Upscales one candidate's logits to `out_w x out_h` covering the whole image, row by row into `sink`.
/// At the image's own size this is exactly the official predictor's `postprocess_masks`.
fn upscale(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    (out_w, out_h): (u32, u32),
    sink: impl FnMut(usize, &[f32]),
) {
    let (plane, (w, h)) = image_logits(logits_256, model_from_image);
    let out = (out_w as usize, out_h as usize);
    resize_bilinear(&plane, w, (w, h), out, out, sink);
}

/// The logits of one candidate upscaled to `out_w x out_h` over the whole image, row by row into
/// `sink` (no buffer of that size is made): what the filters of segment-everything measure.
pub fn logit_rows(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    (out_w, out_h): (u32, u32),
    sink: impl FnMut(usize, &[f32]),
) {
    upscale(logits_256, model_from_image, (out_w, out_h), sink);
}

/// What segment-everything's filters need of one candidate upscaled to `out_w x out_h`, without
/// making it: how many pixels lie above each threshold, and the first and last pixel (x and y)
/// above `thresholds[box_threshold]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThresholdStats<const N: usize> {
    pub above: [u64; N],
    /// `[x0, y0, x1, y1]` (inclusive), `None` when no pixel is above.
    pub bbox: Option<[u32; 4]>,
}

/// [`ThresholdStats`] of one candidate's logits upscaled to `out_w x out_h` over the whole image,
/// exactly as counting the pixels of [`logit_rows`] would give, but fast: the output is walked in
/// segments that share their four source samples, and a segment whose samples all lie clearly on
/// one side of every threshold (bilinear interpolation stays between its samples) is counted whole.
/// Only segments near a threshold are computed pixel by pixel, with torch's arithmetic.
pub fn threshold_stats<const N: usize>(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    (out_w, out_h): (u32, u32),
    thresholds: [f32; N],
    box_threshold: usize,
) -> ThresholdStats<N> {
    let (plane, (w, h)) = image_logits(logits_256, model_from_image);
    let mut stats = ThresholdStats {
        above: [0; N],
        bbox: None,
    };
    if w == 0 || h == 0 || out_w == 0 || out_h == 0 {
        return stats;
    }
    let xs = Axis::new(w, out_w as usize);
    let ys = Axis::new(h, out_h as usize);
    // Runs of output columns with the same pair of source columns.
    let mut segments: Vec<(usize, usize)> = Vec::new();
    for x in 0..xs.len() {
        match segments.last_mut() {
            Some((_, end)) if xs.lo[*end - 1] == xs.lo[x] && xs.hi[*end - 1] == xs.hi[x] => {
                *end = x + 1
            }
            _ => segments.push((x, x + 1)),
        }
    }
    // Every source row the output reads, resized horizontally once (as `resize_with_axes` does).
    let (first_row, last_row) = (ys.lo[0], ys.hi[ys.len() - 1]);
    let out_w = out_w as usize;
    let mut rows = vec![0.0f32; (last_row - first_row + 1) * out_w];
    for (r, row) in rows.chunks_exact_mut(out_w).enumerate() {
        let s = &plane[(first_row + r) * w..(first_row + r + 1) * w];
        for (ox, v) in row.iter_mut().enumerate() {
            let (x0, x1, fx) = (xs.lo[ox], xs.hi[ox], xs.frac[ox]);
            *v = (1.0 - fx) * s[x0] + fx * s[x1];
        }
    }
    let mut values = vec![0.0f32; out_w];
    let (mut bx0, mut by0, mut bx1, mut by1) = (u32::MAX, u32::MAX, 0u32, 0u32);
    for oy in 0..ys.len() {
        let (y0, y1, fy) = (ys.lo[oy], ys.hi[oy], ys.frac[oy]);
        let (r0, r1) = (&plane[y0 * w..(y0 + 1) * w], &plane[y1 * w..(y1 + 1) * w]);
        let top = &rows[(y0 - first_row) * out_w..(y0 - first_row + 1) * out_w];
        let bottom = &rows[(y1 - first_row) * out_w..(y1 - first_row + 1) * out_w];
        let (mut first, mut last) = (None, None);
        for &(from, to) in &segments {
            let (x0, x1) = (xs.lo[from], xs.hi[from]);
            let corners = [r0[x0], r0[x1], r1[x0], r1[x1]];
            let lo = corners.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = corners.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            // Rounding in the two blends moves a value by a few ulps of the samples at most.
            let eps = lo.abs().max(hi.abs()).max(1.0) * 1e-5;
            if thresholds.iter().all(|&t| lo - eps > t || hi + eps <= t) {
                for (n, &t) in thresholds.iter().enumerate() {
                    if lo - eps > t {
                        stats.above[n] += (to - from) as u64;
                    }
                }
                if lo - eps > thresholds[box_threshold] {
                    first.get_or_insert(from);
                    last = Some(to - 1);
                }
                continue;
            }
            let segment = &mut values[from..to];
            for ((v, &t), &b) in segment
                .iter_mut()
                .zip(&top[from..to])
                .zip(&bottom[from..to])
            {
                *v = (1.0 - fy) * t + fy * b;
            }
            for (n, &t) in thresholds.iter().enumerate() {
                stats.above[n] += segment.iter().filter(|&&v| v > t).count() as u64;
            }
            let inside = |v: &f32| *v > thresholds[box_threshold];
            if let Some(i) = segment.iter().position(inside) {
                first.get_or_insert(from + i);
                last = Some(from + segment.iter().rposition(inside).unwrap_or(i));
            }
        }
        if let (Some(first), Some(last)) = (first, last) {
            bx0 = bx0.min(first as u32);
            bx1 = bx1.max(last as u32);
            by0 = by0.min(oy as u32);
            by1 = oy as u32;
        }
    }
    if bx0 != u32::MAX {
        stats.bbox = Some([bx0, by0, bx1, by1]);
    }
    stats
}

/// Longest side of a click preview: sharp on any screen, cheap to upscale and upload per click. The
/// window asks for this size and `bench` times it; the full-resolution mask is made on accept.
pub const PREVIEW_MAX_SIDE: u32 = 2048;

/// `(w, h)` scaled down (aspect kept) so that its longest side is at most `cap`.
pub fn fit_within((w, h): (u32, u32), cap: u32) -> (u32, u32) {
    let longest = w.max(h);
    if longest <= cap {
        return (w, h);
    }
    let scale = f64::from(cap) / f64::from(longest);
    (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    )
}

/// Size of the click preview of an image of `image_size`: the one rule the window and `bench` share.
pub fn preview_size(image_size: (u32, u32)) -> (u32, u32) {
    fit_within(image_size, PREVIEW_MAX_SIDE)
}

/// Upscales one candidate's low-res logits into a mask of the whole image at `out_w x out_h`: at the
/// image's own size exactly `SamPredictor`'s mask, smaller for a screen-resolution preview. Thresholded
/// row by row, so no image-sized float buffer is made.
pub fn mask_at(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    out_w: u32,
    out_h: u32,
) -> Mask {
    thresholded(out_w, out_h, |sink| {
        upscale(logits_256, model_from_image, (out_w, out_h), sink)
    })
}

/// A `width x height` mask from logit rows as `rows` hands them to its sink, thresholded as they come.
fn thresholded(width: u32, height: u32, rows: impl FnOnce(&mut dyn FnMut(usize, &[f32]))) -> Mask {
    let mut data = Vec::with_capacity(width as usize * height as usize);
    rows(&mut |_, row| data.extend(row.iter().map(|&v| u8::from(v > MASK_THRESHOLD))));
    Mask::from_bits(width, height, data)
}

/// The pixels of the full-resolution mask that fall at the centres of an `out_w x out_h` grid over
/// `region_in_image` (`[x0, y0, x1, y1]`): a sharp preview of the part of the image the screen shows,
/// at the screen's resolution. At one output pixel per image pixel it is exactly that part of
/// `mask_in_image`, without making the rest.
pub fn mask_region(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    region_in_image: [f32; 4],
    out_w: u32,
    out_h: u32,
) -> Mask {
    let (iw, ih) = model_from_image.image_size;
    let (plane, (rw, rh)) = image_logits(logits_256, model_from_image);
    let pick = |lo: f32, hi: f32, n: u32, len: u32| -> Vec<usize> {
        let step = (hi - lo) / n.max(1) as f32;
        (0..n)
            .map(|i| {
                ((lo + (i as f32 + 0.5) * step).floor().max(0.0) as usize).min(len as usize - 1)
            })
            .collect()
    };
    let [x0, y0, x1, y1] = region_in_image;
    let xs = Axis::new(rw, iw as usize).select(&pick(x0, x1, out_w, iw));
    let ys = Axis::new(rh, ih as usize).select(&pick(y0, y1, out_h, ih));
    thresholded(out_w, out_h, |sink| {
        resize_with_axes(&plane, rw, rw, &xs, &ys, sink)
    })
}

/// Upscales and thresholds one candidate's low-res logits into a full-resolution mask.
pub fn mask_in_image(logits_256: &[f32], model_from_image: &ModelFromImage) -> Mask {
    let (iw, ih) = model_from_image.image_size;
    mask_at(logits_256, model_from_image, iw, ih)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_stats_equal_counting_every_pixel() {
        // Smooth logits with a few sharp steps, as candidates have.
        let logits: Vec<f32> = (0..LOW_RES * LOW_RES)
            .map(|i| {
                let (x, y) = ((i % LOW_RES) as f32, (i / LOW_RES) as f32);
                ((x - 100.0) * 0.07).sin() * 3.0
                    + ((y - 60.0) * 0.05).cos() * 2.0
                    + if (x as usize / 30 + y as usize / 40).is_multiple_of(5) {
                        4.0
                    } else {
                        0.0
                    }
            })
            .collect();
        for t in [
            ModelFromImage::new(1000, 667, 1024),
            ModelFromImage::stretched(1000, 667, 1024),
            ModelFromImage::new(300, 900, 1024),
        ] {
            let (w, h) = t.image_size;
            let thresholds = [-1.0f32, 0.0, 1.0];
            let mut above = [0u64; 3];
            let mut bbox = (u32::MAX, u32::MAX, 0, 0);
            logit_rows(&logits, &t, (w, h), |y, row| {
                for (x, &v) in row.iter().enumerate() {
                    for (n, &th) in thresholds.iter().enumerate() {
                        above[n] += u64::from(v > th);
                    }
                    if v > 0.0 {
                        bbox.0 = bbox.0.min(x as u32);
                        bbox.2 = bbox.2.max(x as u32);
                        bbox.1 = bbox.1.min(y as u32);
                        bbox.3 = y as u32;
                    }
                }
            });
            let stats = threshold_stats(&logits, &t, (w, h), thresholds, 1);
            assert_eq!(stats.above, above);
            assert_eq!(stats.bbox, Some([bbox.0, bbox.1, bbox.2, bbox.3]));
        }
    }

    #[test]
    fn upscale_matches_torch_on_a_small_case() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), (4, 4),
        //     mode="bilinear", align_corners=False)
        let mut out = Vec::new();
        resize_bilinear(
            &[0.0, 1.0, 2.0, 3.0],
            2,
            (2, 2),
            (4, 4),
            (4, 4),
            |_, row| out.extend_from_slice(row),
        );
        assert_eq!(out.len(), 16);
        let expected = [
            0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0,
        ];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn a_region_at_one_pixel_per_pixel_is_that_part_of_the_full_mask() {
        let logits: Vec<f32> = (0..LOW_RES * LOW_RES)
            .map(|i| ((i % 97) as f32 - 48.0) * ((i / 251) as f32 - 120.0).signum())
            .collect();
        let t = ModelFromImage::new(300, 200, 1024);
        let full = mask_in_image(&logits, &t);
        let part = mask_region(&logits, &t, [40.0, 30.0, 140.0, 90.0], 100, 60);
        for y in 0..60 {
            for x in 0..100 {
                assert_eq!(part.get(x, y), full.get(x + 40, y + 30), "({x}, {y})");
            }
        }
        let whole = mask_region(&logits, &t, [0.0, 0.0, 300.0, 200.0], 300, 200);
        assert!(whole == full);
    }

    #[test]
    fn crop_drops_the_padding() {
        // Positive logits only in the padded bottom half of the model input: the image sees none.
        let mut logits = vec![-1.0f32; LOW_RES * LOW_RES];
        for v in &mut logits[LOW_RES * 200..] {
            *v = 5.0;
        }
        let t = ModelFromImage::new(400, 100, 1024); // resized 1024x256 → low-res rows 0..64
        let mask = mask_in_image(&logits, &t);
        assert_eq!((mask.width(), mask.height()), (400, 100));
        assert_eq!(mask.area(), 0);
    }
}
