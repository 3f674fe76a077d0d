//! Polygons in the window: an annotation's outline as vertices to edit (V), and the polygon tool (P)
//! that draws an annotation vertex by vertex, for what SAM cannot get.
//!
//! The dataset holds the truth: every gesture (a vertex moved, added or deleted, a polygon moved, a
//! new detail) is one `SetMask` edit that stores COCO polygons, so Ctrl+Z undoes it and what is saved
//! rasterizes (pycocotools' `frPyObjects` + `merge` + `decode`) to exactly what the overlay shows. The
//! editor reads its polygons back from the annotation whenever the dataset changes.

use egui::Color32;

use super::canvas::{PolygonAction, PolygonLayer, Tool};
use super::command::Command;
use super::selection::Selection;
use super::status::MessageLevel;
use super::{Applied, SamApp};
use crate::annotate::dataset::{
    Annotation, AnnotationId, Dataset, Edit, Segmentation, polygons_f64,
};
use crate::annotate::polygon::{EDIT_TOLERANCE, Outlines, editable_polygons};
use crate::annotate::rle::Rle;
use crate::project::ProjectError;

/// The detail slider's range: Douglas-Peucker tolerance in image pixels.
pub const DETAIL_RANGE: std::ops::RangeInclusive<f64> = 0.25..=20.0;

/// The annotation whose polygons are being edited.
pub struct PolygonEdit {
    pub annotation: AnnotationId,
    /// The mask when editing began: the detail slider simplifies it again at any tolerance.
    source: Rle,
    /// The tolerance of the last simplification (the slider's value).
    pub tolerance: f64,
    /// As stored in the annotation, `[x, y]` in image pixels.
    pub polygons: Vec<Vec<[f32; 2]>>,
    /// The dataset revision `polygons` were read at.
    revision: u64,
    /// Holes the last simplification filled and parts it left out: (how many, pixels).
    pub holes: (usize, u64),
    pub specks: (usize, u64),
}

impl PolygonEdit {
    pub fn vertex_count(&self) -> usize {
        self.polygons.iter().map(Vec::len).sum()
    }
}

/// Polygon editing and drawing.
#[derive(Default)]
pub struct Polygons {
    pub edit: Option<PolygonEdit>,
    /// The polygon tool's vertices so far, in image pixels.
    pub draft: Vec<[f32; 2]>,
}

/// Polygons as `[x, y]` points (image pixels) from COCO's flat lists.
fn points_of(segmentation: &Segmentation) -> Option<Vec<Vec<[f32; 2]>>> {
    match segmentation {
        Segmentation::Polygons(p) if !p.is_empty() => Some(
            polygons_f64(p)
                .iter()
                .map(|flat| {
                    flat.chunks_exact(2)
                        .map(|c| [c[0] as f32, c[1] as f32])
                        .collect()
                })
                .collect(),
        ),
        _ => None,
    }
}

/// COCO polygons (coordinates to 1/100 pixel) with the mask they rasterize to.
fn polygon_segmentation(polygons: &[Vec<[f32; 2]>], (w, h): (u32, u32)) -> (Segmentation, Rle) {
    let flat: Vec<Vec<f64>> = polygons
        .iter()
        .map(|p| {
            p.iter()
                .flat_map(|v| v.map(|c| (f64::from(c) * 100.0).round() / 100.0))
                .collect()
        })
        .collect();
    let segmentation = Segmentation::from_polygons(&flat);
    let rle = segmentation.to_rle(h, w);
    (segmentation, rle)
}

/// The edit storing `polygons` in annotation `id`, with COCO's area and bbox of their mask.
fn set_polygons(id: AnnotationId, polygons: &[Vec<[f32; 2]>], size: (u32, u32)) -> Edit {
    let (segmentation, rle) = polygon_segmentation(polygons, size);
    Edit::set_segmentation(id, segmentation, &rle)
}

/// An outline's polygons as `[x, y]` points for the canvas.
fn points_f32(outlines: &Outlines) -> Vec<Vec<[f32; 2]>> {
    outlines
        .polygons
        .iter()
        .map(|p| p.iter().map(|v| v.map(|c| c as f32)).collect())
        .collect()
}

impl SamApp {
    /// Whether the polygon tool has vertices placed.
    pub(super) fn drafting(&self) -> bool {
        self.selection.tool == Tool::Polygon && !self.polygons.draft.is_empty()
    }

    fn image_size_of(&self, annotation: &Annotation) -> Option<(u32, u32)> {
        let image = self.project.as_ref()?.dataset.image(annotation.image_id)?;
        Some((image.width, image.height))
    }

