//! Polygons on the canvas: vertices to drag, edges to split, whole polygons to move
//! (`Tool::Vertices`), and a new polygon clicked vertex by vertex (`Tool::Polygon`).
//!
//! Hits are tested in `ui` space (a vertex is as easy to catch at any zoom); what is emitted is in
//! image space. A drag is drawn live here and emitted once, on release: one undo step per gesture.

use egui::{Color32, Pos2, Stroke, StrokeKind};

use super::{Canvas, CanvasAction};

/// How close (ui points) the pointer must be to a vertex to catch it.
const VERTEX_REACH: f32 = 8.0;
/// How close (ui points) the pointer must be to an edge to split it.
const EDGE_REACH: f32 = 6.0;

/// The polygons to draw and edit.
pub struct PolygonLayer<'a> {
    /// The polygons being edited (`Tool::Vertices`), `[x, y]` in image pixels.
    pub polygons: &'a [Vec<[f32; 2]>],
    /// The vertices placed so far with the polygon tool.
    pub draft: &'a [[f32; 2]],
    pub color: Color32,
}

/// A change to the polygons being edited or drawn, in image pixels.
#[derive(Clone, Debug, PartialEq)]
pub enum PolygonAction {
    MoveVertex {
        polygon: usize,
        vertex: usize,
        to: [f32; 2],
    },
    /// A new vertex between `after` and the vertex after it.
    InsertVertex {
        polygon: usize,
        after: usize,
        at: [f32; 2],
    },
    DeleteVertex {
        polygon: usize,
        vertex: usize,
    },
    MovePolygon {
        polygon: usize,
        by: [f32; 2],
    },
    /// Polygon tool: a vertex here.
    DraftPoint([f32; 2]),
    /// Polygon tool: the first vertex was clicked again; the polygon is complete.
    CloseDraft,
}

/// What is under the pointer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hit {
    Vertex {
        polygon: usize,
        vertex: usize,
    },
    /// On the edge from `after` to the next vertex, nearest at `at` (image pixels).
    Edge {
        polygon: usize,
        after: usize,
        at: [f32; 2],
    },
    Inside {
        polygon: usize,
    },
}

/// A gesture in progress; `now` is where the pointer is (image pixels).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum PolygonDrag {
    Vertex {
        polygon: usize,
        vertex: usize,
        now: [f32; 2],
    },
    NewVertex {
        polygon: usize,
        after: usize,
        now: [f32; 2],
    },
    Polygon {
        polygon: usize,
        from: [f32; 2],
        now: [f32; 2],
    },
}

impl Canvas {
    /// The vertex under the pointer while editing polygons (Delete removes it).
    pub fn hovered_vertex(&self) -> Option<(usize, usize)> {
        match self.polygon_hover {
            Some(Hit::Vertex { polygon, vertex }) => Some((polygon, vertex)),
            _ => None,
        }
    }

