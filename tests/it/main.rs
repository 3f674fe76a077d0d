//! All integration tests in one binary (one link instead of seven), as ripgrep does.

mod auto;
mod boxes;
mod cli;
mod coco;
mod common;
mod everything;
mod fuzz_regressions;
#[cfg(feature = "gui")]
mod gui;
#[cfg(feature = "gui")]
mod gui_boxes;
#[cfg(feature = "gui")]
mod gui_day;
#[cfg(feature = "gui")]
mod gui_find;
#[cfg(feature = "gui")]
mod gui_import;
#[cfg(feature = "gui")]
mod gui_polygons;
#[cfg(feature = "gui")]
mod gui_sam2;
mod import;
mod import_roundtrip;
mod inputs;
mod kill;
mod pipeline;
mod resize;
mod sam2;
mod sam3;