    /// V, Edit > Edit as polygon: the selected annotation (or the preview, accepted first) as
    /// polygons with vertices to drag; again (or Enter, Esc): back to prompting.
    pub(super) fn edit_polygons(&mut self) -> Applied {
        if self.polygons.edit.is_some() {
            self.leave_polygons();
            return Applied::Done;
        }
        if self.prompt.has_prompt_preview() {
            if let Applied::Wait = self.accept() {
                return Applied::Wait;
            }
            if self.prompt.has_prompt_preview() {
                // Not accepted (empty, or refused): the message says why.
                return Applied::Done;
            }
        }
        let Some(id) = self.selection.annotation else {
            self.notify(
                MessageLevel::Info,
                "select a mask first (Ctrl+click it, or click it in the list), or make one with SAM, then V",
            );
            return Applied::Done;
        };
        let Some(annotation) = self
            .project
            .as_ref()
            .and_then(|p| p.dataset.annotation(id))
            .cloned()
        else {
            return Applied::Done;
        };
        let Some(size) = self.image_size_of(&annotation) else {
            return Applied::Done;
        };
        let source = annotation.segmentation.to_rle(size.1, size.0);
        let tolerance = EDIT_TOLERANCE;
        let stored = points_of(&annotation.segmentation);
        let converting = stored.is_none();
        let (polygons, holes, specks) = if let Some(points) = stored {
            // Already polygons: edited as they are.
            (points, (0, 0), (0, 0))
        } else if annotation.is_box_only() {
            let [x, y, w, h] = annotation.bbox_f64().map(|v| v as f32);
            let corners = vec![[x, y], [x + w, y], [x + w, y + h], [x, y + h]];
            (vec![corners], (0, 0), (0, 0))
        } else {
            let Some(outlines) = editable_polygons(&source, tolerance) else {
                self.notify(
                    MessageLevel::Warning,
                    "this mask is empty: no outline to edit",
                );
                return Applied::Done;
            };
            (points_f32(&outlines), outlines.holes, outlines.specks)
        };
        if polygons.is_empty() {
            self.notify(
                MessageLevel::Warning,
                "every part of this mask is too small to outline",
            );
            return Applied::Done;
        }
        if converting {
            self.apply_edit(set_polygons(id, &polygons, size));
        }
        self.polygons.edit = Some(PolygonEdit {
            annotation: id,
            source,
            tolerance,
            polygons,
            // Read back from the dataset (as stored, to 1/100 px) by the sync below.
            revision: u64::MAX,
            holes,
            specks,
        });
        self.selection.tool = Tool::Vertices;
        self.prompt.clear();
        self.sync_polygons();
        let count = self.polygons.edit.as_ref().map_or(0, |e| e.vertex_count());
        self.status.last_step = Some(if converting {
            format!("outline as polygons: {count} vertices (Ctrl+Z: back to the mask)")
        } else {
            format!("editing polygons: {count} vertices")
        });
        if holes.0 > 0 {
            self.notify(
                MessageLevel::Info,
                format!(
                    "COCO polygons cannot have holes: {} hole(s) filled ({} px); Ctrl+Z restores the mask",
                    holes.0, holes.1
                ),
            );
        }
        Applied::Done
    }

    /// Back to prompting; the polygons stay as they are stored.
    pub(super) fn leave_polygons(&mut self) {
        if let Some(edit) = self.polygons.edit.take() {
            self.status.last_step = Some(format!(
                "polygons kept: {} polygon(s), {} vertices",
                edit.polygons.len(),
                edit.vertex_count()
            ));
        }
        if self.selection.tool == Tool::Vertices {
            self.selection.tool = Tool::Prompt;
        }
    }

    /// Keeps the editor in step with the dataset (undo, redo, other edits) and the tool: the
    /// annotation's polygons are read again after every change; editing ends when it has none any
    /// more (undone to a mask, deleted) or another image or tool is chosen.
    pub(super) fn sync_polygons(&mut self) {
        if self.selection.tool != Tool::Vertices {
            self.polygons.edit = None;
        }
        let Some(edit) = self.polygons.edit.as_mut() else {
            if self.selection.tool == Tool::Vertices {
                self.selection.tool = Tool::Prompt;
            }
            return;
        };
        let Some(project) = self.project.as_ref() else {
            self.polygons.edit = None;
            return;
        };
        if edit.revision == project.dataset.revision() {
            return;
        }
        let current = self.images.current().map(|i| i.file_name.as_str());
        let annotation = project.dataset.annotation(edit.annotation);
        let on_screen = annotation
            .and_then(|a| project.dataset.image(a.image_id))
            .is_some_and(|i| Some(i.file_name.as_str()) == current);
        match annotation.and_then(|a| points_of(&a.segmentation)) {
            Some(points) if on_screen => {
                edit.polygons = points;
                edit.revision = project.dataset.revision();
            }
            _ => {
                self.polygons.edit = None;
                self.selection.tool = Tool::Prompt;
            }
        }
    }