    /// What of `polygons` is at `p` (ui): a vertex first, then an edge, then an inside.
    fn polygon_hit(&self, polygons: &[Vec<[f32; 2]>], p: Pos2) -> Option<Hit> {
        let mut best: Option<(f32, Hit)> = None;
        for (polygon, points) in polygons.iter().enumerate() {
            for (vertex, &v) in points.iter().enumerate() {
                let d = self.ui_from_image(v).distance(p);
                if d <= VERTEX_REACH && best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, Hit::Vertex { polygon, vertex }));
                }
            }
        }
        if let Some((_, hit)) = best {
            return Some(hit);
        }
        for (polygon, points) in polygons.iter().enumerate() {
            for after in 0..points.len() {
                let a = self.ui_from_image(points[after]);
                let b = self.ui_from_image(points[(after + 1) % points.len()]);
                let (d, q) = nearest_on_segment(a, b, p);
                if d <= EDGE_REACH && best.is_none_or(|(bd, _)| d < bd) {
                    let at = self.image_from_ui(q);
                    best = Some((d, Hit::Edge { polygon, after, at }));
                }
            }
        }
        if let Some((_, hit)) = best {
            return Some(hit);
        }
        let q = self.image_from_ui(p);
        // The last drawn is on top.
        (0..polygons.len())
            .rev()
            .find(|&i| contains(&polygons[i], q))
            .map(|polygon| Hit::Inside { polygon })
    }

    /// `Tool::Vertices`: drag a vertex, drag an edge out into a new vertex, click an edge to add a
    /// vertex, right-click a vertex to delete it, drag inside a polygon to move it.
    pub(super) fn vertices_input(
        &mut self,
        response: &egui::Response,
        layer: &PolygonLayer<'_>,
        clamp: &dyn Fn([f32; 2]) -> [f32; 2],
        press_origin: Option<Pos2>,
        actions: &mut Vec<CanvasAction>,
    ) {
        let polygons = layer.polygons;
        self.polygon_hover = if self.polygon_drag.is_some() {
            None
        } else {
            response
                .hover_pos()
                .and_then(|p| self.polygon_hit(polygons, p))
        };
        let pointer = response
            .interact_pointer_pos()
            .map(|p| clamp(self.image_from_ui(p)));
        if response.drag_started_by(egui::PointerButton::Primary)
            && let (Some(origin), Some(now)) = (
                press_origin.or_else(|| response.interact_pointer_pos()),
                pointer,
            )
        {
            self.polygon_drag = match self.polygon_hit(polygons, origin) {
                Some(Hit::Vertex { polygon, vertex }) => Some(PolygonDrag::Vertex {
                    polygon,
                    vertex,
                    now,
                }),
                Some(Hit::Edge { polygon, after, .. }) => Some(PolygonDrag::NewVertex {
                    polygon,
                    after,
                    now,
                }),
                Some(Hit::Inside { polygon }) => Some(PolygonDrag::Polygon {
                    polygon,
                    from: self.image_from_ui(origin),
                    now,
                }),
                None => None,
            };
        }
        if response.dragged_by(egui::PointerButton::Primary)
            && let (Some(drag), Some(p)) = (self.polygon_drag.as_mut(), pointer)
        {
            match drag {
                PolygonDrag::Vertex { now, .. }
                | PolygonDrag::NewVertex { now, .. }
                | PolygonDrag::Polygon { now, .. } => *now = p,
            }
        }
        if response.drag_stopped()
            && let Some(drag) = self.polygon_drag.take()
        {
            let action = match drag {
                PolygonDrag::Vertex {
                    polygon,
                    vertex,
                    now,
                } => PolygonAction::MoveVertex {
                    polygon,
                    vertex,
                    to: now,
                },
                PolygonDrag::NewVertex {
                    polygon,
                    after,
                    now,
                } => PolygonAction::InsertVertex {
                    polygon,
                    after,
                    at: now,
                },
                PolygonDrag::Polygon { polygon, from, now } => PolygonAction::MovePolygon {
                    polygon,
                    by: [now[0] - from[0], now[1] - from[1]],
                },
            };
            actions.push(CanvasAction::Polygon(action));
        }
        let hit_at = |canvas: &Self| {
            response
                .interact_pointer_pos()
                .and_then(|p| canvas.polygon_hit(polygons, p))
        };
        if response.clicked()
            && let Some(Hit::Edge { polygon, after, at }) = hit_at(self)
        {
            actions.push(CanvasAction::Polygon(PolygonAction::InsertVertex {
                polygon,
                after,
                at: clamp(at),
            }));
        }
        if response.secondary_clicked()
            && let Some(Hit::Vertex { polygon, vertex }) = hit_at(self)
        {
            actions.push(CanvasAction::Polygon(PolygonAction::DeleteVertex {
                polygon,
                vertex,
            }));
        }
    }

    /// `Tool::Polygon`: each click a vertex; a click on the first vertex (of three or more) closes.
    pub(super) fn draft_input(
        &mut self,
        response: &egui::Response,
        draft: &[[f32; 2]],
        inside: &dyn Fn([f32; 2]) -> bool,
        actions: &mut Vec<CanvasAction>,
    ) {
        if !response.clicked() {
            return;
        }
        let Some(p) = response.interact_pointer_pos() else {
            return;
        };
        let closes = draft.len() >= 3 && self.ui_from_image(draft[0]).distance(p) <= VERTEX_REACH;
        let at = self.image_from_ui(p);
        if closes {
            actions.push(CanvasAction::Polygon(PolygonAction::CloseDraft));
        } else if inside(at) {
            actions.push(CanvasAction::Polygon(PolygonAction::DraftPoint(at)));
        }
    }

    /// The polygons with the gesture in progress applied, as they will be once it ends.
    fn live_polygons(&self, polygons: &[Vec<[f32; 2]>]) -> Vec<Vec<[f32; 2]>> {
        let mut live = polygons.to_vec();
        match self.polygon_drag {
            Some(PolygonDrag::Vertex {
                polygon,
                vertex,
                now,
            }) => {
                if let Some(v) = live.get_mut(polygon).and_then(|p| p.get_mut(vertex)) {
                    *v = now;
                }
            }
            Some(PolygonDrag::NewVertex {
                polygon,
                after,
                now,
            }) => {
                if let Some(p) = live.get_mut(polygon)
                    && after < p.len()
                {
                    p.insert(after + 1, now);
                }
            }
            Some(PolygonDrag::Polygon { polygon, from, now }) => {
                if let Some(p) = live.get_mut(polygon) {
                    for v in p {
                        *v = [v[0] + now[0] - from[0], v[1] + now[1] - from[1]];
                    }
                }
            }
            None => {}
        }
        live
    }

    pub(super) fn paint_polygons(
        &self,
        painter: &egui::Painter,
        layer: &PolygonLayer<'_>,
        pointer_in_image: Option<[f32; 2]>,
    ) {
        let line = Stroke::new(2.0, layer.color);
        let halo = Stroke::new(4.0, Color32::from_black_alpha(160));
        for (polygon, points) in self.live_polygons(layer.polygons).iter().enumerate() {
            let ui: Vec<Pos2> = points.iter().map(|&v| self.ui_from_image(v)).collect();
            painter.add(egui::Shape::closed_line(ui.clone(), halo));
            painter.add(egui::Shape::closed_line(ui.clone(), line));
            for (vertex, &v) in ui.iter().enumerate() {
                let hovered = self.polygon_hover == Some(Hit::Vertex { polygon, vertex });
                let r = if hovered { 5.5 } else { 3.5 };
                painter.rect(
                    egui::Rect::from_center_size(v, egui::vec2(2.0 * r, 2.0 * r)),
                    1.0,
                    Color32::WHITE,
                    Stroke::new(1.5, layer.color),
                    StrokeKind::Middle,
                );
            }
        }
        if let Some(Hit::Edge { at, .. }) = self.polygon_hover {
            // Where a click would add a vertex.
            painter.circle(
                self.ui_from_image(at),
                4.0,
                Color32::from_white_alpha(160),
                Stroke::new(1.5, layer.color),
            );
        }
        if layer.draft.is_empty() {
            return;
        }
        let mut ui: Vec<Pos2> = layer.draft.iter().map(|&v| self.ui_from_image(v)).collect();
        let first = ui[0];
        if let Some(p) = pointer_in_image {
            ui.push(self.ui_from_image(p));
        }
        painter.add(egui::Shape::line(ui.clone(), halo));
        painter.add(egui::Shape::line(ui.clone(), line));
        for &v in &ui[..layer.draft.len()] {
            painter.circle(v, 3.5, Color32::WHITE, Stroke::new(1.5, layer.color));
        }
        let closable = layer.draft.len() >= 3
            && pointer_in_image
                .is_some_and(|p| self.ui_from_image(p).distance(first) <= VERTEX_REACH);
        if closable {
            painter.circle_stroke(first, VERTEX_REACH, Stroke::new(2.0, Color32::WHITE));
        }
    }
}

