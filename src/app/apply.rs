//! What each command does: `apply` is the one place where the user's input changes the app.

use super::canvas::{CanvasAction, Tool};
use super::command::{Command, ViewChange};
use super::prompt::{Accept, Stroke};
use super::status::{MessageLevel, ModelStatus};
use super::worker::Request;
use super::{Applied, SamApp};
use crate::annotate::dataset::{AnnotationId, Dataset, Edit, IMAGE_STATE_KEY, Segmentation};
use crate::annotate::export::{self, Format};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;
use crate::project::ProjectError;
use crate::sam::everything::EverythingOptions;
use crate::sam::hub::ModelSource;

impl SamApp {
    /// Enter: the preview becomes an annotation of the selected category.
    pub(super) fn accept(&mut self) -> Applied {
        let Some(view) = self.images.view() else {
            return Applied::Done;
        };
        let mask = match self.prompt.accept() {
            Accept::Nothing => return Applied::Done,
            Accept::HoverOnly => {
                self.status.notify_once(
                    MessageLevel::Info,
                    "that is the hover preview: click the object to make it a prompt, then Enter"
                        .into(),
                );
                return Applied::Done;
            }
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

    /// Ctrl+Z: the prompt's last step while prompting, else the dataset's last edit.
    fn undo(&mut self) {
        if self.prompt.undo() {
            self.status.last_step = Some("undid a prompt step".into());
        } else {
            self.dataset_step(true);
        }
    }

    /// Ctrl+Shift+Z, Ctrl+Y.
    fn redo(&mut self) {
        if self.prompt.redo() {
            self.status.last_step = Some("redid a prompt step".into());
        } else {
            self.dataset_step(false);
        }
    }

    /// Undoes or redoes the dataset's next edit. An edit on another image brings that image on
    /// screen first, and the status says what was undone and where.
    fn dataset_step(&mut self, undo: bool) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let dataset = &project.dataset;
        let Some(edit) = (if undo {
            dataset.next_undo()
        } else {
            dataset.next_redo()
        }) else {
            let what = if undo {
                "nothing to undo"
            } else {
                "nothing to redo"
            };
            self.status.last_step = Some(what.into());
            return;
        };
        let words = describe(dataset, edit, undo);
        let image = dataset
            .image_touched_by(edit)
            .and_then(|id| dataset.image(id))
            .map(|i| i.file_name.clone());
        let done = if undo {
            project.dataset.undo()
        } else {
            project.dataset.redo()
        };
        if !done {
            return;
        }
        project.touched();
        let verb = if undo { "undid" } else { "redid" };
        let text = match &image {
            Some(file_name) => format!("{verb}: {words} on {file_name}"),
            None => format!("{verb}: {words}"),
        };
        let elsewhere = image
            .as_ref()
            .filter(|name| self.images.current().is_none_or(|i| &i.file_name != *name))
            .and_then(|name| {
                self.images
                    .items()
                    .iter()
                    .position(|i| &i.file_name == name)
            });
        if let Some(index) = elsewhere {
            self.select_image(index);
            self.notify(MessageLevel::Info, text.clone());
        }
        self.status.last_step = Some(text);
    }

    /// Applies a dataset edit and reports a refusal in the window.
    pub(super) fn apply_edit(&mut self, edit: Edit) {
        if let Edit::RecolorCategory { color, .. } = &edit
            && super::render::looks_like_preview(*color)
        {
            self.status.notify_once(
                MessageLevel::Warning,
                "this colour is close to the preview's blue: masks of this category will be hard to \
                 tell from a mask not yet accepted"
                    .into(),
            );
        }
        let deleted_category = match &edit {
            Edit::DeleteCategory(id) => self
                .project
                .as_ref()
                .and_then(|p| p.dataset.category(*id))
                .map(|c| (c.id, c.name.clone())),
            _ => None,
        };
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Err(err) = project.apply(edit) {
            self.notify(MessageLevel::Error, err.to_string());
            return;
        }
        if let Some((id, name)) = deleted_category {
            // New masks go to a category that exists.
            if self.selection.category == Some(id) {
                self.selection.category = project.dataset.categories().first().map(|c| c.id);
            }
            self.status.last_step =
                Some(format!("deleted category '{name}' (Ctrl+Z brings it back)"));
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
            // While proposals are shown, a click on one selects it (a click elsewhere prompts).
            CanvasAction::Point {
                point_in_image,
                positive: true,
            } if self.prompt.is_empty() && self.proposals.toggle_at(point_in_image) => {}
            CanvasAction::Point {
                point_in_image,
                positive,
            } => {
                tracing::debug!(?point_in_image, positive, "prompt point");
                self.prompt.add_point(point_in_image, positive);
            }
            CanvasAction::Example {
                box_in_image,
                positive,
            } => self.find_example(box_in_image, positive),
            CanvasAction::Box(box_in_image) => {
                tracing::debug!(?box_in_image, "prompt box");
                self.prompt.set_box(box_in_image);
            }
            CanvasAction::Brush { from, to } => self.brush(from, to),
            CanvasAction::BrushEnd => {
                self.prompt.end_stroke();
                self.brush_end();
            }
            CanvasAction::Select(p) => self.selection.annotation = self.annotation_at(p),
            CanvasAction::Polygon(action) => self.polygon_action(action),
            CanvasAction::Hover(p) => {
                self.selection.hovered = p.and_then(|p| self.annotation_at(p));
                self.prompt.hover(p, std::time::Instant::now());
            }
        }
    }

    /// The topmost visible accepted annotation at an image point.
    fn annotation_at(&self, point_in_image: [f32; 2]) -> Option<AnnotationId> {
        let dataset = &self.project.as_ref()?.dataset;
        let image_id = self.current_image_id()?;
        self.overlay
            .annotation_at(dataset, image_id, &self.selection, point_in_image)
    }

    /// Saves and closes the window (once the user was asked about unaccepted masks).
    fn quit(&mut self) {
        self.save_now();
        self.env.quit_confirmed = true;
        if let Some(ctx) = &self.env.ctx {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    /// File > Export: writes the dataset (with its unsaved edits) in `format` to `folder`.
    fn export(&mut self, format: Format, folder: &std::path::Path) {
        let Some(project) = &self.project else {
            return;
        };
        let outcome = match export::export_to(&project.dataset, &project.root, format, folder) {
            Ok(summary) => {
                let text = summary.to_folder(folder);
                self.status.last_step = Some(format!("exported {}", format.label()));
                self.notify(MessageLevel::Info, text.clone());
                text
            }
            Err(err) => {
                let text = format!("the export failed: {err}");
                self.notify(MessageLevel::Error, text.clone());
                text
            }
        };
        self.panels.export.outcome = Some(outcome);
    }

    /// Marks the image on screen with a review state, or takes the mark off if it has that one.
    fn mark_image(&mut self, state: &'static str) {
        let (Some(item), Some(view)) = (self.images.current(), self.images.view()) else {
            return;
        };
        let (file_name, size) = (item.file_name.clone(), view.image.dimensions());
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let id = match project.list_image(&file_name, size) {
            Ok(id) => id,
            Err(err) => return self.notify(MessageLevel::Error, err.to_string()),
        };
        let marked = project
            .dataset
            .image(id)
            .and_then(|i| i.extra.get(IMAGE_STATE_KEY))
            .and_then(|v| v.as_str())
            == Some(state);
        let value = (!marked).then(|| serde_json::Value::from(state));
        self.apply_edit(Edit::SetImageExtra {
            id,
            key: IMAGE_STATE_KEY.to_string(),
            value,
        });
        self.status.last_step = Some(if marked {
            format!("unmarked {file_name}")
        } else {
            format!("marked {file_name}: {state}")
        });
    }

    /// Carries out one command.
    fn apply(&mut self, command: Command) -> Applied {
        match command {
            Command::OpenDialog(kind) => {
                let folder = self
                    .project
                    .as_ref()
                    .map(|p| p.root.clone())
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_default();
                self.panels.open.open(kind, &folder);
            }
            Command::OpenPaths(paths) => self.open_paths(&paths, None),
            Command::OpenDataset(path) => self.open_dataset(&path),
            Command::RestoreBackup => self.restore_backup(),
            Command::Save => {
                if let Some(p) = self.project.as_mut() {
                    p.touched();
                }
                self.save_now();
            }
            Command::Quit => {
                let unaccepted = self.unaccepted_images();
                if unaccepted > 0 {
                    self.panels.quit.asking = Some(unaccepted);
                } else {
                    self.quit();
                }
            }
            Command::QuitDiscarding => {
                self.env.quit_confirmed = true;
                self.quit();
            }
            Command::Export {
                format,
                folder: None,
            } => {
                if let Some(project) = &self.project {
                    self.panels.export.open(format, &project.path);
                }
            }
            Command::Export {
                format,
                folder: Some(folder),
            } => self.export(format, &folder),
            Command::ImportDialog(source) => {
                if let Some(project) = &self.project {
                    self.panels.import.open(source, &project.root);
                }
            }
            Command::Import { source, path } => self.start_import(source, path),
            Command::ToggleShortcuts => self.panels.shortcuts.open = !self.panels.shortcuts.open,
            Command::ToggleModels => self.panels.models.toggle(),
            Command::UseModel(source) => self.use_model(source),
            Command::MarkImage(state) => self.mark_image(state),
            Command::View(change) => {
                let view = &mut self.selection.view;
                match change {
                    ViewChange::ToggleMasks => view.masks_visible = !view.masks_visible,
                    ViewChange::Opacity(opacity) => view.opacity = opacity.clamp(0.0, 1.0),
                    ViewChange::ToggleOutlinesOnly => view.outlines_only = !view.outlines_only,
                    ViewChange::ToggleImageList => {
                        self.panels.show_images = !self.panels.show_images
                    }
                    ViewChange::ToggleSidePanel => self.panels.show_side = !self.panels.show_side,
                }
            }
            // While drawing a polygon, Ctrl+Z takes back its last vertex.
            Command::Undo if self.drafting() => {
                self.polygons.draft.pop();
                self.status.last_step = Some("removed the last vertex".into());
            }
            Command::Undo => self.undo(),
            Command::Redo => self.redo(),
            Command::Accept if !self.prompt.has_work() && self.proposals.counts().selected > 0 => {
                self.accept_proposals(false)
            }
            Command::Accept if self.drafting() => self.close_draft(),
            Command::Accept if self.selection.tool == Tool::Vertices => self.leave_polygons(),
            Command::Accept => return self.accept(),
            Command::EditPolygons => return self.edit_polygons(),
            Command::PolygonDetail(tolerance) => self.polygon_detail(tolerance),
            Command::ClearPrompt if !self.prompt.has_work() && self.proposals.is_active() => {
                self.discard_proposals()
            }
            Command::ClearPrompt if self.drafting() => {
                let n = std::mem::take(&mut self.polygons.draft).len();
                self.status.last_step = Some(format!("discarded a polygon of {n} vertices"));
            }
            Command::ClearPrompt if self.selection.tool == Tool::Vertices => self.leave_polygons(),
            Command::ClearPrompt => {
                self.prompt.clear();
                self.selection.tool = Tool::Prompt;
            }
            Command::SegmentEverything(options) => self.segment_everything(options),
            Command::CancelEverything => self.worker.send(Request::CancelEverything),
            Command::AcceptProposals { all } => self.accept_proposals(all),
            Command::DiscardProposals => self.discard_proposals(),
            Command::ShowCoveredProposals(show) => self.proposals.show_covered = show,
            Command::ToggleProposal(index) => self.proposals.toggle(index),
            Command::ToggleFind => self.panels.find.toggle(),
            Command::Find(text) => self.find(&text),
            Command::FindExample {
                box_in_image,
                positive,
            } => self.find_example(box_in_image, positive),
            Command::ClearFindExamples => self.find.examples.clear(),
            Command::MasksFromBoxes => self.masks_from_boxes(),
            Command::FindThreshold(threshold) => self.find_threshold(threshold),
            Command::CycleCandidate { forward } => self.prompt.cycle_candidate(forward),
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
            Command::DeleteSelected if self.drafting() => {
                self.polygons.draft.pop();
            }
            Command::DeleteSelected if self.selection.tool == Tool::Vertices => {
                match self.canvas.hovered_vertex() {
                    Some((polygon, vertex)) => self.delete_vertex(polygon, vertex),
                    None => self.status.notify_once(
                        MessageLevel::Info,
                        "point at a vertex and press Delete to remove it; to delete the whole \
                         annotation, leave polygon editing (Enter) first"
                            .into(),
                    ),
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
        let before = (self.prompt.revision(), self.selection.hovered);
        let mut changed = false;
        while let Some(command) = self.queued.pop_front() {
            if self.prompt.is_waiting_for_full() {
                self.queued.push_front(command);
                break;
            }
            // The pointer resting on the canvas sends a hover every frame: that alone changes
            // nothing to draw, and must not keep an idle window busy.
            changed |= !matches!(command, Command::Canvas(CanvasAction::Hover(_)));
            if let Applied::Wait = self.apply(command.clone()) {
                self.queued.push_front(command);
                break;
            }
        }
        // The panels were drawn before the commands ran: draw again to show what they did.
        changed |= before != (self.prompt.revision(), self.selection.hovered);
        if changed && let Some(ctx) = &self.env.ctx {
            ctx.request_repaint();
        }
    }
}

/// The edit that replaces an annotation's mask.
fn set_mask(id: AnnotationId, mask: &Mask) -> Edit {
    let rle = Rle::from_mask(mask);
    Edit::set_segmentation(id, Segmentation::CompressedRle(rle.clone()), &rle)
}

/// A few words on what applying `edit` (an entry of the undo or redo stack) changes back or again:
/// the undo stack holds inverses, so undoing `DeleteAnnotation` takes back an "add".
fn describe(dataset: &Dataset, edit: &Edit, undo: bool) -> String {
    let category_of = |category_id| {
        dataset
            .category(category_id)
            .map_or_else(|| "?".to_string(), |c| format!("'{}'", c.name))
    };
    let annotation = |id: AnnotationId| {
        dataset.annotation(id).map_or_else(
            || format!("#{id}"),
            |a| format!("{} #{id}", category_of(a.category_id)),
        )
    };
    let (added, removed) = if undo {
        ("delete", "add")
    } else {
        ("add", "delete")
    };
    match edit {
        Edit::DeleteAnnotation(id) => format!("{removed} {}", annotation(*id)),
        Edit::AddAnnotation(a) | Edit::InsertAnnotation { annotation: a, .. } => {
            format!("{added} {} #{}", category_of(a.category_id), a.id)
        }
        Edit::Relabel { id, .. } => format!("relabel {}", annotation(*id)),
        Edit::SetMask { id, .. } => format!("mask edit of {}", annotation(*id)),
        Edit::AddCategory(c) | Edit::InsertCategory { category: c, .. } => {
            format!("{added} category '{}'", c.name)
        }
        Edit::DeleteCategory(id) => format!("{removed} category {}", category_of(*id)),
        Edit::RenameCategory { id, .. } => format!("rename category {}", category_of(*id)),
        Edit::RecolorCategory { id, .. } => format!("recolour category {}", category_of(*id)),
        Edit::SetImageExtra { .. } => "mark image".to_string(),
        Edit::AddImage(_) | Edit::InsertImage { .. } => format!("{added} image"),
        Edit::RemoveImage(_) => format!("{removed} image"),
        Edit::Batch(edits) if edits.iter().all(|e| matches!(e, Edit::SetMask { .. })) => {
            match edits.as_slice() {
                [Edit::SetMask { id, .. }] => format!("mask of {}", annotation(*id)),
                _ => format!("masks of {} annotations", edits.len()),
            }
        }
        Edit::Batch(edits) => edits
            .first()
            .map_or_else(|| "change".to_string(), |e| describe(dataset, e, undo)),
    }
}

impl SamApp {
    /// Switches to another model; the worker answers `ModelReady` (then every image is encoded
    /// again, the prompt decoded again) or `ModelSwitchFailed` (the old model stays).
    fn use_model(&mut self, source: ModelSource) {
        // A SAM 3 folder is Find's model; clicks keep the model in use.
        if let ModelSource::Dir(dir) = &source
            && crate::sam::concept::is_find_only_dir(dir)
        {
            self.panels.models.open = false;
            self.panels.find.open = true;
            self.worker.send(Request::UseFindModel(dir.clone()));
            return;
        }
        if self.status.switching_from.is_none() {
            self.status.switching_from = Some(self.status.model.clone());
        }
        self.status.model = ModelStatus::Loading;
        self.panels.models.open = false;
        self.worker.send(Request::UseModel(source));
    }

    /// The worker uses another model now: nothing is encoded with it yet.
    pub(super) fn model_changed(&mut self) {
        let (current, prefetch) = self.images.model_changed();
        self.prompt.model_changed();
        if let Some((path, image)) = current {
            self.worker.send(Request::Encode(path, image));
        }
        self.worker.send(Request::Prefetch(prefetch));
    }

    /// G: proposes every object on the current image, in the background (the panel shows the
    /// progress and a Cancel button).
    fn segment_everything(&mut self, options: Option<EverythingOptions>) {
        let Some(view) = self.images.view() else {
            return;
        };
        self.proposals.options = options.unwrap_or_else(|| self.panels.proposals.options.clone());
        let (path, image) = (view.path.clone(), view.image.clone());
        self.proposals.start(&path);
        self.worker.send(Request::Everything {
            path,
            image,
            options: self.proposals.options.clone(),
        });
    }

    /// The selected proposals (or all shown ones) become annotations of the selected category,
    /// one undo step each.
    fn accept_proposals(&mut self, all: bool) {
        let Some(view) = self.images.view() else {
            return;
        };
        let (path, size) = (view.path.clone(), view.image.dimensions());
        let masks = self.proposals.take(all);
        let Some(project) = self.project.as_mut() else {
            return;
        };
        // Find's proposals go under their phrase's category (created if missing), the others
        // under the selected one.
        let selected = self.selection.category;
        let result = masks
            .iter()
            .filter(|(m, _)| m.area() > 0)
            .map(|(mask, phrase)| {
                let category = match (phrase, selected) {
                    (Some(phrase), _) => project.dataset.ensure_category(phrase)?,
                    (None, Some(id)) => id,
                    (None, None) => project.dataset.ensure_category("object")?,
                };
                project.add_mask(&path, size, category, mask)
            })
            .collect::<Result<Vec<_>, ProjectError>>();
        if selected.is_none() {
            self.selection.category = self.project.as_ref().and_then(|p| {
                let name = masks
                    .first()
                    .and_then(|(_, p)| p.as_deref())
                    .unwrap_or("object");
                p.dataset.category_by_name(name).map(|c| c.id)
            });
        }
        match result {
            Ok(added) => {
                self.status.last_step = Some(format!("accepted {} proposals", added.len()))
            }
            Err(err) => self.notify(
                MessageLevel::Error,
                format!("cannot add the annotation: {err}"),
            ),
        }
    }

    /// Esc with proposals on screen: they go (a running segment-everything stops).
    fn discard_proposals(&mut self) {
        if self.proposals.running.is_some() {
            self.worker.send(Request::CancelEverything);
        }
        self.proposals.clear();
    }
}
