//! Polygons in the window, driven through egui_kittest: a SAM mask becomes polygons (V), a vertex is
//! dragged, one deleted, the detail changed, each undone; the polygon tool draws an annotation. What is
//! saved rasterizes (pycocotools' rules) to what the window shows.
//!
//! With `SAMLABEL_KEEP_POLYGON_EDIT=DIR`, the saved dataset and the shown masks (`DIR/masks/<id>.png`)
//! are kept for `tests/fixtures/coco/check_with_pycocotools.py DIR/out.json DIR/masks`.

use crate::gui::{accept_click, command, drag, open_app, wait_ready};

use egui::{Key, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Annotation, Segmentation, polygons_f64};
use samlabel::annotate::mask::Mask;
use samlabel::annotate::rle::Rle;
use samlabel::app::SamApp;

fn annotation(h: &Harness<'_, SamApp>) -> Annotation {
    crate::gui::annotations(h)[0].clone()
}

fn polygons(h: &Harness<'_, SamApp>) -> Vec<Vec<[f32; 2]>> {
    h.state()
        .edited_polygons()
        .expect("editing polygons")
        .to_vec()
}

fn vertex_count(h: &Harness<'_, SamApp>) -> usize {
    polygons(h).iter().map(Vec::len).sum()
}

/// The stored polygons as COCO writes them.
fn stored(ann: &Annotation) -> Vec<Vec<f64>> {
    match &ann.segmentation {
        Segmentation::Polygons(p) => polygons_f64(p),
        other => panic!("not polygons: {other:?}"),
    }
}

/// The share of `mask`'s pixels that `outline` covers.
fn covered(mask: &Mask, outline: &Mask) -> f64 {
    let both = mask
        .as_bytes()
        .iter()
        .zip(outline.as_bytes())
        .filter(|(m, o)| **m != 0 && **o != 0)
        .count();
    both as f64 / mask.area() as f64
}

fn press(h: &mut Harness<'_, SamApp>, key: Key) {
    h.key_press(key);
    h.step();
    h.step();
}

fn right_click(h: &mut Harness<'_, SamApp>, at: Pos2) {
    h.event(egui::Event::PointerMoved(at));
    h.step();
    crate::gui::pointer(h, at, PointerButton::Secondary, true);
    h.step();
    crate::gui::pointer(h, at, PointerButton::Secondary, false);
    h.step();
    h.step();
}

