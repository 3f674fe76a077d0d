//! The panels around the canvas. Each is a struct with its own state and a `ui` that reads what it
//! shows and returns the user's commands; none changes the app itself.

use egui::RichText;

use super::canvas::Tool;
use super::command::{Command, IMAGE_DONE, IMAGE_EMPTY, OpenKind, ViewChange};
use super::dialogs::{ExportDialog, ModelPicker, OpenDialog, QuitDialog, ShortcutsOverlay};
use super::images::{EmbedState, Images};
use super::selection::ViewOptions;
use super::side::{CategoryPanel, InstancePanel};
use super::status::{Message, MessageList, StatusBar};
use crate::annotate::export::Format;
use crate::project;
use crate::sam::everything::EverythingOptions;
use crate::sam::family::Family;

pub struct Panels {
    pub menu: MenuBar,
    pub start: StartScreen,
    pub images: ImageList,
    pub categories: CategoryPanel,
    pub instances: InstancePanel,
    pub status: StatusBar,
    pub messages: MessageList,
    pub export: ExportDialog,
    pub import: super::import::ImportDialog,
    pub open: OpenDialog,
    pub quit: QuitDialog,
    pub shortcuts: ShortcutsOverlay,
    pub models: ModelPicker,
    pub proposals: ProposalsPanel,
    pub find: super::find::FindPanel,
    /// The image list and the right panel can be collapsed (View menu).
    pub show_images: bool,
    pub show_side: bool,
}

impl Default for Panels {
    fn default() -> Self {
        Self {
            menu: MenuBar,
            start: StartScreen,
            images: ImageList,
            categories: CategoryPanel::default(),
            instances: InstancePanel,
            status: StatusBar,
            messages: MessageList,
            export: ExportDialog::default(),
            import: super::import::ImportDialog::default(),
            open: OpenDialog::default(),
            quit: QuitDialog::default(),
            shortcuts: ShortcutsOverlay::default(),
            models: ModelPicker::default(),
            proposals: ProposalsPanel::default(),
            find: super::find::FindPanel::default(),
            show_images: true,
            show_side: true,
        }
    }
}

impl Panels {
    /// Whether a dialog has the keyboard: the canvas's keys wait.
    pub fn dialog_open(&self) -> bool {
        self.export.is_open()
            || self.import.is_open()
            || self.open.is_open()
            || self.quit.asking.is_some()
            || self.shortcuts.open
            || self.models.open
    }
}

/// What the menu bar shows the state of.
pub struct MenuState {
    pub has_project: bool,
    pub tool: Tool,
    pub brush_radius: f32,
    pub view: ViewOptions,
    pub show_images: bool,
    pub show_side: bool,
}

/// File and Edit menus, and the tool buttons.
#[derive(Default)]
pub struct MenuBar;

