//! Find (SAM 3) in the window (egui_kittest): type a phrase, get its instances as proposals, accept
//! two, and the COCO file holds them under the phrase's category.

use crate::common;
use crate::gui::{click, command, open_app, wait_ready, wait_until};

use egui::{Key, Modifiers, PointerButton};
use egui_kittest::kittest::Queryable as _;
use samlabel::annotate::coco;
use samlabel::app::Command;

#[test]
fn typing_a_phrase_proposes_its_instances_and_accepting_two_files_them_under_the_phrase() {
    let (mut h, dir) = open_app("gui-find", &["chelsea_exif6.jpg"]);
    let out = dir.join("out.json");
    wait_ready(&mut h);

    // Ctrl+F opens the Find panel with the keyboard in its field.
    h.key_press_modifiers(Modifiers::COMMAND, Key::F);
    h.step();
    h.step();
    // The fixture model is random: its scores sit just above 0.45, below the official 0.5.
    h.state_mut().run_command(Command::FindThreshold(0.45));
    h.step();
    let field = h.get_by_label("Find:");
    field.focus();
    h.step();
    h.get_by_label("Find:").type_text("cat");
    h.step();
    h.key_press(Key::Enter);
    h.step();
    wait_until(&mut h, "Find's proposals", |app| {
        let (shown, _, _, running) = app.proposal_counts();
        !running && shown > 0
    });
    // The official processor finds 4 cats here at this threshold (tests/fixtures, chelsea_text_cat).
    assert_eq!(h.state().proposal_counts().0, 4);
    h.get_by_label_contains("cat: 4 found");

    // Tick two in the panel's list, then Enter accepts them.
    let boxes = h.query_all_by_label_contains("cat  0.").count();
    assert_eq!(boxes, 4);
    for i in [0, 2] {
        h.query_all_by_label_contains("cat  0.")
            .nth(i)
            .unwrap()
            .click();
        h.step();
    }
    assert_eq!(h.state().proposal_counts().1, 2, "two selected");
    h.key_press(Key::Enter);
    h.step();
    assert_eq!(
        h.state().proposal_counts().0,
        2,
        "the other two stay proposed"
    );

    // Esc discards the rest; a click now prompts the point model again.
    h.key_press(Key::Escape);
    h.step();
    assert_eq!(h.state().proposal_counts().0, 0);
    click(&mut h, [150.0, 200.0], PointerButton::Primary);

    command(&mut h, Key::S, false);
    let dataset = coco::load(&out).unwrap().dataset;
    let cat = dataset
        .category_by_name("cat")
        .expect("a category named after the phrase");
    let accepted: Vec<_> = dataset
        .annotations()
        .iter()
        .filter(|a| a.category_id == cat.id)
        .collect();
    assert_eq!(accepted.len(), 2);
    // The ticked ones are the best and the third best of the official processor's instances.
    let cases = crate::sam3::cases();
    let case = cases
        .cases
        .iter()
        .find(|c| c.name == "chelsea_text_cat")
        .unwrap();
    let mut official: Vec<_> = case.instances.iter().collect();
    official.sort_by(|a, b| b.score.total_cmp(&a.score));
    for (ann, want) in accepted.iter().zip([official[0], official[2]]) {
        let image = dataset.image(ann.image_id).unwrap();
        assert_eq!((image.width, image.height), (300, 451), "the upright photo");
        let mask = ann.segmentation.to_rle(image.height, image.width).to_mask();
        let want = samlabel::annotate::mask::Mask::from_gray(
            &image::open(common::fixtures().join(&want.mask))
                .unwrap()
                .to_luma8(),
        );
        let iou = mask.iou(&want);
        assert!(iou >= 0.99, "IoU {iou} with the official instance");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Shift+drag draws an example box instead of a prompt box, and Find runs with it: the official
/// processor's instances for that example.
#[test]
fn shift_drag_adds_an_example_box_and_finds_what_looks_like_it() {
    let (mut h, dir) = open_app("gui-find-example", &["chelsea_exif6.jpg"]);
    wait_ready(&mut h);
    h.state_mut().run_command(Command::ToggleFind);
    h.state_mut().run_command(Command::FindThreshold(0.45));
    h.step();

    let (a, b) = (
        h.state().ui_from_image([20.0, 200.0]),
        h.state().ui_from_image([110.0, 290.0]),
    );
    h.event(egui::Event::ModifiersChanged(Modifiers::SHIFT));
    crate::gui::drag(&mut h, a, b, 6);
    h.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    h.step();
    assert!(
        h.state().prompt_box().is_none(),
        "an example, not a prompt box"
    );
    wait_until(&mut h, "Find's proposals", |app| {
        let (shown, _, _, running) = app.proposal_counts();
        !running && shown > 0
    });
    let cases = crate::sam3::cases();
    let case = cases
        .cases
        .iter()
        .find(|c| c.name == "chelsea_box")
        .unwrap();
    assert_eq!(h.state().proposal_counts().0, case.instances.len());
    h.get_by_label_contains("examples: 1 like, 0 unlike");
    let found = h.state().proposal_masks()[0].clone();
    let want = samlabel::annotate::mask::Mask::from_gray(
        &image::open(common::fixtures().join(&case.instances[0].mask))
            .unwrap()
            .to_luma8(),
    );
    let iou = found.iou(&want);
    assert!(iou >= 0.99, "IoU {iou}");
    std::fs::remove_dir_all(dir).unwrap();
}