#[test]
fn a_sam_mask_edited_as_polygons_saves_what_is_shown_and_each_step_undoes() {
    let (mut h, dir) = open_app("gui-polygons", &["coffee.png"]);
    wait_ready(&mut h);
    accept_click(&mut h, [300.0, 200.0]);
    let sam = annotation(&h);
    assert!(matches!(sam.segmentation, Segmentation::CompressedRle(_)));

    // V: the selected SAM mask becomes polygons, one undo step.
    h.state_mut().select_annotation(Some(sam.id));
    press(&mut h, Key::V);
    let converted = annotation(&h);
    let flat = stored(&converted);
    assert!(!flat.is_empty());
    let shown = polygons(&h);
    assert_eq!(shown.len(), flat.len());
    let (w, h_px) = (600, 400);
    let sam_mask = sam.segmentation.to_rle(h_px, w).to_mask();
    let converted_mask = converted.segmentation.to_rle(h_px, w).to_mask();
    // COCO polygons have no holes: the outline covers the SAM mask and fills its holes.
    let coverage = covered(&sam_mask, &converted_mask);
    assert!(
        coverage > 0.995,
        "the outline covers the SAM mask: {coverage}"
    );
    let n0 = vertex_count(&h);

    // Drag the first vertex 12 px right and 9 px down.
    let v = shown[0][0];
    let to = [v[0] + 12.0, v[1] + 9.0];
    let (a, b) = (h.state().ui_from_image(v), h.state().ui_from_image(to));
    drag(&mut h, a, b, 8);
    h.step();
    let moved = annotation(&h);
    let moved_vertex = [stored(&moved)[0][0], stored(&moved)[0][1]];
    assert!(
        (moved_vertex[0] - f64::from(to[0])).abs() < 0.6
            && (moved_vertex[1] - f64::from(to[1])).abs() < 0.6,
        "{moved_vertex:?} vs {to:?}"
    );
    assert_eq!(vertex_count(&h), n0);

    // Right-click the third vertex: deleted.
    let third = polygons(&h)[0][2];
    let at = h.state().ui_from_image(third);
    right_click(&mut h, at);
    assert_eq!(vertex_count(&h), n0 - 1);
    let deleted = annotation(&h);

    // The detail slider: a coarser outline, simplified again from the SAM mask.
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "detail (px)")
        .set_value_accesskit(6.0);
    h.step();
    h.step();
    let coarse = annotation(&h);
    let n_coarse = vertex_count(&h);
    assert!(
        n_coarse < n0 - 1,
        "{n_coarse} vertices at detail 6 px vs {n0}"
    );
    let coarse_coverage = covered(&sam_mask, &coarse.segmentation.to_rle(h_px, w).to_mask());
    assert!(coarse_coverage > 0.97, "{coarse_coverage}");

    // Undo each step: detail, delete, move, conversion.
    command(&mut h, Key::Z, false);
    h.step();
    assert_eq!(annotation(&h), deleted);
    assert_eq!(vertex_count(&h), n0 - 1);
    command(&mut h, Key::Z, false);
    h.step();
    assert_eq!(annotation(&h), moved);
    command(&mut h, Key::Z, false);
    h.step();
    assert_eq!(annotation(&h), converted);
    // Redo them all, then save: the file holds the last polygons.
    for _ in 0..3 {
        command(&mut h, Key::Z, true);
        h.step();
    }
    assert_eq!(annotation(&h), coarse);
    command(&mut h, Key::Z, false);
    command(&mut h, Key::Z, false);
    command(&mut h, Key::Z, false);
    command(&mut h, Key::Z, false);
    h.step();
    assert_eq!(annotation(&h), sam, "undone back to the SAM mask");
    assert!(
        h.state().edited_polygons().is_none(),
        "no polygons left to edit"
    );
    for _ in 0..4 {
        command(&mut h, Key::Z, true);
    }
    h.step();
    assert_eq!(annotation(&h), coarse);

    // Enter: done. Saved as polygons; they rasterize to the mask the window shows.
    press(&mut h, Key::Enter);
    assert!(h.state().edited_polygons().is_none());
    command(&mut h, Key::S, false);
    let saved = coco::load(&dir.join("out.json")).unwrap().dataset;
    let ann = saved.annotation(coarse.id).unwrap();
    assert_eq!(ann, &coarse);
    let decoded = Rle::from_polygons(h_px, w, &stored(ann)).unwrap();
    assert_eq!(ann.area.as_u64(), Some(decoded.area()));
    let shown_mask = h.state().annotation_mask(ann.id).expect("shown");
    assert_eq!(decoded.to_mask(), shown_mask);
    keep_for_pycocotools(&dir, &h);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_polygon_tool_draws_an_annotation_and_keeps_it_as_polygons() {
    let (mut h, dir) = open_app("gui-polygon-tool", &["coffee.png"]);
    wait_ready(&mut h);
    press(&mut h, Key::P);
    let corners = [
        [100.0, 100.0],
        [260.0, 110.0],
        [240.0, 300.0],
        [90.0, 280.0],
    ];
    for p in corners {
        crate::gui::click(&mut h, p, PointerButton::Primary);
    }
    // Backspace takes back the last vertex; click it again; Enter closes.
    press(&mut h, Key::Backspace);
    crate::gui::click(&mut h, corners[3], PointerButton::Primary);
    press(&mut h, Key::Enter);
    let ann = annotation(&h);
    let flat = stored(&ann);
    assert_eq!(flat.len(), 1);
    let expected: Vec<f64> = corners.iter().flatten().map(|&v| f64::from(v)).collect();
    for (got, want) in flat[0].iter().zip(&expected) {
        assert!((got - want).abs() < 0.6, "{:?} vs {expected:?}", flat[0]);
    }
    // A second polygon closed by clicking its first vertex.
    let triangle = [[400.0, 100.0], [500.0, 120.0], [450.0, 200.0]];
    for p in triangle {
        crate::gui::click(&mut h, p, PointerButton::Primary);
    }
    crate::gui::click(&mut h, triangle[0], PointerButton::Primary);
    let dataset = &h.state().project.as_ref().unwrap().dataset;
    assert_eq!(dataset.annotations().len(), 2);
    command(&mut h, Key::S, false);
    let saved = coco::load(&dir.join("out.json")).unwrap().dataset;
    for ann in saved.annotations() {
        let decoded = Rle::from_polygons(400, 600, &stored(ann)).unwrap();
        assert_eq!(
            decoded.to_mask(),
            h.state().annotation_mask(ann.id).unwrap()
        );
        assert_eq!(ann.area.as_u64(), Some(decoded.area()));
    }
    keep_for_pycocotools(&dir, &h);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Copies the saved dataset and the shown masks for the pycocotools check (see the module docs).
fn keep_for_pycocotools(dir: &std::path::Path, h: &Harness<'_, SamApp>) {
    let Some(keep) = std::env::var_os("SAMLABEL_KEEP_POLYGON_EDIT") else {
        return;
    };
    let keep = std::path::Path::new(&keep).join(dir.file_name().unwrap());
    std::fs::create_dir_all(keep.join("masks")).unwrap();
    std::fs::copy(dir.join("out.json"), keep.join("out.json")).unwrap();
    std::fs::copy(dir.join("coffee.png"), keep.join("coffee.png")).unwrap();
    for ann in h.state().project.as_ref().unwrap().dataset.annotations() {
        let mask = h.state().annotation_mask(ann.id).unwrap();
        mask.to_gray()
            .save(keep.join("masks").join(format!("{}.png", ann.id)))
            .unwrap();
    }
}
