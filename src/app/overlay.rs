//! The accepted annotations of the current image: their decoded masks, the one texture that shows
//! them, and which one is under the pointer.

use std::collections::HashMap;
use std::path::PathBuf;

use egui::{Color32, TextureHandle, TextureOptions};

use super::render::{self, OverlayLayer, OverlayStyle};
use super::selection::{Selection, ViewOptions};
use crate::annotate::dataset::{Annotation, AnnotationId, Dataset, ImageId};
use crate::annotate::mask::Mask;

/// Everything the overlay texture depends on.
#[derive(Clone, PartialEq)]
struct TextureKey {
    revision: u64,
    selected: Option<AnnotationId>,
    hovered: Option<AnnotationId>,
    hidden: Vec<AnnotationId>,
    image: PathBuf,
    view: ViewOptions,
}

#[derive(Default)]
pub struct Overlay {
    /// Decoded masks of the current image's annotations, by id, with their COCO bbox.
    masks: HashMap<AnnotationId, (Mask, [u32; 4])>,
    /// Dataset revision and image the decoded masks belong to.
    masks_key: Option<(u64, PathBuf)>,
    texture: Option<TextureHandle>,
    texture_key: Option<TextureKey>,
}

impl Overlay {
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    pub fn texture(&self) -> Option<&TextureHandle> {
        self.texture.as_ref()
    }

    pub fn mask(&self, id: AnnotationId) -> Option<&Mask> {
        self.masks.get(&id).map(|(m, _)| m)
    }

    /// Shows an annotation's mask as it is being painted, before the edit reaches the dataset.
    pub fn show_edit(&mut self, id: AnnotationId, mask: &Mask) {
        // The stroke may reach outside the old box: the whole image is visited until the next decode.
        let whole = [0, 0, mask.width(), mask.height()];
        self.masks.insert(id, (mask.clone(), whole));
        self.texture_key = None;
    }

    /// The topmost visible annotation at an image point.
    pub fn annotation_at(
        &self,
        dataset: &Dataset,
        image_id: ImageId,
        selection: &Selection,
        point_in_image: [f32; 2],
    ) -> Option<AnnotationId> {
        let [x, y] = point_in_image;
        if x < 0.0 || y < 0.0 {
            return None;
        }
        let (x, y) = (x as u32, y as u32);
        dataset
            .annotations_of(image_id)
            .filter(|a| !selection.hidden.contains(&a.id))
            .filter(|a| self.masks.get(&a.id).is_some_and(|(m, _)| m.get(x, y)))
            .map(|a| a.id)
            .last()
            .or_else(|| super::boxes::box_at(dataset, image_id, selection, point_in_image))
    }

    /// Rebuilds the decoded masks and the texture when what they show changed.
    #[allow(clippy::too_many_arguments)]
    pub fn refresh(
        &mut self,
        ctx: &egui::Context,
        dataset: &Dataset,
        image_id: Option<ImageId>,
        image: (&PathBuf, (u32, u32)),
        selection: &Selection,
        max_texture_side: usize,
    ) {
        let (path, (w, h)) = image;
        let mut hidden: Vec<AnnotationId> = selection.hidden.iter().copied().collect();
        hidden.sort_unstable();
        let key = TextureKey {
            revision: dataset.revision(),
            selected: selection.annotation,
            hovered: selection.hovered,
            hidden,
            image: path.clone(),
            view: selection.view,
        };
        if self.texture_key.as_ref() == Some(&key) {
            return;
        }
        let annotations: Vec<&Annotation> = image_id
            .map(|id| dataset.annotations_of(id).collect())
            .unwrap_or_default();
        // Decoding RLE is the costly part: only when the data or the image changed, not on hover.
        let masks_key = (key.revision, key.image.clone());
        if self.masks_key.as_ref() != Some(&masks_key) {
            let brushing = selection.brush_target.as_ref().map(|(id, _)| *id);
            // The mask being brushed is newer than the dataset's until the stroke ends.
            self.masks.retain(|id, _| Some(*id) == brushing);
            // A box-only annotation has no mask to decode (the canvas outlines its box).
            for ann in annotations.iter().filter(|a| !a.is_box_only()) {
                if Some(ann.id) != brushing {
                    let mask = ann.segmentation.to_rle(h, w).to_mask();
                    let bbox = mask.bbox();
                    self.masks.insert(ann.id, (mask, bbox));
                }
            }
            self.masks_key = Some(masks_key);
        }
        let layers: Vec<OverlayLayer<'_>> = annotations
            .iter()
            .filter(|a| selection.view.masks_visible && !selection.hidden.contains(&a.id))
            .filter_map(|a| {
                let [r, g, b] = dataset
                    .category(a.category_id)
                    .map_or([200, 200, 200], |c| c.color);
                self.masks.get(&a.id).map(|(mask, bbox)| OverlayLayer {
                    mask,
                    bbox: *bbox,
                    color: Color32::from_rgb(r, g, b),
                    selected: Some(a.id) == selection.annotation,
                    hovered: Some(a.id) == selection.hovered,
                })
            })
            .collect();
        let style = OverlayStyle {
            fill: selection.view.opacity,
            outlines_only: selection.view.outlines_only,
        };
        let image = render::overlay(w, h, &layers, style, max_texture_side);
        match self.texture.as_mut() {
            Some(texture) => texture.set(image, TextureOptions::NEAREST),
            None => {
                self.texture = Some(ctx.load_texture("annotations", image, TextureOptions::NEAREST))
            }
        }
        self.texture_key = Some(key);
    }
}
