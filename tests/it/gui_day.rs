//! A day in the window (issue 11): nothing is lost or changed without a word, input does what it says,
//! and the state can be read. The real app, driven through egui_kittest.

use std::time::Duration;

use egui::{Event, Key, Modifiers, PointerButton};
use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Edit, IMAGE_STATE_KEY};
use samlabel::annotate::export::Format;
use samlabel::annotate::lock::lock_path;
use samlabel::app::Command;

use crate::common;
use crate::gui::{
    accept_click, annotations, app_on, click, command, ctrl_click, drag, enter, open_app,
    wait_preview, wait_ready, wait_until,
};

#[test]
fn an_idle_pointer_sends_one_hover_decode_not_one_per_frame() {
    let (mut h, dir) = open_app("day-hover", &["coffee.png"]);
    wait_ready(&mut h);
    for _ in 0..20 {
        h.step();
    }
    assert_eq!(
        h.state().decodes_sent(),
        0,
        "nothing before the pointer enters"
    );
    let pos = h.state().ui_from_image([300.0, 200.0]);
    h.event(Event::PointerMoved(pos));
    // The pointer rests for 200 frames (well past the short rest a hover waits for).
    for _ in 0..200 {
        h.step();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        h.state().decodes_sent(),
        1,
        "one hover decode for one resting place"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_first_view_fits_the_canvas_beside_the_panels() {
    let (mut h, dir) = open_app("day-fit", &["coffee.png"]);
    wait_ready(&mut h);
    let canvas = h.state().canvas_rect();
    let (w, hh) = h.state().shown_image_size().unwrap();
    let top_left = h.state().ui_from_image([0.0, 0.0]);
    let bottom_right = h.state().ui_from_image([w as f32, hh as f32]);
    let inside = |p: egui::Pos2| canvas.expand(0.5).contains(p);
    assert!(
        inside(top_left) && inside(bottom_right),
        "{top_left:?}..{bottom_right:?} not within {canvas:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn closing_removes_the_lock_file() {
    let (mut h, dir) = open_app("day-lock", &["coffee.png"]);
    wait_ready(&mut h);
    let dataset = dir.join("out.json");
    assert!(lock_path(&dataset).exists(), "held while open");
    drop(h);
    assert!(
        !lock_path(&dataset).exists(),
        "a clean close leaves no lock file"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn undo_of_an_edit_on_another_image_brings_it_back_and_says_so() {
    let (mut h, dir) = open_app("day-undo", &["coffee.png", "camera_gray.png"]);
    wait_ready(&mut h);
    let first = h.state().current_index();
    accept_click(&mut h, [300.0, 200.0]);
    h.key_press(Key::D);
    h.step();
    assert_ne!(h.state().current_index(), first);
    command(&mut h, Key::Z, false);
    assert_eq!(
        h.state().current_index(),
        first,
        "the undone edit's image is on screen"
    );
    let dataset = &h.state().project.as_ref().unwrap().dataset;
    assert!(dataset.annotations().is_empty());
    let said = h.state().last_step().unwrap_or_default().to_string();
    assert!(said.starts_with("undid: add 'object' #"), "{said}");
    let name = &h.state().images()[first.unwrap()].file_name;
    assert!(said.ends_with(&format!("on {name}")), "{said}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn brush_strokes_on_a_preview_are_undone_and_redone_on_their_own() {
    let (mut h, dir) = open_app("day-brush", &["coffee.png"]);
    wait_ready(&mut h);
    click(&mut h, [300.0, 200.0], PointerButton::Primary);
    wait_preview(&mut h);
    let model_mask = h.state().preview_mask().unwrap().clone();
    h.key_press(Key::B);
    h.step();
    let (a, b) = (
        h.state().ui_from_image([20.0, 390.0]),
        h.state().ui_from_image([580.0, 390.0]),
    );
    drag(&mut h, a, b, 10);
    wait_until(&mut h, "the stroke", |app| !app.is_decoding());
    let painted = h.state().preview_mask().unwrap().clone();
    assert!(painted.area() > model_mask.area());

    // Ctrl+Z takes back the stroke only: the point's mask is there again (a 600x400 image previews
    // at its own size, so the pixels are the same).
    command(&mut h, Key::Z, false);
    wait_until(&mut h, "the undo", |app| !app.is_decoding());
    assert!(*h.state().preview_mask().unwrap() == model_mask);
    // Redo brings the stroke back.
    command(&mut h, Key::Z, true);
    wait_until(&mut h, "the redo", |app| !app.is_decoding());
    assert!(*h.state().preview_mask().unwrap() == painted);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unaccepted_mask_waits_on_its_image_and_quitting_asks_first() {
    let (mut h, dir) = open_app("day-pending", &["coffee.png", "camera_gray.png"]);
    wait_ready(&mut h);
    click(&mut h, [300.0, 200.0], PointerButton::Primary);
    wait_preview(&mut h);
    let mask = h.state().preview_mask().unwrap().clone();
    h.key_press(Key::D);
    h.step();
    assert!(h.state().preview_mask().is_none());
    assert!(h.state().images()[0].has_unaccepted());
    h.key_press(Key::A);
    h.step();
    assert!(
        h.state().preview_mask().is_some_and(|m| *m == mask),
        "the mask is back"
    );
    // Quitting with it asks; Enter then still accepts it.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Q);
    h.step();
    assert_eq!(h.state().quit_question(), Some(1));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_reopened_folder_lists_every_image_in_natural_order_at_the_last_one() {
    let dir = common::temp_dir("day-reopen");
    for (src, dst) in [("coffee.png", "img10.png"), ("camera_gray.png", "img2.png")] {
        std::fs::copy(common::fixtures().join("images").join(src), dir.join(dst)).unwrap();
    }
    let dataset = dir.join("out.json");
    {
        let mut h = app_on(vec![dir.clone()], &dataset);
        wait_ready(&mut h);
        let names: Vec<String> = h
            .state()
            .images()
            .iter()
            .map(|i| i.file_name.clone())
            .collect();
        assert_eq!(names, ["img2.png", "img10.png"]);
        h.key_press(Key::D);
        h.step();
        wait_ready(&mut h);
        // Marked "no objects": kept in the file without any annotation.
        h.key_press_modifiers(Modifiers::COMMAND, Key::E);
        h.step();
        command(&mut h, Key::S, false);
    }
    let saved = coco::load(&dataset).unwrap().dataset;
    assert_eq!(
        saved.images().len(),
        2,
        "images without annotations are kept"
    );
    assert!(saved.annotations().is_empty());
    let img10 = saved.image_by_file("img10.png").unwrap();
    assert_eq!(
        img10.extra.get(IMAGE_STATE_KEY).and_then(|v| v.as_str()),
        Some("no objects")
    );
    let h = app_on(vec![dir.clone()], &dataset);
    assert_eq!(h.state().images().len(), 2);
    assert_eq!(h.state().current_index(), Some(1), "back at img10.png");
    drop(h);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn deleting_the_current_category_selects_another_and_enter_still_works() {
    let (mut h, dir) = open_app("day-category", &["coffee.png"]);
    wait_ready(&mut h);
    let (cup, plate) = {
        let project = h.state_mut().project.as_mut().unwrap();
        let cup = project.dataset.ensure_category("cup").unwrap();
        (cup, project.dataset.ensure_category("plate").unwrap())
    };
    h.key_press(Key::Num2);
    h.step();
    assert_eq!(h.state().selected_category(), Some(plate));
    h.state_mut()
        .run_command(Command::Edit(Box::new(Edit::DeleteCategory(plate))));
    h.step();
    assert_eq!(h.state().selected_category(), Some(cup));
    accept_click(&mut h, [300.0, 200.0]);
    let dataset = &h.state().project.as_ref().unwrap().dataset;
    assert_eq!(dataset.annotations().len(), 1);
    assert_eq!(dataset.annotations()[0].category_id, cup);
    assert!(
        h.state().messages().is_empty(),
        "{:?}",
        h.state().messages()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_box_starts_where_the_button_went_down() {
    let (mut h, dir) = open_app("day-box", &["coffee.png"]);
    wait_ready(&mut h);
    let (a, b) = (
        h.state().ui_from_image([100.0, 60.0]),
        h.state().ui_from_image([420.0, 320.0]),
    );
    drag(&mut h, a, b, 10);
    let [x0, y0, x1, y1] = h.state().prompt_box().expect("a box");
    // Within half an image pixel and one screen point of where the button went down and came up.
    let zoom = h.state().ui_from_image([1.0, 0.0]).x - h.state().ui_from_image([0.0, 0.0]).x;
    let tolerance = 0.5 + 1.0 / zoom.max(1e-3);
    assert!(
        (x0 - 100.0).abs() <= tolerance && (y0 - 60.0).abs() <= tolerance,
        "{x0},{y0}"
    );
    assert!(
        (x1 - 420.0).abs() <= tolerance && (y1 - 320.0).abs() <= tolerance,
        "{x1},{y1}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn shift_tab_cycles_candidates_backwards() {
    let (mut h, dir) = open_app("day-shift-tab", &["coffee.png"]);
    wait_ready(&mut h);
    click(&mut h, [300.0, 200.0], PointerButton::Primary);
    wait_preview(&mut h);
    let first = h.state().preview_mask().unwrap().clone();
    h.key_press(Key::Tab);
    h.step();
    wait_preview(&mut h);
    let second = h.state().preview_mask().unwrap().clone();
    h.key_press_modifiers(Modifiers::SHIFT, Key::Tab);
    h.step();
    wait_preview(&mut h);
    assert!(
        *h.state().preview_mask().unwrap() == first,
        "back to the first"
    );
    // Tab again shows the second: Shift+Tab went back exactly one step.
    h.key_press(Key::Tab);
    h.step();
    wait_preview(&mut h);
    assert!(*h.state().preview_mask().unwrap() == second);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ctrl_click_selects_an_accepted_mask_and_enter_on_a_hover_preview_says_click_first() {
    let (mut h, dir) = open_app("day-select", &["coffee.png"]);
    wait_ready(&mut h);
    accept_click(&mut h, [300.0, 200.0]);
    let id = h.state().project.as_ref().unwrap().dataset.annotations()[0].id;
    h.state_mut().select_annotation(None);
    ctrl_click(&mut h, [300.0, 200.0]);
    assert_eq!(h.state().selected_annotation(), Some(id));
    assert!(
        h.state().preview_mask().is_none(),
        "Ctrl+click is no prompt point"
    );

    // Hover somewhere else until the hover preview shows, then Enter.
    let pos = h.state().ui_from_image([60.0, 350.0]);
    h.event(Event::PointerMoved(pos));
    for _ in 0..100 {
        h.step();
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_until(&mut h, "the hover decode", |app| !app.is_decoding());
    enter(&mut h);
    assert!(
        h.state()
            .messages()
            .iter()
            .any(|m| m.text.contains("click")),
        "{:?}",
        h.state().messages()
    );
    assert_eq!(annotations(&h).len(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn export_from_the_window_writes_a_coco_file() {
    let (mut h, dir) = open_app("day-export", &["coffee.png"]);
    wait_ready(&mut h);
    accept_click(&mut h, [300.0, 200.0]);
    let out = dir.join("exported");
    h.state_mut().run_command(Command::Export {
        format: Format::CocoPolygons,
        folder: None,
    });
    h.step();
    h.state_mut().run_command(Command::Export {
        format: Format::Coco,
        folder: Some(out.clone()),
    });
    h.step();
    let exported = coco::load(&out.join("annotations.json")).unwrap().dataset;
    assert_eq!(exported.annotations().len(), 1);
    assert!(
        h.state()
            .last_step()
            .is_some_and(|s| s.starts_with("exported"))
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn escape_closes_an_open_menu_before_it_clears_the_prompt() {
    use egui_kittest::kittest::Queryable as _;
    let (mut h, dir) = open_app("day-escape", &["coffee.png"]);
    wait_ready(&mut h);
    click(&mut h, [300.0, 200.0], PointerButton::Primary);
    wait_preview(&mut h);
    h.get_by_label("File").click();
    h.step();
    h.step();
    assert!(egui::Popup::is_any_open(&h.ctx), "the File menu is open");
    h.key_press(Key::Escape);
    h.step();
    assert!(
        h.state().preview_mask().is_some(),
        "the first Esc only closed the menu"
    );
    h.step();
    h.key_press(Key::Escape);
    h.step();
    assert!(
        h.state().preview_mask().is_none(),
        "the second Esc cleared the prompt"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_save_state_turns_saved_when_the_autosave_is_done_without_input() {
    let (mut h, dir) = open_app("day-saved", &["coffee.png"]);
    wait_ready(&mut h);
    wait_until(&mut h, "the first save", |app| {
        app.save_state() == Some("saved")
    });
    accept_click(&mut h, [300.0, 200.0]);
    assert_eq!(h.state().save_state(), Some("unsaved"));
    // Frames come only when asked for: the frame that saves asks for one more, to show "saved".
    let mut saving_frame_asked_for_more = None;
    for _ in 0..6000 {
        h.step();
        if h.state().save_state() == Some("saved") {
            saving_frame_asked_for_more = Some(h.ctx.has_requested_repaint());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(saving_frame_asked_for_more, Some(true));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn categories_are_deleted_from_their_context_menu_and_come_back_with_undo() {
    use egui_kittest::kittest::Queryable as _;
    let (mut h, dir) = open_app("day-delete-category", &["coffee.png"]);
    wait_ready(&mut h);
    h.state_mut()
        .run_command(Command::AddCategory("cup".into()));
    h.step();
    h.step();
    // No delete button sits in the row (where the pointer rests after Add): it is in the menu.
    h.get_by_label("1 cup").click_secondary();
    h.step();
    h.step();
    h.get_by_label("Delete...").click();
    for _ in 0..3 {
        h.step();
    }
    let categories = |h: &egui_kittest::Harness<'_, samlabel::app::SamApp>| {
        h.state()
            .project
            .as_ref()
            .unwrap()
            .dataset
            .categories()
            .len()
    };
    assert_eq!(categories(&h), 0);
    assert!(
        h.state()
            .last_step()
            .is_some_and(|s| s.contains("Ctrl+Z brings it back"))
    );
    command(&mut h, Key::Z, false);
    assert_eq!(categories(&h), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn messages_float_over_the_canvas_and_can_be_dismissed() {
    let (mut h, dir) = open_app("day-messages", &["coffee.png"]);
    wait_ready(&mut h);
    let canvas = h.state().canvas_rect();
    h.state_mut()
        .run_command(Command::OpenPaths(vec![dir.join("no-such.png")]));
    h.step();
    h.step();
    assert!(
        h.state()
            .messages()
            .iter()
            .any(|m| m.text.contains("does not exist"))
    );
    assert_eq!(
        h.state().canvas_rect(),
        canvas,
        "the message did not move the canvas"
    );
    let count = h.state().messages().len();
    h.state_mut().run_command(Command::DismissMessage(0));
    h.step();
    assert_eq!(h.state().messages().len(), count - 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_new_dataset_with_nothing_in_it_is_not_called_saved() {
    let (mut h, dir) = open_app("day-new", &["coffee.png"]);
    wait_ready(&mut h);
    let fresh = dir.join("fresh.json");
    h.state_mut()
        .run_command(Command::OpenDataset(fresh.clone()));
    h.step();
    assert!(!fresh.exists());
    assert_eq!(h.state().save_state(), Some("new: nothing to save yet"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_jpeg_cut_short_opens_with_a_warning_that_stays() {
    let dir = common::temp_dir("day-cut");
    std::fs::copy(
        common::fixtures().join("inputs/truncated_scan.jpg"),
        dir.join("cut.jpg"),
    )
    .unwrap();
    let mut h = app_on(vec![dir.join("cut.jpg")], &dir.join("out.json"));
    wait_ready(&mut h);
    let warning = h.state().image_warning().expect("a warning on the image");
    assert!(warning.contains("cut short"), "{warning}");
    for _ in 0..10 {
        h.step();
    }
    assert!(
        h.state().image_warning().is_some(),
        "it stays while the image shows"
    );
    drop(h);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn names_in_other_scripts_render_with_fallback_fonts() {
    // egui_kittest panics on a character no font can draw (MissingGlyphPolicy::Panic): these frames
    // drawing the names prove that every glyph was found in a fallback font.
    let (mut h, dir) = open_app("day-scripts", &["coffee.png"]);
    wait_ready(&mut h);
    for name in ["杯子", "コーヒー", "컵", "كوب", "чашка"] {
        h.state_mut().run_command(Command::AddCategory(name.into()));
    }
    for _ in 0..3 {
        h.step();
    }
    let dataset = &h.state().project.as_ref().unwrap().dataset;
    assert_eq!(dataset.categories().len(), 5);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn export_picks_its_folder_in_the_in_window_browser_without_a_portal() {
    use egui_kittest::kittest::Queryable as _;
    let (mut h, dir) = open_app("day-browse", &["coffee.png"]);
    // The browser's icons (a folder emoji in its title) are in no font a bare machine has: a box
    // there is cosmetic, so this test allows it.
    h.ctx
        .set_missing_glyph_policy(egui::MissingGlyphPolicy::Tofu);
    wait_ready(&mut h);
    accept_click(&mut h, [300.0, 200.0]);
    std::fs::create_dir(dir.join("picked")).unwrap();
    h.state_mut().run_command(Command::Export {
        format: Format::Coco,
        folder: None,
    });
    let steps = |h: &mut egui_kittest::Harness<'_, samlabel::app::SamApp>| {
        for _ in 0..3 {
            h.step();
        }
    };
    steps(&mut h);
    h.get_by_label("Browse...").click();
    steps(&mut h);
    // The browser starts beside the dataset; pick the folder and confirm.
    h.get_by_label_contains("picked").click();
    steps(&mut h);
    h.get_by_label("Open").click();
    steps(&mut h);
    h.get_by_label("Export").click();
    steps(&mut h);
    let exported = coco::load(&dir.join("picked").join("annotations.json"))
        .unwrap()
        .dataset;
    assert_eq!(exported.annotations().len(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}
