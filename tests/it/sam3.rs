//! SAM 3 (Find): the tokenizer gives the official `sam3` ids, the resize torchvision's bytes, and a
//! query the official `Sam3Processor`'s instances (tests/fixtures/make_sam3_fixtures.py), through
//! the library and through `samlabel segment --text` / `samlabel auto --text`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cli::{run, samlabel};
use crate::common;

use samlabel::annotate::coco;
use samlabel::annotate::mask::Mask;
use samlabel::imageio;
use samlabel::sam::SessionOptions;
use samlabel::sam::concept::{self, ConceptModel, ConceptQuery, ExampleBox, Instance};
use samlabel::sam::tokenizer::{self, Tokenizer};
use serde::Deserialize;

pub fn sam3_model_dir() -> PathBuf {
    common::fixtures().join("model-sam3")
}

fn expected(file: &str) -> PathBuf {
    common::fixtures().join("expected-sam3").join(file)
}

#[derive(Deserialize)]
struct Tokens {
    phrases: Vec<Phrase>,
}

#[derive(Deserialize)]
struct Phrase {
    text: String,
    clean: String,
    ids: Vec<i64>,
}

#[test]
fn tokenizer_ids_equal_the_official_sam3_tokenizers() {
    let tokens: Tokens =
        serde_json::from_str(&std::fs::read_to_string(expected("tokens.json")).unwrap()).unwrap();
    assert!(tokens.phrases.len() >= 50);
    let t = Tokenizer::from_file(&sam3_model_dir().join(tokenizer::VOCAB_FILE)).unwrap();
    let wrong: Vec<String> = tokens
        .phrases
        .iter()
        .filter_map(|p| {
            let (clean, ids) = (tokenizer::clean_lower(&p.text), t.tokens(&p.text, 32));
            (clean != p.clean || ids != p.ids).then(|| {
                format!(
                    "{:?}: clean {clean:?} (official {:?}), ids {ids:?} (official {:?})",
                    p.text, p.clean, p.ids
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[derive(Deserialize)]
struct Resize {
    cases: Vec<ResizeCase>,
}

#[derive(Deserialize)]
struct ResizeCase {
    name: String,
    source: common::Source,
    input_sha256: String,
    sha256: String,
}

#[test]
fn resize_is_torchvisions_uint8_resize_byte_for_byte() {
    let resize: Resize =
        serde_json::from_str(&std::fs::read_to_string(expected("resize.json")).unwrap()).unwrap();
    assert!(resize.cases.len() >= 16);
    let mut wrong = Vec::new();
    for case in &resize.cases {
        let image = case.source.load();
        assert_eq!(
            common::hex_sha256(image.as_raw()),
            case.input_sha256,
            "{}",
            case.name
        );
        if common::hex_sha256(&concept::stretch_chw(&image, 1008)) != case.sha256 {
            wrong.push(case.name.as_str());
        }
    }
    assert!(wrong.is_empty(), "not torchvision's bytes: {wrong:?}");
}

#[derive(Deserialize)]
pub struct Cases {
    pub threshold: f32,
    pub images: Vec<ImageEntry>,
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
pub struct ImageEntry {
    pub name: String,
    pub file: String,
}

#[derive(Deserialize)]
pub struct Case {
    pub name: String,
    pub image: String,
    pub text: Option<String>,
    /// `[x0, y0, x1, y1, label]` in image pixels.
    pub boxes: Vec<[f32; 5]>,
    pub instances: Vec<Expected>,
}

#[derive(Deserialize)]
pub struct Expected {
    pub score: f32,
    pub box_xyxy: [f32; 4],
    pub mask: String,
}

pub fn cases() -> Cases {
    serde_json::from_str(&std::fs::read_to_string(expected("cases.json")).unwrap()).unwrap()
}

impl Case {
    pub fn query(&self) -> ConceptQuery {
        ConceptQuery {
            text: self.text.clone(),
            boxes: self
                .boxes
                .iter()
                .map(|&[x0, y0, x1, y1, label]| ExampleBox {
                    x0,
                    y0,
                    x1,
                    y1,
                    positive: label > 0.5,
                })
                .collect(),
        }
    }

    /// The official instances, best first (the order samlabel gives them).
    fn sorted(&self) -> Vec<&Expected> {
        let mut sorted: Vec<&Expected> = self.instances.iter().collect();
        sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
        sorted
    }
}

fn expected_mask(e: &Expected) -> Mask {
    Mask::from_gray(
        &image::open(common::fixtures().join(&e.mask))
            .unwrap()
            .to_luma8(),
    )
}

/// Count equal, boxes within 1 px, masks IoU >= 0.99, scores within 1e-3; `None` when they agree.
fn compare(case: &Case, found: &[(f32, [f32; 4], Mask)]) -> Option<String> {
    let want = case.sorted();
    if want.len() != found.len() {
        return Some(format!(
            "{}: {} instances, official {}",
            case.name,
            found.len(),
            want.len()
        ));
    }
    for (i, (e, (score, b, mask))) in want.iter().zip(found).enumerate() {
        let off = e
            .box_xyxy
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let iou = mask.iou(&expected_mask(e));
        if off > 1.0 || iou < 0.99 || (score - e.score).abs() > 1e-3 {
            return Some(format!(
                "{} #{i}: box off by {off} px, IoU {iou}, score {score} vs {}",
                case.name, e.score
            ));
        }
    }
    None
}

#[test]
fn find_gives_the_official_processors_instances() {
    let cases = cases();
    assert!(cases.cases.len() >= 20);
    let mut model = ConceptModel::load(&sam3_model_dir(), SessionOptions::default()).unwrap();
    assert_eq!(model.box_capacity(), Some(4));
    let mut features = HashMap::new();
    let mut wrong = Vec::new();
    let mut instances = 0;
    for case in &cases.cases {
        let image = cases.images.iter().find(|i| i.name == case.image).unwrap();
        let f = features.entry(case.image.clone()).or_insert_with(|| {
            let rgb = imageio::load_rgb(&common::fixtures().join(&image.file)).unwrap();
            model.encode(&rgb).unwrap()
        });
        let (found, _) = model.find(f, &case.query(), cases.threshold).unwrap();
        instances += found.len();
        let found: Vec<_> = found
            .into_iter()
            .map(
                |Instance {
                     score,
                     box_xyxy,
                     mask,
                 }| (score, box_xyxy, mask),
            )
            .collect();
        wrong.extend(compare(case, &found));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(instances >= 40, "{instances}");
}

#[test]
fn more_example_boxes_than_the_decoder_holds_are_refused_by_name() {
    let mut model = ConceptModel::load(&sam3_model_dir(), SessionOptions::default()).unwrap();
    let rgb = imageio::load_rgb(&common::fixtures().join("images/coffee.png")).unwrap();
    let features = model.encode(&rgb).unwrap();
    let example = ExampleBox {
        x0: 10.0,
        y0: 10.0,
        x1: 50.0,
        y1: 50.0,
        positive: true,
    };
    let query = ConceptQuery {
        text: None,
        boxes: vec![example; 5],
    };
    let err = model.find(&features, &query, 0.5).unwrap_err().to_string();
    assert!(err.contains("at most 4 example boxes"), "{err}");
    let empty = ConceptQuery::default();
    let err = model.find(&features, &empty, 0.5).unwrap_err().to_string();
    assert!(err.contains("phrase or an example box"), "{err}");
}

/// `segment --text` from the folder in the downloaded layout: one PNG per instance, best first,
/// and one JSON line each, equal to the official instances.
#[test]
fn segment_text_writes_the_official_instances() {
    let cases = cases();
    let dir = common::temp_dir("cli-segment-text");
    for name in ["chelsea_text_cat", "coffee_text_box", "camera_pos_neg"] {
        let case = cases.cases.iter().find(|c| c.name == name).unwrap();
        let image = cases.images.iter().find(|i| i.name == case.image).unwrap();
        let out = dir.join(name);
        let mut c = samlabel();
        c.arg("segment")
            .arg(common::fixtures().join(&image.file))
            .arg("--model-dir")
            .arg(sam3_model_dir())
            .arg("--text")
            .arg(case.text.as_deref().unwrap_or(""))
            .args(["--threshold", &cases.threshold.to_string()])
            .arg("--output-dir")
            .arg(&out);
        for [x0, y0, x1, y1, label] in &case.boxes {
            let flag = if *label > 0.5 {
                "--box"
            } else {
                "--negative-box"
            };
            c.arg(flag).arg(format!("{x0},{y0},{x1},{y1}"));
        }
        let (output, stdout, stderr) = run(&mut c);
        assert!(output.status.success(), "{name}: {stderr}");
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let found: Vec<(f32, [f32; 4], Mask)> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let path = out.join(format!("{i}.png"));
                assert_eq!(line["mask"].as_str(), Some(path.to_str().unwrap()));
                let mask = Mask::from_gray(&image::open(&path).unwrap().to_luma8());
                assert_eq!(line["area"].as_u64(), Some(mask.area()));
                let b: Vec<f32> = serde_json::from_value(line["box"].clone()).unwrap();
                (
                    line["score"].as_f64().unwrap() as f32,
                    [b[0], b[1], b[2], b[3]],
                    mask,
                )
            })
            .collect();
        assert!(!found.is_empty() || case.instances.is_empty());
        if let Some(problem) = compare(case, &found) {
            panic!("{problem}");
        }
        assert!(
            !out.join(format!("{}.png", found.len())).exists(),
            "{name}: one PNG per instance"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tokenize_prints_the_official_ids() {
    let mut c = samlabel();
    c.arg("tokenize")
        .arg("--model-dir")
        .arg(sam3_model_dir())
        .arg("Two “red” cars, 12 dogs");
    let (output, stdout, stderr) = run(&mut c);
    assert!(output.status.success(), "{stderr}");
    let ids: Vec<i64> = serde_json::from_str(stdout.trim()).unwrap();
    let t = Tokenizer::from_file(&sam3_model_dir().join(tokenizer::VOCAB_FILE)).unwrap();
    assert_eq!(ids, t.tokens("Two “red” cars, 12 dogs", 32));
    assert_eq!(ids.len(), 32);
    assert_eq!(&ids[..2], &[49406, 1237]);
}

/// `auto --text` over a folder in two shards, then `merge`: every image once, each phrase's
/// instances under a category of its name, and a second run skips every image.
#[test]
fn auto_text_in_two_shards_then_merge_labels_every_image_under_the_phrases() {
    let dir = common::temp_dir("cli-auto-text");
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("more")).unwrap();
    for (i, name) in [
        "chelsea_exif6.jpg",
        "coffee.png",
        "logo_rgba.png",
        "camera_gray.png",
    ]
    .iter()
    .enumerate()
    {
        let folder = if i % 2 == 0 {
            images.clone()
        } else {
            images.join("more")
        };
        std::fs::copy(
            common::fixtures().join("images").join(name),
            folder.join(name),
        )
        .unwrap();
    }
    let auto = |shard: &str, out: &Path| {
        let mut c = samlabel();
        c.arg("auto")
            .arg(&images)
            .arg("--model-dir")
            .arg(sam3_model_dir())
            .args(["--text", "cat, python,cat", "--threshold", "0.45"])
            .args(["--shard", shard, "--coco"])
            .arg(out);
        let (output, stdout, stderr) = run(&mut c);
        assert!(output.status.success(), "{stderr}");
        stdout
    };
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let first = auto("1/2", &a);
    assert!(
        first.contains("2 images (shard 1/2): 2 labelled"),
        "{first}"
    );
    assert!(first.contains("of cat, python"), "{first}");
    assert!(auto("2/2", &b).contains("2 labelled"));
    assert!(auto("1/2", &a).contains("2 already done"));

    let merged = dir.join("all.json");
    let mut c = samlabel();
    c.arg("merge").arg(&a).arg(&b).arg("--out").arg(&merged);
    let (output, stdout, stderr) = run(&mut c);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("4 images"), "{stdout}");

    let dataset = coco::load(&merged).unwrap().dataset;
    let names: Vec<&str> = dataset
        .categories()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["cat", "python"]);
    assert_eq!(dataset.images().len(), 4);
    // The official answers for these two phrases on two of the photos (same threshold).
    let cases = cases();
    let count = |name: &str| {
        cases
            .cases
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .instances
            .len()
    };
    let by_category = |category: &str, file: &str| {
        let cat = dataset.category_by_name(category).unwrap().id;
        let image = dataset
            .images()
            .iter()
            .find(|i| i.file_name.ends_with(file))
            .unwrap()
            .id;
        dataset
            .annotations()
            .iter()
            .filter(|a| a.category_id == cat && a.image_id == image)
            .count()
    };
    assert_eq!(
        by_category("cat", "chelsea_exif6.jpg"),
        count("chelsea_text_cat")
    );
    assert_eq!(
        by_category("python", "logo_rgba.png"),
        count("logo_text_python")
    );
    for ann in dataset.annotations() {
        let image = dataset.image(ann.image_id).unwrap();
        let mask = ann.segmentation.to_rle(image.height, image.width).to_mask();
        assert!(mask.area() > 0);
        assert!(ann.extra.get("score").is_some());
    }
    std::fs::remove_dir_all(dir).unwrap();
}
