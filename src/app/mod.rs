//! The desktop app (egui/eframe). `SamApp` only routes: each job has its own room (`images`, `prompt`,
//! `overlay`, `preview`, `selection`, the panels, `status`), the keymap, menu, panels and canvas emit
//! `Command`s, and `apply` carries them out in one place at the end of the frame. The worker threads
//! run SAM and make masks; `crate::project` holds the dataset file.

mod apply;
mod boxes;
mod canvas;
mod command;
mod dialogs;
mod find;
mod fonts;
mod frame;
mod images;
mod import;
mod overlay;
mod panels;
mod polygons;
mod preview;
mod prompt;
mod proposals;
mod render;
mod selection;
mod side;
mod status;
pub mod worker;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::annotate::dataset::{AnnotationId, ImageId};
use crate::annotate::mask::Mask;
use crate::imageio;
use crate::project::{self, Project};
use crate::sam::SessionOptions;
use crate::sam::hub::ModelSource;

use canvas::Canvas;
pub use canvas::{CanvasAction, Tool};
pub use command::Command;
use images::Images;
pub use images::{EmbedState, ImageItem};
use overlay::Overlay;
use panels::Panels;
use preview::PreviewTextures;
use prompt::PromptState;
use proposals::Proposals;
use selection::Selection;
use status::Status;
pub use status::{Message, MessageLevel, ModelStatus};
use worker::{Request, Worker, WorkerOptions};

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
    /// The SAM 3 model for Find (`None`: the `sam3` folder of the model cache, when there).
    pub find_model: Option<PathBuf>,
    /// Folders of fonts to fall back on (besides the system's and `SAMLABEL_FONT_DIRS`), for names in
    /// scripts egui's own font lacks.
    pub font_dirs: Vec<PathBuf>,
}