    /// Stores edited polygons as one undo step.
    fn store_polygons(&mut self, polygons: Vec<Vec<[f32; 2]>>, what: String) {
        let Some(edit) = self.polygons.edit.as_ref() else {
            return;
        };
        let id = edit.annotation;
        let Some(size) = self
            .project
            .as_ref()
            .and_then(|p| p.dataset.annotation(id))
            .and_then(|a| self.image_size_of(a))
        else {
            return;
        };
        let clamped: Vec<Vec<[f32; 2]>> = polygons
            .into_iter()
            .map(|p| {
                p.into_iter()
                    .map(|[x, y]| [x.clamp(0.0, size.0 as f32), y.clamp(0.0, size.1 as f32)])
                    .collect()
            })
            .collect();
        self.apply_edit(set_polygons(id, &clamped, size));
        self.sync_polygons();
        let count = self.polygons.edit.as_ref().map_or(0, |e| e.vertex_count());
        self.status.last_step = Some(format!("{what} ({count} vertices; Ctrl+Z undoes)"));
    }

    pub(super) fn polygon_action(&mut self, action: PolygonAction) {
        match action {
            PolygonAction::DraftPoint(p) => {
                self.polygons.draft.push(p);
                return;
            }
            PolygonAction::CloseDraft => {
                self.close_draft();
                return;
            }
            _ => {}
        }
        let Some(edit) = self.polygons.edit.as_ref() else {
            return;
        };
        let mut polygons = edit.polygons.clone();
        let what = match action {
            PolygonAction::MoveVertex {
                polygon,
                vertex,
                to,
            } => {
                let Some(v) = polygons.get_mut(polygon).and_then(|p| p.get_mut(vertex)) else {
                    return;
                };
                *v = to;
                "moved a vertex"
            }
            PolygonAction::InsertVertex { polygon, after, at } => {
                let Some(p) = polygons.get_mut(polygon).filter(|p| after < p.len()) else {
                    return;
                };
                p.insert(after + 1, at);
                "added a vertex"
            }
            PolygonAction::DeleteVertex { polygon, vertex } => {
                return self.delete_vertex(polygon, vertex);
            }
            PolygonAction::MovePolygon { polygon, by } => {
                let Some(p) = polygons.get_mut(polygon) else {
                    return;
                };
                for v in p {
                    *v = [v[0] + by[0], v[1] + by[1]];
                }
                "moved a polygon"
            }
            PolygonAction::DraftPoint(_) | PolygonAction::CloseDraft => return,
        };
        self.store_polygons(polygons, what.to_string());
    }

    /// Right-click or Delete on a vertex. A polygon left with two vertices goes; the last polygon
    /// stays (delete the annotation instead).
    pub(super) fn delete_vertex(&mut self, polygon: usize, vertex: usize) {
        let Some(edit) = self.polygons.edit.as_ref() else {
            return;
        };
        let mut polygons = edit.polygons.clone();
        let Some(points) = polygons.get_mut(polygon).filter(|p| vertex < p.len()) else {
            return;
        };
        if points.len() > 3 {
            points.remove(vertex);
            return self.store_polygons(polygons, "deleted a vertex".into());
        }
        if polygons.len() > 1 {
            polygons.remove(polygon);
            return self.store_polygons(polygons, "deleted a polygon of three vertices".into());
        }
        self.notify(
            MessageLevel::Info,
            "a polygon needs three vertices: to remove the whole annotation, leave polygon editing (Enter) and press Delete",
        );
    }

    /// The detail slider: the outline simplified again from the mask editing began with.
    pub(super) fn polygon_detail(&mut self, tolerance: f64) {
        let Some(edit) = self.polygons.edit.as_mut() else {
            return;
        };
        let tolerance = tolerance.clamp(*DETAIL_RANGE.start(), *DETAIL_RANGE.end());
        edit.tolerance = tolerance;
        let Some(outlines) = editable_polygons(&edit.source, tolerance) else {
            return;
        };
        if outlines.polygons.is_empty() {
            self.notify(
                MessageLevel::Warning,
                "at this detail no part keeps three vertices; choose a finer detail",
            );
            return;
        }
        edit.holes = outlines.holes;
        edit.specks = outlines.specks;
        self.store_polygons(points_f32(&outlines), format!("detail {tolerance:.2} px"));
    }

