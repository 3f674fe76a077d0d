//! Find (SAM 3): type what to look for, get every instance as proposals coloured by phrase, click
//! (or tick) the right ones and accept them under a category named after their phrase. Example
//! boxes (Shift+drag: like this; Ctrl+drag: not like this) refine the search and run it again.

use std::path::{Path, PathBuf};

use egui::RichText;

use super::SamApp;
use super::command::Command;
use super::proposals::{Listed, phrase_color};
use super::status::MessageLevel;
use super::worker::{FindJob, Request};
use crate::sam::concept::{DEFAULT_THRESHOLD, ExampleBox, split_phrases};

/// How the panel names what example boxes alone found (accepted under the selected category).
const LIKE_EXAMPLES: &str = "like the examples";

/// The Find panel's own state: what is typed and the threshold.
pub struct FindPanel {
    pub open: bool,
    pub text: String,
    pub threshold: f32,
    /// Give the text field the keyboard when the panel opens.
    focus: bool,
}

impl Default for FindPanel {
    fn default() -> Self {
        Self {
            open: false,
            text: String::new(),
            threshold: DEFAULT_THRESHOLD,
            focus: false,
        }
    }
}

/// What the Find panel shows.
pub struct FindView<'a> {
    pub running: bool,
    pub stage: Option<&'a str>,
    pub phrases: &'a [Option<String>],
    pub listed: Vec<Listed>,
    pub examples: &'a [ExampleBox],
    /// The SAM 3 model in use, once one answered.
    pub model: Option<&'a str>,
}

/// Example boxes of the image on screen, the SAM 3 model's name, and what a running Find does.
#[derive(Default)]
pub struct FindState {
    /// Said while a Find runs ("encoding the image"); `None`: deciding.
    pub stage: Option<&'static str>,
    pub examples: Vec<ExampleBox>,
    /// The image the examples were drawn on.
    pub path: Option<PathBuf>,
    pub model: Option<String>,
}

impl FindPanel {
    pub fn toggle(&mut self) {
        self.open = !self.open;
        self.focus = self.open;
    }

    pub fn ui(&mut self, ctx: &egui::Context, view: &FindView<'_>) -> Vec<Command> {
        let mut commands = Vec::new();
        let mut open = self.open;
        egui::Window::new("Find")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            // Over the canvas's right edge, clear of the categories panel and the messages.
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-350.0, 110.0))
            .show(ctx, |ui| {
                ui.set_width(300.0);
                ui.horizontal(|ui| {
                    let label = ui.label("Find:");
                    let field = egui::TextEdit::singleline(&mut self.text)
                        .hint_text("car, person")
                        .desired_width(170.0);
                    let response = ui.add(field).labelled_by(label.id);
                    if std::mem::take(&mut self.focus) {
                        response.request_focus();
                    }
                    let entered =
                        response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if entered || ui.button("Find").clicked() {
                        commands.push(Command::Find(self.text.clone()));
                    }
                });
                let mut threshold = self.threshold;
                let slider = egui::Slider::new(&mut threshold, 0.0..=1.0)
                    .text("min score")
                    .fixed_decimals(2);
                if ui.add(slider).changed() {
                    commands.push(Command::FindThreshold(threshold));
                }
                let positive = view.examples.iter().filter(|b| b.positive).count();
                let negative = view.examples.len() - positive;
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(format!(
                            "examples: {positive} like, {negative} unlike (Shift+drag / Ctrl+drag)"
                        ))
                        .small(),
                    );
                    if !view.examples.is_empty() && ui.small_button("clear").clicked() {
                        commands.push(Command::ClearFindExamples);
                    }
                });
                if let Some(model) = view.model {
                    ui.label(RichText::new(format!("SAM 3: {model}")).small().weak());
                }
                if view.running {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("{}...", view.stage.unwrap_or("finding")));
                    });
                    return;
                }
                if view.phrases.is_empty() {
                    return;
                }
                ui.separator();
                let selected = view.listed.iter().filter(|l| l.selected).count();
                let name = |group: usize| {
                    view.phrases
                        .get(group)
                        .and_then(Option::as_deref)
                        .unwrap_or(LIKE_EXAMPLES)
                };
                for group in 0..view.phrases.len() {
                    let phrase = name(group);
                    let count = view.listed.iter().filter(|l| l.group == group).count();
                    ui.label(
                        RichText::new(format!("■ {phrase}: {count} found"))
                            .color(phrase_color(group)),
                    );
                }
                egui::ScrollArea::vertical()
                    .max_height(180.0)
                    .show(ui, |ui| {
                        for item in &view.listed {
                            let phrase = name(item.group);
                            let mut checked = item.selected;
                            let text = RichText::new(format!("{phrase}  {:.2}", item.score))
                                .color(phrase_color(item.group));
                            if ui.checkbox(&mut checked, text).changed() {
                                commands.push(Command::ToggleProposal(item.index));
                            }
                        }
                    });
                ui.horizontal(|ui| {
                    let accept = egui::Button::new("Accept selected (Enter)");
                    if ui.add_enabled(selected > 0, accept).clicked() {
                        commands.push(Command::AcceptProposals { all: false });
                    }
                    if ui
                        .add_enabled(!view.listed.is_empty(), egui::Button::new("Accept all"))
                        .clicked()
                    {
                        commands.push(Command::AcceptProposals { all: true });
                    }
                    if ui.button("Discard (Esc)").clicked() {
                        commands.push(Command::DiscardProposals);
                    }
                });
            });
        if !open {
            self.open = false;
        }
        commands
    }
}

