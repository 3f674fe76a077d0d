//! SAM 2.1 in the window (egui_kittest): a click, Tab through its three candidates, accept, and the
//! saved COCO mask is the pipeline's; switching models keeps the prompt and decodes it again.

use crate::common;
use crate::gui::{
    annotations, app_on, app_with_model, click, command, enter, pipeline_mask, wait_preview,
    wait_ready, wait_until,
};

use egui::{Key, PointerButton};
use egui_kittest::kittest::Queryable as _;
use samlabel::annotate::coco;
use samlabel::app::{Command, ModelStatus};
use samlabel::sam::hub::ModelSource;

#[test]
fn a_sam2_click_tabs_through_three_candidates_and_saves_the_pipelines_mask() {
    let dir = common::temp_dir("gui-sam2");
    std::fs::copy(
        common::fixtures().join("images/coffee.png"),
        dir.join("coffee.png"),
    )
    .unwrap();
    let out = dir.join("out.json");
    let mut h = app_with_model(common::sam2_model_dir(), vec![dir.clone()], &out);
    wait_ready(&mut h);
    assert!(
        matches!(h.state().model_status(), ModelStatus::Ready { family, .. } if family == "SAM 2.1"),
        "{:?}",
        h.state().model_status()
    );
    h.get_by_label_contains("SAM 2.1: model-sam2");

    let point = [300.0, 120.0];
    click(&mut h, point, PointerButton::Primary);
    wait_preview(&mut h);
    let mut seen = vec![h.state().preview_mask().unwrap().clone()];
    for _ in 0..3 {
        h.key_press(Key::Tab);
        h.step();
        wait_preview(&mut h);
        seen.push(h.state().preview_mask().unwrap().clone());
    }
    assert_eq!(seen[0], seen[3], "three candidates, then back to the first");
    assert!(
        seen[0] != seen[1] && seen[1] != seen[2],
        "the candidates differ"
    );

    enter(&mut h);
    command(&mut h, Key::S, false);
    let dataset = coco::load(&out).unwrap().dataset;
    assert_eq!(dataset.annotations().len(), 1);
    let ann = &dataset.annotations()[0];
    let image = dataset.image(ann.image_id).unwrap();
    let saved = ann.segmentation.to_rle(image.height, image.width).to_mask();
    let want = pipeline_mask(&common::sam2_model_dir(), &dir.join("coffee.png"), &[point]);
    let iou = saved.iou(&want);
    assert!(iou >= 0.99, "IoU {iou} with segment's mask");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn switching_models_keeps_the_prompt_and_decodes_it_with_the_new_model() {
    let dir = common::temp_dir("gui-switch");
    std::fs::copy(
        common::fixtures().join("images/coffee.png"),
        dir.join("coffee.png"),
    )
    .unwrap();
    let mut h = app_on(vec![dir.clone()], &dir.join("out.json"));
    wait_ready(&mut h);
    let point = [300.0, 120.0];
    click(&mut h, point, PointerButton::Primary);
    wait_preview(&mut h);
    let sam1 = h.state().preview_mask().unwrap().clone();

    // Model > Choose model... lists the known models and takes a folder.
    h.get_by_label("Model").click();
    h.step();
    h.step();
    h.get_by_label("Choose model...").click();
    for _ in 0..3 {
        h.step();
    }
    h.get_by_label("Use folder");
    h.get_by_label_contains("mobile-sam");

    h.state_mut().run_command(Command::UseModel(
        ModelSource::Dir(common::sam2_model_dir()),
    ));
    h.step();
    wait_until(&mut h, "the new model", |app| !app.is_switching_models());
    wait_ready(&mut h);
    wait_preview(&mut h);
    let sam2 = h.state().preview_mask().unwrap().clone();
    let want = pipeline_mask(&common::sam2_model_dir(), &dir.join("coffee.png"), &[point]);
    assert!(sam2.iou(&want) >= 0.99, "IoU {}", sam2.iou(&want));
    assert!(sam1 != sam2, "the new model's answer replaced the old one");

    // A folder that is not a model: the model in use stays, and the user is told why.
    h.state_mut()
        .run_command(Command::UseModel(ModelSource::Dir(
            dir.join("no-such-model"),
        )));
    h.step();
    wait_until(&mut h, "the failed switch", |app| {
        !app.is_switching_models()
    });
    assert!(
        matches!(h.state().model_status(), ModelStatus::Ready { family, .. } if family == "SAM 2.1")
    );
    assert!(
        h.state()
            .messages()
            .iter()
            .any(|m| m.text.contains("cannot switch models")),
        "{:?}",
        h.state().messages()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A pixel of `masks[i]` where it is the smallest of the masks that hold it (a click there selects it).
fn own_pixel(masks: &[samlabel::annotate::mask::Mask], i: usize) -> Option<[f32; 2]> {
    let (w, h) = (masks[i].width(), masks[i].height());
    (0..h)
        .step_by(4)
        .flat_map(|y| (0..w).step_by(4).map(move |x| (x, y)))
        .find_map(|(x, y)| {
            let holders: Vec<usize> = (0..masks.len()).filter(|&j| masks[j].get(x, y)).collect();
            let smallest = holders.iter().min_by_key(|&&j| masks[j].area())?;
            (*smallest == i && masks.iter().filter(|m| m.area() == masks[i].area()).count() == 1)
                .then_some([x as f32 + 0.5, y as f32 + 0.5])
        })
}

#[test]
fn segment_everything_in_the_window_accepts_two_proposals_and_undo_takes_one_back() {
    let dir = common::temp_dir("gui-everything");
    std::fs::copy(
        common::fixtures().join("images/coffee.png"),
        dir.join("coffee.png"),
    )
    .unwrap();
    let mut h = app_with_model(
        common::sam2_model_dir(),
        vec![dir.clone()],
        &dir.join("out.json"),
    );
    wait_ready(&mut h);
    // The random-weight model needs the quality filters off to propose anything.
    let mut options =
        samlabel::sam::everything::EverythingOptions::official(samlabel::sam::family::Family::Sam2);
    options.points_per_side = 8;
    options.pred_iou_thresh = 0.0;
    options.stability_score_thresh = 0.0;
    options.box_nms_thresh = 0.99;
    h.state_mut()
        .run_command(Command::SegmentEverything(Some(options)));
    h.step();
    wait_until(&mut h, "the proposals", |app| {
        let (shown, _, _, running) = app.proposal_counts();
        !running && shown > 0
    });
    h.get_by_label("Segment everything");
    let masks: Vec<_> = h.state().proposal_masks().into_iter().cloned().collect();
    let picks: Vec<[f32; 2]> = (0..masks.len())
        .filter_map(|i| own_pixel(&masks, i))
        .take(2)
        .collect();
    assert_eq!(
        picks.len(),
        2,
        "two proposals to click among {}",
        masks.len()
    );
    for p in &picks {
        click(&mut h, *p, PointerButton::Primary);
    }
    assert_eq!(h.state().proposal_counts().1, 2, "two selected");
    assert!(
        h.state().preview_mask().is_none(),
        "the clicks selected, they did not prompt"
    );
    h.key_press(Key::Enter);
    h.step();
    assert_eq!(annotations(&h).len(), 2);
    assert_eq!(
        h.state().proposal_counts().0,
        masks.len() - 2,
        "the accepted ones left the list"
    );
    command(&mut h, Key::Z, false);
    assert_eq!(annotations(&h).len(), 1, "undo takes one back");
    // Esc discards the rest.
    h.key_press(Key::Escape);
    h.step();
    assert_eq!(h.state().proposal_counts().0, 0);
    std::fs::remove_dir_all(dir).unwrap();
}
