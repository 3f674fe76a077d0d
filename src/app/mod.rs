//! The desktop app (egui/eframe). It owns no model logic: the worker thread runs SAM, `annotate`
//! holds the dataset; this module routes input to them and draws the result.

mod canvas;
mod panels;
mod project;
mod render;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, Key, Modifiers, TextureHandle, TextureOptions};
use image::RgbImage;

use crate::annotate::dataset::{Annotation, AnnotationId, CategoryId, Edit, measures};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;
use crate::sam::preprocess::ModelFromImage;
use crate::sam::{Candidates, Multimask, PointPrompt, Prompt, SessionOptions, postprocess};

use canvas::{Canvas, Layers};
pub use canvas::{CanvasAction, Tool};
pub use project::Project;
use worker::{ModelSource, Request, Response, Worker, WorkerOptions};

/// Edits are saved at most this long after they happen.
const AUTOSAVE_DELAY: Duration = Duration::from_secs(1);
/// Image files the folder dialog and the command line pick up.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif", "jfif",
];

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

/// State of an image's embedding, shown in the image list.
#[derive(Clone, Debug, PartialEq)]
pub enum EmbedState {
    Waiting,
    Encoding(Instant),
    Ready,
    Failed(String),
}

pub struct ImageItem {
    pub path: PathBuf,
    /// Name in the dataset (relative to its folder).
    pub file_name: String,
    pub embed: EmbedState,
    pub missing: bool,
}

/// The image on screen.
struct View {
    path: PathBuf,
    image: Arc<RgbImage>,
    texture: TextureHandle,
}

/// The mask being built from the current prompt.
struct Preview {
    candidates: Candidates,
    model_from_image: ModelFromImage,
    /// The candidate shown (Tab cycles among the multimask ones).
    index: usize,
    /// What is shown: at preview resolution after a click, at image resolution once it is needed
    /// there (accept, brush) or when painted by hand.
    mask: Mask,
    texture: TextureHandle,
    /// Made by hovering, not by a click: shown lighter and never refined.
    hover: bool,
    /// When the view is zoomed in past the preview's resolution: the part on screen, at the screen's.
    detail: Option<Detail>,
}

/// A sharp preview of the visible part of the image (see `SamApp::refresh_detail`).
struct Detail {
    texture: TextureHandle,
    region_in_image: [f32; 4],
    size: (u32, u32),
}

impl Preview {
    /// The mask at image resolution, upscaled from the chosen candidate's logits on first use.
    fn full_mask(&mut self) -> &mut Mask {
        let (w, h) = self.model_from_image.image_size;
        if (self.mask.width(), self.mask.height()) != (w, h) {
            self.mask = postprocess::mask_in_image(
                self.candidates.logits(self.index),
                &self.model_from_image,
            );
        }
        &mut self.mask
    }
}

#[derive(Default)]
struct PromptState {
    points: Vec<PointPrompt>,
    box_in_image: Option<[f32; 4]>,
    /// A decode is needed for the current points and box.
    stale: bool,
    /// Sequence number of the newest decode sent, and whether its answer is outstanding.
    seq: u64,
    in_flight: bool,
    /// The newest request was a hover preview.
    hover_request: bool,
    /// Points undone with Ctrl+Z while prompting, for Ctrl+Shift+Z.
    redo_points: Vec<PointPrompt>,
}

