//! `samlabel import` against files the tools themselves wrote (tests/fixtures/make_import_fixtures.py):
//! labelme's `LabelFile`, Ultralytics' `convert_coco`, a CVAT for images 1.1 XML from its
//! specification. Each importer's images, categories, ids and shapes against what the tools' own code
//! reads from them; the round trips through the exports; importing into a project; and bad files,
//! which name the file and the place in it and leave the project as it was.

use crate::cli::{run, samlabel};
use crate::common;

use std::path::{Path, PathBuf};

use samlabel::annotate::coco::{self, SegmentationFormat};
use samlabel::annotate::dataset::{Annotation, Dataset, Segmentation};
use samlabel::annotate::import::{self, ImportSummary, Source};
use serde_json::Value;

pub(crate) fn fixture(rel: &str) -> PathBuf {
    common::fixtures().join("import").join(rel)
}

pub(crate) fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected(name: &str) -> Value {
    read_json(&fixture(&format!("expected/{name}.json")))
}

/// Imports `inputs` into a new dataset whose folder is `root`.
pub(crate) fn import_new(
    source: Source,
    inputs: &[PathBuf],
    root: &Path,
) -> (Dataset, ImportSummary) {
    let mut dataset = Dataset::new();
    let summary = import::import(source, inputs, &mut dataset, root)
        .unwrap_or_else(|e| panic!("import failed: {e}"));
    (dataset, summary)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

pub(crate) fn polygons_of(ann: &Annotation) -> Vec<Vec<f64>> {
    match &ann.segmentation {
        Segmentation::Polygons(p) => p
            .iter()
            .map(|q| q.iter().map(|n| n.as_f64().unwrap()).collect())
            .collect(),
        other => panic!("annotation {} is not polygons: {other:?}", ann.id),
    }
}

/// `a` and `b` agree to 1e-6 relative (absolute below 1).
pub(crate) fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1.0))
}

pub(crate) fn category_name(dataset: &Dataset, ann: &Annotation) -> String {
    dataset.category(ann.category_id).unwrap().name.clone()
}

