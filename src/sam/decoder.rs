//! `Embedding` + `Prompt` → candidate low-res masks with predicted IoU.

use ort::value::TensorRef;

use super::SamError;
use super::encoder::Embedding;
use super::family::{PointLayout, TokenRule};
use super::model::SamModel;

/// Side of the decoder's low-res mask logits.
pub const LOW_RES: usize = 256;

/// Decoder point labels (the official ONNX export's convention).
pub mod label {
    pub const PADDING: f32 = -1.0;
    pub const BACKGROUND: f32 = 0.0;
    pub const FOREGROUND: f32 = 1.0;
    pub const BOX_TOP_LEFT: f32 = 2.0;
    pub const BOX_BOTTOM_RIGHT: f32 = 3.0;
}

/// A click: a point in image pixels, positive (on the object) or negative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointPrompt {
    pub point_in_image: [f32; 2],
    pub positive: bool,
}

/// Everything the user said about one object, in image space.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prompt {
    pub points: Vec<PointPrompt>,
    /// `[x0, y0, x1, y1]` in image pixels.
    pub box_in_image: Option<[f32; 4]>,
    /// Low-res logits (`256 x 256`) of the previous answer, for iterative refinement.
    pub mask_input: Option<Vec<f32>>,
}

/// Why a prompt cannot be decoded, in words for the user.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PromptError {
    #[error("no prompt: give at least one point or a box")]
    Empty,
    #[error("point ({x}, {y}) is not a number")]
    NotFinite { x: f32, y: f32 },
    #[error("point ({x}, {y}) is outside the {width}x{height} image")]
    OutsideImage {
        x: f32,
        y: f32,
        width: u32,
        height: u32,
    },
    #[error("box ({x0}, {y0}, {x1}, {y1}) has zero or negative width or height")]
    DegenerateBox { x0: f32, y0: f32, x1: f32, y1: f32 },
    #[error("box ({x0}, {y0}, {x1}, {y1}) does not overlap the {width}x{height} image")]
    BoxOutsideImage {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        width: u32,
        height: u32,
    },
    #[error("mask input has {0} values, expected 256x256")]
    BadMaskInput(usize),
}

impl Prompt {
    pub fn is_single_point(&self) -> bool {
        self.points.len() == 1 && self.box_in_image.is_none()
    }

    /// Checks the prompt against an image of `width x height` pixels.
    pub fn validate(&self, width: u32, height: u32) -> Result<(), PromptError> {
        if self.points.is_empty() && self.box_in_image.is_none() {
            return Err(PromptError::Empty);
        }
        let check = |x: f32, y: f32| {
            if !x.is_finite() || !y.is_finite() {
                return Err(PromptError::NotFinite { x, y });
            }
            if x < 0.0 || y < 0.0 || x > width as f32 || y > height as f32 {
                return Err(PromptError::OutsideImage {
                    x,
                    y,
                    width,
                    height,
                });
            }
            Ok(())
        };
        for p in &self.points {
            check(p.point_in_image[0], p.point_in_image[1])?;
        }
        // A box may reach past the edges, as detector boxes do: SamPredictor takes it as it is. It
        // must overlap the image.
        if let Some([x0, y0, x1, y1]) = self.box_in_image {
            for (x, y) in [(x0, y0), (x1, y1)] {
                if !x.is_finite() || !y.is_finite() {
                    return Err(PromptError::NotFinite { x, y });
                }
            }
            if x1 <= x0 || y1 <= y0 {
                return Err(PromptError::DegenerateBox { x0, y0, x1, y1 });
            }
            if x1 <= 0.0 || y1 <= 0.0 || x0 >= width as f32 || y0 >= height as f32 {
                return Err(PromptError::BoxOutsideImage {
                    x0,
                    y0,
                    x1,
                    y1,
                    width,
                    height,
                });
            }
        }
        if let Some(m) = &self.mask_input
            && m.len() != LOW_RES * LOW_RES
        {
            return Err(PromptError::BadMaskInput(m.len()));
        }
        Ok(())
    }

