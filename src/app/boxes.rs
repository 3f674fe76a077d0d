//! Box-only annotations (detections without a mask) in the window: drawn as rectangles outlined in
//! their category's colour, picked by a click inside like masks, listed as boxes; and SAM > Masks from
//! boxes, which gives every box of the image on screen (or the selected one) SAM's mask for it on the
//! model thread and stores the masks into their annotations as one undo step.

use std::path::PathBuf;

use egui::{Color32, Rect, Stroke, StrokeKind};

use super::SamApp;
use super::canvas::Canvas;
use super::selection::Selection;
use super::status::MessageLevel;
use super::worker::{BoxMaskJob, Request};
use crate::annotate::dataset::{Annotation, AnnotationId, Dataset, ImageId};
use crate::project::boxes::{BoxJob, BoxMask, box_in_image, boxes_of, store_masks};

/// The Masks from boxes the worker is making.
#[derive(Default)]
pub struct BoxMasks {
    /// The image whose boxes are being segmented.
    running: Option<PathBuf>,
}

impl SamApp {
    /// SAM > Masks from boxes: every box-only annotation of the image on screen, or the selected one.
    pub(super) fn masks_from_boxes(&mut self) {
        let (Some(view), Some(project), Some(image_id)) = (
            self.images.view(),
            self.project.as_ref(),
            self.current_image_id(),
        ) else {
            return;
        };
        if self.boxes.running.is_some() {
            self.status.last_step = Some("masks from boxes: still making the last ones".into());
            return;
        }
        let dataset = &project.dataset;
        let listed = dataset.image(image_id).map(|i| (i.width, i.height));
        let (w, h) = view.image.dimensions();
        if listed != Some((w, h)) {
            let text = format!(
                "masks from boxes: the image is {w}x{h}, but the dataset lists it as {}: the masks \
                 would not line up",
                listed.map_or("?".into(), |(lw, lh)| format!("{lw}x{lh}"))
            );
            return self.notify(MessageLevel::Error, text);
        }
        let selected = self
            .selection
            .annotation
            .filter(|&id| dataset.annotation(id).is_some_and(Annotation::is_box_only));
        let boxes = boxes_of(dataset, image_id, selected);
        if boxes.is_empty() {
            self.status.last_step = Some("no boxes without a mask on this image".into());
            return;
        }
        self.status.last_step = Some(format!("making masks from {} boxes...", boxes.len()));
        self.boxes.running = Some(view.path.clone());
        self.worker.send(Request::BoxMasks(BoxMaskJob {
            path: view.path.clone(),
            image: view.image.clone(),
            boxes,
        }));
    }

    /// The worker's masks go into their annotations (those still boxes), as one undo step.
    pub(super) fn box_masks_arrived(&mut self, path: PathBuf, masks: Vec<(BoxJob, BoxMask)>) {
        self.boxes.running = None;
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let file_name = project.file_name_for(&path);
        let Some(image_id) = project.dataset.image_by_file(&file_name).map(|i| i.id) else {
            return;
        };
        match store_masks(project, image_id, masks) {
            Ok(stored) => {
                for (id, why) in &stored.invalid {
                    let text = format!("annotation #{id} keeps its box: {why}");
                    self.notify(MessageLevel::Warning, text);
                }
                self.status.last_step = Some(format!("{} on {file_name}", stored.summary()));
            }
            Err(err) => self.notify(
                MessageLevel::Error,
                format!("cannot store the masks: {err}"),
            ),
        }
    }

    pub(super) fn box_masks_failed(&mut self, path: PathBuf, message: String) {
        self.boxes.running = None;
        let text = format!("masks from boxes on {} failed: {message}", path.display());
        self.notify(MessageLevel::Error, text);
    }

    /// Whether Masks from boxes is waiting for the worker.
    pub fn is_making_box_masks(&self) -> bool {
        self.boxes.running.is_some()
    }
}

/// Outlines each visible box-only annotation of the image in its category's colour, thicker (and
/// lightly filled when selected) under the pointer or selected.
pub fn paint(
    ui: &egui::Ui,
    canvas: &Canvas,
    dataset: &Dataset,
    image_id: Option<ImageId>,
    selection: &Selection,
) {
    let Some(image_id) = image_id.filter(|_| selection.view.masks_visible) else {
        return;
    };
    let painter = ui.painter_at(canvas.rect());
    for annotation in dataset.annotations_of(image_id) {
        let id = annotation.id;
        if !annotation.is_box_only() || selection.hidden.contains(&id) {
            continue;
        }
        let [r, g, b] = dataset
            .category(annotation.category_id)
            .map_or([200, 200, 200], |c| c.color);
        let color = Color32::from_rgb(r, g, b);
        let [x0, y0, x1, y1] = box_in_image(annotation);
        let rect = Rect::from_min_max(
            canvas.ui_from_image([x0, y0]),
            canvas.ui_from_image([x1, y1]),
        );
        let selected = selection.annotation == Some(id);
        if selected {
            painter.rect_filled(rect, 0.0, color.gamma_multiply(0.2));
        }
        let width = if selected || selection.hovered == Some(id) {
            4.0
        } else {
            2.0
        };
        painter.rect_stroke(rect, 0.0, Stroke::new(width, color), StrokeKind::Middle);
    }
}

/// The smallest visible box-only annotation around an image point: boxes nest (a person on a
/// bicycle), and the inner one is the one a click inside it means.
pub fn box_at(
    dataset: &Dataset,
    image_id: ImageId,
    selection: &Selection,
    [x, y]: [f32; 2],
) -> Option<AnnotationId> {
    dataset
        .annotations_of(image_id)
        .filter(|a| a.is_box_only() && !selection.hidden.contains(&a.id))
        .filter(|a| {
            let [x0, y0, x1, y1] = box_in_image(a);
            (x0..x1).contains(&x) && (y0..y1).contains(&y)
        })
        .min_by(|a, b| box_area(a).total_cmp(&box_area(b)))
        .map(|a| a.id)
}

fn box_area(annotation: &Annotation) -> f64 {
    let [_, _, w, h] = annotation.bbox_f64();
    w * h
}

/// The instances list's words for a box-only annotation.
pub fn list_label(annotation: &Annotation) -> String {
    let [_, _, w, h] = annotation.bbox_f64();
    format!("#{}  box {w:.0}x{h:.0}", annotation.id)
}
