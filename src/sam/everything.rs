//! Segment everything: the official automatic mask generators (`SamAutomaticMaskGenerator`,
//! `SAM2AutomaticMaskGenerator`), step for step, on any model family.
//!
//! A grid of single-point prompts over the image (and over crops of it, when asked), three
//! candidates per point, filtered by predicted IoU and by stability score at the crop's full
//! resolution, deduplicated by box NMS within each crop and then across crops, small regions
//! removed, in the official order. Masks are never held at full resolution longer than one
//! candidate needs: each is upscaled, measured and run-length encoded row by row, on all cores.

use std::ops::Range;

use image::RgbImage;

use super::decoder::Candidates;
use super::encoder::{CancelToken, Embedding};
use super::family::Family;
use super::model::SamModel;
use super::postprocess;
use super::{SamError, preprocess::ModelFromImage};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;

/// The generator's settings, with the official names and meanings (0 switches a filter off).
#[derive(Clone, Debug, PartialEq)]
pub struct EverythingOptions {
    /// Points along one side of the grid (the grid has `points_per_side`² points).
    pub points_per_side: usize,
    /// Points decoded together (the official batch size; it does not change the result).
    pub points_per_batch: usize,
    /// Candidates whose predicted IoU is not above this are dropped (0: keep all).
    pub pred_iou_thresh: f32,
    /// Candidates whose stability score is below this are dropped (0: keep all).
    pub stability_score_thresh: f32,
    /// The logit offset of the stability score (areas above `+offset` over above `-offset`).
    pub stability_score_offset: f32,
    /// Box IoU above which the lower-scored of two proposals of a crop is dropped.
    pub box_nms_thresh: f32,
    /// Layers of crops beyond the whole image (layer `i` has `2^i x 2^i` crops).
    pub crop_n_layers: usize,
    /// Box IoU above which proposals of different crops are merged (the smaller crop's wins).
    pub crop_nms_thresh: f32,
    /// Overlap of neighbouring crops, as a fraction of the image's shorter side (at layer 1).
    pub crop_overlap_ratio: f64,
    /// Each crop layer has this many times fewer points per side than the one before.
    pub crop_n_points_downscale_factor: usize,
    /// Holes and islands smaller than this many pixels are removed (0: keep masks as they are),
    /// as `SamAutomaticMaskGenerator.postprocess_small_regions` does, for both families: SAM 2's
    /// generator hands it to its predictor, which cleans only the low-res logits and only with its
    /// CUDA extension (on a CPU it does nothing).
    pub min_mask_region_area: u64,
}

impl EverythingOptions {
    /// The official defaults of `family`'s generator (they differ in `pred_iou_thresh`).
    pub fn official(family: Family) -> Self {
        Self {
            points_per_side: 32,
            points_per_batch: 64,
            pred_iou_thresh: match family {
                Family::Sam1 => 0.88,
                Family::Sam2 => 0.8,
            },
            stability_score_thresh: 0.95,
            stability_score_offset: 1.0,
            box_nms_thresh: 0.7,
            crop_n_layers: 0,
            crop_nms_thresh: 0.7,
            crop_overlap_ratio: 512.0 / 1500.0,
            crop_n_points_downscale_factor: 1,
            min_mask_region_area: 0,
        }
    }
}

/// One proposed object, as the official generators describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The mask over the whole image.
    pub rle: Rle,
    pub area: u64,
    /// `[x, y, w, h]` of the mask's box as the generators give it: `w` and `h` are the distance
    /// between the first and last pixel (one less than a COCO bbox's).
    pub bbox: [f64; 4],
    pub predicted_iou: f32,
    /// The grid point (in image pixels) that made it.
    pub point: [f64; 2],
    pub stability_score: f32,
    /// `[x, y, w, h]` of the crop it was found in.
    pub crop_box: [u32; 4],
}

