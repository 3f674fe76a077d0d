//! The window's dialogs: open, export, the model picker, quit with unaccepted masks, the shortcut list. Each is a panel
//! struct like the others: it holds whether it is open and what is typed, and returns commands. A path
//! is typed, picked in the in-window browser (which always works), or chosen with the system's file
//! dialog where a desktop portal answers it.

use std::path::{Path, PathBuf};

use egui::RichText;

use super::command::{Command, OpenKind, SHORTCUTS};
use super::status::ModelStatus;
use crate::annotate::export::Format;
use crate::imageio::IMAGE_EXTENSIONS;
use crate::sam::family::Family;
use crate::sam::hub::{self, Manifest, ModelSource};

/// The in-window file browser: works on any desktop, also where no file-dialog portal runs.
#[derive(Default)]
pub(super) struct Browser {
    dialog: Option<egui_file::FileDialog>,
}

impl Browser {
    pub(super) fn open(&mut self, folders: bool, start: &str) {
        let start = Path::new(start);
        // Start in the folder the path field names (or the one above a file it names).
        let folder = if start.is_dir() {
            start
        } else {
            start.parent().unwrap_or(Path::new("."))
        };
        let dialog = if folders {
            egui_file::FileDialog::select_folder()
        } else {
            egui_file::FileDialog::open_file()
        };
        let mut dialog = dialog
            .initial_path(folder)
            .show_rename(false)
            .show_new_folder(folders)
            .id(egui::Id::unique("samlabel-browser"));
        dialog.open();
        self.dialog = Some(dialog);
    }

    /// "Browse..." (this browser) and "System dialog..." (the desktop's, where a portal answers)
    /// for a folder field.
    fn folder_buttons(&mut self, ui: &mut egui::Ui, field: &mut String) {
        if ui.button("Browse...").clicked() {
            self.open(true, field);
        }
        if ui
            .button("System dialog...")
            .on_hover_text("needs a desktop file-dialog service (portal)")
            .clicked()
            && let Some(dir) = rfd::FileDialog::new().pick_folder()
        {
            *field = dir.display().to_string();
        }
    }

    /// Shows the browser while it is open and writes the chosen path into `field`; true while it
    /// is open (the dialog's modal waits meanwhile: it would block the browser's window).
    pub(super) fn ui(&mut self, ctx: &egui::Context, field: &mut String) -> bool {
        let Some(dialog) = self.dialog.as_mut() else {
            return false;
        };
        if dialog.show(ctx).selected()
            && let Some(path) = dialog.path()
        {
            *field = path.display().to_string();
        }
        if !dialog.visible() {
            self.dialog = None;
        }
        self.dialog.is_some()
    }
}

/// File > Export: a format, a folder (prefilled beside the dataset), and the last export's summary.
#[derive(Default)]
pub struct ExportDialog {
    format: Option<Format>,
    folder: String,
    /// The folder field takes the keyboard when the dialog opens: Enter exports.
    focus: bool,
    browser: Browser,
    /// What the last export wrote (or why it failed), shown until the dialog closes.
    pub outcome: Option<String>,
}

impl ExportDialog {
    /// Opens the dialog for `format`, with a folder beside the dataset.
    pub fn open(&mut self, format: Format, dataset: &Path) {
        let root = dataset.parent().unwrap_or(Path::new("."));
        self.folder = root.join(format.default_folder()).display().to_string();
        self.format = Some(format);
        self.outcome = None;
        self.focus = true;
    }

    pub fn is_open(&self) -> bool {
        self.format.is_some()
    }

    pub fn ui(&mut self, ctx: &egui::Context) -> Vec<Command> {
        let mut commands = Vec::new();
        let Some(format) = self.format else {
            return commands;
        };
        if self.browser.ui(ctx, &mut self.folder) {
            return commands;
        }
        let mut close = false;
        egui::Modal::new(egui::Id::unique("samlabel-export")).show(ctx, |ui| {
            ui.heading(format!("Export as {}", format.label()));
            ui.label("Folder (created if needed; existing files of the export are replaced):");
            let field = ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(420.0));
            if std::mem::take(&mut self.focus) {
                field.request_focus();
            }
            let typed_enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                self.browser.folder_buttons(ui, &mut self.folder);
                let folder = self.folder.trim();
                let export = ui.add_enabled(!folder.is_empty(), egui::Button::new("Export"));
                if (export.clicked() || typed_enter) && !folder.is_empty() {
                    commands.push(Command::Export {
                        format,
                        folder: Some(PathBuf::from(folder)),
                    });
                }
                if ui.button("Close").clicked() {
                    close = true;
                }
            });
            if let Some(outcome) = &self.outcome {
                ui.separator();
                ui.add(egui::Label::new(outcome.as_str()).wrap());
            }
        });
        if close || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.format = None;
        }
        commands
    }
}