    /// Decoder inputs `point_coords` (model space, `N x 2` flattened) and `point_labels` (`N`), in
    /// the order and with the padding the decoder's `layout` asks for.
    pub fn to_decoder_points(
        &self,
        embedding: &Embedding,
        layout: PointLayout,
    ) -> (Vec<f32>, Vec<f32>) {
        let t = &embedding.model_from_image;
        let mut coords = Vec::with_capacity(2 * (self.points.len() + 2));
        let mut labels = Vec::with_capacity(self.points.len() + 2);
        let push_box = |coords: &mut Vec<f32>, labels: &mut Vec<f32>| {
            if let Some([x0, y0, x1, y1]) = self.box_in_image {
                coords.extend_from_slice(&t.apply([x0, y0]));
                coords.extend_from_slice(&t.apply([x1, y1]));
                labels.extend_from_slice(&[label::BOX_TOP_LEFT, label::BOX_BOTTOM_RIGHT]);
            }
        };
        if layout == PointLayout::BoxThenPoints {
            push_box(&mut coords, &mut labels);
        }
        for p in &self.points {
            coords.extend_from_slice(&t.apply(p.point_in_image));
            labels.push(if p.positive {
                label::FOREGROUND
            } else {
                label::BACKGROUND
            });
        }
        if layout == PointLayout::PointsThenBox {
            push_box(&mut coords, &mut labels);
            if self.box_in_image.is_none() {
                coords.extend_from_slice(&[0.0, 0.0]);
                labels.push(label::PADDING);
            }
        }
        (coords, labels)
    }
}

/// The decoder's answer: `count` candidate masks as low-res logits and their predicted IoU.
///
/// With the official exports, index 0 is the single-mask answer and 1..=3 the multimask candidates;
/// `rule` says how this decoder's candidates are numbered and chosen.
#[derive(Clone, Debug)]
pub struct Candidates {
    /// `count x 256 x 256` logits.
    pub low_res: Vec<f32>,
    pub iou: Vec<f32>,
    pub rule: TokenRule,
}

impl Candidates {
    pub fn count(&self) -> usize {
        self.iou.len()
    }

    /// The indices of the multimask candidates (what Tab cycles through): 1.. after a single-mask
    /// answer, all of them for decoders that only have multimask ones, none for a single answer.
    pub fn multimask(&self) -> std::ops::Range<usize> {
        match (self.count(), self.rule) {
            (0 | 1, _) => 0..0,
            (n, TokenRule::MultimaskOnly) => 0..n,
            (n, _) => 1..n,
        }
    }

    /// Low-res logits of candidate `index`.
    pub fn logits(&self, index: usize) -> &[f32] {
        &self.low_res[index * LOW_RES * LOW_RES..(index + 1) * LOW_RES * LOW_RES]
    }
}

/// Whether to pick among the multimask candidates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Multimask {
    /// Multimask for a single point without a box (ambiguous), else the single-mask answer.
    #[default]
    Auto,
    On,
    Off,
}

/// SAM 2's `dynamic_multimask_stability_delta` and `_thresh`: the single-mask answer is kept when
/// its area barely changes between the logit thresholds `-delta` and `+delta`.
const STABILITY_DELTA: f32 = 0.05;
const STABILITY_THRESHOLD: f32 = 0.98;

/// SAM 2's stability score of one candidate's low-res logits: the area above `+delta` over the area
/// above `-delta` (1 when both are empty).
pub fn stability_score(logits: &[f32]) -> f32 {
    let inner = logits.iter().filter(|&&v| v > STABILITY_DELTA).count();
    let outer = logits.iter().filter(|&&v| v > -STABILITY_DELTA).count();
    if outer == 0 {
        1.0
    } else {
        inner as f32 / outer as f32
    }
}

/// Picks the candidate to show: the official predictors' convention for `multimask_output`
/// (multimask for one click without a box or a previous mask), by the decoder's token rule.
pub fn select_candidate(candidates: &Candidates, mode: Multimask, prompt: &Prompt) -> usize {
    let multimask = match mode {
        Multimask::Auto => prompt.is_single_point() && prompt.mask_input.is_none(),
        Multimask::On => true,
        Multimask::Off => false,
    };
    let best_from = |first: usize| {
        (first..candidates.count())
            .max_by(|&a, &b| candidates.iou[a].total_cmp(&candidates.iou[b]))
            .unwrap_or(0)
    };
    if candidates.count() < 2 {
        return 0;
    }
    match candidates.rule {
        TokenRule::MultimaskOnly => best_from(0),
        _ if multimask => best_from(1),
        TokenRule::SingleFirst => 0,
        TokenRule::SingleFirstIfStable => {
            if stability_score(candidates.logits(0)) >= STABILITY_THRESHOLD {
                0
            } else {
                best_from(1)
            }
        }
    }
}

