//! What the user has picked: the category for new masks, the selected, hovered and hidden
//! annotations, and the tool with its brush.

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
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            category: None,
            annotation: None,
            hovered: None,
            hidden: HashSet::new(),
            tool: Tool::Prompt,
            brush_radius: 8.0,
            brush_target: None,
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
    }

    /// Whether hovering may decode: prompting, and no annotation is being painted.
    pub fn hover_decodes(&self) -> bool {
        self.tool == Tool::Prompt && self.brush_target.is_none()
    }
}