/// File > Open: a path to type (prefilled with the dataset's folder) or to choose with the system's
/// file dialog where one runs.
#[derive(Default)]
pub struct OpenDialog {
    kind: Option<OpenKind>,
    path: String,
    browser: Browser,
}

impl OpenDialog {
    pub fn open(&mut self, kind: OpenKind, folder: &Path) {
        self.kind = Some(kind);
        self.path = folder.display().to_string();
    }

    pub fn is_open(&self) -> bool {
        self.kind.is_some()
    }

    pub fn ui(&mut self, ctx: &egui::Context) -> Vec<Command> {
        let mut commands = Vec::new();
        let Some(kind) = self.kind else {
            return commands;
        };
        let (title, hint) = match kind {
            OpenKind::Images => ("Open images", "an image file, or a folder of images"),
            OpenKind::Folder => ("Open a folder", "a folder of images"),
            OpenKind::Dataset => (
                "Open a dataset",
                "a COCO JSON file (created if it does not exist)",
            ),
        };
        if self.browser.ui(ctx, &mut self.path) {
            return commands;
        }
        let mut close = false;
        egui::Modal::new(egui::Id::unique("samlabel-open")).show(ctx, |ui| {
            ui.heading(title);
            ui.label(format!("Path to {hint}:"));
            let response = ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0));
            let typed_enter =
                response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                if ui.button("Browse...").clicked() {
                    self.browser.open(kind == OpenKind::Folder, &self.path);
                }
                if ui
                    .button("System dialog...")
                    .on_hover_text("needs a desktop file-dialog service (portal)")
                    .clicked()
                {
                    let dialog = rfd::FileDialog::new().set_directory(&self.path);
                    let picked = match kind {
                        OpenKind::Images => dialog
                            .add_filter("images", &IMAGE_EXTENSIONS)
                            .pick_files()
                            .map(Command::OpenPaths),
                        OpenKind::Folder => dialog
                            .pick_folder()
                            .map(|dir| Command::OpenPaths(vec![dir])),
                        OpenKind::Dataset => dialog
                            .add_filter("COCO JSON", &["json"])
                            .pick_file()
                            .map(Command::OpenDataset),
                    };
                    if let Some(command) = picked {
                        commands.push(command);
                        close = true;
                    }
                }
                let path = PathBuf::from(self.path.trim());
                let ready = !self.path.trim().is_empty();
                if (ui.add_enabled(ready, egui::Button::new("Open")).clicked() || typed_enter)
                    && ready
                {
                    commands.push(match kind {
                        OpenKind::Dataset => Command::OpenDataset(path),
                        OpenKind::Images | OpenKind::Folder => Command::OpenPaths(vec![path]),
                    });
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if close || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.kind = None;
        }
        commands
    }
}

/// Asks before quitting when masks were not accepted.
#[derive(Default)]
pub struct QuitDialog {
    /// Images whose masks were not accepted, while the question is open.
    pub asking: Option<usize>,
}

impl QuitDialog {
    pub fn ui(&mut self, ctx: &egui::Context) -> Vec<Command> {
        let mut commands = Vec::new();
        let Some(count) = self.asking else {
            return commands;
        };
        egui::Modal::new(egui::Id::unique("samlabel-quit")).show(ctx, |ui| {
            let images = if count == 1 {
                "image has"
            } else {
                "images have"
            };
            ui.label(format!(
                "{count} {images} a mask that was not accepted with Enter. Quit and discard it?"
            ));
            ui.horizontal(|ui| {
                if ui.button("Keep working").clicked() {
                    self.asking = None;
                }
                if ui.button("Discard and quit").clicked() {
                    self.asking = None;
                    commands.push(Command::QuitDiscarding);
                }
            });
        });
        commands
    }
}

