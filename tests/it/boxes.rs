//! `samlabel auto DATASET.json --from-boxes`: each box-only annotation gets the official predictor's
//! mask for its box (ids, categories and other keys kept), runs resume, shards merge into one run's
//! result, and a killed run loses nothing it saved.

use crate::cli::{run, samlabel};
use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Annotation, Dataset, Edit, Segmentation, measures};
use samlabel::annotate::mask::Mask;
use samlabel::project::boxes::converted;
use serde_json::{Value, json};

/// A COCO box `[x, y, w, h]` from a fixture case's `[x0, y0, x1, y1]`.
fn coco_box(case: &str, cases: &common::Cases) -> Value {
    let [x0, y0, x1, y1] = case_named(case, cases).bbox.unwrap();
    json!([x0, y0, x1 - x0, y1 - y0])
}

fn case_named<'a>(name: &str, cases: &'a common::Cases) -> &'a common::Case {
    cases.cases.iter().find(|c| c.name == name).unwrap()
}

/// An image of a test dataset: its file name, the fixture image it copies, its boxes
/// `(annotation id, bbox)`.
type TestImage<'a> = (&'a str, &'a str, Vec<(u64, Value)>);

/// `dir/ds.json` over fixture images copied into `dir`.
fn detection_dataset(dir: &Path, images: &[TestImage<'_>]) -> PathBuf {
    let cases = common::cases();
    std::fs::create_dir_all(dir).unwrap();
    let mut image_entries = Vec::new();
    let mut annotations = Vec::new();
    for (i, (file, source, boxes)) in images.iter().enumerate() {
        let fixture = cases.image(source);
        std::fs::copy(common::fixtures().join(&fixture.file), dir.join(file)).unwrap();
        let image_id = i as u64 + 1;
        image_entries.push(json!({"id": image_id, "file_name": file,
            "width": fixture.width, "height": fixture.height}));
        for (id, bbox) in boxes {
            let [w, h] = [bbox[2].as_f64().unwrap(), bbox[3].as_f64().unwrap()];
            annotations.push(
                json!({"id": id, "image_id": image_id, "category_id": id % 2 + 1,
                "segmentation": [], "bbox": bbox, "area": w * h, "iscrowd": 0,
                "detector_score": 0.5}),
            );
        }
    }
    let doc = json!({"images": image_entries, "annotations": annotations,
        "categories": [{"id": 1, "name": "cup"}, {"id": 2, "name": "cat"}]});
    let path = dir.join("ds.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn from_boxes(dir: &Path, dataset: &Path, model: &Path, more: &[&str]) -> Command {
    let mut c = samlabel();
    c.env("SAMLABEL_CACHE_DIR", dir.join("cache"))
        .arg("auto")
        .arg(dataset)
        .arg("--from-boxes")
        .arg("--model-dir")
        .arg(model)
        .args(more);
    c
}

fn run_ok(c: &mut Command) -> String {
    let (output, stdout, stderr) = run(c);
    assert!(output.status.success(), "{stderr}");
    stdout
}

fn mask_of(dataset: &Dataset, annotation: &Annotation) -> Mask {
    let image = dataset.image(annotation.image_id).unwrap();
    annotation
        .segmentation
        .to_rle(image.height, image.width)
        .to_mask()
}

/// Each image's annotations as (category name, segmentation, area, bbox, other keys), for comparing
/// datasets whose ids differ (a merge gives ids anew).
fn by_image(dataset: &Dataset) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for image in dataset.images() {
        let mut rows: Vec<String> = dataset
            .annotations_of(image.id)
            .map(|a| {
                let name = &dataset.category(a.category_id).unwrap().name;
                format!(
                    "{name} {:?} {} {:?} {:?}",
                    a.segmentation, a.area, a.bbox, a.extra
                )
            })
            .collect();
        rows.sort();
        out.insert(image.file_name.clone(), rows);
    }
    out
}

#[test]
fn from_boxes_gives_each_box_the_official_mask_keeps_ids_and_resumes() {
    let dir = common::temp_dir("boxes-cli");
    let cases = common::cases();
    let input = detection_dataset(
        &dir.join("data"),
        &[
            (
                "coffee.png",
                "coffee",
                vec![
                    (10, coco_box("coffee_box", &cases)),
                    (12, json!([10, 10, 0, 5])),
                ],
            ),
            (
                "camera.png",
                "camera_gray",
                vec![(11, coco_box("camera_gray_box", &cases))],
            ),
            ("logo.png", "logo_rgba", vec![]),
        ],
    );
    // An annotation that has a mask already is left as it is.
    let mut dataset = coco::load(&input).unwrap().dataset;
    let masked = Annotation::from_mask(30, 3, 1, &Mask::from_fn(500, 500, |i| i < 2000));
    dataset.apply(Edit::AddAnnotation(masked.clone())).unwrap();
    coco::save(&dataset, &input).unwrap();
    let input_bytes = std::fs::read(&input).unwrap();

    let out = dir.join("out.json");
    let model = common::model_dir();
    let stdout = run_ok(&mut from_boxes(
        &dir,
        &input,
        &model,
        &["--output", out.to_str().unwrap()],
    ));
    assert!(
        stdout.contains("3 images (shard 1/1): 2 boxes converted to masks, 0 empty and 1 unusable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 images segmented, 1 without boxes"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(&input).unwrap(),
        input_bytes,
        "--output leaves the input alone"
    );

    let saved = coco::load(&out).unwrap();
    assert!(
        saved.missing_images.is_empty(),
        "names follow the output's folder"
    );
    let saved = saved.dataset;
    let ids: Vec<u64> = saved.annotations().iter().map(|a| a.id).collect();
    assert_eq!(ids, [10, 12, 11, 30], "ids and order kept");
    for (id, case) in [(10, "coffee_box"), (11, "camera_gray_box")] {
        let before = dataset.annotation(id).unwrap();
        let after = saved.annotation(id).unwrap();
        assert!(matches!(after.segmentation, Segmentation::CompressedRle(_)));
        let got = mask_of(&saved, after);
        let iou = got.iou(&case_named(case, &cases).expected_mask());
        println!("{case}: IoU {iou:.5} with SamPredictor's mask");
        assert!(iou >= 0.999, "{case}: IoU {iou}");
        let Segmentation::CompressedRle(rle) = &after.segmentation else {
            unreachable!()
        };
        assert_eq!(
            (&after.area, &after.bbox),
            (&measures(rle).0, &measures(rle).1)
        );
        assert_eq!(
            (after.category_id, after.image_id, &after.extra),
            (before.category_id, before.image_id, &before.extra),
            "category and other keys kept"
        );
    }
    assert!(
        saved.annotation(12).unwrap().is_box_only(),
        "a box of no width stays"
    );
    assert_eq!(saved.annotation(30), Some(&masked));

    // Again: nothing left to convert, nothing changes.
    let before = std::fs::read(&out).unwrap();
    let again = run_ok(&mut from_boxes(&dir, &out, &model, &[]));
    assert!(again.contains("0 boxes converted to masks"), "{again}");
    assert_eq!(std::fs::read(&out).unwrap(), before);

    // A box added later is converted on its own; the masks made before stay as they are.
    let mut dataset = coco::load(&out).unwrap().dataset;
    let coffee = dataset.image_by_file("data/coffee.png").unwrap().id;
    let added = Annotation::from_box(40, coffee, 2, [100.0, 200.0, 150.0, 120.0]);
    dataset.apply(Edit::AddAnnotation(added)).unwrap();
    coco::save(&dataset, &out).unwrap();
    let third = run_ok(&mut from_boxes(&dir, &out, &model, &[]));
    assert!(third.contains("1 box converted to a mask"), "{third}");
    let last = coco::load(&out).unwrap().dataset;
    assert!(!last.annotation(40).unwrap().is_box_only());
    assert_eq!(last.annotation(10), saved.annotation(10));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn from_boxes_with_a_sam2_model_matches_the_official_predictor() {
    let dir = common::temp_dir("boxes-sam2");
    let cases = common::sam2_cases();
    let bbox = |name: &str| {
        let [x0, y0, x1, y1] = case_named(name, &cases).bbox.unwrap();
        json!([x0, y0, x1 - x0, y1 - y0])
    };
    // camera_gray's single-mask answer is unstable: the official predictor takes a multimask one.
    let input = detection_dataset(
        &dir,
        &[
            ("coffee.png", "coffee", vec![(1, bbox("coffee_box"))]),
            (
                "camera.png",
                "camera_gray",
                vec![(2, bbox("camera_gray_box"))],
            ),
        ],
    );
    let stdout = run_ok(&mut from_boxes(
        &dir,
        &input,
        &common::sam2_model_dir(),
        &[],
    ));
    assert!(stdout.contains("2 boxes converted"), "{stdout}");
    let dataset = coco::load(&input).unwrap().dataset;
    for (id, case) in [(1, "coffee_box"), (2, "camera_gray_box")] {
        let got = mask_of(&dataset, dataset.annotation(id).unwrap());
        let iou = got.iou(&case_named(case, &cases).expected_mask());
        println!("SAM 2.1 {case}: IoU {iou:.5} with SAM2ImagePredictor's mask");
        assert!(iou >= 0.99, "{case}: IoU {iou}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Four images of two boxes each.
fn four_images(dir: &Path) -> PathBuf {
    let boxes = |first: u64| {
        vec![
            (first, json!([150, 20, 300, 310])),
            (first + 1, json!([20.5, 240, 120, 150.5])),
        ]
    };
    detection_dataset(
        dir,
        &[
            ("img1.png", "coffee", boxes(1)),
            ("img2.png", "camera_gray", boxes(3)),
            ("img10.png", "astronaut_portrait", boxes(5)),
            ("img3.png", "logo_rgba", boxes(7)),
        ],
    )
}

#[test]
fn two_shards_merged_equal_one_run() {
    let dir = common::temp_dir("boxes-shards");
    let input = four_images(&dir);
    let model = common::model_dir();
    let whole = dir.join("whole.json");
    let stdout = run_ok(&mut from_boxes(
        &dir,
        &input,
        &model,
        &["--output", whole.to_str().unwrap()],
    ));
    assert!(stdout.contains("8 boxes converted"), "{stdout}");
    let mut shards = Vec::new();
    for k in 1..=2 {
        let out = dir.join(format!("shard{k}.json"));
        let shard = format!("{k}/2");
        let args = ["--shard", &shard, "--output", out.to_str().unwrap()];
        let stdout = run_ok(&mut from_boxes(&dir, &input, &model, &args));
        assert!(
            stdout.contains(&format!("2 images (shard {k}/2): 4 boxes")),
            "{stdout}"
        );
        shards.push(out);
    }
    // Natural order: img1, img2, img3, img10; the first shard takes the first and the third.
    let first = coco::load(&shards[0]).unwrap().dataset;
    let names: Vec<&str> = first
        .images()
        .iter()
        .map(|i| i.file_name.as_str())
        .collect();
    assert_eq!(names, ["img1.png", "img3.png"]);

    let merged = dir.join("merged.json");
    let mut c = samlabel();
    c.arg("merge").args(&shards).arg("--out").arg(&merged);
    run_ok(&mut c);
    let one_run = by_image(&coco::load(&whole).unwrap().dataset);
    assert_eq!(by_image(&coco::load(&merged).unwrap().dataset), one_run);
    assert_eq!(one_run.len(), 4);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_killed_run_keeps_what_it_saved_and_the_next_run_finishes_the_rest() {
    let dir = common::temp_dir("boxes-kill");
    let input = four_images(&dir);
    let model = common::model_dir();
    let out = dir.join("out.json");
    // An empty embedding cache: every image is encoded, so the run takes a while.
    let cold = dir.join("cold");
    let mut child = from_boxes(&cold, &input, &model, &["--output", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the first image's masks are saved (on a fast machine the run may be over by then).
    let start = Instant::now();
    let masks_in = |path: &Path| {
        coco::load(path)
            .map(|d| {
                d.dataset
                    .annotations()
                    .iter()
                    .filter(|a| !a.is_box_only())
                    .count()
            })
            .unwrap_or(0)
    };
    while masks_in(&out) == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved = coco::load(&out)
        .expect("the killed run's file loads")
        .dataset;
    let kept = saved
        .annotations()
        .iter()
        .filter(|a| !a.is_box_only())
        .count();
    println!("killed with {kept} of 8 boxes converted");
    assert!(kept >= 2 && kept.is_multiple_of(2), "whole images: {kept}");

    let rest = run_ok(&mut from_boxes(&dir, &out, &model, &[]));
    assert!(rest.contains(&converted(8 - kept)), "{rest}");
    let whole = dir.join("whole.json");
    run_ok(&mut from_boxes(
        &dir,
        &input,
        &model,
        &["--output", whole.to_str().unwrap()],
    ));
    let done = coco::load(&out).unwrap().dataset;
    assert_eq!(
        done.annotations(),
        coco::load(&whole).unwrap().dataset.annotations()
    );
    std::fs::remove_dir_all(dir).unwrap();
}