impl SamApp {
    /// Runs Find on the image on screen: each phrase of `text`, with the example boxes drawn on it.
    pub(super) fn find(&mut self, text: &str) {
        let Some(view) = self.images.view() else {
            return;
        };
        let (path, image) = (view.path.clone(), view.image.clone());
        if self.find.path.as_ref() != Some(&path) {
            self.find.examples.clear();
            self.find.path = Some(path.clone());
        }
        let phrases = split_phrases(text);
        if phrases.is_empty() && self.find.examples.is_empty() {
            self.notify(
                MessageLevel::Info,
                "type what to find (e.g. \"car, person\"), or Shift+drag a box around an example",
            );
            return;
        }
        self.panels.find.open = true;
        let shown = if phrases.is_empty() {
            vec![None]
        } else {
            phrases.iter().cloned().map(Some).collect()
        };
        if self.proposals.running.is_some() && !self.proposals.is_find() {
            self.worker.send(Request::CancelEverything);
        }
        self.proposals.start_find(&path, shown);
        self.find.stage = None;
        self.worker.send(Request::Find(FindJob {
            path,
            image,
            phrases,
            boxes: self.find.examples.clone(),
            threshold: self.panels.find.threshold,
        }));
    }

    /// An example box drawn with Shift (like this) or Ctrl (not like this): Find runs again.
    pub(super) fn find_example(&mut self, [x0, y0, x1, y1]: [f32; 4], positive: bool) {
        let Some(path) = self.images.view().map(|v| v.path.clone()) else {
            return;
        };
        if self.find.path.as_ref() != Some(&path) {
            self.find.examples.clear();
            self.find.path = Some(path);
        }
        self.find.examples.push(ExampleBox {
            x0,
            y0,
            x1,
            y1,
            positive,
        });
        let text = self.panels.find.text.clone();
        self.find(&text);
    }

    /// A new "min score": the instances on screen are found again with it.
    pub(super) fn find_threshold(&mut self, threshold: f32) {
        self.panels.find.threshold = threshold.clamp(0.0, 1.0);
        let on_screen = self.images.view().map(|v| v.path.clone());
        if self.proposals.is_find()
            && self.proposals.running.is_none()
            && self.proposals.path().map(Path::to_path_buf) == on_screen
        {
            let text = self.panels.find.text.clone();
            self.find(&text);
        }
    }

    /// The Find panel, while it is open.
    pub(super) fn find_panel(&mut self, ctx: &egui::Context) -> Vec<Command> {
        if !self.panels.find.open {
            return Vec::new();
        }
        let current = self.images.view().map(|v| v.path.clone());
        let examples: &[ExampleBox] = if self.find.path == current {
            &self.find.examples
        } else {
            &[]
        };
        let is_find = self.proposals.is_find();
        let view = FindView {
            running: is_find && self.proposals.running.is_some(),
            stage: self.find.stage,
            phrases: if is_find {
                &self.proposals.phrases
            } else {
                &[]
            },
            listed: if is_find {
                self.proposals.listed()
            } else {
                Vec::new()
            },
            examples,
            model: self.find.model.as_deref(),
        };
        self.panels.find.ui(ctx, &view)
    }
}