/// Checks one image's annotations against the expected list (label, kind and shape).
fn check_annotations(dataset: &Dataset, file_name: &str, want: &Value, exact_polygons: bool) {
    let image = dataset
        .image_by_file(file_name)
        .unwrap_or_else(|| panic!("{file_name} not imported"));
    let got: Vec<&Annotation> = dataset.annotations_of(image.id).collect();
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{file_name}: annotations");
    for (k, (ann, want)) in got.iter().zip(want).enumerate() {
        let at = format!("{file_name} #{k}");
        let label = want.get("label").and_then(Value::as_str);
        if let Some(label) = label {
            assert_eq!(category_name(dataset, ann), label, "{at}");
        }
        match want["kind"].as_str().unwrap() {
            "polygons" => {
                let polygons: Vec<Vec<f64>> = want["polygons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(floats)
                    .collect();
                if exact_polygons {
                    // The numbers as the file wrote them: `14` stays an integer, `3.0` a float.
                    let written =
                        coco::segmentation_value(&ann.segmentation, SegmentationFormat::AsIs);
                    assert_eq!(written, want["polygons"], "{at}: vertices");
                } else {
                    let got = polygons_of(ann);
                    assert_eq!(got.len(), polygons.len(), "{at}");
                    for (g, w) in got.iter().zip(&polygons) {
                        assert!(close(g, w), "{at}: {g:?} vs {w:?}");
                    }
                }
            }
            "box" => {
                assert!(ann.is_box_only(), "{at}: not box-only");
                assert!(
                    close(&ann.bbox_f64(), &floats(&want["bbox"])),
                    "{at}: bbox {:?}",
                    ann.bbox
                );
            }
            "mask" => match &ann.segmentation {
                Segmentation::CompressedRle(rle) => {
                    assert_eq!(
                        rle.to_compressed(),
                        want["counts"].as_str().unwrap(),
                        "{at}: RLE"
                    );
                }
                other => panic!("{at}: not a mask: {other:?}"),
            },
            other => panic!("unknown kind {other}"),
        }
        if let Some(area) = want.get("area").and_then(Value::as_f64)
            && want["kind"] != "box"
        {
            assert_eq!(ann.area.as_f64(), Some(area), "{at}: area");
            assert_eq!(ann.bbox_f64().to_vec(), floats(&want["bbox"]), "{at}: bbox");
        }
    }
}

#[test]
fn labelme_files_import_as_labelme_reads_them() {
    let dir = fixture("labelme");
    let (dataset, summary) = import_new(Source::Labelme, std::slice::from_ref(&dir), &dir);
    let want = expected("labelme");

    // Files in natural order of their paths; ids in that order.
    let images: Vec<(u64, &str, u32, u32)> = dataset
        .images()
        .iter()
        .map(|i| (i.id, i.file_name.as_str(), i.width, i.height))
        .collect();
    assert_eq!(
        images,
        [
            (1, "a.png", 32, 24),
            // imagePath named a folder that is gone: the image beside the JSON is taken.
            (2, "c.png", 20, 16),
            // imagePath `..\sub\b.png`, as labelme on Windows writes it.
            (3, "sub/b.png", 24, 32),
            // labelme 3: no sizes, no image file; the size is imageData's.
            (4, "v3/old.png", 16, 12),
        ]
    );
    for (json, file_name) in [
        ("a.json", "a.png"),
        ("c.json", "c.png"),
        ("sub/b.json", "sub/b.png"),
        ("v3/old.json", "v3/old.png"),
    ] {
        check_annotations(
            &dataset,
            file_name,
            &want["files"][json]["annotations"],
            true,
        );
    }
    let ids: Vec<u64> = dataset.annotations().iter().map(|a| a.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    let categories: Vec<&str> = dataset
        .categories()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(categories, ["cat", "dog", "car", "blob", "sign"]);
    // What labelme's shape said besides its points stays on the annotation.
    let first = &dataset.annotations()[0];
    assert_eq!(first.extra["description"], "left ear");
    assert_eq!(first.extra["flags"]["truncated"], true);

    assert_eq!(
        (summary.files, summary.images, summary.new_images),
        (4, 4, 4)
    );
    assert_eq!((summary.polygons, summary.masks, summary.boxes), (8, 1, 2));
    assert_eq!(summary.missing_images, 1);
    let skipped: Vec<(String, usize)> = summary
        .skipped
        .iter()
        .map(|s| (s.one.clone(), s.count))
        .collect();
    let mut want_skipped: Vec<(String, usize)> = vec![("image flag".into(), 1)];
    for (kind, count) in want["skipped_shape_types"].as_object().unwrap() {
        want_skipped.push((format!("`{kind}` shape"), count.as_u64().unwrap() as usize));
    }
    assert_eq!(skipped, want_skipped);
    let text = summary.to_string();
    for needle in [
        "imported 4 images (4 new) from 4 files: 11 annotations (8 polygons, 1 mask, 2 boxes)",
        "1 `circle` shape (labelme shape type samlabel does not import; first: ",
        "a.json `shapes[2]`",
        "1 image not found",
    ] {
        assert!(text.contains(needle), "`{needle}` not in: {text}");
    }
}

#[test]
fn yolo_dataset_from_ultralytics_converter_imports_segments_and_boxes() {
    let dir = fixture("yolo");
    let (dataset, summary) = import_new(Source::YoloSeg, std::slice::from_ref(&dir), &dir);
    let want = expected("yolo");
    let names: Vec<&str> = dataset
        .categories()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["cat", "dog", "car", "person"],
        "data.yaml's names, in class order"
    );
    let files: Vec<&str> = dataset
        .images()
        .iter()
        .map(|i| i.file_name.as_str())
        .collect();
    assert_eq!(
        files,
        [
            "images/train/t1.png",
            "images/train/t2.png",
            "images/val/v1.png",
            "images/val/v2.png"
        ]
    );
    for (file_name, image) in want["images"].as_object().unwrap() {
        let mut lines = image["annotations"].clone();
        for line in lines.as_array_mut().unwrap() {
            let class = line["class"].as_u64().unwrap() as usize;
            line["label"] = Value::from(names[class]);
        }
        check_annotations(&dataset, file_name, &lines, false);
    }
    // convert_coco's box line for the object without a polygon, in a file of polygons.
    let t1 = dataset.image_by_file("images/train/t1.png").unwrap().id;
    assert!(dataset.annotations_of(t1).any(Annotation::is_box_only));
    assert_eq!((summary.files, summary.images_without_annotations), (3, 1));
    assert_eq!((summary.polygons, summary.boxes), (3, 3));
    let skipped = &summary.skipped;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].one, "label file without an image");
    assert!(
        skipped[0].first.ends_with("ghost.txt"),
        "{}",
        skipped[0].first
    );
}

