//! What the user has picked: the category for new masks, the selected, hovered and hidden
//! annotations, the tool with its brush, and how accepted masks are drawn.

use std::collections::HashSet;

use super::canvas::Tool;
use crate::annotate::dataset::{AnnotationId, CategoryId};
use crate::annotate::mask::Mask;

pub struct Selection {
    /// Category new masks get (None: "object", made on first accept).
    pub category: Option<CategoryId>,
    /// Picked in the instances list or made by the last accept; the brush and Delete act on it.
    pub annotation: Option<AnnotationId>,
    /// Under the pointer: drawn highlighted.
    pub hovered: Option<AnnotationId>,
    pub hidden: HashSet<AnnotationId>,
    pub tool: Tool,
    pub brush_radius: f32,
    /// The annotation being painted with the brush: its mask, edited in place, saved on release.
    pub brush_target: Option<(AnnotationId, Mask)>,
    pub view: ViewOptions,
}

/// How accepted masks are drawn (View menu).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewOptions {
    pub masks_visible: bool,
    /// Fill opacity, 0..=1 (outlines stay opaque).
    pub opacity: f32,
    pub outlines_only: bool,
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self {
            masks_visible: true,
            opacity: 0.35,
            outlines_only: false,
        }
    }
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            category: None,
            annotation: None,
            hovered: None,
            hidden: HashSet::new(),
            tool: Tool::Prompt,
            brush_radius: remembered_brush_radius().unwrap_or(8.0),
            brush_target: None,
            view: ViewOptions::default(),
        }
    }
}

impl Selection {
    /// Another image: annotations picked on the last one no longer apply.
    pub fn leave_image(&mut self) {
        self.annotation = None;
        self.hovered = None;
        self.brush_target = None;
    }

    /// B / E: that tool, or back to prompting when it is already on.
    pub fn toggle_tool(&mut self, tool: Tool) {
        self.tool = if self.tool == tool {
            Tool::Prompt
        } else {
            tool
        };
    }

    /// `[` / `]`: the brush radius times `factor`, within 1..=500 px.
    pub fn scale_brush(&mut self, factor: f32) {
        self.brush_radius = (self.brush_radius * factor).clamp(1.0, 500.0);
        remember_brush_radius(self.brush_radius);
    }

    /// Whether hovering may decode: prompting, and no annotation is being painted.
    pub fn hover_decodes(&self) -> bool {
        self.tool == Tool::Prompt && self.brush_target.is_none()
    }
}

fn settings_file() -> Option<std::path::PathBuf> {
    dirs::config_dir().map(|d| d.join("samlabel").join("brush.json"))
}

/// The brush size of the last session (best effort: none when the config folder cannot be read).
fn remembered_brush_radius() -> Option<f32> {
    let text = std::fs::read_to_string(settings_file()?).ok()?;
    let radius: f32 = serde_json::from_str::<serde_json::Value>(&text)
        .ok()?
        .get("radius")?
        .as_f64()? as f32;
    (1.0..=500.0).contains(&radius).then_some(radius)
}

fn remember_brush_radius(radius: f32) {
    let Some(file) = settings_file() else { return };
    if let Some(parent) = file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(file, serde_json::json!({ "radius": radius }).to_string());
}
