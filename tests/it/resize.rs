//! The resize in front of the encoder gives Pillow's bytes (what `SamPredictor` runs) on every test
//! image and on noise images of awkward sizes: expected hashes from tests/fixtures/make_resize_fixtures.py.

use crate::common;

use samlabel::sam::preprocess::Preprocessor;
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    target: u32,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    source: common::Source,
    input_sha256: String,
    size: [u32; 2],
    sha256: String,
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
        let image = case.source.load();
        assert_eq!(
            common::hex_sha256(image.as_raw()),
            case.input_sha256,
            "{}: the decoded pixels differ from Pillow's, so the resize cannot be compared",
            case.name
        );
        let resized = pre.resize(&image, expected.target);
        let [w, h] = case.size;
        assert_eq!(resized.len(), (w * h * 3) as usize, "{}: size", case.name);
        if common::hex_sha256(resized) != case.sha256 {
            wrong.push(case.name.as_str());
        }
    }
    assert!(wrong.is_empty(), "not Pillow's bytes: {wrong:?}");
}
