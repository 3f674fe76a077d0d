//! What the window tells the user: the model's state, the last encode and decode times, messages,
//! and the status bar and message list that show them.

use egui::{Color32, RichText};

use super::canvas::Tool;
use super::command::Command;
use super::images::EmbedState;
use super::prompt::Preview;
use crate::project::Project;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageLevel {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub level: MessageLevel,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ModelStatus {
    Loading,
    Downloading(u64, u64),
    Ready {
        name: String,
        family: String,
        provider: String,
    },
    Failed(String),
}

/// The five newest messages are kept.
const MESSAGES_KEPT: usize = 5;

pub struct Status {
    pub model: ModelStatus,
    /// While another model loads: the one in use until then (shown again if the new one fails).
    pub switching_from: Option<ModelStatus>,
    pub messages: Vec<Message>,
    pub last_encode_ms: Option<f64>,
    pub last_decode_ms: Option<f64>,
    /// What the last undo, redo or delete did ("undid: add 'cup' #3 on a.jpg").
    pub last_step: Option<String>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            model: ModelStatus::Loading,
            switching_from: None,
            messages: Vec::new(),
            last_encode_ms: None,
            last_decode_ms: None,
            last_step: None,
        }
    }
}

impl Status {
    /// Tells the user something in the window (and the log).
    pub fn notify(&mut self, level: MessageLevel, text: impl Into<String>) {
        let text = text.into();
        match level {
            MessageLevel::Error => tracing::error!("{text}"),
            MessageLevel::Warning => tracing::warn!("{text}"),
            MessageLevel::Info => tracing::info!("{text}"),
        }
        self.messages.push(Message { level, text });
        if self.messages.len() > MESSAGES_KEPT {
            self.messages.remove(0);
        }
    }

    /// Like `notify`, once: nothing if the same text is already shown.
    pub fn notify_once(&mut self, level: MessageLevel, text: String) {
        if !self.messages.iter().any(|m| m.text == text) {
            self.notify(level, text);
        }
    }
}

fn error_color() -> Color32 {
    Color32::from_rgb(255, 110, 110)
}

/// The messages, each with a dismiss button; long ones wrap.
#[derive(Default)]
pub struct MessageList;

impl MessageList {
    pub fn ui(&mut self, ui: &mut egui::Ui, messages: &[Message]) -> Vec<Command> {
        let mut commands = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let color = match message.level {
                MessageLevel::Error => error_color(),
                MessageLevel::Warning => Color32::from_rgb(255, 200, 90),
                MessageLevel::Info => ui.visuals().text_color(),
            };
            ui.horizontal_top(|ui| {
                if ui.small_button("x").on_hover_text("dismiss").clicked() {
                    commands.push(Command::DismissMessage(i));
                }
                // Long messages (paths, reasons) wrap instead of widening the panel.
                ui.add(egui::Label::new(RichText::new(&message.text).color(color)).wrap());
            });
        }
        commands
    }
}

/// The dataset's state in the status bar's words.
pub fn save_state(project: &Project) -> &'static str {
    if project.load_error.is_some() {
        "read-only (file unreadable)"
    } else if project.busy.is_some() {
        "read-only (open in another samlabel)"
    } else if project.is_dirty() {
        "unsaved"
    } else if !project.path.is_file() {
        "new: nothing to save yet"
    } else {
        "saved"
    }
}

/// What the status bar shows.
pub struct StatusLine<'a> {
    pub status: &'a Status,
    pub embed: Option<&'a EmbedState>,
    pub zoom: f32,
    pub preview: Option<&'a Preview>,
    pub project: Option<&'a Project>,
    /// The current image's place in the list: (1-based position, count).
    pub position: Option<(usize, usize)>,
    pub category: Option<&'a str>,
    pub tool: Tool,
}

/// The bottom bar: model, encoder progress, zoom, timings, the candidate shown, the dataset's state.
#[derive(Default)]
pub struct StatusBar;

impl StatusBar {
    pub fn ui(&mut self, ui: &mut egui::Ui, line: &StatusLine<'_>) {
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                let status = line.status;
                match &status.model {
                    ModelStatus::Loading => {
                        ui.spinner();
                        ui.label("loading model...");
                    }
                    ModelStatus::Downloading(done, total) => {
                        ui.spinner();
                        ui.label(format!(
                            "downloading model: {:.0} / {:.0} MB",
                            *done as f64 / 1e6,
                            *total as f64 / 1e6
                        ));
                    }
                    ModelStatus::Ready {
                        name,
                        family,
                        provider,
                    } => {
                        ui.label(format!("{family}: {name} ({provider})"));
                    }
                    ModelStatus::Failed(_) => {
                        ui.label(RichText::new("no model").color(error_color()));
                    }
                }
                ui.separator();
                match line.embed {
                    Some(EmbedState::Encoding(since)) => {
                        ui.spinner();
                        ui.label(format!(
                            "encoding image... {:.1} s",
                            since.elapsed().as_secs_f32()
                        ));
                    }
                    Some(EmbedState::Waiting) if matches!(status.model, ModelStatus::Failed(_)) => {
                        ui.label("cannot segment without a model");
                    }
                    Some(EmbedState::Waiting) => {
                        ui.label("waiting for the encoder...");
                    }
                    Some(EmbedState::Ready) => {
                        ui.label("ready: click an object");
                    }
                    Some(EmbedState::Failed(_)) => {
                        ui.label("this image cannot be segmented");
                    }
                    None => {}
                }
                ui.separator();
                if let Some((at, of)) = line.position {
                    ui.label(format!("image {at} / {of}"));
                }
                let mode = match line.tool {
                    Tool::Prompt => "prompting",
                    Tool::Brush => "brush",
                    Tool::Eraser => "eraser",
                    Tool::Polygon => "polygon tool",
                    Tool::Vertices => "editing polygons",
                };
                ui.label(mode);
                ui.label(format!(
                    "category: {}",
                    line.category.unwrap_or("object (new)")
                ));
                ui.separator();
                ui.label(format!("zoom {:.0}%", line.zoom * 100.0));
                if let Some(ms) = status.last_encode_ms {
                    ui.separator();
                    ui.label(format!("encode {ms:.0} ms"));
                }
                if let Some(ms) = status.last_decode_ms {
                    ui.label(format!("decode {ms:.0} ms"));
                }
                if let Some(preview) = line.preview.filter(|p| !p.is_hover()) {
                    ui.separator();
                    match preview.predicted() {
                        Some(p) if p.candidates.count() == 4 && p.index > 0 => {
                            ui.label(format!(
                                "candidate {}/3 (Tab), score {:.2}",
                                p.index,
                                p.score()
                            ));
                        }
                        Some(p) => {
                            let edited = if preview.is_edited() { ", brushed" } else { "" };
                            ui.label(format!("score {:.2}{edited}", p.score()));
                        }
                        None => {
                            ui.label("painted by hand");
                        }
                    }
                }
                if let Some(step) = &status.last_step {
                    ui.separator();
                    ui.label(step);
                }
                if let Some(project) = line.project {
                    ui.separator();
                    let state = save_state(project);
                    ui.label(format!("{} ({state})", project.path.display()));
                }
            });
        });
    }
}