/// How far a run has come: points decoded out of all the points of all the crops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub points_done: usize,
    pub points_total: usize,
}

/// `build_point_grid(n)`: `n x n` points in `[0, 1]²`, at the centres of an `n x n` grid of cells,
/// row by row (x fastest).
pub fn point_grid(n: usize) -> Vec<[f64; 2]> {
    if n == 0 {
        return Vec::new();
    }
    let offset = 1.0 / (2.0 * n as f64);
    let side = linspace(offset, 1.0 - offset, n);
    side.iter()
        .flat_map(|&y| side.iter().map(move |&x| [x, y]))
        .collect()
}

/// numpy's `linspace(start, stop, n)`: `start + i * step`, the last value exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    (0..n)
        .map(|i| {
            if i == n - 1 {
                stop
            } else {
                i as f64 * step + start
            }
        })
        .collect()
}

/// `generate_crop_boxes`: the whole image, then `2^i x 2^i` overlapping crops for each layer `i`
/// (columns first), as `([x0, y0, x1, y1], layer)`.
pub fn crop_boxes(
    (w, h): (u32, u32),
    n_layers: usize,
    overlap_ratio: f64,
) -> Vec<([u32; 4], usize)> {
    let mut boxes = vec![([0, 0, w, h], 0)];
    let short_side = f64::from(w.min(h));
    let crop_len = |orig: u32, n: u32, overlap: u32| {
        ((f64::from(overlap) * f64::from(n - 1) + f64::from(orig)) / f64::from(n)).ceil() as u32
    };
    for layer in 0..n_layers {
        let n = 1u32 << (layer + 1);
        let overlap = (overlap_ratio * short_side * (2.0 / f64::from(n))) as u32;
        let (crop_w, crop_h) = (crop_len(w, n, overlap), crop_len(h, n, overlap));
        let starts = |len: u32| -> Vec<u32> {
            (0..n)
                .map(|i| (i64::from(len) - i64::from(overlap)).max(0) as u32 * i)
                .collect()
        };
        for &x0 in &starts(crop_w) {
            for &y0 in &starts(crop_h) {
                boxes.push((
                    [x0, y0, (x0 + crop_w).min(w), (y0 + crop_h).min(h)],
                    layer + 1,
                ));
            }
        }
    }
    boxes
}

