//! The image view: zoom and pan, prompt input (points, boxes, brush strokes) and overlays.
//!
//! Two spaces meet here: `ui` (egui points) and `image` (pixels of the oriented image, continuous:
//! pixel `i` spans `[i, i + 1)`). `ui_from_image` and `image_from_ui` are the only bridges.

use egui::{Color32, Pos2, Rect, Sense, Stroke, StrokeKind, TextureHandle, Vec2, pos2, vec2};

mod polygon;

use polygon::{Hit, PolygonDrag};
pub use polygon::{PolygonAction, PolygonLayer};

/// What the user did on the canvas this frame, in image space.
#[derive(Clone, Debug, PartialEq)]
pub enum CanvasAction {
    /// A click: positive (left) or negative (right, or Shift+left) point.
    Point {
        point_in_image: [f32; 2],
        positive: bool,
    },
    /// A finished left drag: `[x0, y0, x1, y1]`.
    Box([f32; 4]),
    /// A finished left drag with Shift (`positive`) or Ctrl: an example box for Find.
    Example {
        box_in_image: [f32; 4],
        positive: bool,
    },
    /// A brush segment while painting (`erase` with the eraser).
    Brush { from: [f32; 2], to: [f32; 2] },
    /// The brush was released: the stroke is complete.
    BrushEnd,
    /// Ctrl+click (Cmd+click): select the accepted annotation under the pointer (or none).
    Select([f32; 2]),
    /// Where the pointer rests over the image (None when it left the image).
    Hover(Option<[f32; 2]>),
    /// A polygon edited (vertices) or drawn (polygon tool).
    Polygon(PolygonAction),
}

/// Which tool the left mouse button drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Prompt,
    Brush,
    Eraser,
    /// Draw a polygon vertex by vertex.
    Polygon,
    /// Edit the vertices of the polygons of one annotation.
    Vertices,
}

/// The keys held and where the button went down, for prompt input.
#[derive(Clone, Copy)]
struct PromptModifiers {
    shift: bool,
    command: bool,
    press_origin: Option<Pos2>,
}

/// What to draw, all optional.
pub struct Layers<'a> {
    pub image: &'a TextureHandle,
    pub image_size: [f32; 2],
    pub annotations: Option<&'a TextureHandle>,
    /// Segment everything's proposals, outlined.
    pub proposals: Option<&'a TextureHandle>,
    /// The preview mask and the part of the image it covers (`[x0, y0, x1, y1]` in image pixels).
    pub preview: Option<(&'a TextureHandle, [f32; 4])>,
    pub points: &'a [([f32; 2], bool)],
    pub prompt_box: Option<[f32; 4]>,
    pub tool: Tool,
    pub brush_radius: f32,
    /// Polygons being edited or drawn.
    pub polygons: Option<PolygonLayer<'a>>,
}

/// Zoom and pan of the view; `pan` is where the image's top-left corner sits, relative to the canvas.
pub struct Canvas {
    zoom: f32,
    pan: Vec2,
    rect: Rect,
    fit_pending: bool,
    /// The view follows the canvas size (fit again when it changes) until the user zooms or pans.
    auto_fit: bool,
    drag_start_in_image: Option<[f32; 2]>,
    drag_now_in_image: Option<[f32; 2]>,
    last_brush: Option<[f32; 2]>,
    polygon_drag: Option<PolygonDrag>,
    polygon_hover: Option<Hit>,
}

impl Default for Canvas {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            pan: Vec2::ZERO,
            rect: Rect::from_min_size(Pos2::ZERO, vec2(1.0, 1.0)),
            fit_pending: true,
            auto_fit: true,
            drag_start_in_image: None,
            drag_now_in_image: None,
            last_brush: None,
            polygon_drag: None,
            polygon_hover: None,
        }
    }
}

impl Canvas {
    pub fn ui_from_image(&self, point_in_image: [f32; 2]) -> Pos2 {
        self.rect.min + self.pan + vec2(point_in_image[0], point_in_image[1]) * self.zoom
    }

