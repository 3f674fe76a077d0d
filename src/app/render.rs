//! Pixels for the screen: image and mask textures, the annotation overlay, brush painting.

use egui::{Color32, ColorImage};
use image::RgbImage;

use crate::annotate::mask::Mask;
use crate::sam::postprocess::fit_within;

/// Colour of the mask being built.
pub const PREVIEW_COLOR: Color32 = Color32::from_rgb(30, 144, 255);

/// Whether a category colour is too close to the preview's to tell them apart.
pub fn looks_like_preview([r, g, b]: [u8; 3]) -> bool {
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).pow(2);
    d(r, PREVIEW_COLOR.r()) + d(g, PREVIEW_COLOR.g()) + d(b, PREVIEW_COLOR.b()) < 60 * 60
}

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

/// The preview mask: a translucent layer with a dashed outline (colour and white), so it never looks
/// like an accepted mask of any category.
pub fn mask_texture(mask: &Mask, color: Color32, alpha: u8, gpu_max: usize) -> ColorImage {
    let (w, h) = texture_size(mask.width(), mask.height(), gpu_max);
    let mut pixels = vec![Color32::TRANSPARENT; (w * h) as usize];
    let step = (mask.width() / w.max(1)).max(1);
    for_each_sample(mask.width(), mask.height(), gpu_max, |i, x, y| {
        if mask.get(x, y) {
            pixels[i] = if is_edge(mask, x, y, step) {
                // Dashes of about 6 texture pixels.
                if ((x / step + y / step) / 6).is_multiple_of(2) {
                    Color32::WHITE
                } else {
                    color
                }
            } else {
                Color32::from_rgba_unmultiplied(color.r(), color.g(), color.b(), alpha)
            };
        }
    });
    ColorImage::new([w as usize, h as usize], pixels)
}

/// Whether pixel `(x, y)` of the mask lies within `reach` pixels of its outside (4-neighbours).
fn is_edge(mask: &Mask, x: u32, y: u32, reach: u32) -> bool {
    x < reach
        || y < reach
        || !mask.get(x - reach, y)
        || !mask.get(x + reach, y)
        || !mask.get(x, y - reach)
        || !mask.get(x, y + reach)
}

/// Whether pixel `(x, y)`, outside the mask, touches it within `reach` pixels.
fn touches(mask: &Mask, x: u32, y: u32, reach: u32) -> bool {
    mask.get(x + reach, y)
        || mask.get(x, y + reach)
        || (x >= reach && mask.get(x - reach, y))
        || (y >= reach && mask.get(x, y - reach))
}

/// One accepted annotation in the overlay.
pub struct OverlayLayer<'a> {
    pub mask: &'a Mask,
    /// COCO `[x, y, width, height]` of the mask: only that part of the texture is visited.
    pub bbox: [u32; 4],
    pub color: Color32,
    pub selected: bool,
    pub hovered: bool,
}

/// How accepted masks are drawn.
#[derive(Clone, Copy)]
pub struct OverlayStyle {
    /// Fill opacity, 0..=1.
    pub fill: f32,
    pub outlines_only: bool,
}

/// Black or white, whichever stands out against `color`.
fn contrast(color: Color32) -> Color32 {
    let luma =
        0.299 * f32::from(color.r()) + 0.587 * f32::from(color.g()) + 0.114 * f32::from(color.b());
    if luma > 140.0 {
        Color32::from_rgb(20, 20, 20)
    } else {
        Color32::from_rgb(245, 245, 245)
    }
}

/// `color` darkened by `factor` (instances of one category get different shades).
fn shaded(color: Color32, factor: f32) -> Color32 {
    let f = |c: u8| (f32::from(c) * factor).round() as u8;
    Color32::from_rgb(f(color.r()), f(color.g()), f(color.b()))
}

/// All accepted annotations of an image in one texture: each filled in a shade of its category's
/// colour (neighbouring instances of one category differ), outlined in that colour with a contrasting
/// (dark or light) rim outside so that it stays visible on any background; the selected one with a
/// thick contrasting outline, the hovered one filled stronger.
pub fn overlay(
    mask_w: u32,
    mask_h: u32,
    layers: &[OverlayLayer<'_>],
    style: OverlayStyle,
    gpu_max: usize,
) -> ColorImage {
    let (w, h) = texture_size(mask_w, mask_h, gpu_max);
    let mut pixels = vec![Color32::TRANSPARENT; (w * h) as usize];
    // Mask pixels per texture pixel: outlines are measured in texture pixels, so they stay visible
    // when a large image is shown downscaled.
    let step = (mask_w / w.max(1)).max(1);
    let to_texture = |v: u32, mask_len: u32, len: u32| {
        (u64::from(v) * u64::from(len) / u64::from(mask_len.max(1))) as u32
    };
    for (n, layer) in layers.iter().enumerate() {
        let fill_color = shaded(layer.color, [1.0, 0.8, 0.62][n % 3]);
        let strength = if layer.selected || layer.hovered {
            1.8
        } else {
            1.0
        };
        let fill_alpha = if style.outlines_only {
            0
        } else {
            (style.fill * strength * 255.0).clamp(0.0, 255.0) as u8
        };
        let rim = contrast(layer.color);
        let outline_reach = if layer.selected { 3 * step } else { step };
        let [bx, by, bw, bh] = layer.bbox;
        let margin = 2 * step;
        let tx0 = to_texture(bx.saturating_sub(margin), mask_w, w);
        let ty0 = to_texture(by.saturating_sub(margin), mask_h, h);
        let tx1 = (to_texture(bx + bw + margin, mask_w, w) + 1).min(w);
        let ty1 = (to_texture(by + bh + margin, mask_h, h) + 1).min(h);
        for ty in ty0..ty1 {
            let y = (u64::from(ty) * u64::from(mask_h) / u64::from(h)) as u32;
            for tx in tx0..tx1 {
                let x = (u64::from(tx) * u64::from(mask_w) / u64::from(w)) as u32;
                let i = (ty * w + tx) as usize;
                if layer.mask.get(x, y) {
                    if layer.selected && is_edge(layer.mask, x, y, outline_reach) {
                        pixels[i] = rim;
                    } else if is_edge(layer.mask, x, y, step) {
                        pixels[i] = layer.color;
                    } else if fill_alpha > 0 {
                        pixels[i] = Color32::from_rgba_unmultiplied(
                            fill_color.r(),
                            fill_color.g(),
                            fill_color.b(),
                            fill_alpha,
                        );
                    }
                } else if touches(layer.mask, x, y, step) {
                    pixels[i] = rim;
                }
            }
        }
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
