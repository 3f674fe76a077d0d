use super::*;
use crate::annotate::mask::Mask;

fn dataset_with_one_annotation() -> (Dataset, AnnotationId) {
    let mut ds = Dataset::new();
    let img = ds.ensure_image("a.png", 4, 3).unwrap();
    let cat = ds.ensure_category("cat").unwrap();
    let mask = Mask::from_fn(4, 3, |i| i < 5);
    let ann = Annotation::from_mask(ds.next_annotation_id(), img, cat, &mask);
    let id = ann.id;
    ds.apply(Edit::AddAnnotation(ann)).unwrap();
    (ds, id)
}

#[test]
fn undo_redo_restore_exact_states() {
    let (mut ds, id) = dataset_with_one_annotation();
    let before = (ds.annotations().to_vec(), ds.categories().to_vec());
    let dog = ds.ensure_category("dog").unwrap();
    ds.apply(Edit::Relabel {
        id,
        category_id: dog,
    })
    .unwrap();
    ds.apply(Edit::DeleteCategory(dog)).unwrap();
    assert!(ds.annotations().is_empty());
    let after = (ds.annotations().to_vec(), ds.categories().to_vec());

    assert!(ds.undo() && ds.undo() && ds.undo());
    assert_eq!(
        (ds.annotations().to_vec(), ds.categories().to_vec()),
        before
    );
    assert!(ds.redo() && ds.redo() && ds.redo());
    assert_eq!((ds.annotations().to_vec(), ds.categories().to_vec()), after);
    assert!(!ds.redo());
}

#[test]
fn deleting_a_category_restores_annotation_order() {
    let (mut ds, first) = dataset_with_one_annotation();
    let cat = ds.annotation(first).unwrap().category_id;
    let dog = ds.ensure_category("dog").unwrap();
    for category_id in [dog, cat, dog] {
        let ann = Annotation::from_mask(ds.next_annotation_id(), 1, category_id, &Mask::new(4, 3));
        ds.apply(Edit::AddAnnotation(ann)).unwrap();
    }
    let before = ds.annotations().to_vec();
    ds.apply(Edit::DeleteCategory(cat)).unwrap();
    assert_eq!(ds.annotations().len(), 2);
    ds.undo();
    assert_eq!(ds.annotations(), before.as_slice());
}

#[test]
fn deleting_a_category_restores_its_place_on_undo() {
    let mut ds = Dataset::new();
    for name in ["a", "b", "c"] {
        ds.ensure_category(name).unwrap();
    }
    let b = ds.category_by_name("b").unwrap().id;
    ds.apply(Edit::DeleteCategory(b)).unwrap();
    ds.undo();
    let names: Vec<&str> = ds.categories().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn invalid_edits_are_refused_and_change_nothing() {
    let (mut ds, id) = dataset_with_one_annotation();
    assert_eq!(
        ds.apply(Edit::Relabel {
            id,
            category_id: 99
        }),
        Err(EditError::NoCategory(99))
    );
    assert_eq!(
        ds.apply(Edit::DeleteAnnotation(77)),
        Err(EditError::NoAnnotation(77))
    );
    assert_eq!(
        ds.apply(Edit::AddCategory(Category {
            id: 50,
            name: "cat".into(),
            supercategory: String::new(),
            color: [0; 3],
            extra: Map::new()
        })),
        Err(EditError::DuplicateName("cat".into()))
    );
    let wrong = Annotation::from_mask(9, 1, 1, &Mask::new(5, 5));
    assert!(matches!(
        ds.apply(Edit::AddAnnotation(wrong)),
        Err(EditError::MaskSize { .. })
    ));
    let bad_batch = Edit::Batch(vec![Edit::DeleteAnnotation(id), Edit::DeleteAnnotation(id)]);
    assert!(ds.apply(bad_batch).is_err());
    assert!(
        ds.annotation(id).is_some(),
        "a failed batch leaves everything in place"
    );
}