    pub fn image_from_ui(&self, point_in_ui: Pos2) -> [f32; 2] {
        let v = (point_in_ui - self.rect.min - self.pan) / self.zoom;
        [v.x, v.y]
    }

    /// Fits the next image to the window, and keeps it fitted while the window or the side panels
    /// change size, until the user zooms or pans.
    pub fn request_fit(&mut self) {
        self.fit_pending = true;
        self.auto_fit = true;
    }

    pub fn zoom(&self) -> f32 {
        self.zoom
    }

    /// Where the canvas is on screen.
    pub fn rect(&self) -> Rect {
        self.rect
    }

    /// The part of an image of `image_size` that the view shows, in image pixels, if any.
    pub fn visible_in_image(&self, image_size: [f32; 2]) -> Option<[f32; 4]> {
        let [x0, y0] = self.image_from_ui(self.rect.min);
        let [x1, y1] = self.image_from_ui(self.rect.max);
        let region = [
            x0.max(0.0),
            y0.max(0.0),
            x1.min(image_size[0]),
            y1.min(image_size[1]),
        ];
        (region[2] > region[0] && region[3] > region[1]).then_some(region)
    }

    fn fit(&mut self, image_size: [f32; 2]) {
        let avail = self.rect.size();
        self.zoom = (avail.x / image_size[0])
            .min(avail.y / image_size[1])
            .max(1e-3);
        let shown = vec2(image_size[0], image_size[1]) * self.zoom;
        self.pan = (avail - shown) * 0.5;
    }

    /// Zooms by `factor` keeping the image point under `anchor_in_ui` in place.
    fn zoom_around(&mut self, factor: f32, anchor_in_ui: Pos2) {
        let anchor_in_image = self.image_from_ui(anchor_in_ui);
        self.zoom = (self.zoom * factor).clamp(0.01, 64.0);
        self.pan =
            anchor_in_ui - self.rect.min - vec2(anchor_in_image[0], anchor_in_image[1]) * self.zoom;
    }

    /// Shows the image and its overlays, handles zoom/pan, and returns the prompt actions.
    pub fn ui(&mut self, ui: &mut egui::Ui, layers: &Layers<'_>) -> Vec<CanvasAction> {
        let (rect, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
        // The first frames lay out the side panels: the canvas gets its final size only then.
        let resized = rect.size() != self.rect.size();
        self.rect = rect;
        if self.fit_pending || (self.auto_fit && resized) {
            self.fit(layers.image_size);
            self.fit_pending = false;
        }
        let mut actions = Vec::new();
        let (space_down, shift, command, press_origin, scroll, zoom_delta, keys) = ui.input(|i| {
            (
                i.key_down(egui::Key::Space),
                i.modifiers.shift,
                i.modifiers.command,
                i.pointer.press_origin(),
                i.smooth_scroll_delta,
                i.zoom_delta(),
                (
                    i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals),
                    i.key_pressed(egui::Key::Minus),
                    i.key_pressed(egui::Key::Num0),
                ),
            )
        });
        let typing = ui.ctx().egui_wants_keyboard_input();

        // Zoom: wheel around the cursor, +/- around the centre, 0 fits.
        if let Some(hover) = response.hover_pos() {
            let factor = if zoom_delta != 1.0 {
                zoom_delta
            } else {
                (scroll.y / 200.0).exp()
            };
            if (factor - 1.0).abs() > 1e-4 {
                self.zoom_around(factor, hover);
                self.auto_fit = false;
            }
        }
        if !typing {
            if keys.0 {
                self.zoom_around(1.25, rect.center());
                self.auto_fit = false;
            }
            if keys.1 {
                self.zoom_around(0.8, rect.center());
                self.auto_fit = false;
            }
            if keys.2 {
                self.fit(layers.image_size);
                self.auto_fit = true;
            }
        }

        // Pan: middle drag, or space + left drag.
        let panning = response.dragged_by(egui::PointerButton::Middle)
            || (space_down && response.dragged_by(egui::PointerButton::Primary));
        if panning {
            self.pan += response.drag_delta();
            self.auto_fit = false;
        }

        let pointer_in_image = response.hover_pos().map(|p| self.image_from_ui(p));
        let inside = |p: [f32; 2]| {
            p[0] >= 0.0 && p[1] >= 0.0 && p[0] < layers.image_size[0] && p[1] < layers.image_size[1]
        };
        let clamp = |p: [f32; 2]| {
            [
                p[0].clamp(0.0, layers.image_size[0]),
                p[1].clamp(0.0, layers.image_size[1]),
            ]
        };
        actions.push(CanvasAction::Hover(pointer_in_image.filter(|&p| inside(p))));

        if !panning {
            match layers.tool {
                Tool::Prompt => {
                    let modifiers = PromptModifiers {
                        shift,
                        command,
                        press_origin,
                    };
                    self.prompt_input(&response, modifiers, &inside, &clamp, &mut actions)
                }
                Tool::Brush | Tool::Eraser => self.brush_input(&response, &clamp, &mut actions),
                Tool::Vertices => {
                    if let Some(layer) = &layers.polygons {
                        self.vertices_input(&response, layer, &clamp, press_origin, &mut actions);
                    }
                }
                Tool::Polygon => {
                    let draft = layers.polygons.as_ref().map_or(&[][..], |l| l.draft);
                    self.draft_input(&response, draft, &inside, &mut actions);
                }
            }
        }
        if layers.tool != Tool::Vertices {
            self.polygon_drag = None;
            self.polygon_hover = None;
        }

        self.paint(ui, layers, pointer_in_image);
        actions
    }

