//! Replays the inputs kept from fuzzing (tests/fixtures/fuzz/TARGET/*: crashes that were fixed, and
//! seeds) through the same checks the fuzz targets run (see fuzz/README.md).

use crate::common::fuzz_checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} fails again", path.display());
        count += 1;
    }
    count
}

#[test]
fn saved_fuzz_inputs_still_pass() {
    let coco = replay("coco_import", fuzz_checks::coco_import);
    let rle = replay("rle_roundtrip", fuzz_checks::rle_roundtrip);
    let image = replay("image_load", fuzz_checks::image_load);
    println!("replayed {coco} COCO, {rle} RLE and {image} image inputs");
    assert!(coco > 0 && rle > 0 && image > 0);
}
