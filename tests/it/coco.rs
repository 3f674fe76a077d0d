//! COCO compatibility against fixtures written by pycocotools itself (tests/fixtures/make_coco_fixtures.py):
//! byte-identical RLE strings, equal areas and bboxes, identical pixels, lossless import→save, and
//! path-precise errors for malformed files.

use crate::common;

use std::path::Path;

use samlabel::annotate::coco;
use samlabel::annotate::mask::Mask;
use samlabel::annotate::rle::Rle;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct RleCase {
    name: String,
    mask: String,
    height: u32,
    width: u32,
    counts: String,
    area: u64,
    bbox: [f64; 4],
}

fn read_mask(rel: &str) -> Mask {
    let img = image::open(common::fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    Mask::from_gray(&img.to_luma8())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn rle_strings_areas_and_bboxes_match_pycocotools() {
    let cases: Vec<RleCase> =
        serde_json::from_value(read_json(&common::fixtures().join("coco/rle_cases.json"))).unwrap();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    for case in &cases {
        let mask = read_mask(&case.mask);
        assert_eq!(
            (mask.height(), mask.width()),
            (case.height, case.width),
            "{}",
            case.name
        );
        let rle = Rle::from_mask(&mask);
        assert_eq!(
            rle.to_compressed(),
            case.counts,
            "{}: RLE string",
            case.name
        );
        assert_eq!(rle.area(), case.area, "{}: area", case.name);
        assert_eq!(rle.bbox(), case.bbox, "{}: bbox", case.name);
        let decoded = Rle::from_string(case.height, case.width, &case.counts).unwrap();
        assert_eq!(decoded.to_mask(), mask, "{}: decoded pixels", case.name);
    }
}

fn dataset_path() -> std::path::PathBuf {
    common::fixtures().join("coco/dataset.json")
}

/// Loads the fixture dataset with image files looked up in tests/fixtures (where `images/...` live).
fn load_fixture_dataset() -> coco::Imported {
    let value = read_json(&dataset_path());
    coco::from_value(value, Some(&common::fixtures())).expect("fixture dataset imports")
}

#[test]
fn imported_masks_equal_pycocotools_ann_to_mask() {
    let imported = load_fixture_dataset();
    assert!(
        imported.missing_images.is_empty(),
        "{:?}",
        imported.missing_images
    );
    let expected = read_json(&common::fixtures().join("coco/ann_masks.json"));
    let dataset = &imported.dataset;
    assert_eq!(
        dataset.annotations().len(),
        expected.as_object().unwrap().len()
    );
    for ann in dataset.annotations() {
        let want = &expected[ann.id.to_string()];
        let image = dataset.image(ann.image_id).unwrap();
        let rle = ann.segmentation.to_rle(image.height, image.width);
        assert_eq!(
            rle.to_mask(),
            read_mask(want["mask"].as_str().unwrap()),
            "annotation {}",
            ann.id
        );
        assert_eq!(
            rle.to_compressed(),
            want["rle_counts"].as_str().unwrap(),
            "annotation {}",
            ann.id
        );
        assert_eq!(
            rle.area(),
            want["area"].as_u64().unwrap(),
            "annotation {}",
            ann.id
        );
    }
}

/// Keys that samlabel adds for its own state and COCO readers ignore.
fn without_app_keys(mut v: Value) -> Value {
    if let Some(categories) = v["categories"].as_array_mut() {
        for c in categories {
            c.as_object_mut().unwrap().shift_remove("color");
        }
    }
    v
}

#[test]
fn import_then_save_is_lossless() {
    let original = read_json(&dataset_path());
    let imported = load_fixture_dataset();
    let dir = common::temp_dir("coco-roundtrip");
    let saved_path = dir.join("saved.json");
    coco::save(&imported.dataset, &saved_path).unwrap();
    let saved = without_app_keys(read_json(&saved_path));

    for key in ["images", "annotations", "info"] {
        assert_eq!(saved[key], original[key], "`{key}` changed");
    }
    for (a, b) in saved["categories"]
        .as_array()
        .unwrap()
        .iter()
        .zip(original["categories"].as_array().unwrap())
    {
        for (k, v) in b.as_object().unwrap() {
            assert_eq!(&a[k], v, "category key {k}");
        }
    }
    for (k, v) in original.as_object().unwrap() {
        assert!(saved.get(k).is_some(), "top-level key {k} dropped");
        if !["categories"].contains(&k.as_str()) {
            assert_eq!(&saved[k], v, "top-level key {k}");
        }
    }

    // Saving again keeps the first version as .bak, and the reloaded file is the same dataset.
    coco::save(&imported.dataset, &saved_path).unwrap();
    assert!(dir.join("saved.json.bak").is_file());
    let reloaded = coco::from_value(read_json(&saved_path), None).unwrap();
    assert_eq!(
        reloaded.dataset.annotations(),
        imported.dataset.annotations()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Applies `edit` to the fixture document and returns the JSON path the import error names.
fn error_path(edit: impl FnOnce(&mut Value)) -> String {
    let mut doc = read_json(&dataset_path());
    edit(&mut doc);
    match coco::from_value(doc, Some(&common::fixtures())) {
        Err((path, message)) => {
            assert!(!message.is_empty());
            path
        }
        Ok(_) => "<accepted>".into(),
    }
}

fn first_index(doc: &Value, pred: impl Fn(&Value) -> bool) -> usize {
    doc["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .position(pred)
        .expect("fixture has such an annotation")
}

#[test]
fn malformed_files_name_the_json_path() {
    let doc = read_json(&dataset_path());
    let rle_idx = first_index(&doc, |a| a["segmentation"]["counts"].is_string());
    let raw_idx = first_index(&doc, |a| a["segmentation"]["counts"].is_array());
    let poly_idx = first_index(&doc, |a| a["segmentation"].is_array());

    assert_eq!(error_path(|d| *d = Value::from(3)), "$");
    for key in ["images", "annotations", "categories"] {
        assert_eq!(
            error_path(|d| {
                d.as_object_mut().unwrap().shift_remove(key);
            }),
            key
        );
        assert_eq!(error_path(|d| d[key] = Value::from("x")), key);
    }
    assert_eq!(
        error_path(|d| {
            d["images"][1]
                .as_object_mut()
                .unwrap()
                .shift_remove("file_name");
        }),
        "images[1].file_name"
    );
    assert_eq!(
        error_path(|d| d["images"][0]["height"] = Value::from(-4)),
        "images[0].height"
    );
    assert_eq!(
        error_path(|d| d["images"][0]["id"] = Value::from("10")),
        "images[0].id"
    );
    assert_eq!(
        error_path(|d| d["categories"][0]["name"] = Value::from(5)),
        "categories[0].name"
    );
    assert_eq!(
        error_path(|d| d["annotations"][2]["id"] = Value::Null),
        "annotations[2].id"
    );

    // Duplicate ids.
    assert_eq!(
        error_path(|d| d["images"][1]["id"] = d["images"][0]["id"].clone()),
        "images[1].id"
    );
    assert_eq!(
        error_path(|d| d["categories"][1]["id"] = d["categories"][0]["id"].clone()),
        "categories[1].id"
    );
    assert_eq!(
        error_path(|d| d["annotations"][1]["id"] = d["annotations"][0]["id"].clone()),
        "annotations[1].id"
    );

    // Dangling references.
    assert_eq!(
        error_path(|d| d["annotations"][0]["image_id"] = Value::from(999_999)),
        "annotations[0].image_id"
    );
    assert_eq!(
        error_path(|d| d["annotations"][0]["category_id"] = Value::from(999_999)),
        "annotations[0].category_id"
    );

    // RLE whose counts do not add up to h*w, in both forms, and a wrong size.
    let at = format!("annotations[{raw_idx}].segmentation.counts");
    assert_eq!(
        error_path(|d| {
            d["annotations"][raw_idx]["segmentation"]["counts"]
                .as_array_mut()
                .unwrap()
                .push(Value::from(1));
        }),
        at
    );
    let at = format!("annotations[{rle_idx}].segmentation.counts");
    assert_eq!(
        error_path(|d| d["annotations"][rle_idx]["segmentation"]["counts"] = Value::from("0")),
        at
    );
    assert_eq!(
        error_path(|d| d["annotations"][rle_idx]["segmentation"]["counts"] = Value::from(7)),
        at
    );
    let at = format!("annotations[{rle_idx}].segmentation.size");
    assert_eq!(
        error_path(
            |d| d["annotations"][rle_idx]["segmentation"]["size"] = serde_json::json!([3, 4])
        ),
        at
    );

    // Polygons with fewer than 3 points, odd coordinates, or no numbers.
    let at = format!("annotations[{poly_idx}].segmentation[0]");
    assert_eq!(
        error_path(
            |d| d["annotations"][poly_idx]["segmentation"][0] = serde_json::json!([1, 2, 3, 4])
        ),
        at
    );
    assert_eq!(
        error_path(|d| d["annotations"][poly_idx]["segmentation"][0] =
            serde_json::json!([1, 2, 3, 4, 5, 6, 7])),
        at
    );
    assert_eq!(
        error_path(|d| d["annotations"][poly_idx]["segmentation"][0] =
            serde_json::json!(["a", 2, 3, 4, 5, 6])),
        at
    );
    let at = format!("annotations[{poly_idx}].segmentation");
    // No polygon at all is a box-only annotation, which needs its bbox.
    assert_eq!(
        error_path(|d| d["annotations"][poly_idx]["segmentation"] = serde_json::json!([])),
        "<accepted>"
    );
    assert_eq!(
        error_path(|d| {
            d["annotations"][poly_idx]["segmentation"] = serde_json::json!([]);
            d["annotations"][poly_idx]
                .as_object_mut()
                .unwrap()
                .shift_remove("bbox");
        }),
        format!("annotations[{poly_idx}].bbox")
    );
    assert_eq!(
        error_path(|d| d["annotations"][poly_idx]["segmentation"] = Value::from("x")),
        at
    );

    // An image size that disagrees with the file on disk.
    assert_eq!(
        error_path(|d| d["images"][0]["width"] =
            Value::from(d["images"][0]["width"].as_u64().unwrap() + 1)),
        "images[0].width"
    );
}

#[test]
fn repairs_are_reported_not_silent() {
    let mut doc = read_json(&dataset_path());
    doc["annotations"][0]
        .as_object_mut()
        .unwrap()
        .shift_remove("area");
    doc["annotations"][0]
        .as_object_mut()
        .unwrap()
        .shift_remove("bbox");
    let imported = coco::from_value(doc, Some(&common::fixtures())).unwrap();
    let paths: Vec<&str> = imported
        .warnings
        .iter()
        .map(|w| w.json_path.as_str())
        .collect();
    assert_eq!(paths, ["annotations[0].area", "annotations[0].bbox"]);
}

#[test]
fn bad_json_and_missing_files_are_clear_errors() {
    let dir = common::temp_dir("coco-bad");
    let path = dir.join("broken.json");
    std::fs::write(&path, "{\"images\": [").unwrap();
    let err = coco::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("broken.json") && err.contains("not valid JSON") && err.contains("line 1"),
        "{err}"
    );
    let err = coco::load(&dir.join("none.json")).unwrap_err().to_string();
    assert!(err.contains("none.json"), "{err}");

    // Images that were moved: imported, listed as missing, annotations kept.
    let mut doc = read_json(&dataset_path());
    doc["images"][0]["file_name"] = Value::from("moved/away.png");
    let imported = coco::from_value(doc, Some(&common::fixtures())).unwrap();
    assert_eq!(imported.missing_images, ["moved/away.png"]);
    std::fs::remove_dir_all(dir).unwrap();
}
