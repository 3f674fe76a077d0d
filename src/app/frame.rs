//! One frame of the window: the worker's answers come in, the panels and the canvas are laid out and
//! emit commands, the commands are applied, and what the prompt and the view need goes to the worker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use egui::TextureOptions;

use super::canvas::Layers;
use super::command::{self, Command};
use super::images::{EmbedState, View};
use super::panels::{ImageFacts, MenuState, ProposalsState};
use super::prompt;
use super::render;
use super::status::{MessageLevel, ModelStatus, StatusLine};
use super::worker::{RenderJob, RenderTarget, Request, Response};
use super::{AUTOSAVE_DELAY, SamApp};
use crate::annotate::dataset::{IMAGE_STATE_KEY, ImageId};
use crate::annotate::mask::Mask;
use crate::project::Project;
use crate::sam::{Multimask, postprocess};

impl SamApp {
    /// Handles everything the worker sent since the last frame.
    fn poll_worker(&mut self, ctx: &egui::Context) {
        let max_side = self.env.max_texture_side;
        while let Some(response) = self.worker.try_recv() {
            match response {
                Response::Downloading { done, total } => {
                    self.status.model = ModelStatus::Downloading(done, total)
                }
                Response::ModelReady {
                    name,
                    family,
                    provider,
                    notices,
                } => {
                    for notice in notices {
                        self.notify(MessageLevel::Warning, notice);
                    }
                    if self.status.switching_from.take().is_some() {
                        self.notify(
                            MessageLevel::Info,
                            format!("now segmenting with {family} {name}"),
                        );
                        self.model_changed();
                    }
                    self.status.model = ModelStatus::Ready {
                        name,
                        family,
                        provider,
                    };
                }
                Response::EverythingProgress { path, done, total } => {
                    self.proposals.progress(&path, done, total)
                }
                Response::Everything { path, proposals } => {
                    let accepted = self.accepted_masks();
                    let accepted: Vec<&Mask> = accepted.iter().collect();
                    if self.proposals.arrived(&path, proposals, &accepted) {
                        let counts = self.proposals.counts();
                        let text = if counts.shown + counts.covered == 0 {
                            "segment everything proposed nothing: lower the thresholds in its \
                             Settings and run again"
                                .to_string()
                        } else {
                            format!(
                                "{} proposals ({} hidden: already annotated); click to select, \
                                 Enter accepts",
                                counts.shown, counts.covered
                            )
                        };
                        self.notify(MessageLevel::Info, text);
                    }
                }
                Response::EverythingFailed { path, message } => {
                    if self.proposals.path() == Some(path.as_path()) {
                        self.proposals.stopped(&path);
                        if message != "cancelled" {
                            self.notify(
                                MessageLevel::Error,
                                format!("segment everything failed: {message}"),
                            );
                        }
                    }
                }
                Response::Found {
                    path,
                    found,
                    millis,
                } => {
                    let accepted = self.accepted_masks();
                    let accepted: Vec<&Mask> = accepted.iter().collect();
                    let summary: Vec<String> = found
                        .iter()
                        .map(|f| {
                            let what = f.phrase.as_deref().unwrap_or("like the examples");
                            format!("{} {what}", f.instances.len())
                        })
                        .collect();
                    if self.proposals.found(&path, found, &accepted) {
                        let counts = self.proposals.counts();
                        let text = if counts.shown + counts.covered == 0 {
                            format!(
                                "found nothing above {:.2}: lower \"min score\", or Shift+drag \
                                 a box around an example",
                                self.panels.find.threshold
                            )
                        } else {
                            format!(
                                "found {} in {millis:.0} ms ({} hidden: already annotated); \
                                 click or tick to select, Enter accepts",
                                summary.join(", "),
                                counts.covered
                            )
                        };
                        self.notify(MessageLevel::Info, text);
                    }
                }
                Response::FindFailed { path, message } => {
                    if self.proposals.path() == Some(path.as_path()) {
                        self.proposals.clear();
                    }
                    self.notify(MessageLevel::Error, format!("Find failed: {message}"));
                }
                Response::FindProgress { path, stage } => {
                    if self.proposals.path() == Some(path.as_path()) {
                        self.find.stage = Some(stage);
                    }
                }
                Response::FindModelReady { name, dir } => {
                    self.notify(
                        MessageLevel::Info,
                        format!("Find uses the SAM 3 model {name} ({})", dir.display()),
                    );
                    self.find.model = Some(name);
                }
                Response::FindModelFailed(message) => {
                    self.notify(MessageLevel::Error, message);
                }
                Response::BoxMasks { path, masks } => self.box_masks_arrived(path, masks),
                Response::BoxMasksFailed { path, message } => self.box_masks_failed(path, message),
                Response::ModelSwitchFailed(message) => {
                    self.notify(
                        MessageLevel::Error,
                        format!("cannot switch models: {message}; the model in use stays"),
                    );
                    if let Some(previous) = self.status.switching_from.take() {
                        self.status.model = previous;
                    }
                }
                Response::ModelFailed(message) => {
                    self.notify(MessageLevel::Error, format!("no model: {message}"));
                    self.status.model = ModelStatus::Failed(message);
                }
                Response::ImageLoaded {
                    path,
                    image,
                    note,
                    warning,
                } => {
                    if let Some(note) = note {
                        self.status.notify_once(MessageLevel::Info, note);
                    }
                    let texture = ctx.load_texture(
                        "image",
                        render::image_texture(&image, max_side),
                        TextureOptions::LINEAR,
                    );
                    if self.images.loaded(View {
                        path,
                        image,
                        texture,
                        warning,
                    }) {
                        self.canvas.request_fit();
                        self.check_image_size();
                    }
                }
                Response::ImageFailed { path, message } => {
                    self.images
                        .set_embed(&path, EmbedState::Failed(message.clone()));
                    self.notify(MessageLevel::Error, message);
                }
                Response::EncodeStarted { path } => self
                    .images
                    .set_embed(&path, EmbedState::Encoding(Instant::now())),
                Response::Encoded { path, millis } => {
                    if millis > 0.0 {
                        self.status.last_encode_ms = Some(millis);
                    }
                    self.images.set_embed(&path, EmbedState::Ready);
                }
                Response::EncodeCancelled { path } => {
                    self.images.set_embed(&path, EmbedState::Waiting)
                }
                Response::EncodeFailed { path, message } => {
                    self.notify(
                        MessageLevel::Error,
                        format!("cannot encode {}: {message}", path.display()),
                    );
                    self.images.set_embed(&path, EmbedState::Failed(message));
                }
                Response::Decoded {
                    seq,
                    path,
                    prediction,
                    millis,
                } => {
                    // An answer for an image the user left is stale.
                    let current = self.images.view().is_some_and(|v| v.path == path);
                    if current && self.prompt.on_decoded(seq, *prediction) {
                        self.status.last_decode_ms = Some(millis);
                    } else {
                        self.prompt.on_decode_failed(seq);
                    }
                }
                Response::DecodeFailed { seq, message } => {
                    if self.prompt.on_decode_failed(seq) {
                        self.notify(
                            MessageLevel::Error,
                            format!("cannot compute the mask: {message}"),
                        );
                    }
                }
                Response::Rendered {
                    seq,
                    index,
                    target,
                    mask,
                } => match target {
                    RenderTarget::Region(region, size) => {
                        self.preview
                            .on_detail(ctx, seq, index, (region, size), &mask, max_side)
                    }
                    RenderTarget::Whole(_) => {
                        self.prompt.on_rendered(seq, index, false, mask);
                    }
                    RenderTarget::Full => {
                        self.prompt.on_rendered(seq, index, true, mask);
                    }
                },
            }
        }
    }

