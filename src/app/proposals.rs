//! Proposals in the window, from segment everything or from Find (SAM 3): those of the current
//! image, which of them the user selected, which are hidden because an accepted annotation already
//! covers them, and the one texture that outlines them (Find's coloured by phrase).

use std::path::{Path, PathBuf};

use egui::{Color32, TextureHandle, TextureOptions};

use super::render::{self, OverlayLayer, OverlayStyle};
use super::worker::FoundPhrase;
use crate::annotate::mask::Mask;
use crate::sam::everything::{EverythingOptions, Proposal};

/// A proposal that lies on accepted annotations for more than this share of its area is hidden by
/// default: the object is most likely labelled already.
const COVERED: f64 = 0.5;

/// The colour of proposals; selected ones are filled stronger, with a thick rim.
const PROPOSAL_COLOR: Color32 = Color32::from_rgb(255, 200, 40);
/// Find's colours, one per phrase in turn (none near the click preview's blue).
const PHRASE_COLORS: [Color32; 6] = [
    Color32::from_rgb(255, 200, 40),
    Color32::from_rgb(230, 70, 160),
    Color32::from_rgb(60, 200, 90),
    Color32::from_rgb(250, 110, 40),
    Color32::from_rgb(170, 90, 240),
    Color32::from_rgb(40, 210, 210),
];

/// The colour of Find's `group`-th phrase.
pub fn phrase_color(group: usize) -> Color32 {
    PHRASE_COLORS[group % PHRASE_COLORS.len()]
}

/// One proposal as the panel lists it.
pub struct Listed {
    pub index: usize,
    pub group: usize,
    pub score: f32,
    pub selected: bool,
}

struct Item {
    /// Find's phrase (index into `Proposals::phrases`); 0 for segment everything.
    group: usize,
    mask: Mask,
    /// COCO `[x, y, w, h]` of the mask.
    bbox: [u32; 4],
    score: f32,
    selected: bool,
    /// Mostly covered by an accepted annotation.
    covered: bool,
}

impl Item {
    /// A proposal, marked covered when accepted annotations (with their boxes) hold more than
    /// [`COVERED`] of it.
    fn new(group: usize, mask: Mask, score: f32, accepted: &[(&Mask, [u32; 4])]) -> Self {
        let bbox = mask.bbox();
        let area = mask.area().max(1) as f64;
        let covered = accepted
            .iter()
            .any(|&a| overlap(&mask, bbox, a) as f64 / area > COVERED);
        Self {
            group,
            mask,
            bbox,
            score,
            selected: false,
            covered,
        }
    }
}

/// Pixels inside both `mask` and `other` (with their COCO bboxes), counted only where the two
/// boxes meet (an image has many proposals and annotations; most do not touch).
fn overlap(mask: &Mask, bbox: [u32; 4], (other, other_bbox): (&Mask, [u32; 4])) -> usize {
    let [ox, oy, ow, oh] = other_bbox;
    let [x, y, w, h] = bbox;
    let (x0, y0) = (x.max(ox), y.max(oy));
    let (x1, y1) = ((x + w).min(ox + ow), (y + h).min(oy + oh));
    if x0 >= x1 || y0 >= y1 || mask.width() != other.width() {
        return 0;
    }
    let width = mask.width() as usize;
    (y0 as usize..y1 as usize)
        .map(|row| {
            let span = row * width + x0 as usize..row * width + x1 as usize;
            mask.as_bytes()[span.clone()]
                .iter()
                .zip(&other.as_bytes()[span])
                .filter(|&(&m, &o)| m != 0 && o != 0)
                .count()
        })
        .sum()
}

pub struct Proposals {
    /// The image the proposals (or the run) belong to.
    path: Option<PathBuf>,
    /// Points decoded so far and in all, while a run goes on.
    pub running: Option<(usize, usize)>,
    items: Vec<Item>,
    /// A run's answer arrived (the panel stays, with its settings, even when it proposed nothing).
    answered: bool,
    /// Show the proposals an accepted annotation already covers.
    pub show_covered: bool,
    /// Find's phrases, in the order searched (`None`: the example boxes alone); empty for segment
    /// everything.
    pub phrases: Vec<Option<String>>,
    /// The settings the next run uses (the panel edits them).
    pub options: EverythingOptions,
    revision: u64,
    texture: Option<TextureHandle>,
    texture_revision: Option<u64>,
}

