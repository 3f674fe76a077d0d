//! The prompt state machine: the points and box on the object being segmented, the preview the model
//! gave for them, brush strokes on it, and every input that acts on it (click, box, hover, Tab, Enter,
//! Esc, Ctrl+Z, the brush). Plain Rust without egui: the window feeds it input and the worker's answers
//! and sends the requests it asks for (`next_request`); nothing here waits or computes a mask.
//!
//! Every point, box and brush stroke is a step of the prompt's own history, so Ctrl+Z takes back the
//! last one of any kind. Strokes belong to the candidate they were painted on: Tab shows each
//! candidate with its own edits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod preview;

pub use preview::{Predicted, Preview, Stroke};

use crate::annotate::mask::Mask;
use crate::sam::preprocess::ModelFromImage;
use crate::sam::{PointPrompt, Prediction, Prompt};

/// How long the pointer must rest on a pixel before a hover decode is sent.
pub const HOVER_REST: Duration = Duration::from_millis(60);

/// Decode sequence numbers are unique in the process, so an answer can never be taken for another
/// image's prompt (each image keeps its own `PromptState`).
static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);

/// One undoable step of the prompt.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Point(PointPrompt),
    /// A dragged box, with the box it replaced.
    Box {
        new: [f32; 4],
        old: Option<[f32; 4]>,
    },
    /// One press-to-release of the brush or eraser, on a candidate of the current answer (`None`:
    /// painted from nothing).
    Paint {
        candidate: Option<usize>,
        segments: Vec<Stroke>,
    },
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
    /// Only a hover preview: a click makes it a prompt.
    HoverOnly,
    /// The full-resolution mask is being made; ask again when it has arrived.
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
    /// Points, boxes and strokes in the order they were made, and those undone (for redo).
    history: Vec<Step>,
    undone: Vec<Step>,
    /// A brush stroke is being painted (the last history step grows until the button is released).
    stroke_open: bool,
    preview: Option<Preview>,
    /// Size of the image, once known (a mask painted from nothing has it).
    image_size: Option<(u32, u32)>,
    /// A decode is due for the current points and box.
    stale: bool,
    /// Sequence number of the decode whose answer is outstanding (0: none), and whether it is a hover.
    seq: u64,
    hover_request: bool,
    /// The image pixel under the pointer and since when it rests there, when a hover decode is due.
    hover_due: Option<([u32; 2], Instant)>,
    /// The pixel of the newest hover decode: a pointer resting on it sends nothing more.
    hover_sent: Option<[u32; 2]>,
    /// Renders to send (candidate, full resolution), and the full-resolution ones already asked for.
    render_due: Vec<(usize, bool)>,
    full_asked: Vec<usize>,
    accept_waiting: bool,
    /// How many decodes were sent (tests count them).
    decodes_sent: u64,
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

    pub fn decodes_sent(&self) -> u64 {
        self.decodes_sent
    }

    /// Whether anything the user made is here: points, a box, strokes (a hover preview is not).
    pub fn has_work(&self) -> bool {
        !self.history.is_empty()
    }

    /// Whether an answer is outstanding or due: a decode, a render the user waits for, an accept.
    pub fn is_busy(&self) -> bool {
        let tab_pending = self.prompt_predicted().is_some_and(|p| !p.is_current());
        self.seq != 0 || self.stale || self.is_waiting_for_full() || tab_pending
    }

    /// Whether the full-resolution mask is being made for an accept or brush strokes: commands after
    /// those wait for it, so that they apply in the order the user gave them.
    pub fn is_waiting_for_full(&self) -> bool {
        self.accept_waiting || self.strokes_waiting()
    }

    /// Strokes are painted on the chosen candidate, whose full-resolution mask has not arrived.
    fn strokes_waiting(&self) -> bool {
        matches!(&self.preview, Some(Preview::Prompt { predicted, edited: None })
            if !self.strokes_on(Some(predicted.index)).is_empty())
    }

    /// Whether a clicked (or painted) preview exists: then a brush stroke edits it.
    pub fn has_prompt_preview(&self) -> bool {
        self.preview.as_ref().is_some_and(|p| !p.is_hover())
    }

    fn prompt_predicted(&self) -> Option<&Predicted> {
        match &self.preview {
            Some(Preview::Prompt { predicted, .. }) => Some(predicted),
            _ => None,
        }
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

    /// A new step by the user: what was undone can no longer be redone.
    fn push(&mut self, step: Step) {
        self.undone.clear();
        self.history.push(step);
    }

    /// A click: a positive or negative point (a hover preview gives way to the click's own).
    pub fn add_point(&mut self, point_in_image: [f32; 2], positive: bool) {
        let point = PointPrompt {
            point_in_image,
            positive,
        };
        self.push(Step::Point(point));
        self.redo_point(point);
    }

    fn redo_point(&mut self, point: PointPrompt) {
        self.drop_hover_preview();
        self.points.push(point);
        self.stale = true;
    }

    /// A dragged box.
    pub fn set_box(&mut self, box_in_image: [f32; 4]) {
        self.push(Step::Box {
            new: box_in_image,
            old: self.box_in_image,
        });
        self.drop_hover_preview();
        self.box_in_image = Some(box_in_image);
        self.stale = true;
    }

    /// Where the pointer rests on the image (None: it left), at `now`. Without a prompt, a hover
    /// decode is due once it has rested `HOVER_REST` on another image pixel than the last one decoded.
    pub fn hover(&mut self, point_in_image: Option<[f32; 2]>, now: Instant) {
        let Some([x, y]) = point_in_image else {
            self.hover_due = None;
            self.hover_sent = None;
            self.drop_hover_preview();
            return;
        };
        if !self.is_empty() || self.has_prompt_preview() {
            self.hover_due = None;
            return;
        }
        let pixel = [x.max(0.0) as u32, y.max(0.0) as u32];
        match self.hover_due {
            Some((due, _)) if due == pixel => {}
            _ if self.hover_sent == Some(pixel) => self.hover_due = None,
            _ => self.hover_due = Some((pixel, now)),
        }
    }

    /// How long until a hover decode is due, if one is pending (the window wakes up then).
    pub fn hover_wait(&self, now: Instant) -> Option<Duration> {
        let (_, since) = self.hover_due?;
        Some(HOVER_REST.saturating_sub(now.saturating_duration_since(since)))
    }

    /// The next request for the worker, if one is due. `can_decode`: the image's embedding is ready;
    /// `hover_allowed`: the prompt tool is active and nothing else is being edited.
    pub fn next_request(
        &mut self,
        can_decode: bool,
        hover_allowed: bool,
        now: Instant,
    ) -> Option<Ask> {
        if !self.render_due.is_empty() {
            let (index, full) = self.render_due.remove(0);
            if let Some(predicted) = self.preview.as_ref().and_then(Preview::predicted) {
                return Some(Ask::Render {
                    seq: predicted.seq,
                    index,
                    logits: predicted.candidates.logits(index).to_vec(),
                    model_from_image: predicted.model_from_image,
                    full,
                });
            }
        }
        if !can_decode || self.seq != 0 {
            return None;
        }
        if self.stale && !self.is_empty() {
            self.stale = false;
            // A click on an existing preview feeds its low-res mask back (SAM's iterative use).
            let mask_input = self
                .prompt_predicted()
                .filter(|_| self.points.len() > 1)
                .map(|p| p.logits().to_vec());
            let prompt = Prompt {
                points: self.points.clone(),
                box_in_image: self.box_in_image,
                mask_input,
            };
            return Some(self.decode(prompt, false));
        }
        if self.is_empty() && !self.has_prompt_preview() && hover_allowed {
            let ([x, y], since) = self.hover_due?;
            if now.saturating_duration_since(since) < HOVER_REST {
                return None;
            }
            self.hover_due = None;
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
        self.seq = NEXT_SEQ.fetch_add(1, Ordering::Relaxed);
        self.hover_request = hover;
        self.decodes_sent += 1;
        Ask::Decode {
            seq: self.seq,
            prompt,
            hover,
        }
    }

    /// The worker's answer to decode `seq`; false when it is stale (the prompt changed since).
    pub fn on_decoded(&mut self, seq: u64, prediction: Prediction) -> bool {
        if seq != self.seq || seq == 0 {
            return false;
        }
        self.seq = 0;
        let hover = self.hover_request;
        if hover && !self.is_empty() {
            return false;
        }
        let predicted = Predicted::new(seq, prediction);
        self.image_size = Some(predicted.model_from_image.image_size);
        self.accept_waiting = false;
        self.full_asked.clear();
        self.render_due.clear();
        if hover {
            self.set_preview(Some(Preview::Hover(predicted)));
        } else {
            self.set_preview(Some(Preview::Prompt {
                predicted,
                edited: None,
            }));
            // Strokes made on this prompt before (an undo brought it back) are painted again.
            self.refresh_edits();
        }
        true
    }

    /// Decode `seq` failed (or was dropped); true when the user should hear of it (it was the newest).
    pub fn on_decode_failed(&mut self, seq: u64) -> bool {
        let newest = seq == self.seq && seq != 0;
        if newest {
            self.seq = 0;
        }
        newest && !self.hover_request
    }

    /// Tab (Shift+Tab: backwards): the next of the multimask candidates (three for SAM and SAM 2.1).
    pub fn cycle_candidate(&mut self, forward: bool) {
        let Some(Preview::Prompt { predicted: p, .. }) = self.preview.as_mut() else {
            return;
        };
        let range = p.candidates.multimask();
        if range.len() < 2 {
            return;
        }
        p.index = match (forward, p.index) {
            (_, i) if !range.contains(&i) => range.start,
            (true, i) if i + 1 >= range.end => range.start,
            (true, i) => i + 1,
            (false, i) if i <= range.start => range.end - 1,
            (false, i) => i - 1,
        };
        let index = p.index;
        self.render_due.push((index, false));
        self.revision += 1;
        self.refresh_edits();
    }

    /// A candidate's mask from the worker (see `Ask::Render`).
    pub fn on_rendered(&mut self, seq: u64, index: usize, full: bool, mask: Mask) -> Rendered {
        let Some(Preview::Prompt { predicted: p, .. }) = self.preview.as_mut() else {
            return Rendered::Stale;
        };
        if p.seq != seq {
            return Rendered::Stale;
        }
        if full {
            p.full.insert(index, mask);
            if p.index == index {
                self.accept_waiting = false;
            }
            self.refresh_edits();
            return Rendered::Shown;
        }
        if p.index != index {
            return Rendered::Stale;
        }
        p.mask = mask;
        p.shown_index = index;
        self.revision += 1;
        Rendered::Shown
    }

    /// The strokes of the current prompt (those after its last point or box) painted on `candidate`.
    fn strokes_on(&self, candidate: Option<usize>) -> Vec<&Stroke> {
        let start = self
            .history
            .iter()
            .rposition(|s| matches!(s, Step::Point(_) | Step::Box { .. }))
            .map_or(0, |i| i + 1);
        self.history[start..]
            .iter()
            .filter_map(|s| match s {
                Step::Paint {
                    candidate: c,
                    segments,
                } if *c == candidate => Some(segments),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Repaints the preview from the model's masks and the history's strokes (after an undo, a redo,
    /// Tab, or the arrival of a full-resolution mask).
    fn refresh_edits(&mut self) {
        if self.is_empty() {
            // Nothing clicked: a mask painted from nothing, if strokes are left, else no preview.
            let strokes = self.strokes_on(None);
            let preview = match (strokes.is_empty(), self.image_size) {
                (false, Some((w, h))) => {
                    let mut mask = Mask::new(w, h);
                    strokes.iter().for_each(|s| s.paint(&mut mask));
                    Some(Preview::Painted(mask))
                }
                _ => None,
            };
            if preview.is_some() || self.has_prompt_preview() {
                self.set_preview(preview);
            }
            return;
        }
        let Some(predicted) = self.prompt_predicted() else {
            return;
        };
        let index = predicted.index;
        let strokes = self.strokes_on(Some(index));
        let edited = if strokes.is_empty() {
            None
        } else if let Some(full) = predicted.full.get(&index) {
            let mut mask = full.clone();
            strokes.iter().for_each(|s| s.paint(&mut mask));
            Some(mask)
        } else {
            // Painted once the full-resolution mask arrives.
            self.ask_full(index);
            None
        };
        if let Some(Preview::Prompt { edited: e, .. }) = self.preview.as_mut() {
            *e = edited;
        }
        self.revision += 1;
    }

    fn ask_full(&mut self, index: usize) {
        if !self.full_asked.contains(&index) {
            self.full_asked.push(index);
            self.render_due.push((index, true));
        }
    }

    /// A brush segment on the preview (from nothing: a new painted preview of `image_size`). Segments
    /// until `end_stroke` are one undo step.
    pub fn paint_on(&mut self, stroke: Stroke, image_size: (u32, u32)) {
        self.image_size = Some(image_size);
        self.hover_due = None;
        self.drop_hover_preview();
        let candidate = self.prompt_predicted().map(|p| p.index);
        let open = self.stroke_open
            && matches!(self.history.last(), Some(Step::Paint { candidate: c, .. }) if *c == candidate);
        if open {
            if let Some(Step::Paint { segments, .. }) = self.history.last_mut() {
                segments.push(stroke);
            }
        } else {
            self.push(Step::Paint {
                candidate,
                segments: vec![stroke],
            });
            self.stroke_open = true;
        }
        // Paint the one segment onto what is shown, instead of repainting the whole history.
        match self.preview.as_mut() {
            Some(Preview::Painted(mask))
            | Some(Preview::Prompt {
                edited: Some(mask), ..
            }) => {
                stroke.paint(mask);
                self.revision += 1;
            }
            _ => self.refresh_edits(),
        }
    }

    /// The brush was released: the next segment starts a new undo step.
    pub fn end_stroke(&mut self) {
        self.stroke_open = false;
    }

    /// Enter. The caller adds the mask and then calls `clear`. While the full-resolution mask is
    /// being made this says `Waiting`: ask again once it has arrived.
    pub fn accept(&mut self) -> Accept<'_> {
        if let Some(Preview::Prompt {
            predicted,
            edited: None,
        }) = &self.preview
            && !predicted.full.contains_key(&predicted.index)
        {
            let index = predicted.index;
            self.ask_full(index);
            self.accept_waiting = true;
            return Accept::Waiting;
        }
        match &self.preview {
            Some(Preview::Prompt {
                edited: Some(mask), ..
            })
            | Some(Preview::Painted(mask)) => Accept::Ready(mask),
            Some(Preview::Prompt { predicted, .. }) => predicted
                .full
                .get(&predicted.index)
                .map_or(Accept::Waiting, Accept::Ready),
            Some(Preview::Hover(_)) => Accept::HoverOnly,
            None => Accept::Nothing,
        }
    }

    /// Esc (and after an accept): no points, no box, no strokes, no preview. Answers still on their
    /// way are stale.
    pub fn clear(&mut self) {
        *self = Self {
            revision: self.revision + 1,
            image_size: self.image_size,
            decodes_sent: self.decodes_sent,
            ..Self::default()
        };
    }

    /// Set aside while another image is on screen: nothing is outstanding for it any more; whatever
    /// it still needs is asked again when it comes back.
    pub fn park(&mut self) {
        if self.seq != 0 && !self.hover_request {
            self.stale = true;
        }
        self.seq = 0;
        self.hover_due = None;
        self.hover_sent = None;
        self.drop_hover_preview();
        self.accept_waiting = false;
        self.stroke_open = false;
        self.full_asked.clear();
        self.render_due.clear();
        if let Some(Preview::Prompt { predicted, .. }) = self.preview.as_mut()
            && !predicted.is_current()
        {
            self.render_due.push((predicted.index, false));
        }
        self.refresh_edits();
    }

    /// Another model answers from now on: the old model's answer and anything on its way are
    /// dropped, and the points and box are decoded again once the image is encoded with the new
    /// model. Strokes painted on the old answer stay in the history (undo takes them back) and are
    /// painted on the new answer.
    pub fn model_changed(&mut self) {
        self.park();
        self.render_due.clear();
        if matches!(
            self.preview,
            Some(Preview::Prompt { .. } | Preview::Hover(_))
        ) {
            self.preview = None;
        }
        self.stale = !self.is_empty();
        self.revision += 1;
    }

    /// Ctrl+Z while prompting: takes back the last point, box or brush stroke. False when the prompt
    /// has no history: the dataset's undo is next.
    pub fn undo(&mut self) -> bool {
        let Some(step) = self.history.pop() else {
            return false;
        };
        self.stroke_open = false;
        match &step {
            Step::Point(_) => {
                self.points.pop();
                self.stale = !self.is_empty();
            }
            Step::Box { old, .. } => {
                self.box_in_image = *old;
                self.stale = !self.is_empty();
            }
            Step::Paint { .. } => {}
        }
        self.undone.push(step);
        if self.stale {
            // The decode for the remaining prompt replaces the preview (and repaints its strokes).
            self.seq = 0;
        } else {
            self.refresh_edits();
        }
        true
    }

    /// Ctrl+Shift+Z while prompting: brings back what Ctrl+Z took. False when there is nothing.
    pub fn redo(&mut self) -> bool {
        let Some(step) = self.undone.pop() else {
            return false;
        };
        self.history.push(step.clone());
        match step {
            Step::Point(point) => self.redo_point(point),
            Step::Box { new, .. } => {
                self.drop_hover_preview();
                self.box_in_image = Some(new);
                self.stale = true;
            }
            Step::Paint { .. } => {
                if self.stale || self.seq != 0 {
                    // Painted when the decode under way answers.
                } else {
                    self.refresh_edits();
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