impl SamModel {
    /// Runs the prompt encoder + mask decoder for one prompt.
    pub fn decode(
        &mut self,
        embedding: &Embedding,
        prompt: &Prompt,
    ) -> Result<Candidates, SamError> {
        let (w, h) = embedding.model_from_image.image_size;
        prompt.validate(w, h)?;
        let io = &self.interface.decoder;
        let (coords, labels) = prompt.to_decoder_points(embedding, io.points);
        let mut answers = self.run_decoder(
            embedding,
            &coords,
            &labels,
            (1, labels.len()),
            prompt.mask_input.as_deref(),
        )?;
        Ok(answers.remove(0))
    }

    /// Decodes one positive click at each of `points` (image pixels), independently: in one run
    /// where the decoder takes a batch of prompts, else one run each. Segment-everything's grid.
    pub fn decode_points(
        &mut self,
        embedding: &Embedding,
        points: &[[f32; 2]],
    ) -> Result<Vec<Candidates>, SamError> {
        let prompt = |&point_in_image: &[f32; 2]| Prompt {
            points: vec![PointPrompt {
                point_in_image,
                positive: true,
            }],
            ..Default::default()
        };
        if !self.interface.decoder.batched || points.len() < 2 {
            return points
                .iter()
                .map(|p| self.decode(embedding, &prompt(p)))
                .collect();
        }
        let (w, h) = embedding.model_from_image.image_size;
        let layout = self.interface.decoder.points;
        let (mut coords, mut labels) = (Vec::new(), Vec::new());
        for point in points {
            let prompt = prompt(point);
            prompt.validate(w, h)?;
            let (c, l) = prompt.to_decoder_points(embedding, layout);
            coords.extend(c);
            labels.extend(l);
        }
        let n = labels.len() / points.len();
        self.run_decoder(embedding, &coords, &labels, (points.len(), n), None)
    }

