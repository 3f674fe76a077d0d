//! The dataset side of samlabel, independent of any GUI: masks, RLE, the dataset with undo/redo,
//! COCO import/export and the other export formats.

pub mod coco;
pub mod dataset;
pub mod export;
pub mod import;
pub mod lock;
pub mod mask;
pub mod polygon;
pub mod rle;