impl MenuBar {
    pub fn ui(&mut self, ui: &mut egui::Ui, state: &MenuState) -> Vec<Command> {
        let (has_project, tool) = (state.has_project, state.tool);
        let mut commands = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| {
                ui.menu_button("File", |ui| {
                    let items = [
                        ("Open images...", Command::OpenDialog(OpenKind::Images)),
                        ("Open folder...", Command::OpenDialog(OpenKind::Folder)),
                        ("Open dataset...", Command::OpenDialog(OpenKind::Dataset)),
                    ];
                    for (label, command) in items {
                        if ui.button(label).clicked() {
                            commands.push(command);
                        }
                    }
                    ui.separator();
                    if ui
                        .add_enabled(has_project, egui::Button::new("Save  (Ctrl+S)"))
                        .clicked()
                    {
                        commands.push(Command::Save);
                    }
                    ui.add_enabled_ui(has_project, |ui| {
                        ui.menu_button("Import", |ui| {
                            for source in crate::annotate::import::Source::ALL {
                                if ui.button(format!("{}...", source.label())).clicked() {
                                    commands.push(Command::ImportDialog(source));
                                }
                            }
                        });
                        ui.menu_button("Export", |ui| {
                            for format in Format::ALL {
                                if ui.button(format!("{}...", format.label())).clicked() {
                                    commands.push(Command::Export {
                                        format,
                                        folder: None,
                                    });
                                }
                            }
                        });
                    });
                    ui.separator();
                    if ui.button("Quit  (Ctrl+Q)").clicked() {
                        commands.push(Command::Quit);
                    }
                });
                ui.menu_button("Edit", |ui| {
                    if ui.button("Undo  (Ctrl+Z)").clicked() {
                        commands.push(Command::Undo);
                    }
                    if ui.button("Redo  (Ctrl+Shift+Z, Ctrl+Y)").clicked() {
                        commands.push(Command::Redo);
                    }
                    ui.separator();
                    if ui.button("Edit as polygon  (V)").clicked() {
                        commands.push(Command::EditPolygons);
                    }
                    ui.separator();
                    if ui.button("Mark image done  (Ctrl+D)").clicked() {
                        commands.push(Command::MarkImage(IMAGE_DONE));
                    }
                    if ui.button("Mark image: no objects  (Ctrl+E)").clicked() {
                        commands.push(Command::MarkImage(IMAGE_EMPTY));
                    }
                });
                ui.menu_button("View", |ui| {
                    let view = state.view;
                    let toggles = [
                        (view.masks_visible, "Masks", ViewChange::ToggleMasks),
                        (
                            view.outlines_only,
                            "Outlines only",
                            ViewChange::ToggleOutlinesOnly,
                        ),
                        (state.show_images, "Image list", ViewChange::ToggleImageList),
                        (
                            state.show_side,
                            "Categories panel",
                            ViewChange::ToggleSidePanel,
                        ),
                    ];
                    for (on, label, change) in toggles {
                        let mut checked = on;
                        if ui.checkbox(&mut checked, label).clicked() {
                            commands.push(Command::View(change));
                        }
                    }
                    let mut opacity = view.opacity;
                    if ui
                        .add(egui::Slider::new(&mut opacity, 0.0..=1.0).text("mask opacity"))
                        .changed()
                    {
                        commands.push(Command::View(ViewChange::Opacity(opacity)));
                    }
                });
                ui.menu_button("SAM", |ui| {
                    if ui.button("Segment everything  (G)").clicked() {
                        commands.push(Command::SegmentEverything(None));
                    }
                    if ui.button("Find by name (SAM 3)...  (Ctrl+F)").clicked() {
                        commands.push(Command::ToggleFind);
                    }
                    if ui
                        .button("Masks from boxes")
                        .on_hover_text("SAM's mask for each box without one (or the selected box)")
                        .clicked()
                    {
                        commands.push(Command::MasksFromBoxes);
                    }
                });
                ui.menu_button("Model", |ui| {
                    if ui.button("Choose model...").clicked() {
                        commands.push(Command::ToggleModels);
                    }
                });
                ui.menu_button("Help", |ui| {
                    if ui.button("Keys  (F1)").clicked() {
                        commands.push(Command::ToggleShortcuts);
                    }
                });
                ui.separator();
                for (choice, label) in [
                    (Tool::Prompt, "SAM (click/box)"),
                    (Tool::Brush, "Brush (B)"),
                    (Tool::Eraser, "Eraser (E)"),
                    (Tool::Polygon, "Polygon (P)"),
                ] {
                    if ui.selectable_label(tool == choice, label).clicked() {
                        commands.push(Command::SetTool(choice));
                    }
                }
                if ui
                    .selectable_label(tool == Tool::Vertices, "Edit vertices (V)")
                    .clicked()
                {
                    commands.push(Command::EditPolygons);
                }
                if matches!(tool, Tool::Brush | Tool::Eraser) {
                    let diameter = state.brush_radius * 2.0;
                    ui.label(format!("diameter {diameter:.0} image px  ([ ] size)"));
                }
            });
        });
        commands
    }
}

/// Shown before any image or dataset is open.
#[derive(Default)]
pub struct StartScreen;

impl StartScreen {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        messages: &mut MessageList,
        shown: &[Message],
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.2);
            ui.heading("samlabel");
            ui.label("Label images with Segment Anything: click an object, press Enter, move on.");
            ui.add_space(16.0);
            if ui.button("Open image(s)...").clicked() {
                commands.push(Command::OpenDialog(OpenKind::Images));
            }
            if ui.button("Open folder...").clicked() {
                commands.push(Command::OpenDialog(OpenKind::Folder));
            }
            let recent = project::recent();
            if !recent.is_empty() {
                ui.add_space(16.0);
                ui.label(RichText::new("Recent datasets").strong());
                for path in recent {
                    if ui.link(path.display().to_string()).clicked() {
                        commands.push(Command::OpenDataset(path));
                    }
                }
            }
            ui.add_space(16.0);
            commands.extend(messages.ui(ui, shown));
        });
        commands
    }
}

/// What the image list shows of one image besides its name.
pub struct ImageFacts<'a> {
    pub annotations: usize,
    /// Review state: `IMAGE_DONE`, `IMAGE_EMPTY` or none.
    pub state: Option<&'a str>,
}

/// The images of the dataset, one line each: a state icon, the name, the number of masks; the
/// tooltip says the rest.
#[derive(Default)]
pub struct ImageList;