    /// One decoder run for `l` prompts of `n` points each (`coords` `l x n x 2`, `labels` `l x n`),
    /// all with the same `mask_input` (or none).
    fn run_decoder(
        &mut self,
        embedding: &Embedding,
        coords: &[f32],
        labels: &[f32],
        (l, n): (usize, usize),
        mask_input: Option<&[f32]>,
    ) -> Result<Vec<Candidates>, SamError> {
        let io = &self.interface.decoder;
        let plane = LOW_RES * LOW_RES;
        let (masks, has_mask): (Vec<f32>, f32) = match mask_input {
            Some(m) => (m.repeat(l), 1.0),
            None => (vec![0.0f32; l * plane], 0.0),
        };
        let has_mask = vec![has_mask; l];
        // The app upscales the low-res logits itself, but ONNX Runtime runs the whole graph, SAM 1's
        // `masks` output included: upsample to 1024x1024, crop, then resize to `orig_im_size`. Asking
        // for a 1x1 `masks` makes that last resize free (nothing else in the graph reads it).
        let orig_im_size = [1.0f32, 1.0];

        let mut inputs = ort::inputs![
            io.point_coords.as_str() => TensorRef::from_array_view(([l, n, 2], coords))?,
            io.point_labels.as_str() => TensorRef::from_array_view(([l, n], labels))?,
            io.mask_input.as_str() => TensorRef::from_array_view(([l, 1, LOW_RES, LOW_RES], masks.as_slice()))?,
            io.has_mask_input.as_str() => TensorRef::from_array_view(([l], has_mask.as_slice()))?,
        ];
        for (tensor, io) in embedding.tensors.iter().zip(&self.interface.embedding) {
            let [c, th, tw] = tensor.shape;
            inputs.push((
                io.decoder_input.clone().into(),
                TensorRef::from_array_view(([1, c, th, tw], tensor.data.as_slice()))?.into(),
            ));
        }
        if let Some(name) = &io.orig_im_size {
            inputs.push((
                name.clone().into(),
                TensorRef::from_array_view(([2], &orig_im_size[..]))?.into(),
            ));
        }
        let outputs = self.decoder.run(inputs)?;
        let iou_value = outputs
            .get(&io.iou_predictions)
            .ok_or_else(|| SamError::MissingOutput(io.iou_predictions.clone()))?;
        let (_, iou) = iou_value.try_extract_tensor::<f32>()?;
        let masks_value = outputs
            .get(&io.low_res_masks)
            .ok_or_else(|| SamError::MissingOutput(io.low_res_masks.clone()))?;
        let (mask_shape, low_res) = masks_value.try_extract_tensor::<f32>()?;
        let dims: Vec<usize> = mask_shape.iter().map(|&d| d.max(0) as usize).collect();
        if dims.len() != 4
            || dims[0] != l
            || dims[2] != LOW_RES
            || dims[3] != LOW_RES
            || dims[1] * l != iou.len()
            || dims[1] == 0
        {
            return Err(SamError::BadOutputShape {
                name: io.low_res_masks.clone(),
                shape: dims,
            });
        }
        let k = dims[1];
        let rule = io.rule_for(k);
        Ok((0..l)
            .map(|i| {
                let mut low_res = low_res[i * k * plane..(i + 1) * k * plane].to_vec();
                if io.clamp_logits {
                    for v in &mut low_res {
                        *v = v.clamp(-32.0, 32.0);
                    }
                }
                Candidates {
                    low_res,
                    iou: iou[i * k..(i + 1) * k].to_vec(),
                    rule,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sam::preprocess::ModelFromImage;

    fn embedding(width: u32, height: u32) -> Embedding {
        Embedding {
            tensors: Vec::new(),
            model_from_image: ModelFromImage::new(width, height, 1024),
        }
    }

    fn point(x: f32, y: f32, positive: bool) -> PointPrompt {
        PointPrompt {
            point_in_image: [x, y],
            positive,
        }
    }

    #[test]
    fn points_get_a_padding_point_without_box() {
        let prompt = Prompt {
            points: vec![point(100.0, 50.0, true), point(10.0, 20.0, false)],
            ..Default::default()
        };
        let (coords, labels) =
            prompt.to_decoder_points(&embedding(512, 256), PointLayout::PointsThenBox);
        assert_eq!(labels, vec![1.0, 0.0, -1.0]);
        assert_eq!(coords, vec![200.0, 100.0, 20.0, 40.0, 0.0, 0.0]);
    }

    #[test]
    fn box_corners_follow_points_with_labels_2_and_3() {
        let prompt = Prompt {
            points: vec![point(100.0, 50.0, true)],
            box_in_image: Some([10.0, 20.0, 300.0, 200.0]),
            mask_input: None,
        };
        let (coords, labels) =
            prompt.to_decoder_points(&embedding(512, 256), PointLayout::PointsThenBox);
        assert_eq!(labels, vec![1.0, 2.0, 3.0]);
        assert_eq!(coords, vec![200.0, 100.0, 20.0, 40.0, 600.0, 400.0]);
    }

    #[test]
    fn sam2_puts_the_box_first_stretches_and_leaves_padding_to_the_graph() {
        let prompt = Prompt {
            points: vec![point(100.0, 50.0, true)],
            box_in_image: Some([10.0, 20.0, 300.0, 200.0]),
            mask_input: None,
        };
        let stretched = Embedding {
            tensors: Vec::new(),
            model_from_image: ModelFromImage::stretched(512, 256, 1024),
        };
        let (coords, labels) = prompt.to_decoder_points(&stretched, PointLayout::BoxThenPoints);
        assert_eq!(labels, vec![2.0, 3.0, 1.0]);
        assert_eq!(coords, vec![20.0, 80.0, 600.0, 800.0, 200.0, 200.0]);
        let clicks = Prompt {
            box_in_image: None,
            ..prompt
        };
        let (_, labels) = clicks.to_decoder_points(&stretched, PointLayout::BoxThenPoints);
        assert_eq!(labels, vec![1.0]);
    }

    #[test]
    fn bad_prompts_are_refused() {
        let p = |points: Vec<PointPrompt>, b: Option<[f32; 4]>| Prompt {
            points,
            box_in_image: b,
            mask_input: None,
        };
        assert_eq!(p(vec![], None).validate(10, 10), Err(PromptError::Empty));
        assert!(matches!(
            p(vec![point(11.0, 5.0, true)], None).validate(10, 10),
            Err(PromptError::OutsideImage { .. })
        ));
        assert!(matches!(
            p(vec![point(f32::NAN, 5.0, true)], None).validate(10, 10),
            Err(PromptError::NotFinite { .. })
        ));
        assert!(matches!(
            p(vec![point(-1.0, 5.0, true)], None).validate(10, 10),
            Err(PromptError::OutsideImage { .. })
        ));
        assert!(matches!(
            p(vec![], Some([2.0, 2.0, 2.0, 8.0])).validate(10, 10),
            Err(PromptError::DegenerateBox { .. })
        ));
        assert!(
            p(vec![], Some([2.0, 2.0, 5.0, 8.0]))
                .validate(10, 10)
                .is_ok()
        );
        // Past the edges is fine while the box overlaps the image (detector boxes overhang).
        assert!(
            p(vec![], Some([-4.0, 2.0, 15.0, 30.0]))
                .validate(10, 10)
                .is_ok()
        );
        let outside = p(vec![], Some([12.0, 2.0, 15.0, 8.0])).validate(10, 10);
        assert!(matches!(outside, Err(PromptError::BoxOutsideImage { .. })));
        assert!(outside.unwrap_err().to_string().starts_with("box "));
    }

    #[test]
    fn selection_follows_sam_predictor() {
        let candidates = Candidates {
            low_res: vec![0.0; 4 * LOW_RES * LOW_RES],
            iou: vec![0.9, 0.2, 0.7, 0.5],
            rule: TokenRule::SingleFirst,
        };
        let one_point = Prompt {
            points: vec![point(1.0, 1.0, true)],
            ..Default::default()
        };
        let two_points = Prompt {
            points: vec![point(1.0, 1.0, true), point(2.0, 2.0, false)],
            ..Default::default()
        };
        // auto: multimask for one point → best of 1..=3, ignoring index 0.
        assert_eq!(
            select_candidate(&candidates, Multimask::Auto, &one_point),
            2
        );
        assert_eq!(
            select_candidate(&candidates, Multimask::Auto, &two_points),
            0
        );
        assert_eq!(select_candidate(&candidates, Multimask::On, &two_points), 2);
        assert_eq!(select_candidate(&candidates, Multimask::Off, &one_point), 0);
        // A single-mask decoder has nothing to choose from.
        let single = Candidates {
            low_res: vec![0.0; LOW_RES * LOW_RES],
            iou: vec![0.3],
            rule: TokenRule::SingleFirst,
        };
        assert_eq!(select_candidate(&single, Multimask::On, &one_point), 0);
    }

    #[test]
    fn sam2_keeps_the_single_mask_only_when_stable() {
        let plane = LOW_RES * LOW_RES;
        // Token 0: logits far from 0 (stable); the others arbitrary.
        let mut low_res = vec![5.0; 4 * plane];
        low_res[..plane / 2].fill(-5.0);
        let mut candidates = Candidates {
            low_res,
            iou: vec![0.1, 0.2, 0.7, 0.5],
            rule: TokenRule::SingleFirstIfStable,
        };
        let two_points = Prompt {
            points: vec![point(1.0, 1.0, true), point(2.0, 2.0, false)],
            ..Default::default()
        };
        assert_eq!(stability_score(candidates.logits(0)), 1.0);
        assert_eq!(
            select_candidate(&candidates, Multimask::Auto, &two_points),
            0
        );
        // Half of token 0 sits between -0.05 and +0.05: unstable, so the best of 1..=3.
        candidates.low_res[..plane / 2].fill(0.0);
        assert!(stability_score(candidates.logits(0)) < 0.98);
        assert_eq!(
            select_candidate(&candidates, Multimask::Auto, &two_points),
            2
        );
        // samexporter's three multimask tokens: always the best.
        candidates.rule = TokenRule::MultimaskOnly;
        candidates.iou = vec![0.1, 0.9, 0.3];
        candidates.low_res.truncate(3 * plane);
        assert_eq!(
            select_candidate(&candidates, Multimask::Off, &two_points),
            1
        );
    }
}
