//! What each command does: `apply` is the one place where the user's input changes the app.

use super::canvas::{CanvasAction, Tool};
use super::command::Command;
use super::prompt::{Accept, Stroke};
use super::status::MessageLevel;
use super::{Applied, SamApp};
use crate::annotate::dataset::{AnnotationId, Edit, Segmentation, measures};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;
use crate::imageio;
use crate::project::ProjectError;

impl SamApp {
    /// Enter: the preview becomes an annotation of the selected category.
    fn accept(&mut self) -> Applied {
        let Some(view) = self.images.view() else {
            return Applied::Done;
        };
        let mask = match self.prompt.accept() {
            Accept::Nothing => return Applied::Done,
            Accept::Waiting => return Applied::Wait,
            Accept::Ready(mask) => mask,
        };
        if mask.area() == 0 {
            // The preview stays: a brush stroke can still give it pixels.
            self.notify(MessageLevel::Warning, "the mask is empty: nothing to add");
            return Applied::Done;
        }
        let Some(project) = self.project.as_mut() else {
            return Applied::Done;
        };
        let category = match self.selection.category {
            Some(id) => Ok(id),
            None => project.dataset.ensure_category("object"),
        };
        let result = category.map_err(ProjectError::from).and_then(|category| {
            self.selection.category = Some(category);
            project.add_mask(&view.path, view.image.dimensions(), category, mask)
        });
        match result {
            Ok(id) => {
                self.selection.annotation = Some(id);
                self.prompt.clear();
            }
            // The preview stays, so nothing the user made is lost.
            Err(err) => self.notify(
                MessageLevel::Error,
                format!("cannot add the annotation: {err}"),
            ),
        }
        Applied::Done
    }

    fn undo(&mut self) {
        if !self.prompt.undo()
            && let Some(project) = self.project.as_mut()
            && project.dataset.undo()
        {
            project.touched();
        }
    }

    fn redo(&mut self) {
        if !self.prompt.redo()
            && let Some(project) = self.project.as_mut()
            && project.dataset.redo()
        {
            project.touched();
        }
    }

    /// Applies a dataset edit and reports a refusal in the window.
    fn apply_edit(&mut self, edit: Edit) {
        if let Edit::DeleteCategory(id) = edit
            && self.selection.category == Some(id)
        {
            self.selection.category = None;
        }
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Err(err) = project.apply(edit) {
            self.notify(MessageLevel::Error, err.to_string());
        }
    }

    /// Paints a brush segment into the preview (or the selected annotation, or a new preview).
    fn brush(&mut self, from: [f32; 2], to: [f32; 2]) {
        let Some(view) = self.images.view() else {
            return;
        };
        let stroke = Stroke {
            from,
            to,
            radius: self.selection.brush_radius,
            inside: self.selection.tool == Tool::Brush,
        };
        // A selected annotation (and no preview): edit its mask; recorded when the stroke ends.
        if !self.prompt.has_prompt_preview()
            && let Some(id) = self.selection.annotation
        {
            if self
                .selection
                .brush_target
                .as_ref()
                .is_none_or(|(t, _)| *t != id)
            {
                let Some(mask) = self.overlay.mask(id).cloned() else {
                    return;
                };
                self.selection.brush_target = Some((id, mask));
            }
            if let Some((id, mask)) = self.selection.brush_target.as_mut() {
                mask.paint_segment(stroke.from, stroke.to, stroke.radius, stroke.inside);
                // Show the edited mask in the overlay at once.
                self.overlay.show_edit(*id, mask);
            }
            return;
        }
        self.prompt.paint_on(stroke, view.image.dimensions());
    }

    fn brush_end(&mut self) {
        let Some((id, mask)) = self.selection.brush_target.take() else {
            return;
        };
        self.apply_edit(set_mask(id, &mask));
    }

    fn canvas_action(&mut self, action: CanvasAction) {
        match action {
            // Without a prompt, a click on an accepted annotation is still a prompt: SAM users
            // click inside objects all the time.
            CanvasAction::Point {
                point_in_image,
                positive,
            } => {
                tracing::debug!(?point_in_image, positive, "prompt point");
                self.prompt.add_point(point_in_image, positive);
            }
            CanvasAction::Box(box_in_image) => {
                tracing::debug!(?box_in_image, "prompt box");
                self.prompt.set_box(box_in_image);
            }
            CanvasAction::Brush { from, to } => self.brush(from, to),
            CanvasAction::BrushEnd => self.brush_end(),
            CanvasAction::Hover(p) => {
                let hovered = p.and_then(|p| {
                    let dataset = &self.project.as_ref()?.dataset;
                    let image_id = self.current_image_id()?;
                    self.overlay
                        .annotation_at(dataset, image_id, &self.selection, p)
                });
                self.selection.hovered = hovered;
                self.prompt.hover(p);
            }
        }
    }