impl Default for Proposals {
    fn default() -> Self {
        Self {
            path: None,
            running: None,
            items: Vec::new(),
            answered: false,
            show_covered: false,
            phrases: Vec::new(),
            options: EverythingOptions::official(crate::sam::family::Family::Sam1),
            revision: 0,
            texture: None,
            texture_revision: None,
        }
    }
}

/// What the panel shows about the proposals.
pub struct Counts {
    pub shown: usize,
    pub selected: usize,
    pub covered: usize,
}

impl Proposals {
    /// Whether proposals are on screen or on their way.
    pub fn is_active(&self) -> bool {
        self.running.is_some() || self.answered || !self.items.is_empty()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            shown: self.visible().count(),
            selected: self.visible().filter(|i| i.selected).count(),
            covered: self.items.iter().filter(|i| i.covered).count(),
        }
    }

    fn visible(&self) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(|i| self.show_covered || !i.covered)
    }

    /// The masks of the shown proposals, in order.
    pub fn shown_masks(&self) -> Vec<&Mask> {
        self.visible().map(|i| &i.mask).collect()
    }

    /// A run starts on `path`; what was shown before goes.
    pub fn start(&mut self, path: &Path) {
        self.clear();
        self.path = Some(path.to_path_buf());
        self.running = Some((0, 0));
    }

    pub fn progress(&mut self, path: &Path, done: usize, total: usize) {
        if self.path.as_deref() == Some(path) && self.running.is_some() {
            self.running = Some((done, total));
        }
    }

    /// The run's answer; `accepted` are the masks already accepted on the image (for hiding the
    /// proposals they cover). False if it is for another image.
    pub fn arrived(&mut self, path: &Path, proposals: Vec<Proposal>, accepted: &[&Mask]) -> bool {
        // A Find started since replaced this run.
        if self.path.as_deref() != Some(path) || self.is_find() {
            return false;
        }
        self.running = None;
        self.answered = true;
        let accepted: Vec<(&Mask, [u32; 4])> = accepted.iter().map(|a| (*a, a.bbox())).collect();
        self.items = proposals
            .into_iter()
            .map(|p| Item::new(0, p.rle.to_mask(), p.predicted_iou, &accepted))
            .collect();
        self.revision += 1;
        true
    }

    /// A Find starts on `path`: what was shown before goes.
    pub fn start_find(&mut self, path: &Path, phrases: Vec<Option<String>>) {
        self.start(path);
        self.phrases = phrases;
    }

    /// Find's answer: each phrase's instances, best first; `accepted` as in [`Self::arrived`].
    /// False if it is for another image.
    pub fn found(&mut self, path: &Path, found: Vec<FoundPhrase>, accepted: &[&Mask]) -> bool {
        // A segment-everything run started since replaced this Find.
        if self.path.as_deref() != Some(path) || !self.is_find() {
            return false;
        }
        self.running = None;
        self.answered = true;
        let accepted: Vec<(&Mask, [u32; 4])> = accepted.iter().map(|a| (*a, a.bbox())).collect();
        self.phrases = found.iter().map(|f| f.phrase.clone()).collect();
        self.items = found
            .into_iter()
            .enumerate()
            .flat_map(|(group, f)| f.instances.into_iter().map(move |i| (group, i)))
            .map(|(group, i)| Item::new(group, i.mask, i.score, &accepted))
            .collect();
        self.revision += 1;
        true
    }

    /// Whether the proposals on screen (or on their way) are Find's.
    pub fn is_find(&self) -> bool {
        !self.phrases.is_empty()
    }

    /// The shown proposals, for the panel's list.
    pub fn listed(&self) -> Vec<Listed> {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, i)| self.show_covered || !i.covered)
            .map(|(index, i)| Listed {
                index,
                group: i.group,
                score: i.score,
                selected: i.selected,
            })
            .collect()
    }

    /// Selects or deselects the proposal `index` of [`Self::listed`].
    pub fn toggle(&mut self, index: usize) {
        if let Some(item) = self.items.get_mut(index) {
            item.selected = !item.selected;
            self.revision += 1;
        }
    }

    /// The run ended without proposals (failed or cancelled).
    pub fn stopped(&mut self, path: &Path) {
        if self.path.as_deref() == Some(path) {
            self.running = None;
        }
    }

    /// Selects or deselects the shown proposal at an image point (the smallest one there, so that
    /// parts inside larger proposals can be picked). False when there is none.
    pub fn toggle_at(&mut self, [x, y]: [f32; 2]) -> bool {
        let (x, y) = (x.floor(), y.floor());
        let show_covered = self.show_covered;
        let hit = self
            .items
            .iter_mut()
            .filter(|i| show_covered || !i.covered)
            .filter(|i| {
                x >= 0.0
                    && y >= 0.0
                    && (x as u32) < i.mask.width()
                    && (y as u32) < i.mask.height()
                    && i.mask.get(x as u32, y as u32)
            })
            .min_by_key(|i| i.mask.area());
        match hit {
            Some(item) => {
                item.selected = !item.selected;
                self.revision += 1;
                true
            }
            None => false,
        }
    }

    /// Takes the selected proposals (or, with `all`, every shown one) out of the list, best first,
    /// to be accepted, each with Find's phrase; the rest stay.
    pub fn take(&mut self, all: bool) -> Vec<(Mask, Option<String>)> {
        let show_covered = self.show_covered;
        let (taken, rest): (Vec<Item>, Vec<Item>) = std::mem::take(&mut self.items)
            .into_iter()
            .partition(|i| (all || i.selected) && (show_covered || !i.covered));
        self.items = rest;
        self.revision += 1;
        let mut taken = taken;
        taken.sort_by(|a, b| b.score.total_cmp(&a.score));
        taken
            .into_iter()
            .map(|i| (i.mask, self.phrases.get(i.group).cloned().flatten()))
            .collect()
    }

    /// Discards every proposal (and forgets a run on its way).
    pub fn clear(&mut self) {
        let options = self.options.clone();
        let show_covered = self.show_covered;
        let revision = self.revision + 1;
        *self = Self {
            options,
            show_covered,
            revision,
            ..Self::default()
        };
    }

    /// The path a run or the proposals belong to.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The texture that outlines the shown proposals (selected ones filled), made again when they
    /// changed.
    pub fn texture(
        &mut self,
        ctx: &egui::Context,
        max_texture_side: usize,
    ) -> Option<&TextureHandle> {
        if self.items.is_empty() {
            return None;
        }
        let revision = self.revision + u64::from(self.show_covered);
        if self.texture_revision != Some(revision) {
            let (w, h) = (self.items[0].mask.width(), self.items[0].mask.height());
            let layers: Vec<OverlayLayer<'_>> = self
                .visible()
                .map(|i| OverlayLayer {
                    mask: &i.mask,
                    bbox: i.bbox,
                    color: if self.phrases.is_empty() {
                        PROPOSAL_COLOR
                    } else {
                        phrase_color(i.group)
                    },
                    selected: i.selected,
                    hovered: false,
                })
                .collect();
            // A light fill, stronger and with a thick rim for the selected ones.
            let style = OverlayStyle {
                fill: 0.15,
                outlines_only: false,
            };
            let image = render::overlay(w, h, &layers, style, max_texture_side);
            self.texture = Some(ctx.load_texture("proposals", image, TextureOptions::LINEAR));
            self.texture_revision = Some(revision);
        }
        self.texture.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_counts_the_shared_pixels_only() {
        // A 4x4 square at (2, 2) and a 4x4 square at (4, 3) share a 2x3 block.
        let square = |x0: usize, y0: usize| {
            Mask::from_fn(10, 10, move |i| {
                let (x, y) = (i % 10, i / 10);
                (x0..x0 + 4).contains(&x) && (y0..y0 + 4).contains(&y)
            })
        };
        let (a, b, far) = (square(2, 2), square(4, 3), square(6, 6));
        assert_eq!(overlap(&a, a.bbox(), (&b, b.bbox())), 6);
        assert_eq!(overlap(&a, a.bbox(), (&far, far.bbox())), 0);
        assert_eq!(overlap(&a, a.bbox(), (&a, a.bbox())), 16);
    }
}
