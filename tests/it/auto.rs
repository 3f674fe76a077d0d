//! `samlabel auto` and `samlabel merge`: shards cover every image once, runs resume, merges keep
//! every annotation.

use crate::cli::{run, samlabel};
use crate::common;

use std::path::Path;

use samlabel::annotate::coco;

/// `auto` over a folder of 20 images in two shards, then `merge`: every image once with its
/// proposals, the merged file loads back, and a second run skips every image.
#[test]
fn auto_in_two_shards_then_merge_covers_every_image_once_and_resumes() {
    let dir = common::temp_dir("cli-auto");
    let images = dir.join("images");
    std::fs::create_dir_all(images.join("more")).unwrap();
    let photo = image::open(common::fixtures().join("images/coffee.png"))
        .unwrap()
        .to_rgb8();
    for i in 0..20u32 {
        // Small crops of the photo, half of them in a subfolder (folders are searched recursively).
        let crop = image::imageops::crop_imm(&photo, i * 20, i * 8, 96, 64).to_image();
        let folder = if i % 2 == 0 {
            images.clone()
        } else {
            images.join("more")
        };
        crop.save(folder.join(format!("img{i:02}.png"))).unwrap();
    }
    let auto = |shard: &str, out: &Path| {
        let mut c = samlabel();
        c.env("SAMLABEL_CACHE_DIR", dir.join("cache"))
            .arg("auto")
            .arg(&images)
            .arg("--model-dir")
            .arg(common::model_dir())
            .args(["--everything", "--points-per-side", "4"])
            .args(["--pred-iou-thresh", "0", "--stability-score-thresh", "0"])
            .args(["--shard", shard, "--coco"])
            .arg(out);
        let (output, stdout, stderr) = run(&mut c);
        assert!(output.status.success(), "{stderr}");
        stdout
    };
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let first = auto("1/2", &a);
    assert!(
        first.contains("10 images (shard 1/2): 10 labelled"),
        "{first}"
    );
    assert!(auto("2/2", &b).contains("10 labelled"));

    let merged = dir.join("all.json");
    let mut c = samlabel();
    c.arg("merge").arg(&a).arg(&b).arg("--out").arg(&merged);
    let (output, stdout, stderr) = run(&mut c);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("20 images"), "{stdout}");

    let dataset = coco::load(&merged).unwrap().dataset;
    let mut names: Vec<&str> = dataset
        .images()
        .iter()
        .map(|i| i.file_name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 20, "every image once: {names:?}");
    assert!(names.iter().any(|n| n.starts_with("images/more/")));
    let per_shard = |path: &Path| coco::load(path).unwrap().dataset.annotations().len();
    assert_eq!(dataset.annotations().len(), per_shard(&a) + per_shard(&b));
    assert!(!dataset.annotations().is_empty());
    for annotation in dataset.annotations() {
        assert!(
            annotation.extra.contains_key("score"),
            "proposals keep their score"
        );
    }

    // A second run finds every image done; --redo replaces the proposals instead of adding more.
    let again = auto("1/2", &a);
    assert!(
        again.contains("0 labelled") && again.contains("10 already done"),
        "{again}"
    );
    let before = per_shard(&a);
    let mut c = samlabel();
    c.env("SAMLABEL_CACHE_DIR", dir.join("cache"))
        .arg("auto")
        .arg(images.join("img00.png"))
        .arg("--model-dir")
        .arg(common::model_dir())
        .args(["--everything", "--points-per-side", "4", "--redo", "--coco"])
        .arg(&a);
    let (output, _, stderr) = run(&mut c);
    assert!(output.status.success(), "{stderr}");
    assert!(per_shard(&a) <= before, "redo replaced, did not add");
    std::fs::remove_dir_all(dir).unwrap();
}
