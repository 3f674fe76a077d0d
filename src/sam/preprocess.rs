//! Image → encoder input, exactly as `SamPredictor` prepares it.
//!
//! Takes an RGB image in image space and returns the resized image (longest side = the model's input
//! size, antialiased bilinear exactly as Pillow does it, byte for byte) and the
//! normalized, zero-padded NCHW tensor.

use image::RgbImage;

use super::{interpolate, resample};

/// What the encoder's input is made with; part of the embedding cache's key. Change it whenever the
/// bytes this module produces change, so that cached embeddings made the old way are not reused.
pub const VERSION: &str = "pillow13-bilinear, torch-aa-x86";

/// ImageNet mean and std in 0..255, as SAM was trained with.
pub const PIXEL_MEAN: [f32; 3] = [123.675, 116.28, 103.53];
pub const PIXEL_STD: [f32; 3] = [58.395, 57.12, 57.375];

/// How an image is fitted into the square model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// SAM 1's `ResizeLongestSide`: scaled by `target / max(w, h)`, each side rounded with
    /// `floor(x * scale + 0.5)`, then zero-padded at the bottom/right to `target x target`.
    LongestSide,
    /// SAM 2's `SAM2Transforms`: stretched to `target x target`, aspect ratio not kept.
    Stretch,
}

/// Image space → model space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelFromImage {
    /// Size of the image, `(width, height)` in image pixels.
    pub image_size: (u32, u32),
    /// Size of the resized image inside the model input, `(width, height)`.
    pub resized_size: (u32, u32),
    /// Side of the square model input (1024 for SAM).
    pub target: u32,
    pub fit: Fit,
}

impl ModelFromImage {
    /// SAM 1's transform ([`Fit::LongestSide`]).
    pub fn new(image_width: u32, image_height: u32, target: u32) -> Self {
        Self {
            image_size: (image_width, image_height),
            resized_size: resized_size(image_width, image_height, target),
            target,
            fit: Fit::LongestSide,
        }
    }

    /// SAM 2's transform ([`Fit::Stretch`]).
    pub fn stretched(image_width: u32, image_height: u32, target: u32) -> Self {
        Self {
            image_size: (image_width, image_height),
            resized_size: (target, target),
            target,
            fit: Fit::Stretch,
        }
    }

    /// Maps a point in image pixels to model-space pixels, per axis, with the official code's
    /// arithmetic: `apply_coords` (SAM 1) or `transform_coords` (SAM 2: `x / w * 1024` in f32).
    pub fn apply(&self, point_in_image: [f32; 2]) -> [f32; 2] {
        let (w, h) = self.image_size;
        match self.fit {
            Fit::LongestSide => {
                let sx = f64::from(self.resized_size.0) / f64::from(w);
                let sy = f64::from(self.resized_size.1) / f64::from(h);
                [
                    (f64::from(point_in_image[0]) * sx) as f32,
                    (f64::from(point_in_image[1]) * sy) as f32,
                ]
            }
            Fit::Stretch => {
                let t = self.target as f32;
                [
                    point_in_image[0] / w as f32 * t,
                    point_in_image[1] / h as f32 * t,
                ]
            }
        }
    }
}

/// `ResizeLongestSide.get_preprocess_shape`, returned as `(width, height)`.
pub fn resized_size(width: u32, height: u32, target: u32) -> (u32, u32) {
    let scale = f64::from(target) / f64::from(width.max(height));
    let side = |x: u32| ((f64::from(x) * scale + 0.5).floor() as u32).max(1);
    (side(width), side(height))
}

/// Reusable buffers for turning images into encoder inputs; one per model, so encoding image after
/// image of the same size allocates nothing after the first.
pub struct Preprocessor {
    scratch: Vec<resample::Scratch>,
    resized: Vec<u8>,
    input: Vec<f32>,
    /// Per channel: the float resize's intermediate plane and one input row.
    float_scratch: [(Vec<f32>, Vec<f32>); 3],
    threads: usize,
}

