//! Box-only annotations in the window: listed as boxes, picked by Ctrl+click inside, and SAM > Masks
//! from boxes gives them SAM's mask (the selected one alone, or all) as one undo step.

use crate::common;
use crate::gui::{app_on, command, ctrl_click, wait_ready, wait_until};

use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Annotation, AnnotationId, Dataset, Edit};
use samlabel::app::SamApp;
use samlabel::imageio;
use samlabel::sam::{Multimask, Prompt, SamModel, SessionOptions};

fn annotation(h: &Harness<'_, SamApp>, id: AnnotationId) -> Annotation {
    let dataset = &h.state().project.as_ref().unwrap().dataset;
    dataset.annotation(id).unwrap().clone()
}

/// SAM > Masks from boxes, then wait for the masks.
fn masks_from_boxes(h: &mut Harness<'_, SamApp>) {
    h.get_by_label("SAM").click();
    h.step();
    h.step();
    h.get_by_label("Masks from boxes").click();
    h.step();
    wait_until(h, "the masks", |app| !app.is_making_box_masks());
}

#[test]
fn masks_from_boxes_fills_the_selected_box_then_all_and_undo_restores_the_boxes() {
    let dir = common::temp_dir("gui-boxes");
    let image = dir.join("coffee.png");
    std::fs::copy(common::fixtures().join("images/coffee.png"), &image).unwrap();
    // A detection dataset: two boxes, no masks.
    let mut dataset = Dataset::new();
    let image_id = dataset.ensure_image("coffee.png", 600, 400).unwrap();
    let cup = dataset.ensure_category("cup").unwrap();
    let big = Annotation::from_box(5, image_id, cup, [150.0, 20.0, 300.0, 310.0]);
    let small = Annotation::from_box(8, image_id, cup, [20.0, 250.0, 100.0, 100.0]);
    let third = Annotation::from_box(9, image_id, cup, [300.0, 300.0, 100.0, 80.0]);
    for a in [&big, &small, &third] {
        dataset.apply(Edit::AddAnnotation(a.clone())).unwrap();
    }
    let out = dir.join("out.json");
    coco::save(&dataset, &out).unwrap();

    let mut h = app_on(vec![dir.clone()], &out);
    wait_ready(&mut h);
    h.get_by_label_contains("#5  box 300x310");
    h.get_by_label_contains("#8  box 100x100");

    // Ctrl+click inside the small box selects it; Masks from boxes then does that one only.
    ctrl_click(&mut h, [70.0, 300.0]);
    assert_eq!(h.state().selected_annotation(), Some(8));
    masks_from_boxes(&mut h);
    assert!(!annotation(&h, 8).is_box_only());
    assert_eq!(annotation(&h, 5), big, "the other boxes wait");
    assert_eq!(annotation(&h, 9), third);
    assert!(h.state().last_step().unwrap().contains("1 box converted"));

    // Nothing selected: every box left.
    h.state_mut().select_annotation(None);
    masks_from_boxes(&mut h);
    let filled = annotation(&h, 5);
    assert!(!filled.is_box_only());
    assert_eq!((filled.id, filled.category_id), (big.id, big.category_id));
    let got = filled.segmentation.to_rle(400, 600).to_mask();
    let want = box_mask(&image, [150.0, 20.0, 450.0, 330.0]);
    let iou = got.iou(&want);
    assert!(iou >= 0.999, "IoU {iou} with `segment --box`");
    assert!(!annotation(&h, 9).is_box_only());
    let step = h.state().last_step().unwrap();
    assert!(step.contains("2 boxes converted"), "{step}");

    // One Ctrl+Z takes both masks of that action back: the boxes are as they were.
    command(&mut h, Key::Z, false);
    assert_eq!((annotation(&h, 5), annotation(&h, 9)), (big, third));
    let step = h.state().last_step().unwrap();
    assert!(step.contains("masks of 2 annotations"), "{step}");
    assert!(
        !annotation(&h, 8).is_box_only(),
        "the first action is a step of its own"
    );
    command(&mut h, Key::Z, false);
    assert_eq!(annotation(&h, 8), small);
    command(&mut h, Key::Z, true);
    assert!(!annotation(&h, 8).is_box_only());
    std::fs::remove_dir_all(dir).unwrap();
}

/// What `samlabel segment --box` gives.
fn box_mask(image: &std::path::Path, box_in_image: [f32; 4]) -> samlabel::annotate::mask::Mask {
    let mut model = SamModel::load(&common::model_dir(), SessionOptions::default()).unwrap();
    let rgb = imageio::load_rgb(image).unwrap();
    let (embedding, _) = model.encode(&rgb).unwrap();
    let prompt = Prompt {
        box_in_image: Some(box_in_image),
        ..Default::default()
    };
    model
        .predict(&embedding, &prompt, Multimask::Auto)
        .unwrap()
        .mask
}
