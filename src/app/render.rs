//! Pixels for the screen: image and mask textures, the annotation overlay, brush painting.

use egui::{Color32, ColorImage};
use image::RgbImage;

use crate::annotate::mask::Mask;
use crate::sam::postprocess::fit_within;

/// Colour of the mask being built.
pub const PREVIEW_COLOR: Color32 = Color32::from_rgb(30, 144, 255);

/// Textures larger than this are shown downscaled (screens are smaller); the GPU's own cap, which
/// can be lower, is passed in by the caller.
const MAX_TEXTURE_SIDE: u32 = 4096;

/// Size of a texture showing a `w x h` image: the image's, or downscaled to fit our cap and the GPU's.
fn texture_size(w: u32, h: u32, gpu_max: usize) -> (u32, u32) {
    let cap = MAX_TEXTURE_SIDE
        .min(u32::try_from(gpu_max).unwrap_or(u32::MAX))
        .max(1);
    fit_within((w, h), cap)
}

pub fn image_texture(image: &RgbImage, gpu_max: usize) -> ColorImage {
    let (w, h) = texture_size(image.width(), image.height(), gpu_max);
    let shown = if (w, h) == image.dimensions() {
        std::borrow::Cow::Borrowed(image)
    } else {
        std::borrow::Cow::Owned(image::imageops::thumbnail(image, w, h))
    };
    ColorImage::from_rgb([w as usize, h as usize], shown.as_raw())
}

/// Calls `f(texture pixel index, mask x, mask y)` for each texture pixel (nearest sampling).
fn for_each_sample(
    mask_w: u32,
    mask_h: u32,
    gpu_max: usize,
    mut f: impl FnMut(usize, u32, u32),
) -> (u32, u32) {
    let (w, h) = texture_size(mask_w, mask_h, gpu_max);
    for ty in 0..h {
        let y = (u64::from(ty) * u64::from(mask_h) / u64::from(h)) as u32;
        for tx in 0..w {
            let x = (u64::from(tx) * u64::from(mask_w) / u64::from(w)) as u32;
            f((ty * w + tx) as usize, x, y);
        }
    }
    (w, h)
}

/// A mask as a translucent colour layer with an opaque outline.
pub fn mask_texture(mask: &Mask, color: Color32, alpha: u8, gpu_max: usize) -> ColorImage {
    let (w, h) = texture_size(mask.width(), mask.height(), gpu_max);
    let mut pixels = vec![Color32::TRANSPARENT; (w * h) as usize];
    for_each_sample(mask.width(), mask.height(), gpu_max, |i, x, y| {
        if mask.get(x, y) {
            let a = if is_edge(mask, x, y) { 255 } else { alpha };
            pixels[i] = Color32::from_rgba_unmultiplied(color.r(), color.g(), color.b(), a);
        }
    });
    ColorImage::new([w as usize, h as usize], pixels)
}

fn is_edge(mask: &Mask, x: u32, y: u32) -> bool {
    x == 0
        || y == 0
        || !mask.get(x - 1, y)
        || !mask.get(x + 1, y)
        || !mask.get(x, y - 1)
        || !mask.get(x, y + 1)
}

/// All accepted annotations of an image in one layer: fills in their category colour, outlines
/// opaque, highlighted ones stronger.
pub fn overlay(
    mask_w: u32,
    mask_h: u32,
    layers: &[(&Mask, Color32, bool)],
    gpu_max: usize,
) -> ColorImage {
    let (w, h) = texture_size(mask_w, mask_h, gpu_max);
    let mut pixels = vec![Color32::TRANSPARENT; (w * h) as usize];
    for &(mask, color, highlight) in layers {
        let fill = if highlight { 150 } else { 90 };
        for_each_sample(mask_w, mask_h, gpu_max, |i, x, y| {
            if mask.get(x, y) {
                let a = if is_edge(mask, x, y) { 255 } else { fill };
                pixels[i] = Color32::from_rgba_unmultiplied(color.r(), color.g(), color.b(), a);
            }
        });
    }
    ColorImage::new([w as usize, h as usize], pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_images_get_capped_textures() {
        assert_eq!(texture_size(20000, 15000, 16384), (4096, 3072));
        assert_eq!(texture_size(3000, 2000, 2048), (2048, 1365));
        assert_eq!(texture_size(640, 480, 2048), (640, 480));
    }
}