    /// Enter or a click on the first vertex: the polygon tool's vertices become an annotation of
    /// the selected category.
    pub(super) fn close_draft(&mut self) {
        if self.polygons.draft.len() < 3 {
            self.notify(MessageLevel::Info, "a polygon needs three vertices or more");
            return;
        }
        let Some(view) = self.images.view() else {
            return;
        };
        let (path, size) = (view.path.clone(), view.image.dimensions());
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let category = match self.selection.category {
            Some(id) => Ok(id),
            None => project.dataset.ensure_category("object"),
        };
        let draft = vec![std::mem::take(&mut self.polygons.draft)];
        let result = category.map_err(ProjectError::from).and_then(|category| {
            self.selection.category = Some(category);
            let (segmentation, rle) = polygon_segmentation(&draft, size);
            project.add_segmentation(&path, size, category, segmentation, &rle)
        });
        match result {
            Ok(id) => {
                self.selection.annotation = Some(id);
                self.status.last_step = Some(format!(
                    "added a polygon of {} vertices (V edits it)",
                    draft[0].len()
                ));
            }
            Err(err) => {
                // The vertices stay, so nothing drawn is lost.
                self.polygons.draft = draft.into_iter().next().unwrap_or_default();
                self.notify(
                    MessageLevel::Error,
                    format!("cannot add the polygon: {err}"),
                );
            }
        }
    }
}

/// What the canvas draws of polygons, in the colour of their category.
pub fn layer<'a>(
    polygons: &'a Polygons,
    dataset: Option<&Dataset>,
    selection: &Selection,
) -> Option<PolygonLayer<'a>> {
    let dataset = dataset?;
    let color_of = |category| {
        dataset
            .category(category)
            .map_or(Color32::from_rgb(255, 200, 40), |c| {
                Color32::from_rgb(c.color[0], c.color[1], c.color[2])
            })
    };
    match (&polygons.edit, selection.tool) {
        (Some(edit), Tool::Vertices) => {
            let category = dataset.annotation(edit.annotation)?.category_id;
            Some(PolygonLayer {
                polygons: &edit.polygons,
                draft: &[],
                color: color_of(category),
            })
        }
        (_, Tool::Polygon) => Some(PolygonLayer {
            polygons: &[],
            draft: &polygons.draft,
            color: selection
                .category
                .map_or(Color32::from_rgb(255, 200, 40), color_of),
        }),
        _ => None,
    }
}

/// The side panel's polygon section: vertex count, the detail slider, how to edit.
pub fn panel_ui(ui: &mut egui::Ui, polygons: &Polygons, tool: Tool) -> Vec<Command> {
    let mut commands = Vec::new();
    match (&polygons.edit, tool) {
        (Some(edit), Tool::Vertices) => {
            ui.heading("Polygon");
            ui.label(format!(
                "{} polygon(s), {} vertices",
                edit.polygons.len(),
                edit.vertex_count()
            ));
            let mut tolerance = edit.tolerance;
            let response = ui
                .add(
                    egui::Slider::new(&mut tolerance, DETAIL_RANGE)
                        .logarithmic(true)
                        .text("detail (px)"),
                )
                .on_hover_text(
                    "how far the outline may stray from the mask editing began with, in image pixels: \
                     smaller keeps more vertices",
                );
            // One step per slider gesture, not one per frame of the drag.
            if response.drag_stopped() || (response.changed() && !response.dragged()) {
                commands.push(Command::PolygonDetail(tolerance));
            }
            if edit.holes.0 > 0 {
                ui.label(format!(
                    "{} hole(s) filled ({} px): COCO polygons have none",
                    edit.holes.0, edit.holes.1
                ));
            }
            if edit.specks.0 > 0 {
                ui.label(format!(
                    "{} part(s) too small for this detail left out ({} px)",
                    edit.specks.0, edit.specks.1
                ));
            }
            ui.small(
                "drag a vertex; click or drag an edge to add one; right-click or Delete removes one; \
                 drag inside to move the polygon",
            );
            if ui.button("Done  (Enter)").clicked() {
                commands.push(Command::EditPolygons);
            }
            ui.separator();
        }
        (_, Tool::Polygon) => {
            ui.heading("Polygon tool");
            ui.label(format!("{} vertices", polygons.draft.len()));
            ui.small(
                "click to add vertices; click the first one or press Enter to finish; Backspace \
                 removes the last; Esc discards",
            );
            ui.separator();
        }
        _ => {}
    }
    commands
}