    fn prompt_input(
        &mut self,
        response: &egui::Response,
        modifiers: PromptModifiers,
        inside: &dyn Fn([f32; 2]) -> bool,
        clamp: &dyn Fn([f32; 2]) -> [f32; 2],
        actions: &mut Vec<CanvasAction>,
    ) {
        let click_at = || {
            response
                .interact_pointer_pos()
                .map(|p| self.image_from_ui(p))
                .filter(|&p| inside(p))
        };
        // Ctrl+click selects an accepted mask; left click: positive point (negative with Shift);
        // right click: negative.
        if response.clicked() && modifiers.command {
            if let Some(p) = click_at() {
                actions.push(CanvasAction::Select(p));
            }
        } else {
            for (clicked, positive) in [
                (response.clicked(), !modifiers.shift),
                (response.secondary_clicked(), false),
            ] {
                if clicked && let Some(p) = click_at() {
                    actions.push(CanvasAction::Point {
                        point_in_image: p,
                        positive,
                    });
                }
            }
        }
        if response.drag_started_by(egui::PointerButton::Primary) {
            // egui reports a drag a few pixels after the press: the box starts where the button went down.
            let origin = modifiers
                .press_origin
                .or_else(|| response.interact_pointer_pos())
                .map(|p| clamp(self.image_from_ui(p)));
            self.drag_start_in_image = origin;
        }
        if response.dragged_by(egui::PointerButton::Primary) {
            self.drag_now_in_image = response
                .interact_pointer_pos()
                .map(|p| clamp(self.image_from_ui(p)));
        }
        if response.drag_stopped() {
            if let (Some(a), Some(b)) = (self.drag_start_in_image, self.drag_now_in_image) {
                let b = [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[0].max(b[0]),
                    a[1].max(b[1]),
                ];
                // A tiny drag is a shaky click, not a box.
                if (b[2] - b[0]) * self.zoom >= 4.0 && (b[3] - b[1]) * self.zoom >= 4.0 {
                    actions.push(if modifiers.shift || modifiers.command {
                        CanvasAction::Example {
                            box_in_image: b,
                            positive: modifiers.shift,
                        }
                    } else {
                        CanvasAction::Box(b)
                    });
                }
            }
            self.drag_start_in_image = None;
            self.drag_now_in_image = None;
        }
    }