/// What the app knows of its surroundings.
struct Env {
    ctx: Option<egui::Context>,
    remember_recent: bool,
    /// The renderer's largest texture side (textures are downscaled to fit).
    max_texture_side: usize,
    /// The window title last sent.
    title: String,
    /// The user chose to quit (and was asked about unaccepted masks if there were any).
    quit_confirmed: bool,
    /// Fallback font folders, loaded on the first frame.
    font_dirs: Vec<PathBuf>,
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
    /// Segment everything's proposals on the current image.
    proposals: Proposals,
    /// Find's example boxes and model.
    find: find::FindState,
    /// Masks from boxes on its way.
    boxes: boxes::BoxMasks,
    canvas: Canvas,
    /// Polygon editing (V) and drawing (P).
    polygons: polygons::Polygons,
    selection: Selection,
    panels: Panels,
    status: Status,
    /// File > Import being read on its thread.
    importing: Option<import::Reading>,
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
            find_model: options.find_model.clone(),
        });
        let mut app = Self {
            worker,
            project: None,
            images: Images::default(),
            prompt: PromptState::default(),
            preview: PreviewTextures::default(),
            overlay: Overlay::default(),
            proposals: Proposals::default(),
            find: find::FindState::default(),
            boxes: boxes::BoxMasks::default(),
            canvas: Canvas::default(),
            polygons: polygons::Polygons::default(),
            selection: Selection::default(),
            panels: Panels::default(),
            status: Status::default(),
            importing: None,
            queued: VecDeque::new(),
            env: Env {
                ctx: None,
                remember_recent: options.remember_recent,
                max_texture_side: 2048,
                title: String::new(),
                quit_confirmed: false,
                font_dirs: options.font_dirs,
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
            } else if path.is_file() {
                files.push(path.clone());
            } else {
                self.notify(
                    MessageLevel::Error,
                    format!("{} does not exist", path.display()),
                );
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
        if !self.load_dataset(&dataset_path) {
            return;
        }
        for file in files {
            self.add_image(file);
        }
        self.show_start_image();
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

    /// Opens (or starts) a dataset file, lists its images and shows the one last worked on.
    pub fn open_dataset(&mut self, path: &Path) {
        if self.load_dataset(path) {
            self.show_start_image();
        }
    }

    /// Opens (or starts) a dataset file and lists its images; false if the current dataset has to
    /// stay open (its edits could not be saved).
    fn load_dataset(&mut self, path: &Path) -> bool {
        if let Some(current) = self.project.as_mut()
            && current.read_only_reason().is_none()
            && let Err(err) = current.save()
        {
            // Never drop edits that could not be written.
            self.notify(
                MessageLevel::Error,
                format!("{err}; the current dataset stays open so that its edits are not lost"),
            );
            return false;
        }
        let unaccepted = self.unaccepted_images();
        if unaccepted > 0 {
            self.notify(
                MessageLevel::Warning,
                format!("masks not accepted with Enter on {unaccepted} images were discarded"),
            );
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
        if self.env.remember_recent {
            project::remember_recent(path);
        }
        self.selection = Selection {
            category: project.dataset.categories().first().map(|c| c.id),
            ..Selection::default()
        };
        self.project = Some(project);
        self.images.clear();
        self.prompt.clear();
        self.leave_image();
        self.add_dataset_images();
        true
    }

    /// Lists the dataset's images in the image list (those already there stay as they are).
    fn add_dataset_images(&mut self) {
        let Some(project) = self.project.as_ref() else {
            return;
        };
        let listed: Vec<PathBuf> = project
            .dataset
            .images()
            .iter()
            .map(|i| project.root.join(&i.file_name))
            .collect();
        for path in listed {
            self.add_image(path);
        }
    }

    /// After opening: the images in natural order (as file browsers list them), and the image last
    /// worked on (else the first) on screen.
    fn show_start_image(&mut self) {
        self.images.sort_natural();
        let last = self.project.as_ref().and_then(|p| p.last_image());
        let index = last
            .and_then(|name| self.images.items().iter().position(|i| i.file_name == name))
            .unwrap_or(0);
        if !self.images.items().is_empty() {
            self.select_image(index);
        }
    }

    /// Adds an image to the list, and to the dataset with its size (read from the file's header):
    /// COCO keeps images without annotations, so a reopened folder lists every image.
    fn add_image(&mut self, path: PathBuf) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        let file_name = project.file_name_for(&path);
        if project.dataset.image_by_file(&file_name).is_none()
            && let Some((w, h)) = imageio::oriented_dimensions(&path)
            && let Err(err) = project.list_image(&file_name, (w, h))
        {
            let text = format!("cannot list {file_name} in the dataset: {err}");
            self.notify(MessageLevel::Error, text);
        }
        self.images.add(path, file_name);
    }

    /// Leaves the image on screen: its unaccepted prompt (points, box, strokes, preview) is kept with
    /// it for when the user comes back.
    fn leave_image(&mut self) {
        // A polygon being drawn is kept: finished as it is (three vertices or more).
        if self.polygons.draft.len() >= 3 {
            self.close_draft();
        }
        self.polygons.draft.clear();
        self.polygons.edit = None;
        if self.prompt.has_work() {
            self.prompt.park();
            let parked = std::mem::take(&mut self.prompt);
            self.images.park(parked);
        } else {
            self.prompt.clear();
        }
        self.selection.leave_image();
        self.overlay.clear();
        self.preview.clear();
        if self.proposals.running.is_some() {
            self.worker.send(Request::CancelEverything);
        }
        self.proposals.clear();
    }

    /// The accepted annotations of the current image as masks.
    fn accepted_masks(&self) -> Vec<Mask> {
        let (Some(project), Some(image_id)) = (self.project.as_ref(), self.current_image_id())
        else {
            return Vec::new();
        };
        let dataset = &project.dataset;
        let Some(image) = dataset.image(image_id) else {
            return Vec::new();
        };
        dataset
            .annotations_of(image_id)
            .filter(|a| !a.is_box_only())
            .map(|a| a.segmentation.to_rle(image.height, image.width).to_mask())
            .collect()
    }

    /// How many images hold a prompt that was not accepted (the one on screen included).
    fn unaccepted_images(&self) -> usize {
        self.images.parked_count() + usize::from(self.prompt.has_work())
    }

    /// Shows image `index`, asks the worker to encode it and to prefetch the next two.
    pub fn select_image(&mut self, index: usize) {
        if !self.images.is_selectable(index) {
            return;
        }
        self.leave_image();
        if let Some(parked) = self.images.unpark(index) {
            self.prompt = parked;
        }
        if let (Some(project), Some(item)) = (self.project.as_mut(), self.images.items().get(index))
        {
            project.set_last_image(&item.file_name);
        }
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

    /// Saves now if there are unsaved edits.
    pub fn save_now(&mut self) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Err(err) = project.save() {
            self.notify(MessageLevel::Error, err.to_string());
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

    /// For tests and scripts: the polygons being edited (V), `[x, y]` in image pixels.
    pub fn edited_polygons(&self) -> Option<&[Vec<[f32; 2]>]> {
        self.polygons.edit.as_ref().map(|e| e.polygons.as_slice())
    }

    /// For tests and scripts: an accepted annotation's mask as the window shows it.
    pub fn annotation_mask(&self, id: AnnotationId) -> Option<Mask> {
        self.overlay.mask(id).cloned()
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

    /// Runs a command as the menu or a key would (queued after this frame's).
    pub fn run_command(&mut self, command: Command) {
        self.queued.push_back(command);
    }

    /// How many decodes the prompts of this window sent (hover ones included).
    /// The model in use, loading, or why there is none (the status bar's words).
    pub fn model_status(&self) -> &ModelStatus {
        &self.status.model
    }

    /// Segment everything's proposals on screen (shown, selected, hidden as already annotated), and
    /// whether a run is on its way.
    pub fn proposal_counts(&self) -> (usize, usize, usize, bool) {
        let c = self.proposals.counts();
        (
            c.shown,
            c.selected,
            c.covered,
            self.proposals.running.is_some(),
        )
    }

    /// The masks of the proposals on screen, in their order.
    pub fn proposal_masks(&self) -> Vec<&Mask> {
        self.proposals.shown_masks()
    }

    /// Whether another model is being loaded to replace the one in use.
    pub fn is_switching_models(&self) -> bool {
        self.status.switching_from.is_some()
    }

    pub fn decodes_sent(&self) -> u64 {
        self.prompt.decodes_sent()
    }

    /// Where the canvas is on screen, in ui points.
    pub fn canvas_rect(&self) -> egui::Rect {
        self.canvas.rect()
    }

    /// The dragged box of the prompt, in image pixels.
    pub fn prompt_box(&self) -> Option<[f32; 4]> {
        self.prompt.box_in_image()
    }

    /// What the last undo, redo, delete or mark did, as the status bar says it.
    pub fn last_step(&self) -> Option<&str> {
        self.status.last_step.as_deref()
    }

    /// The number of images with unaccepted masks the quit question names, while it is open.
    pub fn quit_question(&self) -> Option<usize> {
        self.panels.quit.asking
    }

    /// The warning shown over the image on screen (a file cut short), if any.
    pub fn image_warning(&self) -> Option<&str> {
        self.images.view()?.warning.as_deref()
    }

    /// The dataset's state as the status bar says it ("saved", "unsaved", ...).
    pub fn save_state(&self) -> Option<&'static str> {
        self.project.as_ref().map(status::save_state)
    }

    pub fn selected_category(&self) -> Option<crate::annotate::dataset::CategoryId> {
        self.selection.category
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
