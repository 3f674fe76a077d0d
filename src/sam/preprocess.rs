//! Image → encoder input, exactly as `SamPredictor` prepares it.
//!
//! Takes an RGB image in image space and returns the resized image (longest side = the model's input
//! size, Pillow's antialiased bilinear, byte for byte) and the normalized, zero-padded NCHW tensor.

use image::RgbImage;

/// ImageNet mean and std in 0..255, as SAM was trained with.
pub const PIXEL_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
pub const PIXEL_STD: [f32; 3] = [58.395, 57.12, 57.375];

/// Image space → model space: SAM's `ResizeLongestSide`.
///
/// The image is scaled by `target / max(w, h)` and each side rounded with `floor(x * scale + 0.5)`;
/// the model input is then padded at the bottom/right to `target x target`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelFromImage {
    /// Size of the image, `(width, height)` in image pixels.
    pub image_size: (u32, u32),
    /// Size of the resized image inside the padded model input, `(width, height)`.
    pub resized_size: (u32, u32),
    /// Side of the square model input (1024 for SAM).
    pub target: u32,
}

impl ModelFromImage {
    pub fn new(image_width: u32, image_height: u32, target: u32) -> Self {
        Self {
            image_size: (image_width, image_height),
            resized_size: resized_size(image_width, image_height, target),
            target,
        }
    }

    /// Maps a point in image pixels to model-space pixels, per axis like `apply_coords`.
    pub fn apply(&self, point_in_image: [f32; 2]) -> [f32; 2] {
        let sx = f64::from(self.resized_size.0) / f64::from(self.image_size.0);
        let sy = f64::from(self.resized_size.1) / f64::from(self.image_size.1);
        [
            (f64::from(point_in_image[0]) * sx) as f32,
            (f64::from(point_in_image[1]) * sy) as f32,
        ]
    }
}

/// `ResizeLongestSide.get_preprocess_shape`, returned as `(width, height)`.
pub fn resized_size(width: u32, height: u32, target: u32) -> (u32, u32) {
    let scale = f64::from(target) / f64::from(width.max(height));
    let side = |x: u32| ((f64::from(x) * scale + 0.5).floor() as u32).max(1);
    (side(width), side(height))
}

/// Resizes so that the longest side equals `target`, exactly as `SamPredictor` does through
/// torchvision's PIL path (`Image.resize(size, BILINEAR)`).
pub fn resize_longest_side(image: &RgbImage, target: u32) -> RgbImage {
    let (w, h) = resized_size(image.width(), image.height(), target);
    if (w, h) == image.dimensions() {
        return image.clone();
    }
    resize_bilinear_pil(image, w, h)
}

