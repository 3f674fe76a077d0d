//! Round trips between `samlabel import` and the exports: a YOLO export imported gives its polygons
//! back and exports again to the same labels; labelme polygons keep every vertex through the COCO and
//! labelme exports; box-only annotations are written as boxes where a format has them and counted
//! where it needs a mask.

use crate::common;
use crate::import::{category_name, close, fixture, import_new, polygons_of, read_json};

use std::path::Path;

use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Annotation, Segmentation};
use samlabel::annotate::export;
use samlabel::annotate::import::Source;
use serde_json::Value;

/// The text of every `.txt` under `dir`, by file name (the folders differ from export to export:
/// file names are relative to the dataset).
fn label_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "txt") {
                let rel = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn yolo_export_then_import_gives_the_same_polygons() {
    let source = coco::from_value(
        read_json(&common::fixtures().join("coco/dataset.json")),
        Some(&common::fixtures()),
    )
    .unwrap()
    .dataset;
    let dir = common::temp_dir("import-yolo-roundtrip");
    let first = dir.join("first");
    export::yolo_seg(&source, &common::fixtures(), &first).unwrap();
    let (imported, summary) = import_new(Source::YoloSeg, std::slice::from_ref(&first), &first);
    assert_eq!(summary.annotations(), source.annotations().len());

    // Every imported polygon is its label line, denormalized, to 1e-6.
    let mut checked = 0;
    for image in imported.images() {
        let label = export::yolo_label_path(&first.join(&image.file_name));
        let text = std::fs::read_to_string(&label).unwrap();
        let anns: Vec<&Annotation> = imported.annotations_of(image.id).collect();
        assert_eq!(anns.len(), text.lines().count(), "{}", label.display());
        for (ann, line) in anns.iter().zip(text.lines()) {
            let v: Vec<f64> = line
                .split(' ')
                .skip(1)
                .map(|t| t.parse().unwrap())
                .collect();
            let want: Vec<f64> = v
                .chunks_exact(2)
                .flat_map(|xy| {
                    [
                        xy[0] * f64::from(image.width),
                        xy[1] * f64::from(image.height),
                    ]
                })
                .collect();
            assert!(
                close(&polygons_of(ann)[0], &want),
                "{}: {line}",
                label.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "{checked} polygons");

    // Exported again, the labels are the same, byte for byte.
    let second = dir.join("second");
    export::yolo_seg(&imported, &first, &second).unwrap();
    let labels = label_files(&first);
    assert!(labels.len() >= 3, "{labels:?}");
    assert_eq!(labels, label_files(&second));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn labelme_import_then_exports_keep_every_vertex_and_box() {
    let src = fixture("labelme");
    let (dataset, _) = import_new(Source::Labelme, std::slice::from_ref(&src), &src);
    let dir = common::temp_dir("import-labelme-roundtrip");

    // COCO with polygons: every polygon labelme wrote is there, number for number.
    let path = dir.join("polygons.json");
    let summary = export::coco_polygons(&dataset, &path).unwrap();
    assert_eq!((summary.polygons, summary.boxes), (8, 2));
    let doc = read_json(&path);
    let segmentations: Vec<&Value> = doc["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["segmentation"])
        .collect();
    let mut vertices = 0;
    for json in ["a.json", "c.json", "sub/b.json", "v3/old.json"] {
        for shape in read_json(&src.join(json))["shapes"].as_array().unwrap() {
            let kind = shape
                .get("shape_type")
                .and_then(Value::as_str)
                .unwrap_or("polygon");
            if !["polygon", "oriented_rectangle"].contains(&kind) {
                continue;
            }
            let flat: Vec<Value> = shape["points"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p.as_array().unwrap().clone())
                .collect();
            let flat = Value::Array(flat);
            assert!(
                segmentations
                    .iter()
                    .any(|s| s.as_array().is_some_and(|p| p.contains(&flat))),
                "{json}: {flat} not exported as written"
            );
            vertices += flat.as_array().unwrap().len() / 2;
        }
    }
    assert_eq!(vertices, 30);
    let boxes: Vec<&Value> = doc["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["segmentation"] == serde_json::json!([]))
        .collect();
    assert_eq!(boxes.len(), 2);
    assert_eq!(boxes[0]["bbox"], serde_json::json!([16, 12, 12.5, 8]));

    // labelme: rectangles and polygons come back as they went in.
    let out = dir.join("labelme");
    let summary = export::labelme(&dataset, &src, &out).unwrap();
    assert_eq!((summary.boxes, summary.polygons), (2, 8));
    let (again, _) = import_new(Source::Labelme, std::slice::from_ref(&out), &out);
    // (The mask comes back as polygons, labelme export's way of writing masks.)
    assert_eq!(again.annotations().len(), dataset.annotations().len());
    for (a, b) in dataset.annotations().iter().zip(again.annotations()) {
        if !matches!(a.segmentation, Segmentation::CompressedRle(_)) {
            assert_eq!(category_name(&dataset, a), category_name(&again, b));
            assert_eq!(
                (&a.segmentation, &a.bbox),
                (&b.segmentation, &b.bbox),
                "annotation {}",
                a.id
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn box_only_annotations_are_counted_where_a_format_needs_a_mask() {
    let dir = fixture("cvat");
    let (dataset, _) = import_new(Source::Cvat, &[dir.join("annotations.xml")], &dir);
    let out = common::temp_dir("import-box-exports");
    for (format, skipped) in [
        (export::Format::YoloSeg, 1),
        (export::Format::Masks, 1),
        (export::Format::Coco, 0),
    ] {
        let summary =
            export::export_to(&dataset, &dir, format, &out.join(format.default_folder())).unwrap();
        assert_eq!(summary.boxes_skipped, skipped, "{format:?}");
        if skipped > 0 {
            assert!(
                summary
                    .to_string()
                    .contains("1 box-only annotations have no mask"),
                "{summary}"
            );
        } else {
            assert_eq!(summary.boxes, 1, "{format:?}");
        }
    }
    // file_name images/frame_000.png: the labels are in that folder's `labels`, where Ultralytics looks.
    let labels =
        std::fs::read_to_string(out.join("export-yolo-seg/images/labels/frame_000.txt")).unwrap();
    assert_eq!(
        labels.lines().count(),
        2,
        "the polygon and the mask, not the box: {labels}"
    );
    std::fs::remove_dir_all(out).unwrap();
}