    /// Carries out one command.
    fn apply(&mut self, command: Command) -> Applied {
        match command {
            Command::OpenImagesDialog => {
                if let Some(files) = rfd::FileDialog::new()
                    .add_filter("images", &imageio::IMAGE_EXTENSIONS)
                    .pick_files()
                {
                    self.open_paths(&files, None);
                }
            }
            Command::OpenFolderDialog => {
                if let Some(dir) = rfd::FileDialog::new().pick_folder() {
                    self.open_paths(&[dir], None);
                }
            }
            Command::OpenDatasetDialog => {
                if let Some(path) = rfd::FileDialog::new()
                    .add_filter("COCO JSON", &["json"])
                    .pick_file()
                {
                    self.open_dataset(&path);
                }
            }
            Command::OpenDataset(path) => self.open_dataset(&path),
            Command::RestoreBackup => self.restore_backup(),
            Command::Save => {
                if let Some(p) = self.project.as_mut() {
                    p.touched();
                }
                self.save_now();
            }
            Command::Quit => {
                self.save_now();
                if let Some(ctx) = &self.env.ctx {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            Command::Undo => self.undo(),
            Command::Redo => self.redo(),
            Command::Accept => return self.accept(),
            Command::ClearPrompt => {
                self.prompt.clear();
                self.selection.tool = Tool::Prompt;
            }
            Command::CycleCandidate => self.prompt.cycle_candidate(),
            Command::SelectImage(i) => self.select_image(i),
            Command::NextImage => {
                if let Some(i) = self.images.current_index() {
                    self.select_image(i + 1);
                }
            }
            Command::PreviousImage => {
                if let Some(i) = self.images.current_index().filter(|&i| i > 0) {
                    self.select_image(i - 1);
                }
            }
            Command::SetTool(tool) => self.selection.tool = tool,
            Command::ToggleTool(tool) => self.selection.toggle_tool(tool),
            Command::ScaleBrush(factor) => self.selection.scale_brush(factor),
            Command::SelectCategory(id) => self.selection.category = Some(id),
            Command::SelectCategoryAt(i) => {
                if let Some(c) = self
                    .project
                    .as_ref()
                    .and_then(|p| p.dataset.categories().get(i))
                {
                    self.selection.category = Some(c.id);
                }
            }
            Command::AddCategory(name) => {
                if let Some(project) = self.project.as_mut() {
                    match project.dataset.ensure_category(&name) {
                        Ok(id) => {
                            project.touched();
                            self.selection.category = Some(id);
                        }
                        Err(err) => self.notify(MessageLevel::Error, err.to_string()),
                    }
                }
            }
            Command::Edit(edit) => self.apply_edit(*edit),
            Command::SelectAnnotation(id) => self.selection.annotation = id,
            Command::ToggleHidden(id) => {
                if !self.selection.hidden.remove(&id) {
                    self.selection.hidden.insert(id);
                }
            }
            Command::DeleteSelected => {
                if let Some(id) = self.selection.annotation.take() {
                    self.apply_edit(Edit::DeleteAnnotation(id));
                }
            }
            Command::DismissMessage(i) => {
                if i < self.status.messages.len() {
                    self.status.messages.remove(i);
                }
            }
            Command::Canvas(action) => self.canvas_action(action),
        }
        Applied::Done
    }

    /// Applies this frame's commands after the ones still queued, in order; stops at one that waits.
    pub(super) fn apply_all(&mut self, commands: Vec<Command>) {
        self.queued.extend(commands);
        while let Some(command) = self.queued.pop_front() {
            if self.prompt.is_waiting_for_full() {
                self.queued.push_front(command);
                break;
            }
            if let Applied::Wait = self.apply(command.clone()) {
                self.queued.push_front(command);
                break;
            }
        }
    }
}

/// The edit that replaces an annotation's mask.
fn set_mask(id: AnnotationId, mask: &Mask) -> Edit {
    let rle = Rle::from_mask(mask);
    let (area, bbox) = measures(&rle);
    Edit::SetMask {
        id,
        segmentation: Segmentation::CompressedRle(rle),
        area,
        bbox,
    }
}
