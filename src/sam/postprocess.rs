//! Low-res logits (`256 x 256`) → full-resolution `Mask`, exactly as `SamPredictor` postprocesses:
//! bilinear (align_corners = false) to the padded model size, crop the padding, bilinear to the
//! image size, threshold at 0.

use crate::annotate::mask::Mask;

use super::decoder::LOW_RES;
use super::preprocess::ModelFromImage;

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

/// Bilinear resize of a row-major `in_h x in_w` plane, reading only its top-left `in_h x in_w` window
/// of a plane whose rows are `stride` long.
fn resize_bilinear(
    src: &[f32],
    stride: usize,
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<f32> {
    let xs = Axis::new(in_w, out_w);
    let ys = Axis::new(in_h, out_h);
    let mut out = vec![0.0f32; out_w * out_h];
    for (oy, out_row) in out.chunks_exact_mut(out_w).enumerate() {
        let (y0, y1, fy) = (ys.lo[oy], ys.hi[oy], ys.frac[oy]);
        let row0 = &src[y0 * stride..y0 * stride + in_w];
        let row1 = &src[y1 * stride..y1 * stride + in_w];
        for (ox, v) in out_row.iter_mut().enumerate() {
            let (x0, x1, fx) = (xs.lo[ox], xs.hi[ox], xs.frac[ox]);
            let top = (1.0 - fx) * row0[x0] + fx * row0[x1];
            let bottom = (1.0 - fx) * row1[x0] + fx * row1[x1];
            *v = (1.0 - fy) * top + fy * bottom;
        }
    }
    out
}

/// Upscales one candidate's low-res logits to `out_w x out_h` logits covering the whole image
/// (row-major). At the image's own size this is exactly `SamPredictor.postprocess_masks`; smaller sizes
/// give a screen-resolution preview without building the full-resolution mask.
pub fn logits_at(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    out_w: u32,
    out_h: u32,
) -> Vec<f32> {
    let target = model_from_image.target as usize;
    let (rw, rh) = model_from_image.resized_size;
    let padded = resize_bilinear(logits_256, LOW_RES, LOW_RES, LOW_RES, target, target);
    resize_bilinear(
        &padded,
        target,
        rw as usize,
        rh as usize,
        out_w as usize,
        out_h as usize,
    )
}

/// Upscales one candidate's low-res logits to logits at image size (`height x width`, row-major).
pub fn logits_in_image(logits_256: &[f32], model_from_image: &ModelFromImage) -> Vec<f32> {
    let (iw, ih) = model_from_image.image_size;
    logits_at(logits_256, model_from_image, iw, ih)
}

/// Thresholded `logits_at`: a mask of the whole image at `out_w x out_h`.
pub fn mask_at(
    logits_256: &[f32],
    model_from_image: &ModelFromImage,
    out_w: u32,
    out_h: u32,
) -> Mask {
    let logits = logits_at(logits_256, model_from_image, out_w, out_h);
    Mask::from_fn(out_w, out_h, |i| logits[i] > MASK_THRESHOLD)
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
    fn upscale_matches_torch_on_a_small_case() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), (4, 4),
        //     mode="bilinear", align_corners=False)
        let out = resize_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 2, 4, 4);
        let expected = [
            0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0,
        ];
        for (a, b) in out.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
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