    fn brush_input(
        &mut self,
        response: &egui::Response,
        clamp: &dyn Fn([f32; 2]) -> [f32; 2],
        actions: &mut Vec<CanvasAction>,
    ) {
        let painting = response.is_pointer_button_down_on()
            && !response.dragged_by(egui::PointerButton::Middle);
        if painting
            && let Some(p) = response
                .interact_pointer_pos()
                .map(|p| clamp(self.image_from_ui(p)))
        {
            let from = self.last_brush.unwrap_or(p);
            actions.push(CanvasAction::Brush { from, to: p });
            self.last_brush = Some(p);
        } else if self.last_brush.take().is_some() {
            actions.push(CanvasAction::BrushEnd);
        }
    }

    fn paint(&self, ui: &egui::Ui, layers: &Layers<'_>, pointer_in_image: Option<[f32; 2]>) {
        let painter = ui.painter_at(self.rect);
        painter.rect_filled(self.rect, 0.0, Color32::from_gray(24));
        let image_rect = Rect::from_min_max(
            self.ui_from_image([0.0, 0.0]),
            self.ui_from_image(layers.image_size),
        );
        let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
        painter.image(layers.image.id(), image_rect, uv, Color32::WHITE);
        for texture in [layers.annotations, layers.proposals].into_iter().flatten() {
            painter.image(texture.id(), image_rect, uv, Color32::WHITE);
        }
        if let Some((texture, [x0, y0, x1, y1])) = layers.preview {
            let rect =
                Rect::from_min_max(self.ui_from_image([x0, y0]), self.ui_from_image([x1, y1]));
            painter.image(texture.id(), rect, uv, Color32::WHITE);
        }
        if let Some([x0, y0, x1, y1]) = layers.prompt_box {
            let r = Rect::from_min_max(self.ui_from_image([x0, y0]), self.ui_from_image([x1, y1]));
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(2.0, Color32::from_rgb(80, 200, 255)),
                StrokeKind::Middle,
            );
        }
        if let (Some(a), Some(b)) = (self.drag_start_in_image, self.drag_now_in_image) {
            let r = Rect::from_two_pos(self.ui_from_image(a), self.ui_from_image(b));
            painter.rect_stroke(
                r,
                0.0,
                Stroke::new(1.5, Color32::from_rgb(80, 200, 255)),
                StrokeKind::Middle,
            );
        }
        for &(p, positive) in layers.points {
            let center = self.ui_from_image(p);
            let fill = if positive {
                Color32::from_rgb(40, 200, 80)
            } else {
                Color32::from_rgb(230, 50, 50)
            };
            painter.circle(center, 5.0, fill, Stroke::new(1.5, Color32::WHITE));
        }
        if let Some(layer) = &layers.polygons {
            self.paint_polygons(&painter, layer, pointer_in_image);
        }
        if matches!(layers.tool, Tool::Brush | Tool::Eraser)
            && let Some(p) = pointer_in_image
        {
            let color = if layers.tool == Tool::Brush {
                Color32::from_rgb(80, 255, 120)
            } else {
                Color32::from_rgb(255, 120, 80)
            };
            painter.circle_stroke(
                self.ui_from_image(p),
                layers.brush_radius * self.zoom,
                Stroke::new(1.5, color),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_are_inverse_at_any_zoom() {
        let mut canvas = Canvas {
            rect: Rect::from_min_size(pos2(100.0, 50.0), vec2(800.0, 600.0)),
            ..Default::default()
        };
        canvas.fit([400.0, 300.0]);
        assert!((canvas.zoom() - 2.0).abs() < 1e-6);
        let p = canvas.ui_from_image([10.0, 20.0]);
        assert_eq!(canvas.image_from_ui(p), [10.0, 20.0]);
        canvas.zoom_around(1.5, pos2(300.0, 200.0));
        let q = canvas.image_from_ui(pos2(300.0, 200.0));
        let back = canvas.ui_from_image(q);
        assert!(
            (back - pos2(300.0, 200.0)).length() < 1e-3,
            "anchor stays under the cursor"
        );
    }
}
