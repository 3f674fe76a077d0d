//! The panels around the canvas: menu, start screen, image list, categories, instances, status bar.

use egui::{Color32, RichText};

use super::{EmbedState, MessageLevel, ModelStatus, SamApp, Tool, project};
use crate::annotate::dataset::{Category, CategoryId, Edit};

/// Text being typed in the side panel, and the pending delete confirmation.
#[derive(Default)]
pub struct PanelState {
    new_category: String,
    renaming: Option<(CategoryId, String)>,
    confirm_delete: Option<CategoryId>,
}

impl SamApp {
    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("menu").show(ui, |ui| {
            egui::MenuBar::new().ui(ui, |ui| {
                ui.menu_button("File", |ui| {
                    if ui.button("Open images...").clicked() {
                        self.open_images_dialog();
                    }
                    if ui.button("Open folder...").clicked() {
                        self.open_folder_dialog();
                    }
                    if ui.button("Open dataset...").clicked()
                        && let Some(path) = rfd::FileDialog::new()
                            .add_filter("COCO JSON", &["json"])
                            .pick_file()
                    {
                        self.open_dataset(&path);
                    }
                    ui.separator();
                    if ui
                        .add_enabled(self.project.is_some(), egui::Button::new("Save  (Ctrl+S)"))
                        .clicked()
                    {
                        self.save_now();
                    }
                    if ui.button("Quit").clicked() {
                        self.save_now();
                        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                    }
                });
                ui.menu_button("Edit", |ui| {
                    if ui.button("Undo  (Ctrl+Z)").clicked() {
                        self.undo();
                    }
                    if ui.button("Redo  (Ctrl+Shift+Z)").clicked() {
                        self.redo();
                    }
                });
                ui.separator();
                for (tool, label) in [
                    (Tool::Prompt, "SAM (click/box)"),
                    (Tool::Brush, "Brush (B)"),
                    (Tool::Eraser, "Eraser (E)"),
                ] {
                    if ui.selectable_label(self.tool == tool, label).clicked() {
                        self.tool = tool;
                    }
                }
                if self.tool != Tool::Prompt {
                    ui.label(format!("size {:.0} px  ([ ])", self.brush_radius));
                }
            });
        });
    }

    fn open_images_dialog(&mut self) {
        if let Some(files) = rfd::FileDialog::new()
            .add_filter("images", &super::IMAGE_EXTENSIONS)
            .pick_files()
        {
            self.open_paths(&files, None);
        }
    }

    fn open_folder_dialog(&mut self) {
        if let Some(dir) = rfd::FileDialog::new().pick_folder() {
            self.open_paths(&[dir], None);
        }
    }

    pub(super) fn start_ui(&mut self, ui: &mut egui::Ui) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.2);
            ui.heading("samlabel");
            ui.label("Label images with Segment Anything: click an object, press Enter, move on.");
            ui.add_space(16.0);
            if ui.button("Open image(s)...").clicked() {
                self.open_images_dialog();
            }
            if ui.button("Open folder...").clicked() {
                self.open_folder_dialog();
            }
            let recent = project::recent();
            if !recent.is_empty() {
                ui.add_space(16.0);
                ui.label(RichText::new("Recent datasets").strong());
                for path in recent {
                    if ui.link(path.display().to_string()).clicked() {
                        self.open_dataset(&path);
                    }
                }
            }
            ui.add_space(16.0);
            self.messages_ui(ui);
        });
    }

    pub(super) fn images_ui(&mut self, ui: &mut egui::Ui) {
        let mut select = None;
        egui::Panel::left("images")
            .resizable(true)
            .default_size(200.0)
            .show(ui, |ui| {
                ui.label(RichText::new(format!("Images ({})", self.images.len())).strong());
                ui.label(RichText::new("A / D or arrow keys to move").small().weak());
                ui.separator();
                let counts = self.annotation_counts();
                egui::ScrollArea::vertical().show(ui, |ui| {
                    for (i, item) in self.images.iter().enumerate() {
                        let state = match &item.embed {
                            _ if item.missing => "[missing]",
                            EmbedState::Ready => "[ready]",
                            EmbedState::Encoding(_) => "[encoding]",
                            EmbedState::Waiting => "[ ]",
                            EmbedState::Failed(_) => "[error]",
                        };
                        let text = format!(
                            "{state} {}  ({})",
                            item.file_name,
                            counts.get(&item.file_name).unwrap_or(&0)
                        );
                        let response = ui.selectable_label(self.current == Some(i), text);
                        let response = match &item.embed {
                            EmbedState::Failed(reason) => response.on_hover_text(reason),
                            EmbedState::Ready => response.on_hover_text("embedding ready"),
                            _ => response,
                        };
                        if response.clicked() {
                            select = Some(i);
                        }
                    }
                });
            });
        if let Some(i) = select {
            self.select_image(i);
        }
    }

    fn annotation_counts(&self) -> std::collections::HashMap<String, usize> {
        let Some(project) = &self.project else {
            return std::collections::HashMap::new();
        };
        // Runs every frame: count by image id in one pass, then name the counts (no per-annotation lookup).
        let mut by_id = std::collections::HashMap::new();
        for ann in project.dataset.annotations() {
            *by_id.entry(ann.image_id).or_insert(0) += 1;
        }
        project
            .dataset
            .images()
            .iter()
            .filter_map(|i| by_id.get(&i.id).map(|&n| (i.file_name.clone(), n)))
            .collect()
    }

    pub(super) fn side_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::right("side")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| {
                self.recovery_ui(ui);
                self.categories_ui(ui);
                ui.separator();
                self.instances_ui(ui);
            });
        self.confirm_delete_ui(ui);
    }

    /// Offers the `.bak` when the dataset file cannot be read.
    fn recovery_ui(&mut self, ui: &mut egui::Ui) {
        let Some(bak) = self.project.as_ref().and_then(|p| p.recoverable_backup()) else {
            return;
        };
        ui.label(
            RichText::new("The dataset file cannot be read.")
                .color(Color32::from_rgb(255, 110, 110)),
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
            self.restore_backup();
        }
        ui.separator();
    }

    fn categories_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Categories").strong());
        let Some(project) = self.project.as_ref() else {
            return;
        };
        let categories: Vec<Category> = project.dataset.categories().to_vec();
        let mut edits = Vec::new();
        for (i, category) in categories.iter().enumerate() {
            ui.horizontal(|ui| {
                let mut color = category.color;
                if ui.color_edit_button_srgb(&mut color).changed() {
                    edits.push(Edit::RecolorCategory {
                        id: category.id,
                        color,
                    });
                }
                let key = if i < 9 {
                    format!("{} ", i + 1)
                } else {
                    String::new()
                };
                match &mut self.panels.renaming {
                    Some((id, text)) if *id == category.id => {
                        let response = ui.text_edit_singleline(text);
                        if response.lost_focus() {
                            let name = text.trim().to_string();
                            if !name.is_empty() && name != category.name {
                                edits.push(Edit::RenameCategory {
                                    id: category.id,
                                    name,
                                });
                            }
                            self.panels.renaming = None;
                        } else {
                            response.request_focus();
                        }
                    }
                    _ => {
                        let selected = self.selected_category == Some(category.id);
                        let response = ui
                            .selectable_label(selected, format!("{key}{}", category.name))
                            .on_hover_text("click: use for new masks; double-click: rename");
                        if response.clicked() {
                            self.selected_category = Some(category.id);
                        }
                        if response.double_clicked() {
                            self.panels.renaming = Some((category.id, category.name.clone()));
                        }
                    }
                }
                if ui
                    .small_button("x")
                    .on_hover_text("delete category")
                    .clicked()
                {
                    self.panels.confirm_delete = Some(category.id);
                }
            });
        }
        ui.horizontal(|ui| {
            let response = ui.add(
                egui::TextEdit::singleline(&mut self.panels.new_category).hint_text("new category"),
            );
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Add").clicked() || enter) && !self.panels.new_category.trim().is_empty()
            {
                let name = self.panels.new_category.trim().to_string();
                self.panels.new_category.clear();
                if let Some(project) = self.project.as_mut() {
                    match project.dataset.ensure_category(&name) {
                        Ok(id) => {
                            project.touched();
                            self.selected_category = Some(id);
                        }
                        Err(err) => self.notify(MessageLevel::Error, err.to_string()),
                    }
                }
            }
        });
        for edit in edits {
            self.apply_edit(edit);
        }
    }

    fn confirm_delete_ui(&mut self, ui: &mut egui::Ui) {
        let Some(id) = self.panels.confirm_delete else {
            return;
        };
        let Some(project) = self.project.as_ref() else {
            return;
        };
        let Some(category) = project.dataset.category(id) else {
            self.panels.confirm_delete = None;
            return;
        };
        let used = project
            .dataset
            .annotations()
            .iter()
            .filter(|a| a.category_id == id)
            .count();
        if used == 0 {
            self.panels.confirm_delete = None;
            self.apply_edit(Edit::DeleteCategory(id));
            return;
        }
        let name = category.name.clone();
        let mut decision = None;
        egui::Modal::new(egui::Id::unique("samlabel-confirm-delete")).show(ui.ctx(), |ui| {
            ui.label(format!(
                "Delete \"{name}\" and its {used} annotations? (Ctrl+Z brings them back)"
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
        if let Some(delete) = decision {
            self.panels.confirm_delete = None;
            if delete {
                if self.selected_category == Some(id) {
                    self.selected_category = None;
                }
                self.apply_edit(Edit::DeleteCategory(id));
            }
        }
    }

    fn instances_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Instances on this image").strong());
        let Some(image_id) = self.existing_image_id() else {
            ui.label(RichText::new("none yet: click an object, then Enter").weak());
            return;
        };
        let Some(project) = self.project.as_ref() else {
            return;
        };
        let categories: Vec<(CategoryId, String)> = project
            .dataset
            .categories()
            .iter()
            .map(|c| (c.id, c.name.clone()))
            .collect();
        let instances: Vec<(u64, CategoryId, u64)> = project
            .dataset
            .annotations_of(image_id)
            .map(|a| (a.id, a.category_id, a.area.as_f64().unwrap_or(0.0) as u64))
            .collect();
        let mut edits = Vec::new();
        egui::ScrollArea::vertical()
            .id_salt("instances")
            .show(ui, |ui| {
                for (id, category_id, area) in instances {
                    ui.horizontal(|ui| {
                        let visible = !self.hidden.contains(&id);
                        if ui
                            .small_button(if visible { "hide" } else { "show" })
                            .on_hover_text("show / hide on the image")
                            .clicked()
                        {
                            if visible {
                                self.hidden.insert(id);
                            } else {
                                self.hidden.remove(&id);
                            }
                        }
                        let selected = self.selected_annotation == Some(id);
                        if ui
                            .selectable_label(selected, format!("#{id}  {area} px"))
                            .clicked()
                        {
                            self.selected_annotation = if selected { None } else { Some(id) };
                        }
                        let current = categories
                            .iter()
                            .find(|c| c.0 == category_id)
                            .map_or("?", |c| c.1.as_str());
                        egui::ComboBox::from_id_salt(("relabel", id))
                            .selected_text(current)
                            .show_ui(ui, |ui| {
                                for (cid, name) in &categories {
                                    if ui.selectable_label(*cid == category_id, name).clicked()
                                        && *cid != category_id
                                    {
                                        edits.push(Edit::Relabel {
                                            id,
                                            category_id: *cid,
                                        });
                                    }
                                }
                            });
                        if ui
                            .small_button("x")
                            .on_hover_text("delete (Delete key)")
                            .clicked()
                        {
                            edits.push(Edit::DeleteAnnotation(id));
                        }
                    });
                }
            });
        for edit in edits {
            self.apply_edit(edit);
        }
    }

    pub(super) fn messages_ui(&mut self, ui: &mut egui::Ui) {
        let mut dismiss = None;
        for (i, message) in self.messages.iter().enumerate() {
            let color = match message.level {
                MessageLevel::Error => Color32::from_rgb(255, 110, 110),
                MessageLevel::Warning => Color32::from_rgb(255, 200, 90),
                MessageLevel::Info => ui.visuals().text_color(),
            };
            ui.horizontal_top(|ui| {
                if ui.small_button("x").on_hover_text("dismiss").clicked() {
                    dismiss = Some(i);
                }
                // Long messages (paths, reasons) wrap instead of widening the panel.
                ui.add(egui::Label::new(RichText::new(&message.text).color(color)).wrap());
            });
        }
        if let Some(i) = dismiss {
            self.messages.remove(i);
        }
    }

    pub(super) fn status_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                match &self.model_status {
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
                    ModelStatus::Ready { name, provider } => {
                        ui.label(format!("model {name} on {provider}"));
                    }
                    ModelStatus::Failed(_) => {
                        ui.label(RichText::new("no model").color(Color32::from_rgb(255, 110, 110)));
                    }
                }
                ui.separator();
                match self.current_item().map(|i| &i.embed) {
                    Some(EmbedState::Encoding(since)) => {
                        ui.spinner();
                        ui.label(format!(
                            "encoding image... {:.1} s",
                            since.elapsed().as_secs_f32()
                        ));
                    }
                    Some(EmbedState::Waiting)
                        if matches!(self.model_status, ModelStatus::Failed(_)) =>
                    {
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
                ui.label(format!("zoom {:.0}%", self.canvas.zoom() * 100.0));
                if let Some(ms) = self.last_encode_ms {
                    ui.separator();
                    ui.label(format!("encode {ms:.0} ms"));
                }
                if let Some(ms) = self.last_decode_ms {
                    ui.label(format!("decode {ms:.0} ms"));
                }
                if let Some(preview) = self.preview.as_ref().filter(|p| !p.hover) {
                    ui.separator();
                    let count = preview.candidates.count();
                    let score = preview.candidates.iou[preview.index];
                    if count == 4 && preview.index > 0 {
                        ui.label(format!(
                            "candidate {}/3 (Tab), score {score:.2}",
                            preview.index
                        ));
                    } else {
                        ui.label(format!("score {score:.2}"));
                    }
                }
                if let Some(project) = &self.project {
                    ui.separator();
                    let state = if project.load_error.is_some() {
                        "read-only (file unreadable)"
                    } else if project.busy.is_some() {
                        "read-only (open in another samlabel)"
                    } else if project.is_dirty() {
                        "unsaved"
                    } else {
                        "saved"
                    };
                    ui.label(format!("{} ({state})", project.path.display()));
                }
            });
        });
    }
}