impl ImageList {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        images: &Images,
        facts: &std::collections::HashMap<&str, ImageFacts<'_>>,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        egui::Panel::left("images")
            .resizable(true)
            .default_size(200.0)
            .show(ui, |ui| {
                let items = images.items();
                let done = facts.values().filter(|f| f.state.is_some()).count();
                ui.label(RichText::new(format!("Images ({}, {done} done)", items.len())).strong());
                ui.label(RichText::new("A / D or arrow keys to move").small().weak());
                ui.separator();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    for (i, item) in items.iter().enumerate() {
                        let fact = facts.get(item.file_name.as_str());
                        let count = fact.map_or(0, |f| f.annotations);
                        let review = fact.and_then(|f| f.state);
                        let (icon, tip) = match (&item.embed, review) {
                            _ if item.missing => ("[missing]", "the file is missing".to_string()),
                            (EmbedState::Failed(reason), _) => ("[error]", reason.clone()),
                            (_, Some(IMAGE_DONE)) => ("[done]", "marked done".to_string()),
                            (_, Some(IMAGE_EMPTY)) => ("[empty]", "marked: no objects".to_string()),
                            (EmbedState::Ready, _) => ("[ready]", "ready to segment".to_string()),
                            (EmbedState::Encoding(_), _) => ("[...]", "being encoded".to_string()),
                            _ => ("[ ]", "not encoded yet".to_string()),
                        };
                        let pending = if item.has_unaccepted() { " *" } else { "" };
                        let text = format!("{icon} {}  ({count}){pending}", item.file_name);
                        let tip = if item.has_unaccepted() {
                            format!("{tip}; a mask waits for Enter")
                        } else {
                            tip
                        };
                        let selected = images.current_index() == Some(i);
                        let label = egui::Button::selectable(selected, text).truncate();
                        let response = ui
                            .add(label)
                            .on_hover_text(format!("{}\n{count} masks, {tip}", item.file_name));
                        if response.clicked() {
                            commands.push(Command::SelectImage(i));
                        }
                    }
                });
            });
        commands
    }
}

/// What the segment-everything panel shows.
pub struct ProposalsState {
    pub running: Option<(usize, usize)>,
    pub shown: usize,
    pub selected: usize,
    pub covered: usize,
    pub show_covered: bool,
}

/// Segment everything: the progress and Cancel while it runs; then the proposals' counts, the
/// buttons that accept or discard them, and the generator's settings for another run.
pub struct ProposalsPanel {
    /// The settings of the next run (the official defaults to start with).
    pub options: EverythingOptions,
}

impl Default for ProposalsPanel {
    fn default() -> Self {
        Self {
            options: EverythingOptions::official(Family::Sam1),
        }
    }
}

impl ProposalsPanel {
    pub fn ui(&mut self, ctx: &egui::Context, state: &ProposalsState) -> Vec<Command> {
        let mut commands = Vec::new();
        egui::Window::new("Segment everything")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-260.0, 40.0))
            .show(ctx, |ui| {
                if let Some((done, total)) = state.running {
                    ui.label(format!("{done} / {total} points"));
                    let fraction = if total == 0 {
                        0.0
                    } else {
                        done as f32 / total as f32
                    };
                    ui.add(egui::ProgressBar::new(fraction).desired_width(220.0));
                    if ui.button("Cancel").clicked() {
                        commands.push(Command::CancelEverything);
                    }
                    return;
                }
                ui.label(format!(
                    "{} proposals, {} selected (click to select)",
                    state.shown, state.selected
                ));
                ui.horizontal(|ui| {
                    let accept = egui::Button::new("Accept selected (Enter)");
                    if ui.add_enabled(state.selected > 0, accept).clicked() {
                        commands.push(Command::AcceptProposals { all: false });
                    }
                    if ui
                        .add_enabled(state.shown > 0, egui::Button::new("Accept all"))
                        .clicked()
                    {
                        commands.push(Command::AcceptProposals { all: true });
                    }
                    if ui.button("Discard (Esc)").clicked() {
                        commands.push(Command::DiscardProposals);
                    }
                });
                if state.covered > 0 {
                    let mut show = state.show_covered;
                    let text = format!("show the {} already annotated", state.covered);
                    if ui.checkbox(&mut show, text).changed() {
                        commands.push(Command::ShowCoveredProposals(show));
                    }
                }
                egui::CollapsingHeader::new("Settings").show(ui, |ui| {
                    let o = &mut self.options;
                    egui::Grid::new("everything-settings").show(ui, |ui| {
                        ui.label("points per side");
                        ui.add(egui::DragValue::new(&mut o.points_per_side).range(1..=64));
                        ui.end_row();
                        ui.label("min predicted IoU");
                        ui.add(
                            egui::DragValue::new(&mut o.pred_iou_thresh)
                                .range(0.0..=1.0)
                                .speed(0.01),
                        );
                        ui.end_row();
                        ui.label("min stability");
                        ui.add(
                            egui::DragValue::new(&mut o.stability_score_thresh)
                                .range(0.0..=1.0)
                                .speed(0.01),
                        );
                        ui.end_row();
                        ui.label("box NMS");
                        ui.add(
                            egui::DragValue::new(&mut o.box_nms_thresh)
                                .range(0.0..=1.0)
                                .speed(0.01),
                        );
                        ui.end_row();
                        ui.label("crop layers");
                        ui.add(egui::DragValue::new(&mut o.crop_n_layers).range(0..=3));
                        ui.end_row();
                    });
                    if ui.button("Run again").clicked() {
                        commands.push(Command::SegmentEverything(Some(self.options.clone())));
                    }
                });
            });
        commands
    }
}
