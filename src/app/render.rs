//! Pixels for the screen: image and mask textures, the annotation overlay, brush painting.

use egui::{Color32, ColorImage};
use image::RgbImage;

use crate::annotate::mask::Mask;

/// Colour of the mask being built.
pub const PREVIEW_COLOR: Color32 = Color32::from_rgb(30, 144, 255);

/// Textures larger than this are shown downscaled (screens are smaller); the GPU's own cap, which
/// can be lower, is passed in by the caller.
const MAX_TEXTURE_SIDE: u32 = 4096;

/// Longest side of a click preview: enough for a sharp view, cheap to upscale and upload per click.
/// The full-resolution mask is made only when it is needed (accept, brush).
const PREVIEW_MAX_SIDE: u32 = 2048;

/// `(w, h)` scaled down (aspect kept) so that its longest side is at most `cap`.
fn fit_within(w: u32, h: u32, cap: u32) -> (u32, u32) {
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

/// Size of the preview mask for an image of `(w, h)`.
pub fn preview_size((w, h): (u32, u32)) -> (u32, u32) {
    fit_within(w, h, PREVIEW_MAX_SIDE)
}

/// Size of a texture showing a `w x h` image: the image's, or downscaled to fit our cap and the GPU's.
fn texture_size(w: u32, h: u32, gpu_max: usize) -> (u32, u32) {
    let cap = MAX_TEXTURE_SIDE
        .min(u32::try_from(gpu_max).unwrap_or(u32::MAX))
        .max(1);
    fit_within(w, h, cap)
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

/// Paints (or erases) a round brush along the segment `from → to`, in image pixels.
pub fn paint_segment(mask: &mut Mask, from: [f32; 2], to: [f32; 2], radius: f32, inside: bool) {
    let length = ((to[0] - from[0]).powi(2) + (to[1] - from[1]).powi(2)).sqrt();
    let steps = (length / (radius * 0.5).max(0.5)).ceil().max(1.0) as usize;
    for s in 0..=steps {
        let t = s as f32 / steps as f32;
        let cx = from[0] + (to[0] - from[0]) * t;
        let cy = from[1] + (to[1] - from[1]) * t;
        let (x0, x1) = (
            (cx - radius).floor().max(0.0) as u32,
            (cx + radius).ceil().max(0.0) as u32,
        );
        let (y0, y1) = (
            (cy - radius).floor().max(0.0) as u32,
            (cy + radius).ceil().max(0.0) as u32,
        );
        for y in y0..=y1.min(mask.height().saturating_sub(1)) {
            for x in x0..=x1.min(mask.width().saturating_sub(1)) {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                if dx * dx + dy * dy <= radius * radius {
                    mask.set(x, y, inside);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brush_paints_and_erases() {
        let mut mask = Mask::new(20, 20);
        paint_segment(&mut mask, [5.0, 10.0], [15.0, 10.0], 2.0, true);
        assert!(mask.get(10, 10) && mask.get(5, 10) && !mask.get(10, 15));
        paint_segment(&mut mask, [10.0, 10.0], [10.0, 10.0], 1.0, false);
        assert!(!mask.get(10, 10) && mask.get(6, 10));
    }

    #[test]
    fn huge_images_get_capped_textures() {
        assert_eq!(texture_size(20000, 15000, 16384), (4096, 3072));
        assert_eq!(texture_size(3000, 2000, 2048), (2048, 1365));
        assert_eq!(texture_size(640, 480, 2048), (640, 480));
    }
}
