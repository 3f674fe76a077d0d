//! The panels around the canvas. Each is a struct with its own state and a `ui` that reads what it
//! shows and returns the user's commands; none changes the app itself.

use egui::RichText;

use super::canvas::Tool;
use super::command::Command;
use super::images::{EmbedState, Images};
use super::side::{CategoryPanel, InstancePanel};
use super::status::{Message, MessageList, StatusBar};
use crate::project;

#[derive(Default)]
pub struct Panels {
    pub menu: MenuBar,
    pub start: StartScreen,
    pub images: ImageList,
    pub categories: CategoryPanel,
    pub instances: InstancePanel,
    pub status: StatusBar,
    pub messages: MessageList,
}

/// File and Edit menus, and the tool buttons.
#[derive(Default)]
pub struct MenuBar;

impl MenuBar {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        has_project: bool,
        tool: Tool,
        brush_radius: f32,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| {
                ui.menu_button("File", |ui| {
                    let items = [
                        ("Open images...", Command::OpenImagesDialog),
                        ("Open folder...", Command::OpenFolderDialog),
                        ("Open dataset...", Command::OpenDatasetDialog),
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
                    if ui.button("Quit").clicked() {
                        commands.push(Command::Quit);
                    }
                });
                ui.menu_button("Edit", |ui| {
                    if ui.button("Undo  (Ctrl+Z)").clicked() {
                        commands.push(Command::Undo);
                    }
                    if ui.button("Redo  (Ctrl+Shift+Z)").clicked() {
                        commands.push(Command::Redo);
                    }
                });
                ui.separator();
                for (choice, label) in [
                    (Tool::Prompt, "SAM (click/box)"),
                    (Tool::Brush, "Brush (B)"),
                    (Tool::Eraser, "Eraser (E)"),
                ] {
                    if ui.selectable_label(tool == choice, label).clicked() {
                        commands.push(Command::SetTool(choice));
                    }
                }
                if tool != Tool::Prompt {
                    ui.label(format!("size {brush_radius:.0} px  ([ ])"));
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
                commands.push(Command::OpenImagesDialog);
            }
            if ui.button("Open folder...").clicked() {
                commands.push(Command::OpenFolderDialog);
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

/// The images of the dataset with their embedding state and annotation count.
#[derive(Default)]
pub struct ImageList;

impl ImageList {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        images: &Images,
        counts: &std::collections::HashMap<&str, usize>,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        egui::Panel::left("images")
            .resizable(true)
            .default_size(200.0)
            .show(ui, |ui| {
                let items = images.items();
                ui.label(RichText::new(format!("Images ({})", items.len())).strong());
                ui.label(RichText::new("A / D or arrow keys to move").small().weak());
                ui.separator();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    for (i, item) in items.iter().enumerate() {
                        let state = match &item.embed {
                            _ if item.missing => "[missing]",
                            EmbedState::Ready => "[ready]",
                            EmbedState::Encoding(_) => "[encoding]",
                            EmbedState::Waiting => "[ ]",
                            EmbedState::Failed(_) => "[error]",
                        };
                        let count = counts.get(item.file_name.as_str()).unwrap_or(&0);
                        let text = format!("{state} {}  ({count})", item.file_name);
                        let selected = images.current_index() == Some(i);
                        let response = ui.selectable_label(selected, text);
                        let response = match &item.embed {
                            EmbedState::Failed(reason) => response.on_hover_text(reason),
                            EmbedState::Ready => response.on_hover_text("embedding ready"),
                            _ => response,
                        };
                        if response.clicked() {
                            commands.push(Command::SelectImage(i));
                        }
                    }
                });
            });
        commands
    }
}
