//! samlabel: label images with Segment Anything.
//!
//! The data flow is `image file → RgbImage → embedding → prompt → low-res logits → Mask`; see
//! ARCHITECTURE.md for which module owns each step.

pub mod annotate;
#[cfg(feature = "gui")]
pub mod app;
pub mod imageio;
pub mod project;
pub mod sam;
