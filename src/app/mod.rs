//! The desktop app (egui/eframe). `SamApp` only routes: each job has its own room (`images`, `prompt`,
//! `overlay`, `preview`, `selection`, the panels, `status`), the keymap, menu, panels and canvas emit
//! `Command`s, and `apply` carries them out in one place at the end of the frame. The worker threads
//! run SAM and make masks; `crate::project` holds the dataset file.

mod canvas;
mod command;
mod images;
mod overlay;
mod panels;
mod preview;
mod prompt;
mod render;
mod selection;
mod side;
mod status;
pub mod worker;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::TextureOptions;

use crate::annotate::dataset::{AnnotationId, Edit, ImageId, Segmentation, measures};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;
use crate::imageio;
use crate::project::{self, Project, ProjectError};
use crate::sam::hub::ModelSource;
use crate::sam::{Multimask, SessionOptions, postprocess};

use canvas::{Canvas, Layers};
pub use canvas::{CanvasAction, Tool};
pub use command::Command;
pub use images::{EmbedState, ImageItem};
use images::{Images, View};
use overlay::Overlay;
use panels::Panels;
use preview::PreviewTextures;
use prompt::{Accept, PromptState, Stroke};
use selection::Selection;
pub use status::{Message, MessageLevel, ModelStatus};
use status::{Status, StatusLine};
use worker::{RenderJob, RenderTarget, Request, Response, Worker, WorkerOptions};

/// Edits are saved at most this long after they happen.
pub const AUTOSAVE_DELAY: Duration = Duration::from_secs(1);

/// How the app starts.
pub struct AppOptions {
    pub model: ModelSource,
    pub session: SessionOptions,
    /// Images (files or folders) given on the command line.
    pub paths: Vec<PathBuf>,
    /// The dataset file; default `annotations.json` next to the first image.
    pub output: Option<PathBuf>,
    /// Whether opened datasets go into the user's recent list (off in tests).
    pub remember_recent: bool,
    /// Folder of the on-disk embedding cache (None: memory only).
    pub embedding_cache: Option<PathBuf>,
    /// Most memory the embeddings kept in memory may take, in MB.
    pub embedding_memory_mb: usize,
}

/// What the app knows of its surroundings.
struct Env {
    ctx: Option<egui::Context>,
    remember_recent: bool,
    /// The renderer's largest texture side (textures are downscaled to fit).
    max_texture_side: usize,
}

/// Whether a command could be carried out now.
enum Applied {
    Done,
    /// It waits for the worker (an accept for its full-resolution mask): it and every later command
    /// stay queued, in order, for the next frame.
    Wait,
}

/// The samlabel window.
pub struct SamApp {
    worker: Worker,
    pub project: Option<Project>,
    images: Images,
    prompt: PromptState,
    preview: PreviewTextures,
    overlay: Overlay,
    canvas: Canvas,
    selection: Selection,
    panels: Panels,
    status: Status,
    /// Commands that wait for an earlier one (see `Applied::Wait`).
    queued: VecDeque<Command>,
    env: Env,
}

impl SamApp {
    pub fn new(options: AppOptions) -> Self {
        let worker = Worker::spawn(WorkerOptions {
            model: options.model,
            session: options.session,
            disk_cache: options.embedding_cache,
            memory_budget: options.embedding_memory_mb.saturating_mul(1 << 20),
        });
        let mut app = Self {
            worker,
            project: None,
            images: Images::default(),
            prompt: PromptState::default(),
            preview: PreviewTextures::default(),
            overlay: Overlay::default(),
            canvas: Canvas::default(),
            selection: Selection::default(),
            panels: Panels::default(),
            status: Status::default(),
            queued: VecDeque::new(),
            env: Env {
                ctx: None,
                remember_recent: options.remember_recent,
                max_texture_side: 2048,
            },
        };
        if !options.paths.is_empty() {
            app.open_paths(&options.paths, options.output.as_deref());
        } else if let Some(output) = options.output {
            app.open_dataset(&output);
        }
        app
    }

