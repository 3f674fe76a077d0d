//! The resize in front of the encoder gives Pillow's bytes (what `SamPredictor` runs) on every test
//! image and on noise images of awkward sizes: expected hashes from tests/fixtures/make_resize_fixtures.py.

use crate::common;

use samlabel::imageio;
use samlabel::sam::preprocess::Preprocessor;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
struct Expected {
    target: u32,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    source: Source,
    input_sha256: String,
    size: [u32; 2],
    sha256: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Source {
    File { file: String },
    Noise { noise: [u32; 2] },
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn resize_is_pillows_byte_for_byte() {
    let path = common::fixtures().join("expected").join("resize.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let expected: Expected = serde_json::from_str(&text).unwrap();
    assert!(expected.cases.len() >= 16);
    let mut pre = Preprocessor::default();
    let mut wrong = Vec::new();
    for case in &expected.cases {
        let image = match &case.source {
            Source::File { file } => imageio::load_rgb(&common::fixtures().join(file)).unwrap(),
            Source::Noise { noise: [w, h] } => common::noise(*w, *h),
        };
        assert_eq!(
            hex_sha256(image.as_raw()),
            case.input_sha256,
            "{}: the decoded pixels differ from Pillow's, so the resize cannot be compared",
            case.name
        );
        let resized = pre.resize(&image, expected.target);
        let [w, h] = case.size;
        assert_eq!(resized.len(), (w * h * 3) as usize, "{}: size", case.name);
        if hex_sha256(resized) != case.sha256 {
            wrong.push(case.name.as_str());
        }
    }
    assert!(wrong.is_empty(), "not Pillow's bytes: {wrong:?}");
}
