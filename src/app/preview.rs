//! The preview on screen: the texture of the prompt's mask, and, when the view is zoomed in past the
//! preview's resolution, a sharp texture of the visible part made by the worker at the screen's
//! resolution (exact pixels of the full-resolution mask, a few ms) whenever the view moves.

use egui::{TextureHandle, TextureOptions};

use super::canvas::Canvas;
use super::prompt::{Preview, PromptState};
use super::render;
use super::worker::{RenderJob, RenderTarget};

/// Fill opacity of a clicked preview and of a hover preview (lighter: only what a click would give).
const PROMPT_ALPHA: u8 = 120;
const HOVER_ALPHA: u8 = 70;

/// A sharp mask of part of the image, for one candidate of one decode.
#[derive(Clone, Copy, PartialEq)]
struct DetailKey {
    seq: u64,
    index: usize,
    region_in_image: [f32; 4],
    size: (u32, u32),
}

#[derive(Default)]
pub struct PreviewTextures {
    /// The preview's texture and the prompt revision it shows.
    texture: Option<(u64, TextureHandle)>,
    detail: Option<(DetailKey, TextureHandle)>,
    /// The detail asked of the worker and not yet back.
    detail_asked: Option<DetailKey>,
}

impl PreviewTextures {
    /// Another image: nothing of this one's preview may show there.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Re-uploads the preview when the prompt's preview changed.
    pub fn sync(&mut self, ctx: &egui::Context, prompt: &PromptState, max_texture_side: usize) {
        let revision = prompt.revision();
        if self.texture.as_ref().is_some_and(|(r, _)| *r == revision) {
            return;
        }
        self.detail = None;
        self.detail_asked = None;
        let Some(preview) = prompt.preview() else {
            self.texture = None;
            return;
        };
        let alpha = if preview.is_hover() {
            HOVER_ALPHA
        } else {
            PROMPT_ALPHA
        };
        let image = render::mask_texture(
            preview.mask(),
            render::PREVIEW_COLOR,
            alpha,
            max_texture_side,
        );
        match self.texture.as_mut() {
            Some((r, texture)) => {
                texture.set(image, TextureOptions::NEAREST);
                *r = revision;
            }
            None => {
                let texture = ctx.load_texture("preview", image, TextureOptions::NEAREST);
                self.texture = Some((revision, texture));
            }
        }
    }

    /// What to draw: the detail when there is one, else the whole preview (with the image region it
    /// covers, `[x0, y0, x1, y1]` in image pixels).
    pub fn layer(&self, image_size: [f32; 2]) -> Option<(&TextureHandle, [f32; 4])> {
        if let Some((key, texture)) = &self.detail {
            return Some((texture, key.region_in_image));
        }
        let (_, texture) = self.texture.as_ref()?;
        Some((texture, [0.0, 0.0, image_size[0], image_size[1]]))
    }

    /// The detail on screen: region in image pixels and size in pixels.
    pub fn detail(&self) -> Option<([f32; 4], (u32, u32))> {
        self.detail
            .as_ref()
            .map(|(key, _)| (key.region_in_image, key.size))
    }

    /// The detail the view needs now, if it is neither shown nor asked for yet.
    pub fn wanted_detail(
        &mut self,
        prompt: &PromptState,
        canvas: &Canvas,
        pixels_per_point: f32,
        max_texture_side: usize,
    ) -> Option<RenderJob> {
        // Only a clicked preview at preview resolution: edited and painted masks are at image
        // resolution already.
        let Some(Preview::Prompt {
            predicted: p,
            edited: None,
        }) = prompt.preview()
        else {
            self.detail = None;
            return None;
        };
        if !p.is_current() {
            return None;
        }
        let (iw, ih) = p.model_from_image.image_size;
        let full_resolution = (p.mask.width(), p.mask.height()) == (iw, ih);
        let screen_per_image = canvas.zoom() * pixels_per_point;
        let preview_per_image = p.mask.width() as f32 / iw as f32;
        let region = canvas
            .visible_in_image([iw as f32, ih as f32])
            .filter(|_| !full_resolution && screen_per_image > preview_per_image * 1.25);
        let Some(region) = region else {
            self.detail = None;
            return None;
        };
        let scale = screen_per_image.min(1.0);
        let side = |extent: f32| ((extent * scale).ceil() as u32).clamp(1, max_texture_side as u32);
        let key = DetailKey {
            seq: p.seq,
            index: p.index,
            region_in_image: region,
            size: (side(region[2] - region[0]), side(region[3] - region[1])),
        };
        if self.detail.as_ref().is_some_and(|(k, _)| *k == key) || self.detail_asked == Some(key) {
            return None;
        }
        self.detail_asked = Some(key);
        Some(RenderJob {
            seq: key.seq,
            index: key.index,
            logits: p.logits().to_vec(),
            model_from_image: p.model_from_image,
            target: RenderTarget::Region(key.region_in_image, key.size),
        })
    }

    /// A detail the worker made; shown if the view still wants it.
    #[allow(clippy::too_many_arguments)]
    pub fn on_detail(
        &mut self,
        ctx: &egui::Context,
        seq: u64,
        index: usize,
        (region_in_image, size): ([f32; 4], (u32, u32)),
        mask: &crate::annotate::mask::Mask,
        max_texture_side: usize,
    ) {
        let key = DetailKey {
            seq,
            index,
            region_in_image,
            size,
        };
        if self.detail_asked != Some(key) {
            return;
        }
        self.detail_asked = None;
        let image =
            render::mask_texture(mask, render::PREVIEW_COLOR, PROMPT_ALPHA, max_texture_side);
        match self.detail.as_mut() {
            Some((k, texture)) => {
                texture.set(image, TextureOptions::NEAREST);
                *k = key;
            }
            None => {
                let texture = ctx.load_texture("preview-detail", image, TextureOptions::NEAREST);
                self.detail = Some((key, texture));
            }
        }
    }
}