    /// Tells the user something in the window.
    pub fn notify(&mut self, level: MessageLevel, text: impl Into<String>) {
        self.status.notify(level, text);
    }

    /// Opens image files and folders, and the dataset next to the first image (or `output`).
    pub fn open_paths(&mut self, paths: &[PathBuf], output: Option<&Path>) {
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                match imageio::list_images(path) {
                    Ok(found) if found.is_empty() => self.notify(
                        MessageLevel::Warning,
                        format!("{} holds no images", path.display()),
                    ),
                    Ok(found) => files.extend(found),
                    Err(err) => self.notify(
                        MessageLevel::Error,
                        format!("cannot read {}: {err}", path.display()),
                    ),
                }
            } else {
                files.push(path.clone());
            }
        }
        let Some(first) = files.first() else { return };
        let dataset_path = output.map(Path::to_path_buf).unwrap_or_else(|| {
            let folder = if paths[0].is_dir() {
                paths[0].clone()
            } else {
                first.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            folder.join("annotations.json")
        });
        self.open_dataset(&dataset_path);
        for file in files {
            self.add_image(file);
        }
        if self.images.current_index().is_none() && !self.images.items().is_empty() {
            self.select_image(0);
        }
    }

    /// Replaces an unreadable dataset file with its `.bak` and opens it.
    pub fn restore_backup(&mut self) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let stale = project.load_error.clone();
        match project.restore_backup() {
            Ok(notes) => {
                let path = project.path.clone();
                // The "cannot be read" message no longer holds.
                self.status
                    .messages
                    .retain(|m| Some(&m.text) != stale.as_ref());
                self.open_dataset(&path);
                for note in notes {
                    self.notify(MessageLevel::Info, note);
                }
            }
            Err(message) => self.notify(MessageLevel::Error, message),
        }
    }

    /// Opens (or starts) a dataset file and lists its images.
    pub fn open_dataset(&mut self, path: &Path) {
        if let Some(current) = self.project.as_mut()
            && current.read_only_reason().is_none()
            && let Err(err) = current.save()
        {
            // Never drop edits that could not be written.
            self.notify(
                MessageLevel::Error,
                format!("{err}; the current dataset stays open so that its edits are not lost"),
            );
            return;
        }
        // Let go of the current dataset (and its lock) first: it may be the one being reopened.
        self.project = None;
        let (project, warnings) = Project::open(path);
        for warning in warnings {
            self.notify(MessageLevel::Warning, warning);
        }
        if let Some(reason) = project.read_only_reason() {
            self.notify(MessageLevel::Error, reason.to_string());
        }
        let listed: Vec<PathBuf> = project
            .dataset
            .images()
            .iter()
            .map(|i| project.root.join(&i.file_name))
            .collect();
        if self.env.remember_recent {
            project::remember_recent(path);
        }
        self.selection = Selection {
            category: project.dataset.categories().first().map(|c| c.id),
            ..Selection::default()
        };
        self.project = Some(project);
        self.images.clear();
        self.leave_image();
        for path in listed {
            self.add_image(path);
        }
        if !self.images.items().is_empty() {
            self.select_image(0);
        }
    }

    fn add_image(&mut self, path: PathBuf) {
        let Some(project) = &self.project else { return };
        let file_name = project.file_name_for(&path);
        self.images.add(path, file_name);
    }

    /// Forgets everything that belongs to the image on screen.
    fn leave_image(&mut self) {
        self.prompt.clear();
        self.selection.leave_image();
        self.overlay.clear();
    }

    /// Shows image `index`, asks the worker to encode it and to prefetch the next two.
    pub fn select_image(&mut self, index: usize) {
        if !self.images.is_selectable(index) {
            return;
        }
        self.leave_image();
        match self.images.select(index) {
            Ok(selected) => {
                self.worker.send(Request::Open(selected.open));
                self.worker.send(Request::Prefetch(selected.prefetch));
            }
            Err(message) => self.notify(MessageLevel::Warning, message),
        }
    }

    /// The dataset id of the current image, if the dataset lists it.
    fn current_image_id(&self) -> Option<ImageId> {
        let file_name = &self.images.current()?.file_name;
        self.project
            .as_ref()?
            .dataset
            .image_by_file(file_name)
            .map(|i| i.id)
    }

    /// Handles everything the worker sent since the last frame.
    fn poll_worker(&mut self, ctx: &egui::Context) {
        let max_side = self.env.max_texture_side;
        while let Some(response) = self.worker.try_recv() {
            match response {
                Response::Downloading { done, total } => {
                    self.status.model = ModelStatus::Downloading(done, total)
                }
                Response::ModelReady {
                    name,
                    provider,
                    notices,
                } => {
                    for notice in notices {
                        self.notify(MessageLevel::Warning, notice);
                    }
                    self.status.model = ModelStatus::Ready { name, provider };
                }
                Response::ModelFailed(message) => {
                    self.notify(MessageLevel::Error, format!("no model: {message}"));
                    self.status.model = ModelStatus::Failed(message);
                }
                Response::ImageLoaded { path, image, note } => {
                    if let Some(note) = note {
                        self.status.notify_once(MessageLevel::Info, note);
                    }
                    let texture = ctx.load_texture(
                        "image",
                        render::image_texture(&image, max_side),
                        TextureOptions::LINEAR,
                    );
                    if self.images.loaded(View {
                        path,
                        image,
                        texture,
                    }) {
                        self.canvas.request_fit();
                        self.check_image_size();
                    }
                }
                Response::ImageFailed { path, message } => {
                    self.images
                        .set_embed(&path, EmbedState::Failed(message.clone()));
                    self.notify(MessageLevel::Error, message);
                }
                Response::EncodeStarted { path } => self
                    .images
                    .set_embed(&path, EmbedState::Encoding(Instant::now())),
                Response::Encoded { path, millis } => {
                    if millis > 0.0 {
                        self.status.last_encode_ms = Some(millis);
                    }
                    self.images.set_embed(&path, EmbedState::Ready);
                }
                Response::EncodeCancelled { path } => {
                    self.images.set_embed(&path, EmbedState::Waiting)
                }
                Response::EncodeFailed { path, message } => {
                    self.notify(
                        MessageLevel::Error,
                        format!("cannot encode {}: {message}", path.display()),
                    );
                    self.images.set_embed(&path, EmbedState::Failed(message));
                }
                Response::Decoded {
                    seq,
                    path,
                    prediction,
                    millis,
                } => {
                    // An answer for an image the user left is stale.
                    let current = self.images.view().is_some_and(|v| v.path == path);
                    if current && self.prompt.on_decoded(seq, *prediction) {
                        self.status.last_decode_ms = Some(millis);
                    } else {
                        self.prompt.on_decode_failed(seq);
                    }
                }
                Response::DecodeFailed { seq, message } => {
                    if self.prompt.on_decode_failed(seq) {
                        self.notify(
                            MessageLevel::Error,
                            format!("cannot compute the mask: {message}"),
                        );
                    }
                }
                Response::Rendered {
                    seq,
                    index,
                    target,
                    mask,
                } => match target {
                    RenderTarget::Region(region, size) => {
                        self.preview
                            .on_detail(ctx, seq, index, (region, size), &mask, max_side)
                    }
                    RenderTarget::Whole(_) => {
                        self.prompt.on_rendered(seq, index, false, mask);
                    }
                    RenderTarget::Full => {
                        self.prompt.on_rendered(seq, index, true, mask);
                    }
                },
            }
        }
    }

    /// A dataset that lists the image with another size would give masks that do not line up.
    fn check_image_size(&mut self) {
        let (Some(view), Some(id)) = (self.images.view(), self.current_image_id()) else {
            return;
        };
        let Some(image) = self.project.as_ref().and_then(|p| p.dataset.image(id)) else {
            return;
        };
        let (w, h) = view.image.dimensions();
        if (image.width, image.height) != (w, h) {
            let text = format!(
                "{} is {w}x{h}, but the dataset says {}x{}: new annotations on it are refused",
                image.file_name, image.width, image.height
            );
            self.notify(MessageLevel::Error, text);
        }
    }

    /// Sends what the prompt and the zoomed-in view ask of the worker.
    fn send_requests(&mut self) {
        let Some(path) = self.images.view().map(|v| v.path.clone()) else {
            return;
        };
        let ready = self.images.is_ready();
        let hover = self.selection.hover_decodes();
        while let Some(ask) = self.prompt.next_request(ready, hover) {
            let request = match ask {
                prompt::Ask::Decode { seq, prompt, .. } => {
                    let size = self.images.view().map_or((1, 1), |v| v.image.dimensions());
                    Request::Decode {
                        seq,
                        path: path.clone(),
                        prompt,
                        multimask: Multimask::Auto,
                        preview_size: postprocess::preview_size(size),
                    }
                }
                prompt::Ask::Render {
                    seq,
                    index,
                    logits,
                    model_from_image,
                    full,
                } => Request::Render(RenderJob {
                    seq,
                    index,
                    logits,
                    model_from_image,
                    target: if full {
                        RenderTarget::Full
                    } else {
                        RenderTarget::Whole(postprocess::preview_size(model_from_image.image_size))
                    },
                }),
            };
            self.worker.send(request);
        }
    }

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

    /// Saves now if there are unsaved edits.
    pub fn save_now(&mut self) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Err(err) = project.save() {
            self.notify(MessageLevel::Error, err.to_string());
        }
    }

    /// Saves once the oldest unsaved edit is `AUTOSAVE_DELAY` old; until then asks for a frame at
    /// that moment, so an idle window saves too.
    fn autosave(&mut self, ctx: &egui::Context) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Some(due) = project.save_due(AUTOSAVE_DELAY) {
            if due.is_zero() {
                self.save_now();
            } else {
                ctx.request_repaint_after(due);
            }
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
            } => self.prompt.add_point(point_in_image, positive),
            CanvasAction::Box(b) => self.prompt.set_box(b),
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
    fn apply_all(&mut self, commands: Vec<Command>) {
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

    /// One frame: everything the window shows. eframe and the tests both call this.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.env.ctx.is_none() {
            self.worker.set_context(&ctx);
            self.env.ctx = Some(ctx.clone());
        }
        self.env.max_texture_side = ctx.input(|i| i.max_texture_side);
        self.poll_worker(&ctx);

        let mut commands = command::keymap(&ctx);
        let (tool, radius) = (self.selection.tool, self.selection.brush_radius);
        commands.extend(
            self.panels
                .menu
                .ui(ui, self.project.is_some(), tool, radius),
        );
        self.panels.status.ui(
            ui,
            &StatusLine {
                status: &self.status,
                embed: self.images.current().map(|i| &i.embed),
                zoom: self.canvas.zoom(),
                preview: self.prompt.preview(),
                project: self.project.as_ref(),
            },
        );
        let Some(project) = self.project.as_ref() else {
            egui::CentralPanel::default().show(ui, |ui| {
                let panels = &mut self.panels;
                commands.extend(
                    panels
                        .start
                        .ui(ui, &mut panels.messages, &self.status.messages),
                );
            });
            self.apply_all(commands);
            return;
        };
        let counts = annotation_counts(project);
        commands.extend(self.panels.images.ui(ui, &self.images, &counts));
        let image_id = self.current_image_id();
        egui::Panel::right("side")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| {
                let category = self.selection.category;
                commands.extend(self.panels.categories.ui(ui, project, category));
                ui.separator();
                commands.extend(
                    self.panels
                        .instances
                        .ui(ui, project, image_id, &self.selection),
                );
            });
        commands.extend(self.panels.categories.confirm_delete_ui(&ctx, project));

        let max_side = self.env.max_texture_side;
        if let Some(view) = self.images.view() {
            let size = view.image.dimensions();
            self.overlay.refresh(
                &ctx,
                &project.dataset,
                image_id,
                (&view.path, size),
                &self.selection,
                max_side,
            );
        }
        self.preview.sync(&ctx, &self.prompt, max_side);
        egui::CentralPanel::default().show(ui, |ui| {
            commands.extend(self.panels.messages.ui(ui, &self.status.messages));
            let Some(view) = self.images.view() else {
                ui.centered_and_justified(|ui| {
                    let text = match self.images.current() {
                        Some(item) if item.missing => format!("{} is missing", item.file_name),
                        Some(_) => "loading...".to_string(),
                        None => "no image".to_string(),
                    };
                    ui.label(text);
                });
                return;
            };
            let points: Vec<([f32; 2], bool)> = self
                .prompt
                .points()
                .iter()
                .map(|p| (p.point_in_image, p.positive))
                .collect();
            let image_size = [view.image.width() as f32, view.image.height() as f32];
            let layers = Layers {
                image: &view.texture,
                image_size,
                annotations: self.overlay.texture(),
                preview: self.preview.layer(image_size),
                points: &points,
                prompt_box: self.prompt.box_in_image(),
                tool: self.selection.tool,
                brush_radius: self.selection.brush_radius,
            };
            let actions = self.canvas.ui(ui, &layers);
            commands.extend(actions.into_iter().map(Command::Canvas));
            let ppp = ctx.pixels_per_point();
            if let Some(job) = self
                .preview
                .wanted_detail(&self.prompt, &self.canvas, ppp, max_side)
            {
                self.worker.send(Request::Render(job));
            }
        });
        self.apply_all(commands);
        self.send_requests();
        self.autosave(&ctx);
        if self.images.is_encoding() {
            // Keep the elapsed time in the status bar moving.
            ctx.request_repaint_after(Duration::from_millis(200));
        }
    }

    /// For tests and scripts: the ui position of an image point on the canvas.
    pub fn ui_from_image(&self, point_in_image: [f32; 2]) -> egui::Pos2 {
        self.canvas.ui_from_image(point_in_image)
    }

    /// The sharp preview of the visible part (region in image pixels, size in pixels), when zoomed in.
    pub fn preview_detail(&self) -> Option<([f32; 4], (u32, u32))> {
        self.preview.detail()
    }

    /// Size of the image on screen (after EXIF orientation), once it has loaded.
    pub fn shown_image_size(&self) -> Option<(u32, u32)> {
        self.images.view().map(|v| v.image.dimensions())
    }

    /// Whether the current image's embedding is ready.
    pub fn is_ready(&self) -> bool {
        self.images.is_ready()
    }

    /// The mask a click prompt (or the brush) produced, if any.
    pub fn preview_mask(&self) -> Option<&Mask> {
        self.prompt.shown_mask()
    }

    /// Whether the worker still owes an answer the user waits for (a decode, a mask, an accept).
    pub fn is_decoding(&self) -> bool {
        self.prompt.is_busy() || !self.queued.is_empty()
    }

    /// Index of the image on screen in the image list.
    pub fn current_index(&self) -> Option<usize> {
        self.images.current_index()
    }

    pub fn images(&self) -> &[ImageItem] {
        self.images.items()
    }

    pub fn messages(&self) -> &[Message] {
        &self.status.messages
    }

    pub fn selected_annotation(&self) -> Option<AnnotationId> {
        self.selection.annotation
    }

    /// Selects an annotation as the instances list does (the brush and Delete act on it).
    pub fn select_annotation(&mut self, id: Option<AnnotationId>) {
        self.selection.annotation = id;
    }

    /// Adds a prompt point as a click does.
    pub fn add_point(&mut self, point_in_image: [f32; 2], positive: bool) {
        self.prompt.add_point(point_in_image, positive);
    }
}

/// Annotations per image file name, for the image list (every frame: one pass, no lookups).
fn annotation_counts(project: &Project) -> HashMap<&str, usize> {
    let mut by_id: HashMap<ImageId, usize> = HashMap::new();
    for ann in project.dataset.annotations() {
        *by_id.entry(ann.image_id).or_insert(0) += 1;
    }
    project
        .dataset
        .images()
        .iter()
        .filter_map(|i| by_id.get(&i.id).map(|&n| (i.file_name.as_str(), n)))
        .collect()
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

impl eframe::App for SamApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.ui_root(ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.save_now();
    }
}
