//! SAM 2.1 in the window (egui_kittest): a click, Tab through its three candidates, accept, and the
//! saved COCO mask is the pipeline's; switching models keeps the prompt and decodes it again.

use crate::common;
use crate::gui::{
    app_on, app_with_model, click, command, enter, pipeline_mask, wait_preview, wait_ready,
    wait_until,
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
