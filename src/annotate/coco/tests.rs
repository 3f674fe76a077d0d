use super::*;

fn minimal() -> Value {
    serde_json::json!({
        "images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 3}],
        "categories": [{"id": 2, "name": "cat"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 2,
            "segmentation": {"size": [3, 4], "counts": [2, 3, 7]}, "area": 3, "bbox": [0, 0, 2, 3], "iscrowd": 1}]
    })
}

fn error_path(mut doc: Value, edit: impl FnOnce(&mut Value)) -> String {
    edit(&mut doc);
    match from_value(doc, None) {
        Err((path, _)) => path,
        Ok(_) => "accepted".into(),
    }
}

#[test]
fn minimal_file_imports() {
    let imported = from_value(minimal(), None).unwrap();
    assert_eq!(imported.dataset.annotations().len(), 1);
    assert!(imported.warnings.is_empty());
}

#[test]
fn errors_name_the_json_path() {
    let p = |f: fn(&mut Value)| error_path(minimal(), f);
    assert_eq!(
        p(|d| d["annotations"][0]["segmentation"]["counts"] = serde_json::json!([2, 3, 6])),
        "annotations[0].segmentation.counts"
    );
    assert_eq!(
        p(|d| d["annotations"][0]["image_id"] = serde_json::json!(9)),
        "annotations[0].image_id"
    );
    assert_eq!(
        p(|d| d["annotations"][0]["category_id"] = serde_json::json!(9)),
        "annotations[0].category_id"
    );
    assert_eq!(
        p(|d| d["images"][0]["width"] = serde_json::json!("4")),
        "images[0].width"
    );
    assert_eq!(
        p(|d| d["annotations"][0]["segmentation"] = serde_json::json!([[1, 1, 2, 2]])),
        "annotations[0].segmentation[0]"
    );
    assert_eq!(
        p(|d| {
            d.as_object_mut().unwrap().shift_remove("categories");
        }),
        "categories"
    );
    assert_eq!(
        p(|d| d["categories"] =
            serde_json::json!([{"id": 2, "name": "a"}, {"id": 2, "name": "b"}])),
        "categories[1].id"
    );
}

#[test]
fn box_only_annotations_round_trip_and_need_a_box() {
    let mut doc = minimal();
    doc["annotations"][0]["segmentation"] = serde_json::json!([]);
    doc["annotations"][0]["bbox"] = serde_json::json!([0.5, 1, 2, 1.5]);
    let imported = from_value(doc.clone(), None).unwrap();
    let ann = &imported.dataset.annotations()[0];
    assert!(ann.is_box_only());
    assert_eq!(ann.bbox_f64(), [0.5, 1.0, 2.0, 1.5]);
    for format in [SegmentationFormat::AsIs, SegmentationFormat::Rle] {
        let written = to_value(&imported.dataset, format);
        assert_eq!(
            written["annotations"][0]["segmentation"],
            serde_json::json!([])
        );
    }
    assert_eq!(
        error_path(doc, |d| {
            d["annotations"][0]
                .as_object_mut()
                .unwrap()
                .shift_remove("bbox");
        }),
        "annotations[0].bbox"
    );
}
