//! The prompt state machine: the points and box on the object being segmented, the preview the model
//! gave for them, and every input that acts on it (click, box, hover, Tab, Enter, Esc, Ctrl+Z, the
//! brush on a preview). Plain Rust without egui: the window feeds it input and the worker's answers and
//! sends the requests it asks for (`next_request`); nothing here waits or computes a mask.

use crate::annotate::mask::Mask;
use crate::sam::preprocess::ModelFromImage;
use crate::sam::{Candidates, PointPrompt, Prediction, Prompt};

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
    fn paint(&self, mask: &mut Mask) {
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
    shown_index: usize,
    /// The shown candidate at preview resolution.
    pub mask: Mask,
    /// `index`'s mask at image resolution, once the worker made it (accept and the brush need it).
    full: Option<Mask>,
}

impl Predicted {
    fn new(seq: u64, prediction: Prediction) -> Self {
        Self {
            seq,
            index: prediction.index,
            shown_index: prediction.index,
            candidates: prediction.candidates,
            model_from_image: prediction.model_from_image,
            mask: prediction.mask,
            full: None,
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
    /// The answer to the clicked points and box.
    Prompt(Predicted),
    /// At image resolution, edited with the brush: a prompt's mask (`from` keeps the model's answer,
    /// so that another click still refines it) or painted from nothing.
    Painted { mask: Mask, from: Option<Predicted> },
}

impl Preview {
    /// The model's answer behind the preview, if any.
    pub fn predicted(&self) -> Option<&Predicted> {
        match self {
            Self::Hover(p) | Self::Prompt(p) => Some(p),
            Self::Painted { from, .. } => from.as_ref(),
        }
    }

    /// The mask on screen.
    pub fn mask(&self) -> &Mask {
        match self {
            Self::Hover(p) | Self::Prompt(p) => &p.mask,
            Self::Painted { mask, .. } => mask,
        }
    }

    pub fn is_hover(&self) -> bool {
        matches!(self, Self::Hover(_))
    }
}

/// A request for the worker.
#[derive(Debug, PartialEq)]
pub enum Ask {
    /// Decode `prompt`; a hover decode shows what a click would give.
    Decode {
        seq: u64,
        prompt: Prompt,
        hover: bool,
    },
    /// Make candidate `index` of decode `seq` into a mask: at the preview's size (Tab) or at the
    /// image's (`full`: accept, brush).
    Render {
        seq: u64,
        index: usize,
        logits: Vec<f32>,
        model_from_image: ModelFromImage,
        full: bool,
    },
}

/// What Enter finds.
pub enum Accept<'a> {
    /// No mask to accept (nothing, or only a hover preview).
    Nothing,
    /// The full-resolution mask is being made; the accept happens when it arrives.
    Waiting,
    Ready(&'a Mask),
}

/// What a rendered mask did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rendered {
    /// It belongs to an older prompt or candidate.
    Stale,
    Shown,
}

#[derive(Default)]
pub struct PromptState {
    points: Vec<PointPrompt>,
    box_in_image: Option<[f32; 4]>,
    /// Points undone with Ctrl+Z while prompting, for Ctrl+Shift+Z.
    redo_points: Vec<PointPrompt>,
    preview: Option<Preview>,
    /// A decode is due for the current points and box.
    stale: bool,
    /// Sequence number of the newest decode sent, whether its answer is outstanding, and whether it
    /// was a hover decode.
    seq: u64,
    in_flight: bool,
    hover_request: bool,
    /// The image pixel under the pointer, when a hover decode is due there.
    hover_due: Option<[u32; 2]>,
    /// The pixel of the newest hover decode: a pointer resting on it sends nothing more.
    hover_sent: Option<[u32; 2]>,
    /// A render to send, and the full-resolution render already asked for (by candidate index).
    render_due: Option<(usize, bool)>,
    full_asked: Option<usize>,
    /// Brush strokes on a preview whose full-resolution mask is still being made.
    strokes: Vec<Stroke>,
    accept_waiting: bool,
    /// Bumped whenever the preview on screen changes (the window re-uploads its texture then).
    revision: u64,
}

impl PromptState {
    /// No points and no box.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.box_in_image.is_none()
    }

    pub fn points(&self) -> &[PointPrompt] {
        &self.points
    }

    pub fn box_in_image(&self) -> Option<[f32; 4]> {
        self.box_in_image
    }

    pub fn preview(&self) -> Option<&Preview> {
        self.preview.as_ref()
    }

