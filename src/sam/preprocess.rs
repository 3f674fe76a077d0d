//! Image → encoder input, exactly as `SamPredictor` prepares it.
//!
//! Takes an RGB image in image space and returns the resized image (longest side = the model's input
//! size, Pillow-style antialiased bilinear) and the normalized, zero-padded NCHW tensor.

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
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

/// Resizes so that the longest side equals `target`, with Pillow's bilinear filter (a convolution
/// whose support grows with the downscale factor, so shrinking is antialiased), as `SamPredictor` does
/// through torchvision's PIL path.
pub fn resize_longest_side(image: &RgbImage, target: u32) -> RgbImage {
    let (w, h) = resized_size(image.width(), image.height(), target);
    if (w, h) == image.dimensions() {
        return image.clone();
    }
    let mut dst = Image::new(w, h, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    // Sizes are non-zero and the pixel types match, so resizing cannot fail.
    Resizer::new()
        .resize(image, &mut dst, &options)
        .expect("resize between two U8x3 images of non-zero size");
    RgbImage::from_raw(w, h, dst.into_vec()).expect("buffer size matches dimensions")
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
