//! File > Import in the window: labelme files are read on a thread and added as one undo step; their
//! images join the image list; a bad file adds nothing and says where it is wrong.

use crate::common;
use crate::gui::{annotations, app_on, command, wait_until};

use egui_kittest::kittest::Queryable as _;
use samlabel::annotate::import::Source;
use samlabel::app::{Command, MessageLevel};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn file_import_adds_labelme_shapes_as_one_undo_step_and_lists_their_images() {
    let dir = common::temp_dir("gui-import");
    std::fs::copy(
        common::fixtures().join("images").join("coffee.png"),
        dir.join("coffee.png"),
    )
    .unwrap();
    copy_dir(
        &common::fixtures().join("import").join("labelme"),
        &dir.join("labelme"),
    );
    let mut h = app_on(vec![dir.join("coffee.png")], &dir.join("out.json"));
    h.step();
    h.step();
    // The menu opens the dialog for the format.
    wait_until(&mut h, "the dataset", |app| app.project.is_some());
    h.get_by_label("File").click();
    h.step();
    h.step();
    h.get_by_label("Import").hover();
    h.step();
    h.step();
    h.get_by_label(&format!("{}...", Source::Labelme.label()))
        .click();
    for _ in 0..4 {
        h.step();
    }
    assert!(h.query_by_label_contains("Path to a labelme").is_some());

    // A broken file: nothing is added, the message names the file and the JSON path.
    let bad = dir.join("bad");
    copy_dir(&dir.join("labelme"), &bad);
    let text = std::fs::read_to_string(bad.join("a.json")).unwrap();
    let broken = text.replacen("\"points\": [", "\"points\": [\"x\", ", 1);
    std::fs::write(bad.join("a.json"), broken).unwrap();
    h.state_mut().run_command(Command::Import {
        source: Source::Labelme,
        path: bad.clone(),
    });
    h.step();
    wait_until(&mut h, "the import", |app| !app.is_importing());
    assert_eq!(annotations(&h).len(), 0);
    let error = h
        .state()
        .messages()
        .iter()
        .find(|m| m.level == MessageLevel::Error)
        .expect("an error message")
        .text
        .clone();
    assert!(
        error.contains("a.json") && error.contains("shapes[0].points"),
        "{error}"
    );

    // The good folder: every shape the summary counts, the images listed, one Ctrl+Z.
    h.state_mut().run_command(Command::Import {
        source: Source::Labelme,
        path: dir.join("labelme"),
    });
    h.step();
    wait_until(&mut h, "the import", |app| !app.is_importing());
    assert_eq!(annotations(&h).len(), 11);
    let listed: Vec<String> = h
        .state()
        .images()
        .iter()
        .map(|i| i.file_name.clone())
        .collect();
    for name in ["coffee.png", "labelme/a.png", "labelme/sub/b.png"] {
        assert!(listed.iter().any(|l| l == name), "{name} in {listed:?}");
    }
    let summary = h.state().last_step().unwrap_or_default().to_string();
    assert!(summary.contains("imported"), "{summary}");
    // Close the dialog, then undo the whole import at once.
    h.key_press(egui::Key::Escape);
    h.step();
    assert!(h.query_by_label_contains("Path to a labelme").is_none());
    command(&mut h, egui::Key::Z, false);
    assert_eq!(annotations(&h).len(), 0);
    std::fs::remove_dir_all(dir).unwrap();
}