impl PromptState {
    fn is_empty(&self) -> bool {
        self.points.is_empty() && self.box_in_image.is_none()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MessageLevel {
    Info,
    Warning,
    Error,
}

pub struct Message {
    pub level: MessageLevel,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ModelStatus {
    Loading,
    Downloading(u64, u64),
    Ready { name: String, provider: String },
    Failed(String),
}

/// Everything the annotation overlay depends on.
#[derive(Clone, PartialEq)]
struct OverlayKey {
    revision: u64,
    selected: Option<AnnotationId>,
    hovered: Option<AnnotationId>,
    hidden: Vec<AnnotationId>,
    image: PathBuf,
}

/// The samlabel window.
pub struct SamApp {
    worker: Worker,
    pub model_status: ModelStatus,
    pub project: Option<Project>,
    pub images: Vec<ImageItem>,
    pub current: Option<usize>,
    view: Option<View>,
    canvas: Canvas,
    prompt: PromptState,
    preview: Option<Preview>,
    hover_point: Option<[f32; 2]>,
    pub tool: Tool,
    pub brush_radius: f32,
    /// Annotation being painted with the brush (its mask is edited in place, saved on release).
    brush_target: Option<(AnnotationId, Mask)>,
    pub selected_category: Option<CategoryId>,
    pub selected_annotation: Option<AnnotationId>,
    hovered_annotation: Option<AnnotationId>,
    pub hidden: HashSet<AnnotationId>,
    /// Decoded masks of the current image's annotations, by id, for overlays and hit tests.
    masks: HashMap<AnnotationId, Mask>,
    overlay: Option<TextureHandle>,
    /// What the overlay was built from; rebuilt when this changes.
    overlay_key: Option<OverlayKey>,
    /// Dataset revision and image the decoded masks belong to.
    masks_key: Option<(u64, PathBuf)>,
    pub messages: Vec<Message>,
    pub last_encode_ms: Option<f64>,
    pub last_decode_ms: Option<f64>,
    panels: panels::PanelState,
    ctx: Option<egui::Context>,
    remember_recent: bool,
    /// The renderer's largest texture side (textures are downscaled to fit).
    max_texture_side: usize,
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
            model_status: ModelStatus::Loading,
            project: None,
            images: Vec::new(),
            current: None,
            view: None,
            canvas: Canvas::default(),
            prompt: PromptState::default(),
            preview: None,
            hover_point: None,
            tool: Tool::Prompt,
            brush_radius: 8.0,
            brush_target: None,
            selected_category: None,
            selected_annotation: None,
            hovered_annotation: None,
            hidden: HashSet::new(),
            masks: HashMap::new(),
            overlay: None,
            overlay_key: None,
            masks_key: None,
            messages: Vec::new(),
            last_encode_ms: None,
            last_decode_ms: None,
            panels: panels::PanelState::default(),
            ctx: None,
            remember_recent: options.remember_recent,
            max_texture_side: 2048,
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
        let text = text.into();
        match level {
            MessageLevel::Error => tracing::error!("{text}"),
            MessageLevel::Warning => tracing::warn!("{text}"),
            MessageLevel::Info => tracing::info!("{text}"),
        }
        self.messages.push(Message { level, text });
        if self.messages.len() > 5 {
            self.messages.remove(0);
        }
    }

    /// Opens image files and folders, and the dataset next to the first image (or `output`).
    pub fn open_paths(&mut self, paths: &[PathBuf], output: Option<&Path>) {
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                match list_images(path) {
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
        if self.current.is_none() && !self.images.is_empty() {
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
                self.messages.retain(|m| Some(&m.text) != stale.as_ref());
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
        let root = project.root.clone();
        let listed: Vec<PathBuf> = project
            .dataset
            .images()
            .iter()
            .map(|i| root.join(&i.file_name))
            .collect();
        if self.remember_recent {
            project::remember_recent(path);
        }
        self.project = Some(project);
        self.images.clear();
        self.current = None;
        self.view = None;
        self.selected_category = self
            .project
            .as_ref()
            .and_then(|p| p.dataset.categories().first().map(|c| c.id));
        for path in listed {
            self.add_image(path);
        }
        if !self.images.is_empty() {
            self.select_image(0);
        }
    }

    fn add_image(&mut self, path: PathBuf) {
        let Some(project) = &self.project else { return };
        let file_name = project.file_name_for(&path);
        if self.images.iter().any(|i| i.file_name == file_name) {
            return;
        }
        let missing = !path.is_file();
        self.images.push(ImageItem {
            path,
            file_name,
            embed: EmbedState::Waiting,
            missing,
        });
    }

    /// Shows image `index`, asks the worker to encode it and to prefetch the next two.
    pub fn select_image(&mut self, index: usize) {
        if index >= self.images.len() || self.current == Some(index) && self.view.is_some() {
            return;
        }
        self.clear_prompt();
        self.brush_target = None;
        self.selected_annotation = None;
        self.current = Some(index);
        self.view = None;
        self.masks.clear();
        self.masks_key = None;
        self.overlay = None;
        self.overlay_key = None;
        let item = &self.images[index];
        if item.missing {
            let text = format!(
                "{} is missing; its annotations are kept",
                item.path.display()
            );
            self.notify(MessageLevel::Warning, text);
            return;
        }
        self.worker.send(Request::Open(item.path.clone()));
        let next: Vec<PathBuf> = self
            .images
            .iter()
            .skip(index + 1)
            .filter(|i| !i.missing)
            .take(2)
            .map(|i| i.path.clone())
            .collect();
        self.worker.send(Request::Prefetch(next));
    }

    fn current_item(&self) -> Option<&ImageItem> {
        self.current.and_then(|i| self.images.get(i))
    }

    /// The dataset id of the current image, adding the image to the dataset if needed.
    fn current_image_id(&mut self) -> Option<u64> {
        let view = self.view.as_ref()?;
        let (w, h) = view.image.dimensions();
        let file_name = self.current_item()?.file_name.clone();
        let project = self.project.as_mut()?;
        match project.dataset.ensure_image(&file_name, w, h) {
            Ok(id) => Some(id),
            Err(err) => {
                self.notify(
                    MessageLevel::Error,
                    format!("cannot add the image to the dataset: {err}"),
                );
                None
            }
        }
    }

    fn existing_image_id(&self) -> Option<u64> {
        let file_name = &self.current_item()?.file_name;
        self.project
            .as_ref()?
            .dataset
            .image_by_file(file_name)
            .map(|i| i.id)
    }

    pub fn clear_prompt(&mut self) {
        self.prompt = PromptState {
            seq: self.prompt.seq,
            ..PromptState::default()
        };
        self.preview = None;
    }

    /// Adds a point to the prompt (a hover preview becomes the starting point of a click prompt).
    pub fn add_point(&mut self, point_in_image: [f32; 2], positive: bool) {
        tracing::debug!(?point_in_image, positive, "prompt point");
        if self.preview.as_ref().is_some_and(|p| p.hover) {
            self.preview = None;
        }
        self.prompt.points.push(PointPrompt {
            point_in_image,
            positive,
        });
        self.prompt.redo_points.clear();
        self.prompt.stale = true;
    }

    pub fn set_box(&mut self, box_in_image: [f32; 4]) {
        tracing::debug!(?box_in_image, "prompt box");
        if self.preview.as_ref().is_some_and(|p| p.hover) {
            self.preview = None;
        }
        self.prompt.box_in_image = Some(box_in_image);
        self.prompt.stale = true;
    }

    fn embedding_ready(&self) -> bool {
        self.current_item()
            .is_some_and(|i| i.embed == EmbedState::Ready)
            && self.view.is_some()
    }

    /// Sends a decode for the prompt when it changed and the worker is free.
    fn request_decode(&mut self) {
        if !self.embedding_ready() || self.prompt.in_flight {
            return;
        }
        let Some(path) = self.view.as_ref().map(|v| v.path.clone()) else {
            return;
        };
        if self.prompt.stale && !self.prompt.is_empty() {
            // Refine: a click on an existing preview feeds its low-res mask back (SAM's iterative use).
            let mask_input = self
                .preview
                .as_ref()
                .filter(|p| !p.hover && self.prompt.points.len() > 1)
                .map(|p| p.candidates.logits(p.index).to_vec());
            let prompt = Prompt {
                points: self.prompt.points.clone(),
                box_in_image: self.prompt.box_in_image,
                mask_input,
            };
            self.send_decode(path, prompt, false);
            self.prompt.stale = false;
        } else if self.prompt.is_empty()
            && self.tool == Tool::Prompt
            && self.brush_target.is_none()
            && let Some(p) = self.hover_point.take()
        {
            let prompt = Prompt {
                points: vec![PointPrompt {
                    point_in_image: p,
                    positive: true,
                }],
                ..Default::default()
            };
            self.send_decode(path, prompt, true);
        }
    }

    fn send_decode(&mut self, path: PathBuf, prompt: Prompt, hover: bool) {
        self.prompt.seq += 1;
        self.prompt.in_flight = true;
        self.prompt.hover_request = hover;
        self.worker.send(Request::Decode {
            seq: self.prompt.seq,
            path,
            prompt,
            multimask: Multimask::Auto,
        });
    }

    /// Handles everything the worker sent since the last frame.
    fn poll_worker(&mut self, ctx: &egui::Context) {
        while let Some(response) = self.worker.try_recv() {
            match response {
                Response::Downloading { done, total } => {
                    self.model_status = ModelStatus::Downloading(done, total)
                }
                Response::ModelReady {
                    name,
                    provider,
                    notices,
                } => {
                    for notice in notices {
                        self.notify(MessageLevel::Warning, notice);
                    }
                    self.model_status = ModelStatus::Ready { name, provider };
                }
                Response::ModelFailed(message) => {
                    self.notify(MessageLevel::Error, format!("no model: {message}"));
                    self.model_status = ModelStatus::Failed(message);
                }
                Response::ImageLoaded { path, image, note } => {
                    if let Some(note) = note
                        && !self.messages.iter().any(|m| m.text == note)
                    {
                        self.notify(MessageLevel::Info, note);
                    }
                    if self.current_item().is_some_and(|i| i.path == path) {
                        let texture = ctx.load_texture(
                            "image",
                            render::image_texture(&image, self.max_texture_side),
                            TextureOptions::LINEAR,
                        );
                        self.view = Some(View {
                            path,
                            image,
                            texture,
                        });
                        self.canvas.request_fit();
                        self.check_image_size();
                    }
                }
                Response::ImageFailed { path, message } => {
                    self.set_embed(&path, EmbedState::Failed(message.clone()));
                    self.notify(MessageLevel::Error, message);
                }
                Response::EncodeStarted { path } => {
                    self.set_embed(&path, EmbedState::Encoding(Instant::now()))
                }
                Response::Encoded { path, millis } => {
                    if millis > 0.0 {
                        self.last_encode_ms = Some(millis);
                    }
                    self.set_embed(&path, EmbedState::Ready);
                }
                Response::EncodeCancelled { path } => self.set_embed(&path, EmbedState::Waiting),
                Response::EncodeFailed { path, message } => {
                    self.notify(
                        MessageLevel::Error,
                        format!("cannot encode {}: {message}", path.display()),
                    );
                    self.set_embed(&path, EmbedState::Failed(message));
                }
                Response::Decoded {
                    seq,
                    path,
                    prediction,
                    millis,
                } => {
                    if seq == self.prompt.seq {
                        self.prompt.in_flight = false;
                    }
                    let current = self.view.as_ref().is_some_and(|v| v.path == path);
                    // Stale: the prompt changed since, or the user moved to another image.
                    if seq != self.prompt.seq || !current {
                        continue;
                    }
                    self.last_decode_ms = Some(millis);
                    let hover = self.prompt.hover_request;
                    if hover && !self.prompt.is_empty() {
                        continue;
                    }
                    let alpha = if hover { 70 } else { 120 };
                    let texture = ctx.load_texture(
                        "preview",
                        render::mask_texture(
                            &prediction.mask,
                            render::PREVIEW_COLOR,
                            alpha,
                            self.max_texture_side,
                        ),
                        TextureOptions::NEAREST,
                    );
                    self.preview = Some(Preview {
                        candidates: prediction.candidates,
                        model_from_image: prediction.model_from_image,
                        index: prediction.index,
                        mask: prediction.mask,
                        texture,
                        hover,
                        detail: None,
                    });
                }
                Response::DecodeFailed { seq, message } => {
                    if seq == self.prompt.seq {
                        self.prompt.in_flight = false;
                        self.notify(
                            MessageLevel::Error,
                            format!("cannot compute the mask: {message}"),
                        );
                    }
                }
            }
        }
    }

    fn set_embed(&mut self, path: &Path, state: EmbedState) {
        if let Some(item) = self.images.iter_mut().find(|i| i.path == path) {
            item.embed = state;
        }
    }

    /// A dataset that lists the image with another size would give masks that do not line up.
    fn check_image_size(&mut self) {
        let (Some(view), Some(id)) = (self.view.as_ref(), self.existing_image_id()) else {
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

    /// When the view shows the image finer than the click preview's resolution, makes the visible part
    /// of the mask at the screen's resolution (at most one pixel per image pixel) from the candidate's
    /// logits, so mask edges stay sharp when zoomed in. Redone when the view moves; a few milliseconds.
    fn refresh_detail(&mut self, ctx: &egui::Context) {
        let pixels_per_point = ctx.pixels_per_point();
        let max_side = self.max_texture_side;
        let Some(preview) = self.preview.as_mut() else {
            return;
        };
        let (iw, ih) = preview.model_from_image.image_size;
        let full_resolution = (preview.mask.width(), preview.mask.height()) == (iw, ih);
        // Full-resolution masks (accepted, brushed or painted) are drawn from their own texture.
        let screen_per_image = self.canvas.zoom() * pixels_per_point;
        let preview_per_image = preview.mask.width() as f32 / iw as f32;
        let region = self.canvas.visible_in_image([iw as f32, ih as f32]);
        let Some(region) = region.filter(|_| {
            !preview.hover && !full_resolution && screen_per_image > preview_per_image * 1.25
        }) else {
            preview.detail = None;
            return;
        };
        let scale = screen_per_image.min(1.0);
        let side = |extent: f32| ((extent * scale).ceil() as u32).clamp(1, max_side as u32);
        let size = (side(region[2] - region[0]), side(region[3] - region[1]));
        if preview
            .detail
            .as_ref()
            .is_some_and(|d| d.region_in_image == region && d.size == size)
        {
            return;
        }
        let mask = postprocess::mask_region(
            preview.candidates.logits(preview.index),
            &preview.model_from_image,
            region,
            size.0,
            size.1,
        );
        let image = render::mask_texture(&mask, render::PREVIEW_COLOR, 120, max_side);
        match preview.detail.as_mut() {
            Some(detail) => {
                detail.texture.set(image, TextureOptions::NEAREST);
                detail.region_in_image = region;
                detail.size = size;
            }
            None => {
                preview.detail = Some(Detail {
                    texture: ctx.load_texture("preview-detail", image, TextureOptions::NEAREST),
                    region_in_image: region,
                    size,
                })
            }
        }
    }

    /// Tab: shows the next multimask candidate.
    pub fn cycle_candidate(&mut self) {
        let Some(preview) = self.preview.as_mut() else {
            return;
        };
        let count = preview.candidates.count();
        if count < 4 || preview.hover {
            return;
        }
        preview.index = if preview.index >= count - 1 {
            1
        } else {
            preview.index + 1
        };
        let (w, h) = render::preview_size(preview.model_from_image.image_size);
        let logits = preview.candidates.logits(preview.index);
        preview.mask = postprocess::mask_at(logits, &preview.model_from_image, w, h);
        preview.detail = None;
        preview.texture.set(
            render::mask_texture(
                &preview.mask,
                render::PREVIEW_COLOR,
                120,
                self.max_texture_side,
            ),
            TextureOptions::NEAREST,
        );
    }

    /// Enter: the preview becomes an annotation of the selected category.
    pub fn accept(&mut self) {
        // A hover preview only shows what a click would give; accepting takes a click.
        if self.preview.as_ref().is_none_or(|p| p.hover) {
            return;
        }
        let Some(mask) = self.preview.as_mut().map(|p| p.full_mask().clone()) else {
            return;
        };
        if mask.area() == 0 {
            self.notify(MessageLevel::Warning, "the mask is empty: nothing to add");
            return;
        }
        let Some(image_id) = self.current_image_id() else {
            return;
        };
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let category_id = match self.selected_category {
            Some(id) => Ok(id),
            None => project.dataset.ensure_category("object"),
        };
        let result = category_id.and_then(|category_id| {
            self.selected_category = Some(category_id);
            let annotation = Annotation::from_mask(
                project.dataset.next_annotation_id(),
                image_id,
                category_id,
                &mask,
            );
            let id = annotation.id;
            project
                .dataset
                .apply(Edit::AddAnnotation(annotation))
                .map(|()| id)
        });
        match result {
            Ok(id) => {
                project.touched();
                self.selected_annotation = Some(id);
                self.clear_prompt();
            }
            // The preview stays, so nothing the user made is lost.
            Err(err) => self.notify(
                MessageLevel::Error,
                format!("cannot add the annotation: {err}"),
            ),
        }
    }

    pub fn undo(&mut self) {
        if !self.prompt.is_empty() || self.preview.as_ref().is_some_and(|p| !p.hover) {
            // While prompting, undo takes back the last point first.
            if let Some(p) = self.prompt.points.pop() {
                self.prompt.redo_points.push(p);
                self.prompt.stale = true;
                if self.prompt.is_empty() {
                    self.preview = None;
                }
                return;
            }
            self.clear_prompt();
            return;
        }
        if let Some(project) = self.project.as_mut()
            && project.dataset.undo()
        {
            project.touched();
        }
    }

    pub fn redo(&mut self) {
        if let Some(p) = self.prompt.redo_points.pop() {
            self.prompt.points.push(p);
            self.prompt.stale = true;
            return;
        }
        if let Some(project) = self.project.as_mut()
            && project.dataset.redo()
        {
            project.touched();
        }
    }

    pub fn delete_selected(&mut self) {
        let Some(id) = self.selected_annotation.take() else {
            return;
        };
        self.apply_edit(Edit::DeleteAnnotation(id));
    }

    /// Applies a dataset edit and reports a refusal in the window.
    pub fn apply_edit(&mut self, edit: Edit) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        match project.dataset.apply(edit) {
            Ok(()) => project.touched(),
            Err(err) => self.notify(MessageLevel::Error, err.to_string()),
        }
    }

    /// Saves now if there are unsaved edits.
    pub fn save_now(&mut self) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Err(err) = project.save() {
            self.notify(MessageLevel::Error, err);
        }
    }

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
    fn brush(&mut self, from: [f32; 2], to: [f32; 2], ctx: &egui::Context) {
        let Some(view) = self.view.as_ref() else {
            return;
        };
        let (w, h) = view.image.dimensions();
        let inside = self.tool == Tool::Brush;
        let radius = self.brush_radius;

        // 1. A selected annotation (and no preview): edit its mask; recorded when the stroke ends.
        let painting_preview = self.preview.as_ref().is_some_and(|p| !p.hover);
        if !painting_preview && let Some(id) = self.selected_annotation {
            if self.brush_target.as_ref().is_none_or(|(t, _)| *t != id) {
                let Some(mask) = self.masks.get(&id).cloned() else {
                    return;
                };
                self.brush_target = Some((id, mask));
            }
            if let Some((id, mask)) = self.brush_target.as_mut() {
                render::paint_segment(mask, from, to, radius, inside);
                // Show the edited mask in the overlay at once.
                self.masks.insert(*id, mask.clone());
                self.overlay_key = None;
            }
            return;
        }

        // 2. The preview, at image resolution; painting from scratch starts a hand-made one.
        if !painting_preview {
            let mask = Mask::new(w, h);
            let texture = ctx.load_texture(
                "preview",
                render::mask_texture(&mask, render::PREVIEW_COLOR, 120, self.max_texture_side),
                TextureOptions::NEAREST,
            );
            self.preview = Some(Preview {
                candidates: Candidates {
                    low_res: vec![0.0; 256 * 256],
                    iou: vec![1.0],
                },
                model_from_image: ModelFromImage::new(w, h, 1024),
                index: 0,
                mask,
                texture,
                hover: false,
                detail: None,
            });
        }
        if let Some(preview) = self.preview.as_mut() {
            render::paint_segment(preview.full_mask(), from, to, radius, inside);
            let image = render::mask_texture(
                &preview.mask,
                render::PREVIEW_COLOR,
                120,
                self.max_texture_side,
            );
            preview.texture.set(image, TextureOptions::NEAREST);
        }
    }

    fn brush_end(&mut self) {
        let Some((id, mask)) = self.brush_target.take() else {
            return;
        };
        let rle = Rle::from_mask(&mask);
        let (area, bbox) = measures(&rle);
        self.apply_edit(Edit::SetMask {
            id,
            segmentation: crate::annotate::dataset::Segmentation::CompressedRle(rle),
            area,
            bbox,
        });
    }

    fn handle_canvas(&mut self, actions: Vec<CanvasAction>, ctx: &egui::Context) {
        for action in actions {
            match action {
                CanvasAction::Point {
                    point_in_image,
                    positive,
                } => {
                    // Without a prompt, a click on an accepted annotation is still a prompt: SAM
                    // users click inside objects all the time.
                    self.add_point(point_in_image, positive);
                }
                CanvasAction::Box(b) => self.set_box(b),
                CanvasAction::Brush { from, to } => self.brush(from, to, ctx),
                CanvasAction::BrushEnd => self.brush_end(),
                CanvasAction::Hover(p) => {
                    self.hovered_annotation = p.and_then(|p| self.annotation_at(p));
                    if p.is_some() && p != self.hover_point && self.prompt.is_empty() {
                        self.hover_point = p;
                    }
                    if p.is_none() && self.preview.as_ref().is_some_and(|pr| pr.hover) {
                        self.preview = None;
                    }
                }
            }
        }
    }

    fn annotation_at(&self, p: [f32; 2]) -> Option<AnnotationId> {
        let (x, y) = (p[0] as u32, p[1] as u32);
        let project = self.project.as_ref()?;
        let image_id = self.existing_image_id()?;
        project
            .dataset
            .annotations_of(image_id)
            .filter(|a| !self.hidden.contains(&a.id))
            .filter(|a| self.masks.get(&a.id).is_some_and(|m| m.get(x, y)))
            .map(|a| a.id)
            .last()
    }

    /// Rebuilds the decoded masks and the overlay texture when what they show changed.
    fn refresh_overlay(&mut self, ctx: &egui::Context) {
        let (Some(project), Some(view)) = (self.project.as_ref(), self.view.as_ref()) else {
            return;
        };
        let mut hidden: Vec<AnnotationId> = self.hidden.iter().copied().collect();
        hidden.sort_unstable();
        let key = OverlayKey {
            revision: project.dataset.revision(),
            selected: self.selected_annotation,
            hovered: self.hovered_annotation,
            hidden,
            image: view.path.clone(),
        };
        if self.overlay_key.as_ref() == Some(&key) {
            return;
        }
        let image_id = self.existing_image_id();
        let dataset = &project.dataset;
        let annotations: Vec<&Annotation> = image_id
            .map(|id| dataset.annotations_of(id).collect())
            .unwrap_or_default();
        let (w, h) = view.image.dimensions();
        // Decoding RLE is the costly part: only when the data or the image changed, not on hover.
        let masks_key = (key.revision, key.image.clone());
        if self.masks_key.as_ref() != Some(&masks_key) {
            let brushing = self.brush_target.as_ref().map(|(id, _)| *id);
            // The mask being brushed is newer than the dataset's until the stroke ends.
            self.masks.retain(|id, _| Some(*id) == brushing);
            for ann in &annotations {
                if Some(ann.id) != brushing {
                    self.masks
                        .insert(ann.id, ann.segmentation.to_rle(h, w).to_mask());
                }
            }
            self.masks_key = Some(masks_key);
        }
        let layers: Vec<(&Mask, Color32, bool)> = annotations
            .iter()
            .filter(|a| !self.hidden.contains(&a.id))
            .filter_map(|a| {
                let color = dataset
                    .category(a.category_id)
                    .map_or([200, 200, 200], |c| c.color);
                let highlight =
                    Some(a.id) == self.selected_annotation || Some(a.id) == self.hovered_annotation;
                self.masks.get(&a.id).map(|m| {
                    (
                        m,
                        Color32::from_rgb(color[0], color[1], color[2]),
                        highlight,
                    )
                })
            })
            .collect();
        let image = render::overlay(w, h, &layers, self.max_texture_side);
        match self.overlay.as_mut() {
            Some(texture) => texture.set(image, TextureOptions::NEAREST),
            None => {
                self.overlay = Some(ctx.load_texture("annotations", image, TextureOptions::NEAREST))
            }
        }
        self.overlay_key = Some(key);
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let command = Modifiers::COMMAND;
        let shifted = Modifiers::COMMAND | Modifiers::SHIFT;
        let pressed =
            |modifiers: Modifiers, key: Key| ctx.input_mut(|i| i.consume_key(modifiers, key));
        if pressed(shifted, Key::Z) {
            self.redo();
        }
        if pressed(command, Key::Z) {
            self.undo();
        }
        if pressed(command, Key::S) {
            if let Some(p) = self.project.as_mut() {
                p.touched();
            }
            self.save_now();
        }
        let pressed = |key: Key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key));
        if pressed(Key::Enter) {
            self.accept();
        }
        if pressed(Key::Escape) {
            self.clear_prompt();
            self.tool = Tool::Prompt;
        }
        // Tab and the arrows are ours on the canvas: keep egui from also moving keyboard focus.
        let keep_focus = || ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::None));
        if pressed(Key::Tab) {
            keep_focus();
            self.cycle_candidate();
        }
        let right = pressed(Key::ArrowRight);
        if pressed(Key::D) || right {
            keep_focus();
            if let Some(i) = self.current {
                self.select_image(i + 1);
            }
        }
        let left = pressed(Key::ArrowLeft);
        if pressed(Key::A) || left {
            keep_focus();
            if let Some(i) = self.current.filter(|&i| i > 0) {
                self.select_image(i - 1);
            }
        }
        if pressed(Key::Delete) || pressed(Key::Backspace) {
            self.delete_selected();
        }
        if pressed(Key::B) {
            self.tool = if self.tool == Tool::Brush {
                Tool::Prompt
            } else {
                Tool::Brush
            };
        }
        if pressed(Key::E) {
            self.tool = if self.tool == Tool::Eraser {
                Tool::Prompt
            } else {
                Tool::Eraser
            };
        }
        if pressed(Key::OpenBracket) {
            self.brush_radius = (self.brush_radius / 1.25).max(1.0);
        }
        if pressed(Key::CloseBracket) {
            self.brush_radius = (self.brush_radius * 1.25).min(500.0);
        }
        let digits = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
            Key::Num7,
            Key::Num8,
            Key::Num9,
        ];
        for (i, key) in digits.into_iter().enumerate() {
            if pressed(key)
                && let Some(c) = self
                    .project
                    .as_ref()
                    .and_then(|p| p.dataset.categories().get(i))
            {
                self.selected_category = Some(c.id);
            }
        }
    }

    /// One frame: everything the window shows. eframe and the tests both call this.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.ctx.is_none() {
            self.worker.set_context(&ctx);
            self.ctx = Some(ctx.clone());
        }
        self.max_texture_side = ctx.input(|i| i.max_texture_side);
        self.poll_worker(&ctx);
        self.keyboard(&ctx);
        self.request_decode();

        self.menu_ui(ui);
        self.status_ui(ui);
        if self.project.is_none() {
            egui::CentralPanel::default().show(ui, |ui| self.start_ui(ui));
            return;
        }
        self.images_ui(ui);
        self.side_ui(ui);
        self.refresh_overlay(&ctx);
        egui::CentralPanel::default().show(ui, |ui| {
            self.messages_ui(ui);
            let Some(view) = self.view.as_ref() else {
                ui.centered_and_justified(|ui| {
                    let text = match self.current_item() {
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
                .points
                .iter()
                .map(|p| (p.point_in_image, p.positive))
                .collect();
            let image_size = [view.image.width() as f32, view.image.height() as f32];
            let layers = Layers {
                image: &view.texture,
                image_size,
                annotations: self.overlay.as_ref(),
                preview: self.preview.as_ref().map(|p| match &p.detail {
                    Some(detail) => (&detail.texture, detail.region_in_image),
                    None => (&p.texture, [0.0, 0.0, image_size[0], image_size[1]]),
                }),
                points: &points,
                prompt_box: self.prompt.box_in_image,
                tool: self.tool,
                brush_radius: self.brush_radius,
            };
            let actions = self.canvas.ui(ui, &layers);
            self.handle_canvas(actions, &ctx);
            self.refresh_detail(&ctx);
        });
        self.request_decode();
        self.autosave(&ctx);
        if self
            .images
            .iter()
            .any(|i| matches!(i.embed, EmbedState::Encoding(_)))
        {
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
        let detail = self.preview.as_ref()?.detail.as_ref()?;
        Some((detail.region_in_image, detail.size))
    }

    /// Size of the image on screen (after EXIF orientation), once it has loaded.
    pub fn shown_image_size(&self) -> Option<(u32, u32)> {
        self.view.as_ref().map(|v| v.image.dimensions())
    }

    /// Whether the current image's embedding is ready.
    pub fn is_ready(&self) -> bool {
        self.embedding_ready()
    }

    /// The mask a click prompt produced, if any.
    pub fn preview_mask(&self) -> Option<&Mask> {
        self.preview.as_ref().filter(|p| !p.hover).map(|p| &p.mask)
    }

    /// Whether a decode is outstanding or due.
    pub fn is_decoding(&self) -> bool {
        self.prompt.in_flight || self.prompt.stale
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

/// Image files directly in `dir`, sorted by name.
pub fn list_images(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}