#[test]
fn cvat_xml_imports_polygons_boxes_and_masks() {
    let dir = fixture("cvat");
    let (dataset, summary) = import_new(Source::Cvat, &[dir.join("annotations.xml")], &dir);
    let want = expected("cvat");
    let names: Vec<Value> = dataset
        .categories()
        .iter()
        .map(|c| Value::from(c.name.clone()))
        .collect();
    // <meta>'s labels (a skeleton's points left out), then the labels only the shapes use.
    assert_eq!(Value::Array(names), want["categories"]);
    let files: Vec<&str> = dataset
        .images()
        .iter()
        .map(|i| i.file_name.as_str())
        .collect();
    assert_eq!(
        files,
        [
            "images/frame_000.png",
            "images/frame_001.png",
            "images/sub/frame_002.png"
        ]
    );
    for (file_name, annotations) in want["images"].as_object().unwrap() {
        check_annotations(&dataset, file_name, annotations, false);
    }
    assert_eq!(
        Value::Object(dataset.annotations()[0].extra.clone()),
        serde_json::json!({"attributes": {"occluded": true, "pose": "standing"}})
    );
    assert_eq!((summary.polygons, summary.masks, summary.boxes), (4, 2, 1));
    assert_eq!(summary.images_without_annotations, 1);
    for (kind, count) in want["skipped"].as_object().unwrap() {
        let group = summary.skipped.iter().find(|s| &s.one == kind);
        assert_eq!(
            group.map(|g| g.count as u64),
            count.as_u64(),
            "{kind}: {:?}",
            summary.skipped
        );
    }
    let text = summary.to_string();
    assert!(
        text.contains("`<ellipse>` shape (CVAT shape type samlabel does not import"),
        "{text}"
    );
    assert!(text.contains("annotations/image[1]/ellipse[1]"), "{text}");
    assert!(
        text.contains("rotated CVAT boxes are imported as polygons"),
        "{text}"
    );
}

/// Copies the fixture folder `name` into `dir`.
fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    fn copy(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for entry in std::fs::read_dir(src).unwrap() {
            let p = entry.unwrap().path();
            let to = dst.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &to);
            } else {
                std::fs::copy(&p, &to).unwrap();
            }
        }
    }
    let to = dir.join(name);
    copy(&fixture(name), &to);
    to
}

