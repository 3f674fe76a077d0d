//! What the prompt shows: the model's answer with its candidates (`Predicted`), the preview made of it
//! (`Preview`), and brush strokes (`Stroke`).

use std::collections::HashMap;

use crate::annotate::mask::Mask;
use crate::sam::preprocess::ModelFromImage;
use crate::sam::{Candidates, Prediction};

/// A brush or eraser segment, in image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stroke {
    pub from: [f32; 2],
    pub to: [f32; 2],
    pub radius: f32,
    /// Paint (brush) or erase (eraser).
    pub inside: bool,
}

impl Stroke {
    pub(super) fn paint(&self, mask: &mut Mask) {
        mask.paint_segment(self.from, self.to, self.radius, self.inside);
    }
}

/// The model's answer to a prompt and the candidate shown.
pub struct Predicted {
    /// The decode request this answers; renders of its candidates carry it too.
    pub seq: u64,
    pub candidates: Candidates,
    pub model_from_image: ModelFromImage,
    /// The chosen candidate (Tab cycles among the multimask ones).
    pub index: usize,
    /// The candidate `mask` shows: behind `index` until the worker has rendered the new one.
    pub(super) shown_index: usize,
    /// The shown candidate at preview resolution.
    pub mask: Mask,
    /// Candidates' masks at image resolution, as the worker made them (accept and the brush need them).
    pub(super) full: HashMap<usize, Mask>,
}

impl Predicted {
    pub(super) fn new(seq: u64, prediction: Prediction) -> Self {
        Self {
            seq,
            index: prediction.index,
            shown_index: prediction.index,
            candidates: prediction.candidates,
            model_from_image: prediction.model_from_image,
            mask: prediction.mask,
            full: HashMap::new(),
        }
    }

    /// Low-res logits of the chosen candidate.
    pub fn logits(&self) -> &[f32] {
        self.candidates.logits(self.index)
    }

    /// Predicted IoU of the chosen candidate.
    pub fn score(&self) -> f32 {
        self.candidates.iou[self.index]
    }

    /// Whether `mask` shows the chosen candidate (not one Tab left behind).
    pub fn is_current(&self) -> bool {
        self.shown_index == self.index
    }
}

/// What the mask being built is.
pub enum Preview {
    /// What a click at the pointer would give: shown lighter, never refined or accepted.
    Hover(Predicted),
    /// The answer to the clicked points and box; `edited` is the chosen candidate at image
    /// resolution with the strokes painted on it, when there are any.
    Prompt {
        predicted: Predicted,
        edited: Option<Mask>,
    },
    /// Painted by hand from nothing, at image resolution.
    Painted(Mask),
}

impl Preview {
    /// The model's answer behind the preview, if any.
    pub fn predicted(&self) -> Option<&Predicted> {
        match self {
            Self::Hover(p) | Self::Prompt { predicted: p, .. } => Some(p),
            Self::Painted(_) => None,
        }
    }

    /// The mask on screen.
    pub fn mask(&self) -> &Mask {
        match self {
            Self::Prompt {
                edited: Some(mask), ..
            }
            | Self::Painted(mask) => mask,
            Self::Hover(p) | Self::Prompt { predicted: p, .. } => &p.mask,
        }
    }

    pub fn is_hover(&self) -> bool {
        matches!(self, Self::Hover(_))
    }

    /// Whether the mask on screen carries brush strokes.
    pub fn is_edited(&self) -> bool {
        matches!(
            self,
            Self::Prompt {
                edited: Some(_),
                ..
            } | Self::Painted(_)
        )
    }
}