/// torchvision's `nms`: the indices kept, highest score first (ties in their given order); a box is
/// dropped when its IoU with a kept one is above `threshold`. Boxes are `[x0, y0, x1, y1]`, areas
/// `(x1 - x0) * (y1 - y0)`, in f32 as torchvision computes them.
pub fn nms(boxes: &[[f32; 4]], scores: &[f32], threshold: f32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let area = |b: &[f32; 4]| (b[2] - b[0]) * (b[3] - b[1]);
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for (n, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        let a = &boxes[i];
        for &j in &order[n + 1..] {
            if suppressed[j] {
                continue;
            }
            let b = &boxes[j];
            let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
            let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
            let inter = w * h;
            if inter / (area(a) + area(b) - inter) > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// A candidate that passed the per-point filters. Its mask is made only if it survives NMS: from
/// the decoder's answer for its point, asked again then (a few kilobytes per candidate instead of a
/// full-resolution mask, whatever the masks look like).
struct Kept {
    mask: KeptMask,
    /// `[x0, y0, x1, y1]` of the mask's first and last pixels, in image pixels.
    bbox: [u32; 4],
    predicted_iou: f32,
    stability_score: f32,
    point: [f64; 2],
    crop: [u32; 4],
}

enum KeptMask {
    /// Not made yet: candidate `token` of the click at this point of the crop.
    Pending {
        point_in_crop: [f32; 2],
        token: usize,
    },
    /// The whole image's RLE.
    Rle(Rle),
}

impl SamModel {
    /// Proposes every object in `image` with the official generator's semantics. `whole` is the
    /// image's embedding if the caller has it (the cache); crops are encoded here. `progress` hears
    /// of every decoded point; `cancel` stops the run between points.
    pub fn segment_everything(
        &mut self,
        image: &RgbImage,
        options: &EverythingOptions,
        whole: Option<&Embedding>,
        cancel: Option<&CancelToken>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<Proposal>, SamError> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Err(SamError::EmptyImage);
        }
        let crops = crop_boxes((w, h), options.crop_n_layers, options.crop_overlap_ratio);
        let grids: Vec<Vec<[f64; 2]>> = (0..=options.crop_n_layers)
            .map(|layer| {
                let factor = options
                    .crop_n_points_downscale_factor
                    .max(1)
                    .pow(layer as u32);
                point_grid(options.points_per_side / factor)
            })
            .collect();
        let total = crops.iter().map(|(_, layer)| grids[*layer].len()).sum();
        let mut done = 0;
        let mut all = Vec::new();
        for &(crop, layer) in &crops {
            let [x0, y0, x1, y1] = crop;
            let own;
            let embedding = match whole {
                Some(e) if crop == [0, 0, w, h] => e,
                _ => {
                    let cropped = if crop == [0, 0, w, h] {
                        image.clone()
                    } else {
                        image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image()
                    };
                    own = self.encode_with(&cropped, cancel)?.0;
                    &own
                }
            };
            let mut kept = Vec::new();
            let size = (x1 - x0, y1 - y0);
            for batch in grids[layer].chunks(options.points_per_batch.max(1)) {
                if cancel.is_some_and(CancelToken::is_cancelled) {
                    return Err(SamError::Cancelled);
                }
                let points: Vec<[f64; 2]> = batch
                    .iter()
                    .map(|&[gx, gy]| [gx * f64::from(size.0), gy * f64::from(size.1)])
                    .collect();
                let in_crop: Vec<[f32; 2]> =
                    points.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
                let answers = self.decode_points(embedding, &in_crop)?;
                let jobs: Vec<(&Candidates, [f64; 2])> = answers.iter().zip(points).collect();
                kept.extend(in_parallel(&jobs, |(candidates, point)| {
                    filter_candidates(
                        candidates,
                        embedding.model_from_image,
                        options,
                        *point,
                        crop,
                        (w, h),
                    )
                }));
                drop(answers);
                done += batch.len();
                progress(Progress {
                    points_done: done,
                    points_total: total,
                });
            }
            // NMS within the crop, by predicted IoU.
            let boxes: Vec<[f32; 4]> = kept.iter().map(|k| k.bbox.map(|v| v as f32)).collect();
            let scores: Vec<f32> = kept.iter().map(|k| k.predicted_iou).collect();
            let mut slots: Vec<Option<Kept>> = kept.into_iter().map(Some).collect();
            let survivors: Vec<Kept> = nms(&boxes, &scores, options.box_nms_thresh)
                .into_iter()
                .filter_map(|i| slots[i].take())
                .collect();
            // Only now are the survivors' masks made: their points decoded again, a batch at a
            // time, and the masks encoded on all cores.
            for chunk in survivors.chunks(options.points_per_batch.max(1)) {
                let points: Vec<[f32; 2]> = chunk
                    .iter()
                    .map(|k| match k.mask {
                        KeptMask::Pending { point_in_crop, .. } => point_in_crop,
                        KeptMask::Rle(_) => [0.0, 0.0],
                    })
                    .collect();
                let answers = self.decode_points(embedding, &points)?;
                let jobs: Vec<(&Kept, &Candidates)> = chunk.iter().zip(&answers).collect();
                all.extend(in_parallel(&jobs, |(kept, candidates)| {
                    vec![kept.encoded(candidates, embedding.model_from_image, (w, h))]
                }));
            }
        }
        if crops.len() > 1 {
            // Across crops the proposal of the smaller crop wins.
            let boxes: Vec<[f32; 4]> = all.iter().map(|k| k.bbox.map(|v| v as f32)).collect();
            let scores: Vec<f32> = all
                .iter()
                .map(|k| {
                    let [x0, y0, x1, y1] = k.crop.map(|v| v as f32);
                    1.0 / ((x1 - x0) * (y1 - y0))
                })
                .collect();
            let mut slots: Vec<Option<Kept>> = all.into_iter().map(Some).collect();
            all = nms(&boxes, &scores, options.crop_nms_thresh)
                .into_iter()
                .filter_map(|i| slots[i].take())
                .collect();
        }
        if options.min_mask_region_area > 0 {
            let threshold = options.box_nms_thresh.max(options.crop_nms_thresh);
            all = remove_small_regions(all, options.min_mask_region_area, threshold);
        }
        Ok(all.into_iter().map(Kept::into_proposal).collect())
    }
}

impl Kept {
    /// A copy whose mask is the whole image's RLE, made from the decoder's answer for its point.
    fn encoded(
        &self,
        candidates: &Candidates,
        model_from_image: ModelFromImage,
        image_size: (u32, u32),
    ) -> Kept {
        let rle = match &self.mask {
            KeptMask::Rle(rle) => rle.clone(),
            KeptMask::Pending { token, .. } => {
                let (cw, ch) = model_from_image.image_size;
                let mask =
                    postprocess::mask_at(candidates.logits(*token), &model_from_image, cw, ch);
                if self.crop == [0, 0, image_size.0, image_size.1] {
                    Rle::from_mask(&mask)
                } else {
                    Rle::from_mask(&uncrop(&mask, self.crop, image_size))
                }
            }
        };
        Kept {
            mask: KeptMask::Rle(rle),
            ..*self
        }
    }

    fn rle(&self) -> Rle {
        match &self.mask {
            KeptMask::Rle(rle) => rle.clone(),
            KeptMask::Pending { .. } => unreachable!("proposals are encoded before cleanup"),
        }
    }

    fn into_proposal(self) -> Proposal {
        let [x0, y0, x1, y1] = self.bbox.map(f64::from);
        let [cx0, cy0, cx1, cy1] = self.crop;
        let rle = match self.mask {
            KeptMask::Rle(rle) => rle,
            KeptMask::Pending { .. } => {
                unreachable!("proposals are encoded before they are output")
            }
        };
        Proposal {
            area: rle.area(),
            rle,
            bbox: [x0, y0, x1 - x0, y1 - y0],
            predicted_iou: self.predicted_iou,
            point: self.point,
            stability_score: self.stability_score,
            crop_box: [cx0, cy0, cx1 - cx0, cy1 - cy0],
        }
    }
}

/// `_process_batch` for one point: the multimask candidates above the IoU and stability
/// thresholds, thresholded at the crop's size, their boxes checked against the crop's edges, and
/// placed in the whole image.
fn filter_candidates(
    candidates: &Candidates,
    model_from_image: ModelFromImage,
    options: &EverythingOptions,
    point_in_crop: [f64; 2],
    crop: [u32; 4],
    image_size: (u32, u32),
) -> Vec<Kept> {
    let range: Range<usize> = match candidates.multimask() {
        r if r.is_empty() => 0..candidates.count(),
        r => r,
    };
    let (crop_w, crop_h) = model_from_image.image_size;
    let [cx0, cy0, _, _] = crop;
    let mut kept = Vec::new();
    for index in range {
        let predicted_iou = candidates.iou[index];
        if options.pred_iou_thresh > 0.0 && predicted_iou <= options.pred_iou_thresh {
            continue;
        }
        let offset = options.stability_score_offset;
        let t = postprocess::MASK_THRESHOLD;
        let stats = postprocess::threshold_stats(
            candidates.logits(index),
            &model_from_image,
            (crop_w, crop_h),
            [t + offset, t - offset, t],
            2,
        );
        let [inner, outer, _] = stats.above;
        let stability_score = inner as f32 / outer as f32;
        // Kept when `>=` the threshold; a NaN score (no pixel above `-offset`) is not.
        let below = stability_score
            .partial_cmp(&options.stability_score_thresh)
            .is_none_or(|o| o.is_lt());
        if options.stability_score_thresh > 0.0 && below {
            continue;
        }
        // The official box: first and last pixel (all zeros for an empty mask).
        let bbox = match stats.bbox {
            Some([bx0, by0, bx1, by1]) => [bx0 + cx0, by0 + cy0, bx1 + cx0, by1 + cy0],
            None => [0, 0, 0, 0],
        };
        if near_crop_edge(bbox, crop, image_size) {
            continue;
        }
        kept.push(Kept {
            mask: KeptMask::Pending {
                point_in_crop: [point_in_crop[0] as f32, point_in_crop[1] as f32],
                token: index,
            },
            bbox,
            predicted_iou,
            stability_score,
            point: [
                point_in_crop[0] + f64::from(cx0),
                point_in_crop[1] + f64::from(cy0),
            ],
            crop,
        });
    }
    kept
}

/// `work` on every item, the items split over the cores; the results in the items' order.
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> Vec<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let work = &work;
                scope.spawn(move || part.iter().flat_map(work).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// `is_box_near_crop_edge` (atol 20): a box within 20 pixels of an edge of its crop that is not an
/// edge of the image is cut off by the crop.
fn near_crop_edge(bbox: [u32; 4], crop: [u32; 4], (w, h): (u32, u32)) -> bool {
    let close = |a: u32, b: u32| (a as f32 - b as f32).abs() <= 20.0;
    let image = [0, 0, w, h];
    (0..4).any(|i| close(bbox[i], crop[i]) && !close(bbox[i], image[i]))
}

/// The crop's mask placed in an all-zero mask of the whole image.
fn uncrop(mask: &Mask, crop: [u32; 4], (w, h): (u32, u32)) -> Mask {
    let [x0, y0, ..] = crop;
    let mut full = vec![0u8; w as usize * h as usize];
    let cw = mask.width() as usize;
    for (y, row) in mask.as_bytes().chunks_exact(cw.max(1)).enumerate() {
        let at = (y + y0 as usize) * w as usize + x0 as usize;
        full[at..at + cw].copy_from_slice(row);
    }
    Mask::from_bits(w, h, full)
}

/// `postprocess_small_regions`: fills holes and removes islands smaller than `min_area`, then NMS
/// that prefers the masks it did not change; changed masks get their new mask and box.
fn remove_small_regions(all: Vec<Kept>, min_area: u64, threshold: f32) -> Vec<Kept> {
    let mut masks = Vec::with_capacity(all.len());
    let mut scores = Vec::with_capacity(all.len());
    for kept in &all {
        let mask = kept.rle().to_mask();
        let (mask, holes) = small_regions(&mask, min_area, true);
        let (mask, islands) = small_regions(&mask, min_area, false);
        scores.push(if holes || islands { 0.0 } else { 1.0 });
        masks.push(mask);
    }
    let boxes: Vec<[u32; 4]> = masks
        .iter()
        .map(|m| match m.bbox() {
            [_, _, 0, _] => [0; 4],
            [x, y, bw, bh] => [x, y, x + bw - 1, y + bh - 1],
        })
        .collect();
    let float_boxes: Vec<[f32; 4]> = boxes.iter().map(|b| b.map(|v| v as f32)).collect();
    let keep = nms(&float_boxes, &scores, threshold);
    let mut slots: Vec<Option<Kept>> = all.into_iter().map(Some).collect();
    keep.into_iter()
        .filter_map(|i| {
            let mut kept = slots[i].take()?;
            if scores[i] == 0.0 {
                kept.mask = KeptMask::Rle(Rle::from_mask(&masks[i]));
                kept.bbox = boxes[i];
            }
            Some(kept)
        })
        .collect()
}

/// `remove_small_regions(mask, area, mode)`: with `holes`, background regions (8-connected)
/// smaller than `min_area` are filled; otherwise foreground regions that small are removed (all
/// but the largest, when every one is that small). Returns the mask and whether it changed.
fn small_regions(mask: &Mask, min_area: u64, holes: bool) -> (Mask, bool) {
    use imageproc::region_labelling::{Connectivity, connected_components};
    let (w, h) = (mask.width(), mask.height());
    let working = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([u8::from(mask.get(x, y) != holes)])
    });
    let labels = connected_components(&working, Connectivity::Eight, image::Luma([0u8]));
    let count = labels.pixels().map(|p| p.0[0]).max().unwrap_or(0) as usize;
    let mut sizes = vec![0u64; count + 1];
    for p in labels.pixels() {
        sizes[p.0[0] as usize] += 1;
    }
    let small: Vec<bool> = (0..=count)
        .map(|label| label > 0 && sizes[label] < min_area)
        .collect();
    if !small.iter().any(|&s| s) {
        return (mask.clone(), false);
    }
    let inside: Vec<bool> = if holes {
        // The mask's own pixels (label 0 of the background's components) and the small holes.
        (0..=count)
            .map(|label| label == 0 || small[label])
            .collect()
    } else {
        let mut big: Vec<bool> = (0..=count)
            .map(|label| label > 0 && !small[label])
            .collect();
        if !big.iter().any(|&b| b) {
            // Every island is small: keep the largest (the first of equals).
            let largest = (1..=count)
                .max_by(|&a, &b| sizes[a].cmp(&sizes[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            big[largest] = true;
        }
        big
    };
    let data = labels
        .pixels()
        .map(|p| u8::from(inside[p.0[0] as usize]))
        .collect();
    (Mask::from_bits(w, h, data), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_build_point_grid() {
        // numpy: build_point_grid(2) = [[.25,.25],[.75,.25],[.25,.75],[.75,.75]]
        assert_eq!(
            point_grid(2),
            vec![[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
        );
        assert_eq!(point_grid(8).len(), 64);
        assert_eq!(point_grid(8)[1], [0.0625 + 0.125, 0.0625]);
    }

    #[test]
    fn crop_boxes_are_generate_crop_boxes() {
        // generate_crop_boxes((400, 600), 1, 512 / 1500): the image, then 2x2 crops.
        let boxes = crop_boxes((600, 400), 1, 512.0 / 1500.0);
        assert_eq!(
            boxes,
            vec![
                ([0, 0, 600, 400], 0),
                ([0, 0, 368, 268], 1),
                ([0, 132, 368, 400], 1),
                ([232, 0, 600, 268], 1),
                ([232, 132, 600, 400], 1),
            ]
        );
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 10.0, 10.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        assert_eq!(nms(&boxes, &[0.5, 0.9, 0.1], 0.7), vec![1, 2]);
        assert_eq!(nms(&boxes, &[0.5, 0.9, 0.1], 1.0), vec![1, 0, 2]);
    }

    #[test]
    fn small_holes_are_filled_and_small_islands_removed() {
        // A 6x6 square with a one-pixel hole, and a one-pixel island.
        let mask = Mask::from_fn(10, 10, |i| {
            let (x, y) = (i % 10, i / 10);
            ((1..7).contains(&x) && (1..7).contains(&y) && (x, y) != (3, 3)) || (x, y) == (9, 9)
        });
        let (filled, changed) = small_regions(&mask, 2, true);
        assert!(changed && filled.get(3, 3));
        let (cleaned, changed) = small_regions(&filled, 2, false);
        assert!(changed && !cleaned.get(9, 9) && cleaned.area() == 36);
        assert!(!small_regions(&cleaned, 2, false).1);
    }
}
