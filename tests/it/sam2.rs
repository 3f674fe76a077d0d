//! SAM 2.1: the Rust pipeline reproduces the official `SAM2ImagePredictor` (fixtures from
//! tests/fixtures/make_sam2_fixtures.py, a random-weight SAM 2.1 built with the official `sam2` code).

use crate::common;

use samlabel::imageio;
use samlabel::sam::family::Family;
use samlabel::sam::preprocess::Preprocessor;
use samlabel::sam::{Multimask, SamModel, SessionOptions};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Deserialize)]
struct Preprocess {
    images: Vec<PreprocessCase>,
}

#[derive(Deserialize)]
struct PreprocessCase {
    name: String,
    /// A fixture image, or a noise image of this size (`common::noise`).
    file: Option<String>,
    noise: Option<[u32; 2]>,
    input_sha256: String,
}

fn hex_sha256_f32(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn preprocessing_is_sam2_transforms_bit_for_bit() {
    let path = common::fixtures().join("expected-sam2/preprocess.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let expected: Preprocess = serde_json::from_str(&text).unwrap();
    let mut pre = Preprocessor::default();
    let mut checked = 0;
    for case in &expected.images {
        let image = match (&case.file, case.noise) {
            (_, Some([w, h])) => common::noise(w, h),
            // JPEG decoders differ by a level here and there: only PNGs have Pillow's pixels.
            (Some(file), None) if file.ends_with(".png") => {
                imageio::load_rgb(&common::fixtures().join(file)).unwrap()
            }
            _ => continue,
        };
        let input = pre.stretched_nchw(&image, 1024, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
        assert_eq!(
            hex_sha256_f32(input),
            case.input_sha256,
            "{}: not the float tensor SAM2ImagePredictor feeds its encoder",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 8);
}

#[test]
fn masks_equal_sam2_image_predictors() {
    crate::pipeline::check_all_cases(&common::sam2_model_dir(), &common::sam2_cases());
}

#[test]
fn the_fixture_model_is_detected_as_sam2() {
    let model = SamModel::load(&common::sam2_model_dir(), SessionOptions::default()).unwrap();
    assert_eq!(model.interface.family, Family::Sam2);
    let shapes: Vec<[usize; 3]> = model.interface.embedding.iter().map(|t| t.shape).collect();
    assert_eq!(shapes, [[32, 256, 256], [64, 128, 128], [256, 64, 64]]);
}

/// samexporter's SAM 2 decoders drop the single-mask token: the best of the three is taken, which
/// is the official answer wherever the official predictor chose a multimask token.
#[test]
fn three_token_decoders_match_where_the_predictor_chose_a_multimask_token() {
    let dir = common::temp_dir("sam2-3tokens");
    std::fs::copy(
        common::sam2_model_dir().join("encoder.onnx"),
        dir.join("encoder.onnx"),
    )
    .unwrap();
    std::fs::copy(
        common::fixtures().join("model-variants/sam2_decoder_3tokens.onnx"),
        dir.join("decoder.onnx"),
    )
    .unwrap();
    let mut model = SamModel::load(&dir, SessionOptions::default()).unwrap();
    let cases = common::sam2_cases();
    let mut checked = 0;
    for image_case in &cases.images {
        let image = imageio::load_rgb(&common::fixtures().join(&image_case.file)).unwrap();
        let (embedding, _) = model.encode(&image).unwrap();
        for case in cases.cases.iter().filter(|c| c.image == image_case.name) {
            let prediction = model
                .predict(&embedding, &case.prompt(), Multimask::Auto)
                .unwrap();
            assert_eq!(prediction.candidates.count(), 3);
            if case.chosen_index == 0 {
                continue;
            }
            let iou = prediction.mask.iou(&case.expected_mask());
            assert_eq!(prediction.index, case.chosen_index - 1, "{}", case.name);
            assert!(iou >= 0.99, "{}: IoU {iou}", case.name);
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn segment_on_the_command_line_gives_the_official_mask() {
    let cases = common::sam2_cases();
    let case = cases
        .cases
        .iter()
        .find(|c| c.name == "coffee_box_point")
        .expect("the fixture has coffee_box_point");
    let dir = common::temp_dir("sam2-segment");
    let out = dir.join("mask.png");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_samlabel"));
    command
        .env("SAMLABEL_CACHE_DIR", dir.join("cache"))
        .arg("segment")
        .arg(common::fixtures().join(&cases.image(&case.image).file))
        .arg("--model-dir")
        .arg(common::sam2_model_dir());
    for (point, label) in case.points.iter().zip(&case.labels) {
        let flag = if *label == 1 { "--point" } else { "--negative" };
        command.arg(flag).arg(format!("{},{}", point[0], point[1]));
    }
    if let Some([x0, y0, x1, y1]) = case.bbox {
        command.arg("--box").arg(format!("{x0},{y0},{x1},{y1}"));
    }
    let output = command.arg("--output").arg(&out).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mask = samlabel::annotate::mask::Mask::from_gray(&image::open(&out).unwrap().to_luma8());
    let iou = mask.iou(&case.expected_mask());
    assert!(iou >= 0.999, "IoU {iou}");
    std::fs::remove_dir_all(dir).unwrap();
}
