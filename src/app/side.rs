//! The right panel: recovery of an unreadable dataset, the categories, the instances on this image.

use egui::{Color32, RichText};

use super::command::Command;
use super::selection::Selection;
use crate::annotate::dataset::{CategoryId, Edit, ImageId};
use crate::project::Project;

/// Categories: pick one for new masks (or 1-9), add, rename by double-click, recolour, delete.
#[derive(Default)]
pub struct CategoryPanel {
    new_category: String,
    renaming: Option<(CategoryId, String)>,
    /// A category with annotations waits for the user to confirm its deletion.
    confirm_delete: Option<CategoryId>,
    /// After Enter added a category, the field keeps the keyboard for the next name.
    refocus: bool,
}

impl CategoryPanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        project: &Project,
        selected: Option<CategoryId>,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        recovery_ui(ui, project, &mut commands);
        ui.label(RichText::new("Categories").strong());
        for (i, category) in project.dataset.categories().iter().enumerate() {
            ui.horizontal(|ui| {
                let mut color = category.color;
                if ui.color_edit_button_srgb(&mut color).changed() {
                    commands.push(Command::Edit(Box::new(Edit::RecolorCategory {
                        id: category.id,
                        color,
                    })));
                }
                let key = if i < 9 {
                    format!("{} ", i + 1)
                } else {
                    String::new()
                };
                match &mut self.renaming {
                    Some((id, text)) if *id == category.id => {
                        // A fixed width: a long name does not widen the panel for good.
                        let response =
                            ui.add(egui::TextEdit::singleline(text).desired_width(140.0));
                        if response.lost_focus() {
                            let name = text.trim().to_string();
                            if !name.is_empty() && name != category.name {
                                commands.push(Command::Edit(Box::new(Edit::RenameCategory {
                                    id: category.id,
                                    name,
                                })));
                            }
                            self.renaming = None;
                        } else {
                            response.request_focus();
                        }
                    }
                    _ => {
                        let response = ui
                            .add(
                                egui::Button::selectable(
                                    selected == Some(category.id),
                                    format!("{key}{}", category.name),
                                )
                                .truncate(),
                            )
                            .on_hover_text(
                                "click: use for new masks; double-click: rename; right click: \
                                 rename or delete",
                            );
                        if response.clicked() {
                            commands.push(Command::SelectCategory(category.id));
                        }
                        if response.double_clicked() {
                            self.renaming = Some((category.id, category.name.clone()));
                        }
                        // Rename and delete live in the context menu: nothing destructive sits
                        // where the pointer rests after adding a category.
                        response.context_menu(|ui| {
                            if ui.button("Rename").clicked() {
                                self.renaming = Some((category.id, category.name.clone()));
                                ui.close();
                            }
                            if ui.button("Delete...").clicked() {
                                self.confirm_delete = Some(category.id);
                                ui.close();
                            }
                        });
                    }
                }
            });
        }
        ui.horizontal(|ui| {
            let response = ui
                .add(egui::TextEdit::singleline(&mut self.new_category).hint_text("new category"));
            if std::mem::take(&mut self.refocus) {
                response.request_focus();
            }
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add").clicked() || enter) && !self.new_category.trim().is_empty() {
                commands.push(Command::AddCategory(self.new_category.trim().to_string()));
                self.new_category.clear();
                self.refocus = enter;
            }
        });
        commands
    }

    /// Asks before deleting a category that has annotations (an unused one goes at once).
    pub fn confirm_delete_ui(&mut self, ctx: &egui::Context, project: &Project) -> Vec<Command> {
        let Some(id) = self.confirm_delete else {
            return Vec::new();
        };
        let Some(category) = project.dataset.category(id) else {
            self.confirm_delete = None;
            return Vec::new();
        };
        let used = project
            .dataset
            .annotations()
            .iter()
            .filter(|a| a.category_id == id)
            .count();
        if used == 0 {
            self.confirm_delete = None;
            return vec![Command::Edit(Box::new(Edit::DeleteCategory(id)))];
        }
        let mut decision = None;
        egui::Modal::new(egui::Id::unique("samlabel-confirm-delete")).show(ctx, |ui| {
            ui.label(format!(
                "Delete \"{}\" and its {used} annotations? (Ctrl+Z brings them back)",
                category.name
            ));
            ui.horizontal(|ui| {
                if ui.button("Delete").clicked() {
                    decision = Some(true);
                }
                if ui.button("Cancel").clicked() {
                    decision = Some(false);
                }
            });
        });
        match decision {
            Some(delete) => {
                self.confirm_delete = None;
                if delete {
                    vec![Command::Edit(Box::new(Edit::DeleteCategory(id)))]
                } else {
                    Vec::new()
                }
            }
            None => Vec::new(),
        }
    }
}

/// Offers the `.bak` when the dataset file cannot be read.
fn recovery_ui(ui: &mut egui::Ui, project: &Project, commands: &mut Vec<Command>) {
    let Some(bak) = project.recoverable_backup() else {
        return;
    };
    ui.label(
        RichText::new("The dataset file cannot be read.").color(Color32::from_rgb(255, 110, 110)),
    );
    let name = bak
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if ui
        .button(format!("Restore the previous version ({name})"))
        .on_hover_text("The unreadable file is kept beside it as .unreadable")
        .clicked()
    {
        commands.push(Command::RestoreBackup);
    }
    ui.separator();
}

/// The annotations on the current image: show/hide, select, relabel, delete.
#[derive(Default)]
pub struct InstancePanel;

impl InstancePanel {
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        project: &Project,
        image_id: Option<ImageId>,
        selection: &Selection,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        ui.label(RichText::new("Instances on this image").strong());
        let Some(image_id) = image_id else {
            ui.label(RichText::new("none yet: click an object, then Enter").weak());
            return commands;
        };
        let categories = project.dataset.categories();
        egui::ScrollArea::vertical()
            .id_salt("instances")
            .show(ui, |ui| {
                for ann in project.dataset.annotations_of(image_id) {
                    let id = ann.id;
                    let area = ann.area.as_f64().unwrap_or(0.0) as u64;
                    ui.horizontal(|ui| {
                        let visible = !selection.hidden.contains(&id);
                        if ui
                            .small_button(if visible { "hide" } else { "show" })
                            .on_hover_text("show / hide on the image")
                            .clicked()
                        {
                            commands.push(Command::ToggleHidden(id));
                        }
                        let selected = selection.annotation == Some(id);
                        let text = if ann.is_box_only() {
                            super::boxes::list_label(ann)
                        } else {
                            format!("#{id}  {area} px")
                        };
                        if ui.selectable_label(selected, text).clicked() {
                            commands.push(Command::SelectAnnotation((!selected).then_some(id)));
                        }
                        let current = categories
                            .iter()
                            .find(|c| c.id == ann.category_id)
                            .map_or("?", |c| c.name.as_str());
                        egui::ComboBox::from_id_salt(("relabel", id))
                            .selected_text(current)
                            .show_ui(ui, |ui| {
                                for c in categories {
                                    if ui
                                        .selectable_label(c.id == ann.category_id, &c.name)
                                        .clicked()
                                        && c.id != ann.category_id
                                    {
                                        commands.push(Command::Edit(Box::new(Edit::Relabel {
                                            id,
                                            category_id: c.id,
                                        })));
                                    }
                                }
                            });
                        if ui
                            .small_button("x")
                            .on_hover_text("delete (Delete key)")
                            .clicked()
                        {
                            commands.push(Command::Edit(Box::new(Edit::DeleteAnnotation(id))));
                        }
                    });
                }
            });
        commands
    }
}