#[test]
fn importing_into_a_project_keeps_it_and_matches_images_by_path() {
    let dir = common::temp_dir("import-into");
    let labelme = copy_fixture("labelme", &dir);
    let project = dir.join("project.json");
    // A project that already lists a.png with an annotation of its own, and a category "dog".
    let existing = serde_json::json!({
        "info": {"description": "mine"},
        "licenses": [{"id": 1, "name": "CC0"}],
        "images": [{"id": 7, "file_name": "labelme/a.png", "width": 32, "height": 24}],
        "categories": [{"id": 3, "name": "dog", "supercategory": "animal", "color": [1, 2, 3]}],
        "annotations": [{"id": 40, "image_id": 7, "category_id": 3, "segmentation": [[1, 1, 5, 1, 5, 5]], "area": 8, "bbox": [1, 1, 4, 4], "iscrowd": 0}]
    });
    std::fs::write(&project, serde_json::to_string(&existing).unwrap()).unwrap();

    let (out, stdout, stderr) = run(samlabel()
        .args(["import", "labelme"])
        .arg(&labelme)
        .arg("--output")
        .arg(&project));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("imported 4 images (3 new) from 4 files: 11 annotations"),
        "{stdout}"
    );
    assert!(
        stdout.contains("new categories: cat, car, blob, sign;"),
        "{stdout}"
    );

    let doc = coco::load(&project).unwrap();
    let ds = &doc.dataset;
    assert_eq!(ds.info["description"], "mine");
    assert_eq!(ds.extra["licenses"], existing["licenses"]);
    // The listed image keeps its id; new ones follow the largest.
    let images: Vec<(u64, &str)> = ds
        .images()
        .iter()
        .map(|i| (i.id, i.file_name.as_str()))
        .collect();
    assert_eq!(
        images,
        [
            (7, "labelme/a.png"),
            (8, "labelme/c.png"),
            (9, "labelme/sub/b.png"),
            (10, "labelme/v3/old.png")
        ]
    );
    // "dog" is the project's own category (id 3, its colour); new ones after it.
    let categories: Vec<(u64, &str)> = ds
        .categories()
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    assert_eq!(
        categories,
        [(3, "dog"), (4, "cat"), (5, "car"), (6, "blob"), (7, "sign")]
    );
    assert_eq!(ds.category(3).unwrap().color, [1, 2, 3]);
    let first = &ds.annotations()[0];
    assert_eq!((first.id, first.image_id, first.category_id), (40, 7, 3));
    let ids: Vec<u64> = ds.annotations().iter().skip(1).map(|a| a.id).collect();
    assert_eq!(ids, (41..=51).collect::<Vec<_>>());
    let dog = &ds.annotations()[2];
    assert_eq!((dog.image_id, dog.category_id), (7, 3));

    // The same files again: nothing new but the annotations, which continue the ids.
    let (out, stdout, stderr) = run(samlabel()
        .args(["import", "labelme"])
        .arg(labelme.join("a.json"))
        .arg("--output")
        .arg(&project));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("imported 1 image (0 new) from 1 file: 6 annotations"),
        "{stdout}"
    );
    assert!(!stdout.contains("new categories"), "{stdout}");
    let again = coco::load(&project).unwrap().dataset;
    assert_eq!(again.images().len(), 4);
    assert_eq!(again.annotations().len(), 18);
    assert_eq!(&again.annotations()[..12], ds.annotations());
    assert!(
        dir.join("project.json.bak").is_file(),
        "written atomically, the previous version kept"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ids_do_not_depend_on_the_order_of_the_inputs() {
    let dir = fixture("labelme");
    let files: Vec<PathBuf> = ["v3/old.json", "a.json", "sub/b.json", "c.json"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let (one, _) = import_new(Source::Labelme, &files, &dir);
    let reversed: Vec<PathBuf> = files.iter().rev().cloned().collect();
    let (two, _) = import_new(Source::Labelme, &reversed, &dir);
    let (folder, _) = import_new(Source::Labelme, std::slice::from_ref(&dir), &dir);
    for other in [&two, &folder] {
        assert_eq!(one.images(), other.images());
        assert_eq!(one.categories(), other.categories());
        assert_eq!(one.annotations(), other.annotations());
    }
}

/// Runs `samlabel import` on `inputs` into `project` (which exists) and checks that it fails with one
/// stderr line holding every needle, and that the project file did not change.
fn refused(format: &str, inputs: &[&Path], project: &Path, needles: &[&str]) {
    let before = std::fs::read(project).unwrap();
    let mut cmd = samlabel();
    cmd.args(["import", format])
        .args(inputs)
        .arg("--output")
        .arg(project);
    let (out, _, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
    assert!(stderr.contains("nothing imported into"), "{stderr}");
    assert_eq!(
        std::fs::read(project).unwrap(),
        before,
        "the project changed"
    );
    assert!(!coco::backup_path(project).exists(), "a save happened");
}

#[test]
fn bad_files_name_the_file_and_the_place_and_import_nothing() {
    let dir = common::temp_dir("import-bad");
    let project = dir.join("project.json");
    std::fs::write(
        &project,
        "{\"images\": [], \"annotations\": [], \"categories\": [{\"id\": 1, \"name\": \"x\"}]}",
    )
    .unwrap();

    // labelme: broken JSON; a wrong type at a path (the folder's other files are good).
    let labelme = copy_fixture("labelme", &dir);
    let b = labelme.join("sub/b.json");
    let good_b = std::fs::read_to_string(&b).unwrap();
    std::fs::write(&b, &good_b[..good_b.len() / 2]).unwrap();
    refused(
        "labelme",
        &[&labelme],
        &project,
        &["b.json", "is not valid JSON", "line"],
    );
    let mut doc: Value = serde_json::from_str(&good_b).unwrap();
    doc["shapes"][1]["points"][1] = Value::from("x");
    std::fs::write(&b, doc.to_string()).unwrap();
    refused(
        "labelme",
        &[&labelme],
        &project,
        &["b.json", "`shapes[1].points[1]`", "[x, y]"],
    );
    doc["shapes"][1]["points"][1] = serde_json::json!([2, 30]);
    doc["imageWidth"] = Value::from(50);
    std::fs::write(&b, doc.to_string()).unwrap();
    refused(
        "labelme",
        &[&labelme],
        &project,
        &["b.json", "`imageWidth`", "24x32"],
    );

    // CVAT: a bad attribute, malformed XML.
    let cvat = copy_fixture("cvat", &dir);
    let xml_path = cvat.join("annotations.xml");
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    std::fs::write(
        &xml_path,
        xml.replacen("points=\"2.50,3.00;", "points=\"2.50,3.00;12.00;", 1),
    )
    .unwrap();
    refused(
        "cvat",
        &[&xml_path],
        &project,
        &[
            "annotations.xml",
            "`annotations/image[1]/polygon[1]@points`",
            "line 24",
        ],
    );
    std::fs::write(&xml_path, xml.replacen("rle=\"1, 4,", "rle=\"1, x,", 1)).unwrap();
    refused(
        "cvat",
        &[&xml_path],
        &project,
        &[
            "`annotations/image[1]/mask[1]@rle`",
            "`x` is not a run length",
        ],
    );
    std::fs::write(&xml_path, xml.replacen("</image>", "</imag>", 1)).unwrap();
    refused(
        "cvat",
        &[&xml_path],
        &project,
        &["annotations.xml is not valid XML"],
    );

    // YOLO: a word among the numbers, a class data.yaml does not name, an odd coordinate count.
    let yolo = copy_fixture("yolo", &dir);
    let t2 = yolo.join("labels/train/t2.txt");
    let good = std::fs::read_to_string(&t2).unwrap();
    for (line, needles) in [
        (
            "0 0.5 abc 0.2 0.2",
            vec!["t2.txt:2", "`abc` is not a number"],
        ),
        (
            "4 0.5 0.5 0.2 0.2",
            vec!["t2.txt:2", "class 4 is not among the 4 class names"],
        ),
        (
            "1 0.1 0.1 0.5 0.1 0.5 0.5 0.3",
            vec!["t2.txt:2", "odd number of coordinates"],
        ),
        (
            "1 0.1 0.1 0.5 1.5 0.5 0.5",
            vec!["t2.txt:2", "outside 0..1"],
        ),
    ] {
        std::fs::write(&t2, format!("{good}{line}\n")).unwrap();
        refused("yolo-seg", &[&yolo], &project, &needles);
    }
    std::fs::write(&t2, &good).unwrap();
    std::fs::write(
        yolo.join("data.yaml"),
        "names: [a, b\ntrain: images/train\n",
    )
    .unwrap();
    refused(
        "yolo-seg",
        &[&yolo],
        &project,
        &["data.yaml is not valid YAML"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}
