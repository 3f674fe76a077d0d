//! Matching an import to a dataset: images by file name, categories by name, ids after the largest,
//! and nothing applied when something does not fit.

use super::*;

use crate::annotate::dataset::{Annotation, Category, ImageEntry};

/// What a reader would have produced: two images (one listed in `dataset` below), a polygon on
/// the first, a box on the second, categories `dog` (in the dataset) and `cat` (new).
fn parsed(root: &Path) -> Parsed {
    let mut p = Parsed::default();
    let source = root.join("labels.json");
    let a = p
        .image(&root.join("a.png"), (10, 8), true, &source, "x")
        .unwrap();
    let b = p
        .image(&root.join("sub/../b.png"), (6, 4), false, &source, "x")
        .unwrap();
    // The same file named another way is the same image.
    assert_eq!(
        p.image(&root.join("./a.png"), (10, 8), true, &source, "x")
            .unwrap(),
        a
    );
    let cat = p.category("cat");
    let dog = p.category("dog");
    assert_eq!(p.category("cat"), cat);
    let square = vec![
        vec![1, 1, 4, 1, 4, 4, 1, 4]
            .into_iter()
            .map(Number::from)
            .collect(),
    ];
    p.push(Item::polygons(a, dog, square, (10, 8)).unwrap());
    p.push(Item::boxed(b, cat, [1.0, 1.0, 2.5, 2.0]));
    p
}

fn dataset() -> Dataset {
    let image = ImageEntry {
        id: 5,
        file_name: "a.png".into(),
        width: 10,
        height: 8,
        extra: Map::new(),
    };
    let dog = Category {
        id: 9,
        name: "dog".into(),
        supercategory: String::new(),
        color: [1, 2, 3],
        extra: Map::new(),
    };
    let ann = Annotation::from_box(30, 5, 9, [0.0, 0.0, 2.0, 2.0]);
    Dataset::from_parts(Map::new(), Map::new(), vec![image], vec![dog], vec![ann])
}

#[test]
fn a_plan_matches_images_by_file_and_categories_by_name() {
    let root = std::env::temp_dir().join("samlabel-import-plan");
    let parsed = parsed(&root);
    let mut dataset = dataset();
    let plan = parsed.plan(&dataset, &root).unwrap();
    dataset.apply(plan.edit).unwrap();

    let images: Vec<(u64, &str)> = dataset
        .images()
        .iter()
        .map(|i| (i.id, i.file_name.as_str()))
        .collect();
    assert_eq!(images, [(5, "a.png"), (6, "b.png")]);
    let categories: Vec<(u64, &str)> = dataset
        .categories()
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    assert_eq!(categories, [(9, "dog"), (10, "cat")]);
    assert_eq!(dataset.category(10).unwrap().color, default_color(1));
    let anns: Vec<(u64, u64, u64)> = dataset
        .annotations()
        .iter()
        .map(|a| (a.id, a.image_id, a.category_id))
        .collect();
    assert_eq!(anns, [(30, 5, 9), (31, 5, 9), (32, 6, 10)]);
    // pycocotools' area and box of the rasterized square; the box's own.
    assert_eq!(dataset.annotations()[1].area, Number::from(9));
    assert_eq!(dataset.annotations()[2].bbox_f64(), [1.0, 1.0, 2.5, 2.0]);

    let summary = &plan.summary;
    assert_eq!(
        (summary.images, summary.new_images, summary.missing_images),
        (2, 1, 1)
    );
    assert_eq!((summary.polygons, summary.masks, summary.boxes), (1, 0, 1));
    assert_eq!(summary.new_categories, ["cat"]);
    // One undo takes the whole import back.
    assert!(dataset.undo());
    assert_eq!(dataset.annotations().len(), 1);
    assert_eq!(dataset.images().len(), 1);
    assert_eq!(dataset.categories().len(), 1);
}

#[test]
fn an_image_listed_with_another_size_is_refused() {
    let root = std::env::temp_dir().join("samlabel-import-plan-size");
    let mut parsed = parsed(&root);
    parsed.images[0].width = 11;
    let dataset = dataset();
    match parsed.plan(&dataset, &root) {
        Err(ImportError::SizeConflict {
            file_name,
            listed,
            imported,
            ..
        }) => {
            assert_eq!(
                (file_name.as_str(), listed, imported),
                ("a.png", (10, 8), (11, 8))
            );
        }
        other => panic!("{other:?}"),
    }
    // Within one import too: a second file naming the image with another size.
    let err = parsed
        .image(
            &root.join("b.png"),
            (7, 4),
            true,
            &root.join("other.json"),
            "imagePath",
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("other.json: `imagePath`: ") && text.contains("is 7x4 here but 6x4"),
        "{text}"
    );
}

#[test]
fn grouped_parts_with_a_mask_become_one_mask() {
    let mut p = Parsed::default();
    let mut objects = Objects::default();
    let mut mask = Mask::new(10, 8);
    mask.set(8, 6, true);
    let square: Vec<Number> = [1, 1, 4, 1, 4, 4, 1, 4]
        .into_iter()
        .map(Number::from)
        .collect();
    objects.add_part(
        0,
        Some(2),
        Part::Polygon(square.clone()),
        Map::new(),
        "s[0]".into(),
    );
    objects.add_box(Item::boxed(0, 0, [0.0, 0.0, 1.0, 1.0]));
    objects.add_part(0, Some(2), Part::Mask(mask), Map::new(), "s[2]".into());
    // Same group number, another category: another object.
    objects.add_part(1, Some(2), Part::Polygon(square), Map::new(), "s[3]".into());
    objects.add_part(
        1,
        None,
        Part::Mask(Mask::new(10, 8)),
        Map::new(),
        "s[4]".into(),
    );
    objects
        .finish(0, (10, 8), Path::new("f.json"), &mut p)
        .unwrap();
    let kinds: Vec<Kind> = p.items.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [Kind::Mask, Kind::Box, Kind::Polygons]);
    // The square (pycocotools: 3x3 pixels) and the one mask pixel.
    assert_eq!(p.items[0].area, Number::from(10));
    assert_eq!(p.summary.skipped[0].one, "empty mask");
    assert_eq!(p.summary.skipped[0].first, "f.json `s[4]`");
}

#[test]
fn pixels_computed_from_others_are_written_short() {
    assert_eq!(round_px(0.234567 * 640.0), 150.12288);
    assert_eq!(
        box_of(&[[28.5, 20.0], [16.0, 12.0]]),
        [16.0, 12.0, 12.5, 8.0]
    );
    assert_eq!(box_of(&[[2.2, 0.0], [12.5, 1.0]])[2], 10.3);
    assert_eq!(
        normalize(Path::new("/a/b/../c/./d.png")),
        Path::new("/a/c/d.png")
    );
}