    /// A dataset that lists the image with another size would give masks that do not line up.
    fn check_image_size(&mut self) {
        let (Some(view), Some(id)) = (self.images.view(), self.current_image_id()) else {
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

    /// Sends what the prompt and the zoomed-in view ask of the worker.
    fn send_requests(&mut self) {
        let Some(path) = self.images.view().map(|v| v.path.clone()) else {
            return;
        };
        let ready = self.images.is_ready();
        let hover = self.selection.hover_decodes();
        let now = Instant::now();
        while let Some(ask) = self.prompt.next_request(ready, hover, now) {
            let request = match ask {
                prompt::Ask::Decode { seq, prompt, .. } => {
                    let size = self.images.view().map_or((1, 1), |v| v.image.dimensions());
                    Request::Decode {
                        seq,
                        path: path.clone(),
                        prompt,
                        multimask: Multimask::Auto,
                        preview_size: postprocess::preview_size(size),
                    }
                }
                prompt::Ask::Render {
                    seq,
                    index,
                    logits,
                    model_from_image,
                    full,
                } => Request::Render(RenderJob {
                    seq,
                    index,
                    logits,
                    model_from_image,
                    target: if full {
                        RenderTarget::Full
                    } else {
                        RenderTarget::Whole(postprocess::preview_size(model_from_image.image_size))
                    },
                }),
            };
            self.worker.send(request);
        }
        // A hover decode waits for the pointer to rest: wake up then, even if nothing else happens.
        if let (Some(wait), Some(ctx)) = (self.prompt.hover_wait(now), &self.env.ctx) {
            ctx.request_repaint_after(wait);
        }
    }

    /// Saves once the oldest unsaved edit is `AUTOSAVE_DELAY` old; until then asks for a frame at
    /// that moment, so an idle window saves too.
    fn autosave(&mut self, ctx: &egui::Context) {
        let Some(project) = self.project.as_mut() else {
            return;
        };
        if let Some(due) = project.save_due(AUTOSAVE_DELAY) {
            if due.is_zero() {
                self.save_now();
                // The status bar was drawn before the save: show "saved" without waiting for input.
                if self.project.as_ref().is_some_and(|p| !p.is_dirty()) {
                    ctx.request_repaint();
                }
            } else {
                ctx.request_repaint_after(due);
            }
        }
    }

    /// One frame: everything the window shows. eframe and the tests both call this.
    pub fn ui_root(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if self.env.ctx.is_none() {
            self.worker.set_context(&ctx);
            self.env.ctx = Some(ctx.clone());
            let mut dirs = std::mem::take(&mut self.env.font_dirs);
            if let Some(extra) = std::env::var_os("SAMLABEL_FONT_DIRS") {
                dirs.extend(std::env::split_paths(&extra));
            }
            super::fonts::install_fallbacks(&ctx, &dirs);
        }
        self.env.max_texture_side = ctx.input(|i| i.max_texture_side);
        self.poll_worker(&ctx);
        self.closing(&ctx);
        self.title(&ctx);
        self.sync_polygons();
        self.poll_import();

        // A dialog has the keyboard (Esc and Enter are its own); only F1 still toggles the key list.
        let mut commands = Vec::new();
        if !self.panels.dialog_open() {
            commands = command::keymap(&ctx);
        } else if self.panels.shortcuts.open {
            commands = command::keymap(&ctx);
            commands.retain(|c| *c == Command::ToggleShortcuts);
        }
        let menu = MenuState {
            has_project: self.project.is_some(),
            tool: self.selection.tool,
            brush_radius: self.selection.brush_radius,
            view: self.selection.view,
            show_images: self.panels.show_images,
            show_side: self.panels.show_side,
        };
        commands.extend(self.panels.menu.ui(ui, &menu));
        let category = self.project.as_ref().and_then(|p| {
            let id = self.selection.category?;
            p.dataset.category(id).map(|c| c.name.as_str())
        });
        let position = self
            .images
            .current_index()
            .map(|i| (i + 1, self.images.items().len()));
        self.panels.status.ui(
            ui,
            &StatusLine {
                status: &self.status,
                embed: self.images.current().map(|i| &i.embed),
                zoom: self.canvas.zoom(),
                preview: self.prompt.preview(),
                project: self.project.as_ref(),
                position,
                category,
                tool: self.selection.tool,
            },
        );
        commands.extend(self.panels.shortcuts.ui(&ctx));
        commands.extend(self.panels.models.ui(&ctx, &self.status.model));
        commands.extend(self.find_panel(&ctx));
        if self.proposals.is_active() && !self.proposals.is_find() {
            let counts = self.proposals.counts();
            let state = ProposalsState {
                running: self.proposals.running,
                shown: counts.shown,
                selected: counts.selected,
                covered: counts.covered,
                show_covered: self.proposals.show_covered,
            };
            commands.extend(self.panels.proposals.ui(&ctx, &state));
        }
        commands.extend(self.panels.quit.ui(&ctx));
        commands.extend(self.panels.export.ui(&ctx));
        let importing = self.importing.is_some();
        commands.extend(self.panels.import.ui(&ctx, importing));
        commands.extend(self.panels.open.ui(&ctx));
        let Some(project) = self.project.as_ref() else {
            egui::CentralPanel::default().show(ui, |ui| {
                let panels = &mut self.panels;
                commands.extend(
                    panels
                        .start
                        .ui(ui, &mut panels.messages, &self.status.messages),
                );
            });
            self.apply_all(commands);
            return;
        };
        if self.panels.show_images {
            let facts = image_facts(project);
            commands.extend(self.panels.images.ui(ui, &self.images, &facts));
        }
        let image_id = self.current_image_id();
        if self.panels.show_side {
            egui::Panel::right("side")
                .resizable(true)
                .default_size(240.0)
                .min_size(160.0)
                .show(ui, |ui| {
                    commands.extend(super::polygons::panel_ui(
                        ui,
                        &self.polygons,
                        self.selection.tool,
                    ));
                    let category = self.selection.category;
                    commands.extend(self.panels.categories.ui(ui, project, category));
                    ui.separator();
                    commands.extend(self.panels.instances.ui(
                        ui,
                        project,
                        image_id,
                        &self.selection,
                    ));
                });
        }
        commands.extend(self.panels.categories.confirm_delete_ui(&ctx, project));

        let max_side = self.env.max_texture_side;
        if let Some(view) = self.images.view() {
            let size = view.image.dimensions();
            self.overlay.refresh(
                &ctx,
                &project.dataset,
                image_id,
                (&view.path, size),
                &self.selection,
                max_side,
            );
        }
        self.preview.sync(&ctx, &self.prompt, max_side);
        egui::CentralPanel::default().show(ui, |ui| {
            // Messages float over the top of the canvas: they never move the image.
            let corner = ui.max_rect().min + egui::vec2(8.0, 8.0);
            egui::Area::new(egui::Id::unique("samlabel-messages"))
                .fixed_pos(corner)
                .order(egui::Order::Foreground)
                .show(&ctx, |ui| {
                    if !self.status.messages.is_empty() {
                        egui::Frame::popup(ui.style()).show(ui, |ui| {
                            ui.set_max_width(520.0);
                            commands.extend(self.panels.messages.ui(ui, &self.status.messages));
                        });
                    }
                });
            let Some(view) = self.images.view() else {
                ui.centered_and_justified(|ui| {
                    let text = match self.images.current() {
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
                .points()
                .iter()
                .map(|p| (p.point_in_image, p.positive))
                .collect();
            let image_size = [view.image.width() as f32, view.image.height() as f32];
            let proposals = self.proposals.texture(&ctx, max_side);
            let layers = Layers {
                image: &view.texture,
                image_size,
                annotations: self.overlay.texture(),
                proposals,
                preview: self.preview.layer(image_size),
                points: &points,
                prompt_box: self.prompt.box_in_image(),
                tool: self.selection.tool,
                brush_radius: self.selection.brush_radius,
                polygons: super::polygons::layer(
                    &self.polygons,
                    self.project.as_ref().map(|p| &p.dataset),
                    &self.selection,
                ),
            };
            let actions = self.canvas.ui(ui, &layers);
            commands.extend(actions.into_iter().map(Command::Canvas));
            let dataset = &project.dataset;
            super::boxes::paint(ui, &self.canvas, dataset, image_id, &self.selection);
            if let Some(warning) = &view.warning {
                // Persistent while the image shows: its lower part is not the real picture.
                let at = self.canvas.rect().left_bottom() + egui::vec2(8.0, -28.0);
                ui.painter().text(
                    at,
                    egui::Align2::LEFT_TOP,
                    format!("{warning}: the grey part is not in the file"),
                    egui::FontId::proportional(15.0),
                    egui::Color32::from_rgb(255, 110, 110),
                );
            }
            let ppp = ctx.pixels_per_point();
            if let Some(job) = self
                .preview
                .wanted_detail(&self.prompt, &self.canvas, ppp, max_side)
            {
                self.worker.send(Request::Render(job));
            }
        });
        self.apply_all(commands);
        self.send_requests();
        self.autosave(&ctx);
        if self.images.is_encoding() {
            // Keep the elapsed time in the status bar moving.
            ctx.request_repaint_after(Duration::from_millis(200));
        }
    }

    /// The window's close button: asks first when masks were not accepted, else saves on the way out.
    fn closing(&mut self, ctx: &egui::Context) {
        if !ctx.input(|i| i.viewport().close_requested()) || self.env.quit_confirmed {
            return;
        }
        let unaccepted = self.unaccepted_images();
        if unaccepted > 0 {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.panels.quit.asking = Some(unaccepted);
        }
    }

    /// "image — dataset — samlabel", sent when it changes.
    fn title(&mut self, ctx: &egui::Context) {
        let name = |p: &std::path::Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut parts: Vec<String> = Vec::new();
        if let Some(item) = self.images.current() {
            parts.push(item.file_name.clone());
        }
        if let Some(project) = &self.project {
            parts.push(name(&project.path));
        }
        parts.push("samlabel".into());
        let title = parts.join(" \u{2014} ");
        if title != self.env.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.env.title = title;
        }
    }
}

/// Per image file name: its annotation count and review state, for the image list (every frame: one
/// pass over the annotations, no lookups).
fn image_facts(project: &Project) -> HashMap<&str, ImageFacts<'_>> {
    let mut by_id: HashMap<ImageId, usize> = HashMap::new();
    for ann in project.dataset.annotations() {
        *by_id.entry(ann.image_id).or_insert(0) += 1;
    }
    project
        .dataset
        .images()
        .iter()
        .map(|i| {
            let state = i.extra.get(IMAGE_STATE_KEY).and_then(|v| v.as_str());
            let annotations = by_id.get(&i.id).copied().unwrap_or(0);
            (i.file_name.as_str(), ImageFacts { annotations, state })
        })
        .collect()
}