/// F1 / ?: every key in one list.
#[derive(Default)]
pub struct ShortcutsOverlay {
    pub open: bool,
}

impl ShortcutsOverlay {
    pub fn ui(&mut self, ctx: &egui::Context) -> Vec<Command> {
        if !self.open {
            return Vec::new();
        }
        let mut commands = Vec::new();
        egui::Modal::new(egui::Id::unique("samlabel-shortcuts")).show(ctx, |ui| {
            ui.heading("Keys");
            egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                for (keys, does) in SHORTCUTS {
                    ui.label(RichText::new(keys).strong());
                    ui.label(does);
                    ui.end_row();
                }
            });
            if ui.button("Close (F1, Esc)").clicked() {
                commands.push(Command::ToggleShortcuts);
            }
        });
        if ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.open = false;
        }
        commands
    }
}

/// Model > Choose model: the known models (downloaded or not, with family and download size) and
/// model folders on disk. Choosing one switches the model without a restart; the prompt on the
/// current image is kept and decoded again with the new model.
#[derive(Default)]
pub struct ModelPicker {
    pub open: bool,
    /// The model folder typed or picked.
    folder: String,
    browser: Browser,
    /// The known models as they were when the picker opened.
    known: Vec<KnownModel>,
}

struct KnownModel {
    name: String,
    description: String,
    family: Family,
    download_mb: f64,
    downloaded: bool,
}

impl ModelPicker {
    /// Opens the picker (reading which known models are downloaded), or closes it.
    pub fn toggle(&mut self) {
        self.open = !self.open;
        if !self.open {
            return;
        }
        self.known = Manifest::builtin()
            .map(|manifest| {
                manifest
                    .models
                    .into_iter()
                    .map(|m| KnownModel {
                        downloaded: hub::is_downloaded(&m.name),
                        download_mb: m.archive.size as f64 / 1e6,
                        family: m.family.unwrap_or(Family::Sam1),
                        description: m.description,
                        name: m.name,
                    })
                    .collect()
            })
            .unwrap_or_default();
    }

    pub fn ui(&mut self, ctx: &egui::Context, in_use: &ModelStatus) -> Vec<Command> {
        let mut commands = Vec::new();
        if !self.open || self.browser.ui(ctx, &mut self.folder) {
            return commands;
        }
        egui::Modal::new(egui::Id::unique("samlabel-models")).show(ctx, |ui| {
            ui.heading("Model");
            ui.label(match in_use {
                ModelStatus::Ready {
                    name,
                    family,
                    provider,
                } => format!("In use: {family} {name} on {provider}."),
                ModelStatus::Loading | ModelStatus::Downloading(..) => "Loading a model...".into(),
                ModelStatus::Failed(reason) => format!("No model in use: {reason}"),
            });
            ui.label(
                "The prompt on the current image is kept and segmented again with the new model.",
            );
            ui.separator();
            egui::Grid::new("samlabel-known-models")
                .striped(true)
                .show(ui, |ui| {
                    for model in &self.known {
                        ui.label(RichText::new(&model.name).strong())
                            .on_hover_text(&model.description);
                        ui.label(model.family.to_string());
                        ui.label(if model.downloaded {
                            "downloaded".to_string()
                        } else {
                            format!("{:.0} MB to download", model.download_mb)
                        });
                        if ui.button("Use").clicked() {
                            commands
                                .push(Command::UseModel(ModelSource::Named(model.name.clone())));
                        }
                        ui.end_row();
                    }
                });
            ui.separator();
            ui.label("Or a model folder (encoder.onnx and decoder.onnx, SAM or SAM 2.1):");
            let field = ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(420.0));
            let typed_enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                self.browser.folder_buttons(ui, &mut self.folder);
                let folder = self.folder.trim();
                let use_folder =
                    ui.add_enabled(!folder.is_empty(), egui::Button::new("Use folder"));
                if (use_folder.clicked() || typed_enter) && !folder.is_empty() {
                    commands.push(Command::UseModel(ModelSource::Dir(PathBuf::from(folder))));
                }
                if ui.button("Close").clicked() {
                    commands.push(Command::ToggleModels);
                }
            });
        });
        if ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.open = false;
        }
        commands
    }
}