/// Fixed-point precision of Pillow's 8-bit resampling (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// Pillow's per-output-pixel filter windows: the first source index and the integer weights.
struct Coefficients {
    /// `(first source index, number of taps)` per output index.
    bounds: Vec<(usize, usize)>,
    /// `out_len x taps` fixed-point weights.
    weights: Vec<i32>,
    taps: usize,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear (triangle) filter. The
/// support grows with the downscale factor, which is what makes shrinking antialiased.
fn coefficients(in_len: usize, out_len: usize) -> Coefficients {
    let scale = in_len as f64 / out_len as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle filter's support is 1
    let taps = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_len);
    let mut weights = vec![0i32; out_len * taps];
    let mut k = vec![0.0f64; taps];
    for out in 0..out_len {
        let center = (out as f64 + 0.5) * scale;
        // C's `(int)` truncates toward zero; negative starts are clamped to 0 right after.
        let min = ((center - support + 0.5) as i64).max(0) as usize;
        let max =
            (((center + support + 0.5) as i64).min(in_len as i64) as usize).saturating_sub(min);
        let mut total = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(max) {
            let t = ((x + min) as f64 - center + 0.5) / filter_scale;
            let w = (1.0 - t.abs()).max(0.0);
            *kx = w;
            total += w;
        }
        for (x, &kx) in k.iter().enumerate().take(max) {
            let normalized = if total != 0.0 { kx / total } else { 0.0 };
            let fixed = normalized * f64::from(1u32 << PRECISION_BITS);
            weights[out * taps + x] = if fixed < 0.0 {
                (fixed - 0.5).trunc()
            } else {
                (fixed + 0.5).trunc()
            } as i32;
        }
        bounds.push((min, max));
    }
    Coefficients {
        bounds,
        weights,
        taps,
    }
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's two-pass 8-bit resample: horizontal into an 8-bit image, then vertical, with Pillow's
/// rounding at each pass, so the result is byte-identical to `Image.resize(..., BILINEAR)`.
fn resize_bilinear_pil(image: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    let (in_w, in_h) = (image.width() as usize, image.height() as usize);
    let (out_w, out_h) = (out_w as usize, out_h as usize);
    let horizontal = coefficients(in_w, out_w);
    let vertical = coefficients(in_h, out_h);
    let src = image.as_raw();
    let stride = out_w * 3;

    // Only the rows the vertical pass reads go through the horizontal pass, as in Pillow.
    let first_row = vertical.bounds.first().map_or(0, |b| b.0);
    let last_row = vertical.bounds.last().map_or(0, |b| b.0 + b.1);
    let mut temp = vec![0u8; (last_row - first_row) * stride];
    in_parallel(&mut temp, stride, |r, out_row| {
        let row = first_row + r;
        horizontal_row(
            &src[row * in_w * 3..(row + 1) * in_w * 3],
            &horizontal,
            out_row,
        );
    });

    let mut out = vec![0u8; out_h * stride];
    in_parallel(&mut out, stride, |y, out_row| {
        let (min, n) = vertical.bounds[y];
        let k = &vertical.weights[y * vertical.taps..y * vertical.taps + n];
        let rows = k.iter().enumerate().map(|(j, &w)| {
            let at = (min - first_row + j) * stride;
            (&temp[at..at + stride], w)
        });
        vertical_row(rows, out_row);
    });
    RgbImage::from_raw(out_w as u32, out_h as u32, out).expect("buffer size matches dimensions")
}

/// One output row of the horizontal pass (3 channels interleaved).
fn horizontal_row(in_row: &[u8], c: &Coefficients, out_row: &mut [u8]) {
    let half = 1i32 << (PRECISION_BITS - 1);
    for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
        let (min, n) = c.bounds[x];
        let k = &c.weights[x * c.taps..x * c.taps + n];
        let mut acc = [half; 3];
        for (s, &w) in in_row[min * 3..(min + n) * 3].chunks_exact(3).zip(k) {
            acc[0] += i32::from(s[0]) * w;
            acc[1] += i32::from(s[1]) * w;
            acc[2] += i32::from(s[2]) * w;
        }
        px[0] = clip8(acc[0]);
        px[1] = clip8(acc[1]);
        px[2] = clip8(acc[2]);
    }
}

/// One output row of the vertical pass: a weighted sum of whole input rows, accumulated row by row
/// so the inner loop runs over contiguous memory (and vectorizes).
fn vertical_row<'a>(rows: impl Iterator<Item = (&'a [u8], i32)>, out_row: &mut [u8]) {
    let mut acc = vec![1i32 << (PRECISION_BITS - 1); out_row.len()];
    for (row, w) in rows {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += i32::from(v) * w;
        }
    }
    for (o, a) in out_row.iter_mut().zip(acc) {
        *o = clip8(a);
    }
}

/// Fills `out` (rows of `stride` bytes) with `fill(row index, row)`, splitting the rows over the cores.
fn in_parallel(out: &mut [u8], stride: usize, fill: impl Fn(usize, &mut [u8]) + Sync) {
    let rows = out.len() / stride.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rows.max(1));
    let per_thread = rows.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (t, chunk) in out.chunks_mut(per_thread * stride).enumerate() {
            let fill = &fill;
            scope.spawn(move || {
                for (r, row) in chunk.chunks_exact_mut(stride).enumerate() {
                    fill(t * per_thread + r, row);
                }
            });
        }
    });
}