    /// The clicked or painted mask on screen (not a hover preview).
    pub fn shown_mask(&self) -> Option<&Mask> {
        self.preview
            .as_ref()
            .filter(|p| !p.is_hover())
            .map(Preview::mask)
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether an answer is outstanding or due: a decode, a render the user waits for, an accept.
    pub fn is_busy(&self) -> bool {
        let tab_pending = matches!(&self.preview, Some(Preview::Prompt(p)) if !p.is_current());
        self.in_flight
            || self.stale
            || self.accept_waiting
            || !self.strokes.is_empty()
            || tab_pending
    }

    /// Whether the full-resolution mask is being made for an accept or brush strokes: commands after
    /// those wait for it, so that they apply in the order the user gave them.
    pub fn is_waiting_for_full(&self) -> bool {
        self.accept_waiting || !self.strokes.is_empty()
    }

    /// Whether a clicked (or painted) preview exists: then a brush stroke edits it.
    pub fn has_prompt_preview(&self) -> bool {
        self.preview.as_ref().is_some_and(|p| !p.is_hover())
    }

    fn set_preview(&mut self, preview: Option<Preview>) {
        self.preview = preview;
        self.revision += 1;
    }

    fn drop_hover_preview(&mut self) {
        if self.preview.as_ref().is_some_and(Preview::is_hover) {
            self.set_preview(None);
        }
    }

    /// A click: a positive or negative point (a hover preview gives way to the click's own).
    pub fn add_point(&mut self, point_in_image: [f32; 2], positive: bool) {
        self.drop_hover_preview();
        self.points.push(PointPrompt {
            point_in_image,
            positive,
        });
        self.redo_points.clear();
        self.stale = true;
    }

    /// A dragged box.
    pub fn set_box(&mut self, box_in_image: [f32; 4]) {
        self.drop_hover_preview();
        self.box_in_image = Some(box_in_image);
        self.stale = true;
    }

    /// Where the pointer rests on the image (None: it left). Without a prompt, a hover decode is due
    /// when it rests on another image pixel than the last hover decode's.
    pub fn hover(&mut self, point_in_image: Option<[f32; 2]>) {
        let Some([x, y]) = point_in_image else {
            self.hover_due = None;
            self.hover_sent = None;
            self.drop_hover_preview();
            return;
        };
        if !self.is_empty() || self.has_prompt_preview() {
            return;
        }
        let pixel = [x.max(0.0) as u32, y.max(0.0) as u32];
        if self.hover_sent != Some(pixel) {
            self.hover_due = Some(pixel);
        }
    }

    /// The next request for the worker, if one is due. `can_decode`: the image's embedding is ready;
    /// `hover_allowed`: the prompt tool is active and nothing else is being edited.
    pub fn next_request(&mut self, can_decode: bool, hover_allowed: bool) -> Option<Ask> {
        if let Some((index, full)) = self.render_due.take()
            && let Some(predicted) = self.preview.as_ref().and_then(Preview::predicted)
        {
            return Some(Ask::Render {
                seq: predicted.seq,
                index,
                logits: predicted.candidates.logits(index).to_vec(),
                model_from_image: predicted.model_from_image,
                full,
            });
        }
        if !can_decode || self.in_flight {
            return None;
        }
        if self.stale && !self.is_empty() {
            self.stale = false;
            // A click on an existing preview feeds its low-res mask back (SAM's iterative use).
            let mask_input = self
                .preview
                .as_ref()
                .filter(|p| !p.is_hover() && self.points.len() > 1)
                .and_then(Preview::predicted)
                .map(|p| p.logits().to_vec());
            let prompt = Prompt {
                points: self.points.clone(),
                box_in_image: self.box_in_image,
                mask_input,
            };
            return Some(self.decode(prompt, false));
        }
        if self.is_empty() && !self.has_prompt_preview() && hover_allowed {
            let [x, y] = self.hover_due.take()?;
            self.hover_sent = Some([x, y]);
            let prompt = Prompt {
                points: vec![PointPrompt {
                    point_in_image: [x as f32 + 0.5, y as f32 + 0.5],
                    positive: true,
                }],
                ..Default::default()
            };
            return Some(self.decode(prompt, true));
        }
        None
    }

    fn decode(&mut self, prompt: Prompt, hover: bool) -> Ask {
        self.seq += 1;
        self.in_flight = true;
        self.hover_request = hover;
        Ask::Decode {
            seq: self.seq,
            prompt,
            hover,
        }
    }

    /// The worker's answer to decode `seq`; false when it is stale (the prompt changed since).
    pub fn on_decoded(&mut self, seq: u64, prediction: Prediction) -> bool {
        if seq != self.seq {
            return false;
        }
        self.in_flight = false;
        let hover = self.hover_request;
        if hover && !self.is_empty() {
            return false;
        }
        let predicted = Predicted::new(seq, prediction);
        self.strokes.clear();
        self.accept_waiting = false;
        self.full_asked = None;
        self.set_preview(Some(if hover {
            Preview::Hover(predicted)
        } else {
            Preview::Prompt(predicted)
        }));
        true
    }

    /// Decode `seq` failed; true when the user should hear of it (it was the newest).
    pub fn on_decode_failed(&mut self, seq: u64) -> bool {
        let newest = seq == self.seq;
        if newest {
            self.in_flight = false;
        }
        newest && !self.hover_request
    }

    /// Tab: the next of the three multimask candidates of a single click.
    pub fn cycle_candidate(&mut self) {
        let Some(Preview::Prompt(p)) = self.preview.as_mut() else {
            return;
        };
        let count = p.candidates.count();
        if count < 4 {
            return;
        }
        p.index = if p.index >= count - 1 { 1 } else { p.index + 1 };
        p.full = None;
        let index = p.index;
        self.full_asked = None;
        self.render_due = Some((index, false));
        self.revision += 1;
    }

    /// A candidate's mask from the worker (see `Ask::Render`).
    pub fn on_rendered(&mut self, seq: u64, index: usize, full: bool, mask: Mask) -> Rendered {
        let Some(Preview::Prompt(p)) = self.preview.as_mut() else {
            return Rendered::Stale;
        };
        if p.seq != seq || p.index != index {
            return Rendered::Stale;
        }
        if !full {
            p.mask = mask;
            p.shown_index = index;
            self.revision += 1;
            return Rendered::Shown;
        }
        p.full = Some(mask);
        self.accept_waiting = false;
        for stroke in std::mem::take(&mut self.strokes) {
            self.paint(stroke);
        }
        Rendered::Shown
    }

    /// A brush stroke on the preview (from nothing: a new painted preview of `image_size`).
    pub fn paint_on(&mut self, stroke: Stroke, image_size: (u32, u32)) {
        if !self.has_prompt_preview() {
            self.hover_due = None;
            self.set_preview(Some(Preview::Painted {
                mask: Mask::new(image_size.0, image_size.1),
                from: None,
            }));
        }
        self.paint(stroke);
    }

    fn paint(&mut self, stroke: Stroke) {
        match self.preview.take() {
            Some(Preview::Painted { mut mask, from }) => {
                stroke.paint(&mut mask);
                self.set_preview(Some(Preview::Painted { mask, from }));
            }
            Some(Preview::Prompt(mut p)) => match p.full.take() {
                Some(mut mask) => {
                    stroke.paint(&mut mask);
                    self.set_preview(Some(Preview::Painted {
                        mask,
                        from: Some(p),
                    }));
                }
                None => {
                    // Painted once the full-resolution mask arrives.
                    self.strokes.push(stroke);
                    self.ask_full(p.index);
                    self.preview = Some(Preview::Prompt(p));
                }
            },
            other => self.preview = other,
        }
    }

    fn ask_full(&mut self, index: usize) {
        if self.full_asked != Some(index) {
            self.full_asked = Some(index);
            self.render_due = Some((index, true));
        }
    }

    /// Enter. The caller adds the mask and then calls `clear`; a hover preview is not accepted. While
    /// the full-resolution mask is being made this says `Waiting`: ask again once it has arrived.
    pub fn accept(&mut self) -> Accept<'_> {
        if let Some(Preview::Prompt(p)) = &self.preview
            && p.full.is_none()
        {
            let index = p.index;
            self.ask_full(index);
            self.accept_waiting = true;
            return Accept::Waiting;
        }
        match &self.preview {
            Some(Preview::Prompt(Predicted {
                full: Some(mask), ..
            }))
            | Some(Preview::Painted { mask, .. }) => Accept::Ready(mask),
            _ => Accept::Nothing,
        }
    }

    /// Esc (and after an accept): no points, no box, no preview. Answers still on their way are
    /// stale: the sequence number moves on.
    pub fn clear(&mut self) {
        *self = Self {
            seq: self.seq + 1,
            revision: self.revision + 1,
            ..Self::default()
        };
    }

    /// Ctrl+Z while prompting: takes back the last point (the box and a painted preview go all at
    /// once). False when there is no prompt: the dataset's undo is next.
    pub fn undo(&mut self) -> bool {
        if self.is_empty() && !self.has_prompt_preview() {
            return false;
        }
        match self.points.pop() {
            Some(p) => {
                self.redo_points.push(p);
                self.stale = true;
                if self.is_empty() {
                    self.set_preview(None);
                    self.stale = false;
                }
            }
            None => self.clear(),
        }
        true
    }

    /// Ctrl+Shift+Z while prompting: brings back an undone point. False when there is none.
    pub fn redo(&mut self) -> bool {
        let Some(p) = self.redo_points.pop() else {
            return false;
        };
        self.points.push(p);
        self.stale = true;
        true
    }
}

#[cfg(test)]
mod tests;