impl Default for Preprocessor {
    fn default() -> Self {
        Self {
            scratch: Vec::new(),
            resized: Vec::new(),
            input: Vec::new(),
            float_scratch: Default::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl Preprocessor {
    /// Resizes so that the longest side equals `target` exactly as `SamPredictor` does (Pillow's
    /// `Image.resize(size, BILINEAR)`, byte for byte), on all cores. Returns the resized pixels (RGB,
    /// rows of `resized_size.0`), valid until the next call.
    pub fn resize(&mut self, image: &RgbImage, target: u32) -> &[u8] {
        let (w, h) = resized_size(image.width(), image.height(), target);
        self.resize_to(image, w, h)
    }

    fn resize_to(&mut self, image: &RgbImage, w: u32, h: u32) -> &[u8] {
        self.resized.clear();
        if (w, h) == image.dimensions() {
            // Pillow returns a copy for the same size.
            self.resized.extend_from_slice(image.as_raw());
            return &self.resized;
        }
        self.resized.resize(w as usize * h as usize * 3, 0);
        resample::resize_rgb(
            image.as_raw(),
            (image.width() as usize, image.height() as usize),
            &mut self.resized,
            (w as usize, h as usize),
            resample::Flavor::Pillow,
            self.threads,
            &mut self.scratch,
        );
        &self.resized
    }

    /// The `1x3xTxT` NCHW encoder input: the resized image normalized with `(x - mean) / std` and
    /// zero-padded at the bottom and right, written in one pass into a reused buffer.
    pub fn nchw(&mut self, image: &RgbImage, target: u32, mean: [f32; 3], std: [f32; 3]) -> &[f32] {
        let (w, _) = resized_size(image.width(), image.height(), target);
        self.resize(image, target);
        let mut input = std::mem::take(&mut self.input);
        normalize_pad_nchw_into(
            &self.resized,
            w as usize,
            target,
            mean,
            std,
            &mut input,
            self.threads,
        );
        self.input = input;
        &self.input
    }

    /// SAM 2's `SAM2Transforms`: the `1x3xTxT` NCHW input of the image as 0..1 floats (`ToTensor`),
    /// stretched to `T x T` with torch's antialiased bilinear (`Resize`), then `(x - mean) / std`
    /// (`Normalize`). One thread per channel.
    pub fn stretched_nchw(
        &mut self,
        image: &RgbImage,
        target: u32,
        mean: [f32; 3],
        std: [f32; 3],
    ) -> &[f32] {
        let t = target as usize;
        let (w, h) = (image.width() as usize, image.height() as usize);
        let rgb = image.as_raw();
        self.input.resize(3 * t * t, 0.0);
        std::thread::scope(|scope| {
            let planes = self.input.chunks_exact_mut(t * t);
            for (c, (plane, (temp, row))) in planes.zip(&mut self.float_scratch).enumerate() {
                scope.spawn(move || {
                    let load = |y: usize, row: &mut [f32]| {
                        let pixels = rgb[y * w * 3..(y + 1) * w * 3].chunks_exact(3);
                        for (v, px) in row.iter_mut().zip(pixels) {
                            *v = f32::from(px[c]) / 255.0;
                        }
                    };
                    interpolate::resize_plane(load, (w, h), plane, (t, t), temp, row);
                    for v in plane.iter_mut() {
                        *v = (*v - mean[c]) / std[c];
                    }
                });
            }
        });
        &self.input
    }

    /// The resized image as `H x W x 3` floats in 0..255, for encoders that preprocess in the graph.
    pub fn hwc(&mut self, image: &RgbImage, target: u32) -> &[f32] {
        self.resize(image, target);
        self.input.clear();
        self.input
            .extend(self.resized.iter().map(|&v| f32::from(v)));
        &self.input
    }
}

/// Writes `(x - mean) / std` of `rgb` (rows of `width` RGB pixels) into `out` as a `1x3xTxT` NCHW
/// tensor, zero elsewhere, splitting the rows over up to `threads` threads. Every element is written
/// once; `out` is reused.
pub fn normalize_pad_nchw_into(
    rgb: &[u8],
    width: usize,
    target: u32,
    mean: [f32; 3],
    std: [f32; 3],
    out: &mut Vec<f32>,
    threads: usize,
) {
    let t = target as usize;
    let width = width.min(t);
    out.resize(3 * t * t, 0.0);
    let rows: Vec<&[u8]> = if width == 0 {
        Vec::new()
    } else {
        rgb.chunks_exact(width * 3).take(t).collect()
    };
    let band = t.div_ceil(threads.clamp(1, t.max(1))).max(1);
    let [red, green, blue] = planes(out, t * t);
    let bands = red
        .chunks_mut(band * t)
        .zip(green.chunks_mut(band * t))
        .zip(blue.chunks_mut(band * t))
        .enumerate();
    std::thread::scope(|scope| {
        for (b, ((red, green), blue)) in bands {
            let rows = rows.get(b * band..).unwrap_or_default();
            scope.spawn(move || normalize_band(rows, [red, green, blue], t, width, mean, std));
        }
    });
}

fn planes(out: &mut [f32], plane: usize) -> [&mut [f32]; 3] {
    let (red, rest) = out.split_at_mut(plane);
    let (green, blue) = rest.split_at_mut(plane);
    [red, green, blue]
}

/// Rows `rows` (and zeros below them) into one band of each plane.
fn normalize_band(
    rows: &[&[u8]],
    planes: [&mut [f32]; 3],
    t: usize,
    width: usize,
    mean: [f32; 3],
    std: [f32; 3],
) {
    for (c, plane) in planes.into_iter().enumerate() {
        let (mean, std) = (mean[c], std[c]);
        for (y, out_row) in plane.chunks_exact_mut(t).enumerate() {
            let (values, pad) = out_row.split_at_mut(if y < rows.len() { width } else { 0 });
            if let Some(row) = rows.get(y) {
                for (o, px) in values.iter_mut().zip(row.chunks_exact(3)) {
                    // Divide, as torch does: multiplying by 1/std rounds differently.
                    *o = (f32::from(px[c]) - mean) / std;
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

    #[test]
    fn resize_matches_pillow() {
        // numpy: (arange(5*7*3).reshape(5,7,3)*37 % 256); PIL Image.resize(size, BILINEAR)
        let mut pre = Preprocessor::default();
        let shrunk = pre.resize_to(&pattern_7x5(), 3, 2).to_vec();
        assert_eq!(shrunk.len(), 3 * 2 * 3);
        assert_eq!(
            shrunk,
            [
                104, 86, 123, 146, 123, 100, 123, 160, 142, 105, 104, 141, 145, 122, 118, 141, 161,
                131,
            ],
        );
        let grown = pre.resize_to(&pattern_7x5(), 11, 9).to_vec();
        assert_eq!(grown.len(), 11 * 9 * 3);
        assert_eq!(
            grown[..40],
            [
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
        normalize_pad_nchw_into(img.as_raw(), 2, 4, PIXEL_MEAN, PIXEL_STD, &mut t, 2);
        assert_eq!(t.len(), 3 * 16);
        assert!((t[0] - (255.0 - 123.675) / 58.395).abs() < 1e-6);
        assert!((t[16] - (0.0 - 116.28) / 57.12).abs() < 1e-6);
        assert_eq!(t[2], 0.0); // padding column
        assert_eq!(t[4], 0.0); // padding row
        assert_eq!(t.iter().filter(|&&v| v != 0.0).count(), 6); // the old contents are gone
    }
}