/// The distance from `p` to the segment `a`-`b`, and the nearest point on it.
fn nearest_on_segment(a: Pos2, b: Pos2, p: Pos2) -> (f32, Pos2) {
    let ab = b - a;
    let len2 = ab.length_sq();
    let t = if len2 > 0.0 {
        ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let q = a + ab * t;
    (q.distance(p), q)
}

/// Whether `p` is inside `polygon` (even-odd rule).
fn contains(polygon: &[[f32; 2]], p: [f32; 2]) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_prefer_vertices_then_edges_then_insides() {
        let canvas = Canvas::default();
        let square = vec![vec![[10.0, 10.0], [50.0, 10.0], [50.0, 50.0], [10.0, 50.0]]];
        let hit = |x, y| canvas.polygon_hit(&square, egui::pos2(x, y));
        assert_eq!(
            hit(12.0, 11.0),
            Some(Hit::Vertex {
                polygon: 0,
                vertex: 0
            })
        );
        assert_eq!(
            hit(30.0, 12.0),
            Some(Hit::Edge {
                polygon: 0,
                after: 0,
                at: [30.0, 10.0]
            })
        );
        assert_eq!(hit(30.0, 30.0), Some(Hit::Inside { polygon: 0 }));
        assert_eq!(hit(70.0, 30.0), None);
    }
}