/// Writes `(x - mean) / std` of the resized image into a `1x3xTxT` NCHW tensor, zero elsewhere.
pub fn normalize_pad_nchw(
    resized: &RgbImage,
    target: u32,
    mean: [f32; 3],
    std: [f32; 3],
) -> Vec<f32> {
    let t = target as usize;
    let mut out = vec![0.0f32; 3 * t * t];
    let (w, h) = (resized.width() as usize, resized.height() as usize);
    for (y, row) in resized
        .as_raw()
        .chunks_exact(w * 3)
        .enumerate()
        .take(h.min(t))
    {
        for (x, px) in row.chunks_exact(3).enumerate().take(w.min(t)) {
            for c in 0..3 {
                // Divide, as torch does: multiplying by 1/std rounds differently.
                out[c * t * t + y * t + x] = (f32::from(px[c]) - mean[c]) / std[c];
            }
        }
    }
    out
}

/// The resized image as HWC floats in 0..255, for encoders that preprocess inside the graph.
pub fn hwc_f32(resized: &RgbImage) -> Vec<f32> {
    resized.as_raw().iter().map(|&v| f32::from(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_rule_matches_sam() {
        // floor(x * 1024 / max + 0.5)
        assert_eq!(resized_size(640, 480, 1024), (1024, 768));
        assert_eq!(resized_size(451, 300, 1024), (1024, 681));
        assert_eq!(resized_size(300, 451, 1024), (681, 1024));
        assert_eq!(resized_size(1024, 1024, 1024), (1024, 1024));
        assert_eq!(resized_size(4000, 2667, 1024), (1024, 683));
        assert_eq!(resized_size(1, 5000, 1024), (1, 1024));
    }

    #[test]
    fn model_from_image_scales_per_axis() {
        let t = ModelFromImage::new(451, 300, 1024);
        let p = t.apply([451.0, 300.0]);
        assert!(
            (p[0] - 1024.0).abs() < 1e-3 && (p[1] - 681.0).abs() < 1e-3,
            "{p:?}"
        );
        let p = t.apply([10.0, 20.0]);
        assert!((p[0] - 10.0 * 1024.0 / 451.0).abs() < 1e-3);
        assert!((p[1] - 20.0 * 681.0 / 300.0).abs() < 1e-3);
    }

    fn pattern_7x5() -> RgbImage {
        let data: Vec<u8> = (0..5 * 7 * 3).map(|i: u32| (i * 37 % 256) as u8).collect();
        RgbImage::from_raw(7, 5, data).unwrap()
    }

    #[test]
    fn resize_is_byte_identical_to_pillow() {
        // numpy: (arange(5*7*3).reshape(5,7,3)*37 % 256); PIL Image.resize(size, BILINEAR)
        let shrunk = resize_bilinear_pil(&pattern_7x5(), 3, 2);
        assert_eq!(
            shrunk.as_raw(),
            &[
                104, 86, 123, 146, 123, 100, 123, 160, 142, 105, 104, 141, 145, 122, 118, 141, 161,
                131
            ]
        );
        let grown = resize_bilinear_pil(&pattern_7x5(), 11, 9);
        assert_eq!(
            &grown.as_raw()[..40],
            &[
                0, 37, 74, 50, 87, 124, 121, 135, 172, 192, 43, 80, 169, 43, 80, 77, 114, 151, 148,
                185, 59, 148, 185, 36, 56, 93, 107, 104, 141, 178, 154, 191, 228, 3, 40, 77, 53,
                90, 127, 124
            ]
        );
    }

    #[test]
    fn normalize_pads_with_zeros() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 0, 128]));
        let t = normalize_pad_nchw(&img, 4, PIXEL_MEAN, PIXEL_STD);
        assert_eq!(t.len(), 3 * 16);
        assert!((t[0] - (255.0 - 123.675) / 58.395).abs() < 1e-6);
        assert!((t[16] - (0.0 - 116.28) / 57.12).abs() < 1e-6);
        assert_eq!(t[2], 0.0); // padding column
        assert_eq!(t[4], 0.0); // padding row
    }
}
