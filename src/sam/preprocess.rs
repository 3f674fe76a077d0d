//! Image → encoder input, exactly as `SamPredictor` prepares it.
//!
//! Takes an RGB image in image space and returns the resized image (longest side = the model's input
//! size, antialiased bilinear as Pillow does it, within one level of Pillow's bytes) and the
//! normalized, zero-padded NCHW tensor.

use fast_image_resize as fir;
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

/// Reusable buffers and resizer for turning images into encoder inputs; one per model, so encoding
/// image after image allocates nothing after the first.
#[derive(Default)]
pub struct Preprocessor {
    resizer: fir::Resizer,
    resized: Vec<u8>,
    input: Vec<f32>,
}

/// The image could not be resized (only a broken image buffer can cause this).
#[derive(Debug, thiserror::Error)]
#[error("cannot resize the image: {0}")]
pub struct ResizeError(String);

impl Preprocessor {
    /// Resizes so that the longest side equals `target` with the antialiased bilinear filter that
    /// `SamPredictor` uses (Pillow's `Image.resize(size, BILINEAR)`), in SIMD. Returns the resized
    /// pixels (RGB, rows of `resized_size.0`), valid until the next call.
    pub fn resize(&mut self, image: &RgbImage, target: u32) -> Result<&[u8], ResizeError> {
        let (w, h) = resized_size(image.width(), image.height(), target);
        self.resize_to(image, w, h)
    }

    fn resize_to(&mut self, image: &RgbImage, w: u32, h: u32) -> Result<&[u8], ResizeError> {
        self.resized.clear();
        if (w, h) == image.dimensions() {
            self.resized.extend_from_slice(image.as_raw());
            return Ok(&self.resized);
        }
        let error = |e: &dyn std::fmt::Display| ResizeError(e.to_string());
        let src = fir::images::ImageRef::new(
            image.width(),
            image.height(),
            image.as_raw(),
            fir::PixelType::U8x3,
        )
        .map_err(|e| error(&e))?;
        self.resized.resize(w as usize * h as usize * 3, 0);
        let mut dst =
            fir::images::Image::from_slice_u8(w, h, &mut self.resized, fir::PixelType::U8x3)
                .map_err(|e| error(&e))?;
        let options = fir::ResizeOptions::new()
            .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Bilinear));
        self.resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| error(&e))?;
        Ok(&self.resized)
    }

    /// The `1x3xTxT` NCHW encoder input: the resized image normalized with `(x - mean) / std` and
    /// zero-padded at the bottom and right, written in one pass into a reused buffer.
    pub fn nchw(
        &mut self,
        image: &RgbImage,
        target: u32,
        mean: [f32; 3],
        std: [f32; 3],
    ) -> Result<&[f32], ResizeError> {
        let (w, _) = resized_size(image.width(), image.height(), target);
        self.resize(image, target)?;
        let mut input = std::mem::take(&mut self.input);
        normalize_pad_nchw_into(&self.resized, w as usize, target, mean, std, &mut input);
        self.input = input;
        Ok(&self.input)
    }

    /// The resized image as `H x W x 3` floats in 0..255, for encoders that preprocess in the graph.
    pub fn hwc(&mut self, image: &RgbImage, target: u32) -> Result<&[f32], ResizeError> {
        self.resize(image, target)?;
        self.input.clear();
        self.input
            .extend(self.resized.iter().map(|&v| f32::from(v)));
        Ok(&self.input)
    }
}

/// Writes `(x - mean) / std` of `rgb` (rows of `width` RGB pixels) into `out` as a `1x3xTxT` NCHW
/// tensor, zero elsewhere. Every element is written once; `out` is reused.
pub fn normalize_pad_nchw_into(
    rgb: &[u8],
    width: usize,
    target: u32,
    mean: [f32; 3],
    std: [f32; 3],
    out: &mut Vec<f32>,
) {
    let t = target as usize;
    let width = width.min(t);
    out.resize(3 * t * t, 0.0);
    // Divide, as torch does (multiplying by 1/std rounds differently): once per byte value.
    let lut: [[f32; 256]; 3] =
        std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 - mean[c]) / std[c]));
    let rows: Vec<&[u8]> = if width == 0 {
        Vec::new()
    } else {
        rgb.chunks_exact(width * 3).take(t).collect()
    };
    for (c, plane) in out.chunks_exact_mut(t * t).enumerate() {
        let lut = &lut[c];
        for (y, out_row) in plane.chunks_exact_mut(t).enumerate() {
            let (values, pad) = out_row.split_at_mut(if y < rows.len() { width } else { 0 });
            if let Some(row) = rows.get(y) {
                for (o, px) in values.iter_mut().zip(row.chunks_exact(3)) {
                    *o = lut[usize::from(px[c])];
                }
            }
            pad.fill(0.0);
        }
    }
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

    /// Asserts that every byte is within one level of Pillow's (SIMD fixed-point rounding).
    fn assert_close(actual: &[u8], pillow: &[u8]) {
        for (i, (&a, &p)) in actual.iter().zip(pillow).enumerate() {
            assert!(a.abs_diff(p) <= 1, "byte {i}: {a} vs Pillow's {p}");
        }
    }

    #[test]
    fn resize_matches_pillow() {
        // numpy: (arange(5*7*3).reshape(5,7,3)*37 % 256); PIL Image.resize(size, BILINEAR)
        let mut pre = Preprocessor::default();
        let shrunk = pre.resize_to(&pattern_7x5(), 3, 2).unwrap();
        assert_eq!(shrunk.len(), 3 * 2 * 3);
        assert_close(
            shrunk,
            &[
                104, 86, 123, 146, 123, 100, 123, 160, 142, 105, 104, 141, 145, 122, 118, 141, 161,
                131,
            ],
        );
        let grown = pre.resize_to(&pattern_7x5(), 11, 9).unwrap();
        assert_eq!(grown.len(), 11 * 9 * 3);
        assert_close(
            &grown[..40],
            &[
                0, 37, 74, 50, 87, 124, 121, 135, 172, 192, 43, 80, 169, 43, 80, 77, 114, 151, 148,
                185, 59, 148, 185, 36, 56, 93, 107, 104, 141, 178, 154, 191, 228, 3, 40, 77, 53,
                90, 127, 124,
            ],
        );
    }

    #[test]
    fn normalize_pads_with_zeros() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([255, 0, 128]));
        let mut t = vec![7.0; 5];
        normalize_pad_nchw_into(img.as_raw(), 2, 4, PIXEL_MEAN, PIXEL_STD, &mut t);
        assert_eq!(t.len(), 3 * 16);
        assert!((t[0] - (255.0 - 123.675) / 58.395).abs() < 1e-6);
        assert!((t[16] - (0.0 - 116.28) / 57.12).abs() < 1e-6);
        assert_eq!(t[2], 0.0); // padding column
        assert_eq!(t[4], 0.0); // padding row
        assert_eq!(t.iter().filter(|&&v| v != 0.0).count(), 6); // the old contents are gone
    }
}
