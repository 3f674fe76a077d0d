//! File > Import: labelme, YOLO or CVAT labels into the open dataset. The files are read and checked
//! on a thread of their own (a big folder takes a while); what they hold is then added as one edit,
//! so one Ctrl+Z takes the whole import back, and a bad file adds nothing.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};

use super::SamApp;
use super::command::Command;
use super::dialogs::Browser;
use super::status::MessageLevel;
use crate::annotate::import::{self, ImportError, Parsed, Source};

/// The import dialog: a format and the path of its files.
#[derive(Default)]
pub struct ImportDialog {
    source: Option<Source>,
    path: String,
    browser: Browser,
    /// The last import's summary (or why it failed), shown until the dialog closes.
    pub outcome: Option<String>,
}

/// Where each format's labels are: files or a folder, in words.
fn what_to_give(source: Source) -> &'static str {
    match source {
        Source::Labelme => "a labelme .json file, or a folder of them (searched recursively)",
        Source::YoloSeg => "a YOLO dataset folder (with data.yaml) or its data.yaml",
        Source::Cvat => "a CVAT for images 1.1 annotations.xml",
    }
}

impl ImportDialog {
    pub fn open(&mut self, source: Source, folder: &Path) {
        self.source = Some(source);
        self.path = folder.display().to_string();
        self.outcome = None;
    }

    pub fn is_open(&self) -> bool {
        self.source.is_some()
    }

    /// `busy`: an import is being read (the button waits).
    pub fn ui(&mut self, ctx: &egui::Context, busy: bool) -> Vec<Command> {
        let mut commands = Vec::new();
        let Some(source) = self.source else {
            return commands;
        };
        if self.browser.ui(ctx, &mut self.path) {
            return commands;
        }
        let mut close = false;
        egui::Modal::new(egui::Id::unique("samlabel-import")).show(ctx, |ui| {
            ui.heading(format!("Import {}", source.label()));
            ui.label(format!("Path to {}:", what_to_give(source)));
            let field = ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(420.0));
            let typed_enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                let folders = source != Source::Cvat;
                if ui.button("Browse file...").clicked() {
                    self.browser.open(false, &self.path);
                }
                if folders && ui.button("Browse folder...").clicked() {
                    self.browser.open(true, &self.path);
                }
                let path = self.path.trim();
                let ready = !path.is_empty() && !busy;
                let label = if busy { "Reading..." } else { "Import" };
                if (ui.add_enabled(ready, egui::Button::new(label)).clicked() || typed_enter)
                    && ready
                {
                    commands.push(Command::Import {
                        source,
                        path: PathBuf::from(path),
                    });
                }
                if ui.button("Close").clicked() {
                    close = true;
                }
            });
            ui.small(
                "Images are matched to the dataset's by path, categories by name; boxes become \
                 box-only annotations (SAM > Masks from boxes turns them into masks). One Ctrl+Z \
                 takes the import back.",
            );
            if let Some(outcome) = &self.outcome {
                ui.separator();
                ui.add(egui::Label::new(outcome.as_str()).wrap());
            }
        });
        if close || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.source = None;
        }
        commands
    }
}

/// An import being read on its thread.
pub struct Reading {
    source: Source,
    path: PathBuf,
    answer: Receiver<Result<Parsed, ImportError>>,
}

impl SamApp {
    /// Starts reading `path` as `source` on a thread; `poll_import` adds it when it is read.
    pub(super) fn start_import(&mut self, source: Source, path: PathBuf) {
        if self.project.is_none() || self.importing.is_some() {
            return;
        }
        let (send, answer) = std::sync::mpsc::channel();
        let inputs = vec![path.clone()];
        let ctx = self.env.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("samlabel-import".into())
            .spawn(move || {
                let _ = send.send(import::read(source, &inputs));
                if let Some(ctx) = ctx {
                    ctx.request_repaint();
                }
            });
        match spawned {
            Ok(_) => {
                self.status.last_step = Some(format!("reading {}...", path.display()));
                self.importing = Some(Reading {
                    source,
                    path,
                    answer,
                });
            }
            Err(err) => self.notify(
                MessageLevel::Error,
                format!("cannot start the import: {err}"),
            ),
        }
    }

    /// Whether an import is being read.
    pub fn is_importing(&self) -> bool {
        self.importing.is_some()
    }

    /// Adds a finished import to the dataset (one undo step) and lists its new images.
    pub(super) fn poll_import(&mut self) {
        let Some(reading) = self.importing.as_ref() else {
            return;
        };
        let parsed = match reading.answer.try_recv() {
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the import stopped unexpectedly".to_string()),
            Ok(result) => result.map_err(|e| e.to_string()),
        };
        let Some(Reading { source, path, .. }) = self.importing.take() else {
            return;
        };
        let outcome = parsed.and_then(|parsed| self.add_import(&parsed));
        let text = match outcome {
            Ok(summary) => {
                self.status.last_step = Some(format!("imported {}", source.label()));
                self.notify(MessageLevel::Info, summary.clone());
                summary
            }
            Err(err) => {
                let text = format!("nothing was imported from {}: {err}", path.display());
                self.notify(MessageLevel::Error, text.clone());
                text
            }
        };
        self.panels.import.outcome = Some(text);
    }

    fn add_import(&mut self, parsed: &Parsed) -> Result<String, String> {
        let project = self
            .project
            .as_mut()
            .ok_or_else(|| "no dataset is open".to_string())?;
        if let Some(reason) = project.read_only_reason() {
            return Err(format!("the dataset is read-only: {reason}"));
        }
        let plan = parsed
            .plan(&project.dataset, &project.root)
            .map_err(|e| e.to_string())?;
        project.apply(plan.edit).map_err(|e| e.to_string())?;
        self.add_dataset_images();
        self.images.sort_natural();
        if self.images.current().is_none() && !self.images.items().is_empty() {
            self.select_image(0);
        }
        Ok(plan.summary.to_string())
    }
}
