//! Shared helpers for the integration tests: the fixture cases made by tests/fixtures/make_fixtures.py.
#![allow(dead_code)]

pub mod fuzz_checks;

use std::path::{Path, PathBuf};

use samlabel::annotate::mask::Mask;
use samlabel::sam::{PointPrompt, Prompt};
use serde::Deserialize;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

pub fn model_dir() -> PathBuf {
    fixtures().join("model")
}

#[derive(Debug, Deserialize)]
pub struct Cases {
    pub images: Vec<ImageCase>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
pub struct ImageCase {
    pub name: String,
    pub file: String,
    pub width: u32,
    pub height: u32,
    pub input_size: [u32; 2],
}

#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    pub image: String,
    pub points: Vec<[f32; 2]>,
    pub labels: Vec<i32>,
    #[serde(rename = "box")]
    pub bbox: Option<[f32; 4]>,
    pub mask_input: Option<String>,
    pub multimask: bool,
    pub chosen_index: usize,
    pub score: f32,
    pub mask: String,
    pub area: u64,
    /// COCO `[x, y, w, h]` of the expected mask.
    #[serde(rename = "bbox")]
    pub mask_bbox: [u32; 4],
}

pub fn cases() -> Cases {
    cases_in("expected")
}

/// The SAM 2.1 fixture model (tests/fixtures/make_sam2_fixtures.py).
pub fn sam2_model_dir() -> PathBuf {
    fixtures().join("model-sam2")
}

/// The official `SAM2ImagePredictor`'s answers for the SAM 2.1 fixture model.
pub fn sam2_cases() -> Cases {
    cases_in("expected-sam2")
}

fn cases_in(folder: &str) -> Cases {
    let path = fixtures().join(folder).join("cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Cases {
    pub fn image(&self, name: &str) -> &ImageCase {
        self.images
            .iter()
            .find(|i| i.name == name)
            .expect("case names a known image")
    }
}

impl Case {
    pub fn prompt(&self) -> Prompt {
        Prompt {
            points: self
                .points
                .iter()
                .zip(&self.labels)
                .map(|(&p, &l)| PointPrompt {
                    point_in_image: p,
                    positive: l == 1,
                })
                .collect(),
            box_in_image: self.bbox,
            mask_input: self
                .mask_input
                .as_ref()
                .map(|f| read_f32(&fixtures().join(f))),
        }
    }

    pub fn expected_mask(&self) -> Mask {
        let img = image::open(fixtures().join(&self.mask))
            .expect("expected mask opens")
            .to_luma8();
        Mask::from_gray(&img)
    }
}

pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A model directory with the in-graph-preprocessing encoder variant and the shared decoder.
pub fn ingraph_model_dir(tag: &str) -> PathBuf {
    let dir = temp_dir(&format!("ingraph-{tag}"));
    std::fs::copy(
        fixtures()
            .join("model-variants")
            .join("encoder_ingraph.onnx"),
        dir.join("encoder.onnx"),
    )
    .unwrap();
    std::fs::copy(model_dir().join("decoder.onnx"), dir.join("decoder.onnx")).unwrap();
    dir
}

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("samlabel-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fixture scripts' noise image (`make_resize_fixtures.noise`): byte i is `x ^ (x >> 15)` of
/// `x = i * 2654435761` (mod 2^32), low 8 bits.
pub fn noise(w: u32, h: u32) -> image::RgbImage {
    let bytes = (0..w * h * 3)
        .map(|i| {
            let x = i.wrapping_mul(2_654_435_761);
            (x ^ (x >> 15)) as u8
        })
        .collect();
    image::RgbImage::from_raw(w, h, bytes).expect("w * h * 3 bytes")
}

/// The image a resize fixture case was made from: a test image (or Pillow's decoded pixels of one),
/// or the fixture scripts' [`noise`].
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Source {
    File { file: String },
    Noise { noise: [u32; 2] },
}

impl Source {
    pub fn load(&self) -> image::RgbImage {
        match self {
            Source::File { file } => samlabel::imageio::load_rgb(&fixtures().join(file)).unwrap(),
            Source::Noise { noise: [w, h] } => noise(*w, *h),
        }
    }
}

/// SHA-256 as lower-case hex, as the fixture scripts write it.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
