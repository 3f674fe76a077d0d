//! The `samlabel` binary: `segment` on every fixture case, `doctor`, `bench`, and every failure path
//! (exit code 2, one clear line on stderr, never a panic).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use samlabel::annotate::coco;
use samlabel::annotate::mask::Mask;

pub fn samlabel() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_samlabel"));
    // Keep tests off the user's cache and off the network.
    cmd.env(
        "SAMLABEL_CACHE_DIR",
        std::env::temp_dir().join("samlabel-test-cache-empty"),
    );
    cmd.env_remove("ORT_DYLIB_PATH");
    cmd
}

pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("samlabel runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "panic in stderr: {stderr}");
    (out, stdout, stderr)
}

/// Runs a command that must fail as a user error: exit code 2 and one line on stderr that contains
/// every one of `needles`.
fn expect_failure(cmd: &mut Command, needles: &[&str]) -> String {
    let (out, _, stderr) = run(cmd);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    }
    stderr
}

fn segment_case(image: &Path, model_dir: &Path, case: &common::Case, output: &Path) -> Command {
    let mut cmd = samlabel();
    cmd.arg("segment")
        .arg(image)
        .arg("--model-dir")
        .arg(model_dir);
    for (p, &l) in case.points.iter().zip(&case.labels) {
        cmd.arg(if l == 1 { "--point" } else { "--negative" })
            .arg(format!("{},{}", p[0], p[1]));
    }
    if let Some([x0, y0, x1, y1]) = case.bbox {
        cmd.arg("--box").arg(format!("{x0},{y0},{x1},{y1}"));
    }
    cmd.arg("--output").arg(output);
    cmd
}

fn check_segment_cases(model_dir: &Path, tag: &str) {
    let cases = common::cases();
    let out_dir = common::temp_dir(tag);
    // The CLI has no mask input: refinement cases are covered by the pipeline test.
    for case in cases.cases.iter().filter(|c| c.mask_input.is_none()) {
        let image = common::fixtures().join(&cases.image(&case.image).file);
        let output = out_dir.join(format!("{}.png", case.name));
        let (out, stdout, stderr) = run(&mut segment_case(&image, model_dir, case, &output));
        assert!(out.status.success(), "{}: {stderr}", case.name);
        let got = Mask::from_gray(&image::open(&output).unwrap().to_luma8());
        let iou = got.iou(&case.expected_mask());
        println!("{:<40} IoU {iou:.5}", case.name);
        assert!(iou >= 0.99, "{}: IoU {iou}", case.name);

        let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
        assert_eq!(line["area"], got.area(), "{}", case.name);
        assert_eq!(line["bbox"], serde_json::json!(got.bbox()), "{}", case.name);
        assert!((line["score"].as_f64().unwrap() - f64::from(case.score)).abs() < 1e-2);
        let png = image::open(&output).unwrap();
        assert_eq!(png.color(), image::ColorType::L8);
    }
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn segment_reproduces_every_fixture_case() {
    check_segment_cases(&common::model_dir(), "cli-nchw");
}

#[test]
fn segment_works_with_ingraph_encoder() {
    let dir = common::ingraph_model_dir("cli");
    check_segment_cases(&dir, "cli-ingraph");
    std::fs::remove_dir_all(dir).unwrap();
}

/// CRC-32 as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn first_image() -> PathBuf {
    let cases = common::cases();
    common::fixtures().join(&cases.images[0].file)
}

#[test]
fn segment_refuses_bad_prompts_and_images() {
    let dir = common::temp_dir("cli-bad");
    let out = dir.join("m.png");
    let image = first_image();
    let model = common::model_dir();
    let seg = |image: &Path| {
        let mut c = samlabel();
        c.arg("segment")
            .arg(image)
            .arg("--model-dir")
            .arg(&model)
            .arg("--output")
            .arg(&out);
        c
    };

    expect_failure(&mut seg(&image), &["no prompt"]);
    // Neither --output nor --coco: the one line names what is missing.
    expect_failure(
        samlabel()
            .arg("segment")
            .arg(&image)
            .args(["--point", "1,1"]),
        &["required", "--output"],
    );
    expect_failure(seg(&image).args(["--point", "100000,5"]), &["outside"]);
    expect_failure(seg(&image).args(["--point", "-3,5"]), &["outside"]);
    expect_failure(seg(&image).args(["--point", "NaN,5"]), &["not a number"]);
    expect_failure(seg(&image).args(["--box", "10,10,10,50"]), &["zero"]);
    // A JPEG cut short is refused, and taken with --allow-partial (saying so).
    let cut = common::fixtures().join("inputs/truncated_scan.jpg");
    expect_failure(
        seg(&cut).args(["--point", "5,5"]),
        &["cut short", "--allow-partial"],
    );
    let (ok, _, stderr) = run(seg(&cut).args(["--point", "5,5", "--allow-partial"]));
    assert!(ok.status.success() && stderr.contains("warning:") && stderr.contains("cut short"));
    // A box that overhangs the image is what detectors give, and SamPredictor takes it; one that
    // misses the image entirely is refused, naming the box.
    let (w, h) = image::image_dimensions(&image).unwrap();
    let overhang = format!("-20,10,{},{}", w + 30, h / 2);
    let (ok, _, stderr) = run(seg(&image).args(["--box", overhang.as_str()]));
    assert!(ok.status.success(), "{stderr}");
    let beyond = format!("{},{},{},{}", w + 5, 0, w + 50, h);
    expect_failure(
        seg(&image).args(["--box", beyond.as_str()]),
        &["box", "does not overlap"],
    );
    expect_failure(seg(&image).args(["--point", "1,2,3"]), &["expected 2"]);

    expect_failure(
        seg(&dir.join("missing.png")).args(["--point", "1,1"]),
        &["missing.png"],
    );
    let text = dir.join("notes.jpg");
    std::fs::write(&text, "this is not an image").unwrap();
    expect_failure(seg(&text).args(["--point", "1,1"]), &["notes.jpg"]);
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    expect_failure(seg(&empty).args(["--point", "1,1"]), &["empty.png"]);
    let truncated = dir.join("truncated.png");
    let bytes = std::fs::read(&image).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    expect_failure(seg(&truncated).args(["--point", "1,1"]), &["truncated.png"]);

    // A header that claims 100000x100000 pixels is refused before anything is allocated.
    let huge = dir.join("huge.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr = [
        &100_000u32.to_be_bytes()[..],
        &100_000u32.to_be_bytes()[..],
        &[8, 2, 0, 0, 0],
    ]
    .concat();
    for (kind, data) in [
        (b"IHDR", ihdr.as_slice()),
        (b"IDAT", &[0x78, 0x9c, 0x03, 0, 0, 0, 0, 1]),
        (b"IEND", &[]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let chunk = [kind.as_slice(), data].concat();
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    std::fs::write(&huge, &png).unwrap();
    expect_failure(
        seg(&huge).args(["--point", "1,1"]),
        &["100000x100000", "30000 pixels a side"],
    );

    // Writing into a folder that does not exist.
    let mut c = samlabel();
    c.arg("segment")
        .arg(&image)
        .arg("--model-dir")
        .arg(&model)
        .args(["--point", "5,5"]);
    c.arg("--output").arg(dir.join("no/such/dir/m.png"));
    expect_failure(&mut c, &["cannot write"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_models_are_refused_with_the_reason() {
    let dir = common::temp_dir("cli-models");
    let image = first_image();
    let seg = |model: &Path| {
        let mut c = samlabel();
        c.arg("segment")
            .arg(&image)
            .arg("--model-dir")
            .arg(model)
            .args(["--point", "5,5"]);
        c.arg("--output").arg(dir.join("m.png"));
        c
    };
    let fixture = common::model_dir();
    let make = |name: &str, encoder: Option<&Path>, decoder: Option<&Path>| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        if let Some(e) = encoder {
            std::fs::copy(e, d.join("encoder.onnx")).unwrap();
        }
        if let Some(e) = decoder {
            std::fs::copy(e, d.join("decoder.onnx")).unwrap();
        }
        d
    };
    let encoder = fixture.join("encoder.onnx");
    let decoder = fixture.join("decoder.onnx");

    expect_failure(&mut seg(&dir.join("nowhere")), &["does not exist"]);
    let no_decoder = make("no-decoder", Some(&encoder), None);
    expect_failure(&mut seg(&no_decoder), &["decoder.onnx", "missing"]);

    let random = dir.join("random.onnx");
    std::fs::write(
        &random,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let garbage = make("garbage", Some(&random), Some(&decoder));
    expect_failure(&mut seg(&garbage), &["encoder.onnx", "could not be loaded"]);

    // A decoder where the encoder belongs: a valid ONNX model that is not a SAM encoder.
    let swapped = make("swapped", Some(&decoder), Some(&decoder));
    expect_failure(&mut seg(&swapped), &["not a SAM image encoder"]);
    let swapped_dec = make("swapped-dec", Some(&encoder), Some(&encoder));
    expect_failure(
        &mut seg(&swapped_dec),
        &["not a SAM mask decoder", "image_embeddings"],
    );

    // A decoder built for other embeddings than the encoder gives (128 vs 256 channels).
    let unfit = make(
        "unfit",
        Some(&encoder),
        Some(&common::fixtures().join("inputs/decoder_embed128.onnx")),
    );
    expect_failure(
        &mut seg(&unfit),
        &["image_embeddings", "encoder and decoder do"],
    );

    let bad_json = make("bad-json", Some(&encoder), Some(&decoder));
    std::fs::write(bad_json.join("model.json"), "{\"input_size\": \"big\"").unwrap();
    expect_failure(&mut seg(&bad_json), &["model.json"]);
    let typo = make("typo-json", Some(&encoder), Some(&decoder));
    std::fs::write(typo.join("model.json"), r#"{"input_sise": 1024}"#).unwrap();
    expect_failure(&mut seg(&typo), &["model.json", "input_sise"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_or_broken_onnx_runtime_is_explained() {
    let dir = common::temp_dir("cli-ort");
    let image = first_image();
    let mut c = samlabel();
    c.env("ORT_DYLIB_PATH", dir.join("libonnxruntime.so"));
    c.arg("segment")
        .arg(&image)
        .arg("--model-dir")
        .arg(common::model_dir())
        .args(["--point", "5,5"]);
    c.arg("--output").arg(dir.join("m.png"));
    expect_failure(
        &mut c,
        &[
            "ONNX Runtime library was not found",
            "setup-ort.sh",
            "ORT_DYLIB_PATH",
        ],
    );

    let fake = dir.join("libonnxruntime.so");
    std::fs::write(&fake, "not a shared library").unwrap();
    let mut c = samlabel();
    c.env("ORT_DYLIB_PATH", &fake).arg("doctor");
    expect_failure(
        &mut c,
        &["could not load the ONNX Runtime library", "setup-ort.sh"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn doctor_reports_library_providers_and_model() {
    let (out, stdout, stderr) = run(samlabel()
        .arg("doctor")
        .arg("--model-dir")
        .arg(common::model_dir()));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("ONNX Runtime: 1."), "{stdout}");
    assert!(stdout.contains("CPUExecutionProvider"), "{stdout}");
    // One verdict per provider: exactly one CUDA line, and it agrees with where a model runs.
    assert_eq!(stdout.matches("CUDA:").count(), 1, "{stdout}");
    assert!(stdout.contains("encoder input: `images`"), "{stdout}");
    assert!(stdout.contains("with --device auto it runs on"), "{stdout}");

    // Asking for CUDA on a CPU-only library falls back with a warning that says why.
    let (out, stdout, _) = run(samlabel()
        .args(["doctor", "--device", "cuda", "--model-dir"])
        .arg(common::model_dir()));
    assert!(out.status.success());
    if stdout.contains("CUDA: available") {
        assert!(stdout.contains("runs on: CUDA"), "{stdout}");
    } else {
        assert!(stdout.contains("runs on: CPU"), "{stdout}");
        assert!(stdout.contains("warning: CUDA is not used"), "{stdout}");
    }
}

#[test]
fn bench_prints_the_json_yardstick() {
    let (out, stdout, stderr) = run(samlabel()
        .arg("bench")
        .arg("--model-dir")
        .arg(common::model_dir())
        .arg(first_image())
        .args(["--clicks", "5", "--repeats", "2"]));
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "read_decode_ms",
        "preprocess_ms",
        "encoder_ms",
        "decoder_ms",
        "postprocess_preview_ms",
        "postprocess_full_ms",
        "click_total_ms",
    ] {
        assert!(
            v[key]["p50"].as_f64().is_some() && v[key]["p95"].as_f64().is_some(),
            "{key} in {v}"
        );
    }
}

#[test]
fn models_list_names_the_known_models() {
    let (out, stdout, _) = run(samlabel().args(["models", "list"]));
    assert!(out.status.success());
    assert!(
        stdout.contains("name") && stdout.contains("in the cache"),
        "{stdout}"
    );
    for name in ["mobile-sam", "sam-vit-b", "sam-vit-l", "sam-vit-h"] {
        assert!(stdout.contains(name), "{stdout}");
    }
    expect_failure(
        samlabel().args(["models", "download", "sam-vit-q"]),
        &["unknown model", "sam-vit-b"],
    );
}

#[test]
fn segment_adds_to_a_coco_dataset_and_export_writes_every_format() {
    let dir = common::temp_dir("cli-coco");
    for name in ["coffee.png", "camera_gray.png"] {
        std::fs::copy(common::fixtures().join("images").join(name), dir.join(name)).unwrap();
    }
    let dataset = dir.join("annotations.json");
    let model = common::model_dir();
    let segment = |image: &str, prompt: &[&str], category: Option<&str>, png: &str| {
        let mut c = samlabel();
        c.arg("segment")
            .arg(dir.join(image))
            .arg("--model-dir")
            .arg(&model)
            .args(prompt);
        c.arg("--coco")
            .arg(&dataset)
            .arg("--output")
            .arg(dir.join(png));
        if let Some(category) = category {
            c.args(["--category", category]);
        }
        let (out, stdout, stderr) = run(&mut c);
        assert!(out.status.success(), "{stderr}");
        serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap()
    };
    segment("coffee.png", &["--point", "300,200"], Some("cup"), "a.png");
    segment(
        "coffee.png",
        &["--box", "100,50,400,300"],
        Some("plate"),
        "b.png",
    );
    let line = segment("camera_gray.png", &["--point", "200,200"], None, "c.png");
    assert_eq!(line["annotation_id"], 3);
    assert!(dir.join("annotations.json.bak").is_file());

    let imported = samlabel::annotate::coco::load(&dataset).unwrap();
    let ds = &imported.dataset;
    assert!(imported.missing_images.is_empty());
    let names: Vec<&str> = ds.categories().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cup", "plate", "object"]);
    assert_eq!(ds.images().len(), 2);
    for (ann, png) in ds.annotations().iter().zip(["a.png", "b.png", "c.png"]) {
        let image = ds.image(ann.image_id).unwrap();
        let mask = ann.segmentation.to_rle(image.height, image.width).to_mask();
        let expected = Mask::from_gray(&image::open(dir.join(png)).unwrap().to_luma8());
        assert_eq!(mask, expected, "annotation {}", ann.id);
        assert_eq!(ann.area.as_u64(), Some(expected.area()));
    }

    for format in ["coco", "coco-polygons", "yolo-seg", "masks", "labelme"] {
        let out_dir = dir.join(format!("out-{format}"));
        let (out, stdout, stderr) = run(samlabel()
            .arg("export")
            .arg(&dataset)
            .args(["--format", format])
            .arg("--out")
            .arg(&out_dir));
        assert!(out.status.success(), "{format}: {stderr}");
        assert!(
            stdout.contains("exported 3 annotations"),
            "{format}: {stdout}"
        );
    }
    // Polygon export: every annotation decodes to (almost) the same mask.
    let polygons =
        samlabel::annotate::coco::load(&dir.join("out-coco-polygons/annotations.json")).unwrap();
    for (a, b) in polygons.dataset.annotations().iter().zip(ds.annotations()) {
        let image = ds.image(a.image_id).unwrap();
        let ma = a.segmentation.to_rle(image.height, image.width).to_mask();
        let mb = b.segmentation.to_rle(image.height, image.width).to_mask();
        assert!(ma.iou(&mb) >= 0.99, "annotation {}: {}", a.id, ma.iou(&mb));
    }
    let labels = std::fs::read_to_string(dir.join("out-yolo-seg/labels/coffee.txt")).unwrap();
    let classes: Vec<&str> = labels
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(classes, ["0", "1"]);
    assert!(
        std::fs::read_to_string(dir.join("out-yolo-seg/data.yaml"))
            .unwrap()
            .contains("1: \"plate\"")
    );
    assert!(dir.join("out-yolo-seg/images/coffee.png").is_file());
    // labelme: a JSON beside the image, a polygon per part grouped per annotation (how closely
    // labelme's own rasterizer draws them back is tests/fixtures/check_polygon_exports.py's check).
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out-labelme/coffee.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["imagePath"], "coffee.png");
    assert!(dir.join("out-labelme/coffee.png").is_file());
    assert_eq!(doc["imageWidth"], 600);
    let shapes = doc["shapes"].as_array().unwrap();
    let labels: std::collections::BTreeSet<&str> = shapes
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(labels.contains("plate"), "{labels:?}");
    let groups: std::collections::BTreeSet<u64> = shapes
        .iter()
        .map(|s| s["group_id"].as_u64().unwrap())
        .collect();
    assert_eq!(groups.len(), 2, "two annotations on coffee.png");
    assert!(
        shapes
            .iter()
            .all(|s| s["shape_type"] == "polygon" && s["points"].as_array().unwrap().len() >= 3)
    );
    let instances = image::open(dir.join("out-masks/coffee_instances.png")).unwrap();
    assert_eq!(instances.color(), image::ColorType::L16);
    let max = instances
        .to_luma16()
        .pixels()
        .map(|p| p.0[0])
        .max()
        .unwrap();
    assert_eq!(max, 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_broken_dataset_is_refused_and_left_untouched() {
    let dir = common::temp_dir("cli-coco-bad");
    let dataset = dir.join("annotations.json");
    let broken = "{\"images\": [], \"annotations\": [{\"id\": 1}], \"categories\": []}";
    std::fs::write(&dataset, broken).unwrap();
    let mut c = samlabel();
    c.arg("segment")
        .arg(first_image())
        .arg("--model-dir")
        .arg(common::model_dir());
    c.args(["--point", "5,5", "--coco"]).arg(&dataset);
    expect_failure(&mut c, &["annotations[0].image_id"]);
    assert_eq!(std::fs::read_to_string(&dataset).unwrap(), broken);
    expect_failure(
        samlabel()
            .arg("export")
            .arg(&dataset)
            .arg("--out")
            .arg(dir.join("o")),
        &["annotations[0].image_id"],
    );

    // Saving to a folder path is refused with the reason.
    let mut c = samlabel();
    c.arg("segment")
        .arg(first_image())
        .arg("--model-dir")
        .arg(common::model_dir());
    c.args(["--point", "5,5", "--coco"]).arg(&dir);
    expect_failure(&mut c, &["folder"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn embed_fills_the_disk_cache_and_damaged_entries_are_recomputed() {
    let dir = common::temp_dir("cli-embed");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(
        common::fixtures().join("images/coffee.png"),
        images.join("coffee.png"),
    )
    .unwrap();
    let cache = dir.join("cache");
    let with_cache = |c: &mut Command| {
        c.env("SAMLABEL_CACHE_DIR", &cache);
    };
    let mut c = samlabel();
    with_cache(&mut c);
    c.arg("embed")
        .arg(&images)
        .arg("--model-dir")
        .arg(common::model_dir());
    let (out, stdout, stderr) = run(&mut c);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("1 encoded"), "{stdout}");

    let entries: Vec<PathBuf> = std::fs::read_dir(cache.join("embeddings"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);

    let segment = |png: &str| {
        let mut c = samlabel();
        with_cache(&mut c);
        c.arg("segment")
            .arg(images.join("coffee.png"))
            .arg("--model-dir")
            .arg(common::model_dir());
        c.args(["--point", "300,200", "--output"])
            .arg(dir.join(png));
        let (out, _, stderr) = run(&mut c);
        assert!(out.status.success(), "{stderr}");
        Mask::from_gray(&image::open(dir.join(png)).unwrap().to_luma8())
    };
    let from_cache = segment("cached.png");
    // Damage the entry: it must be detected and recomputed, giving the same mask.
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entries[0], &bytes).unwrap();
    let recomputed = segment("recomputed.png");
    assert_eq!(from_cache, recomputed);
    let fresh = {
        let mut c = samlabel();
        c.arg("segment")
            .arg(images.join("coffee.png"))
            .arg("--model-dir")
            .arg(common::model_dir());
        c.args(["--point", "300,200", "--output"])
            .arg(dir.join("fresh.png"));
        assert!(run(&mut c).0.status.success());
        Mask::from_gray(&image::open(dir.join("fresh.png")).unwrap().to_luma8())
    };
    assert_eq!(from_cache, fresh);
    assert!(
        std::fs::read(&entries[0]).unwrap() != bytes,
        "the damaged entry was rewritten"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Builds a stand-in ONNX Runtime library that reports `version` (and offers no API), with the C
/// compiler the Rust toolchain already needs.
fn fake_onnxruntime(dir: &Path, version: &str) -> PathBuf {
    let source = dir.join(format!("fake-{version}.c"));
    std::fs::write(
        &source,
        format!(
            r#"#include <stddef.h>
typedef struct {{ const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); }} OrtApiBase;
static const void* get_api(unsigned v) {{ (void)v; return NULL; }}
static const char* version(void) {{ return "{version}"; }}
static const OrtApiBase base = {{ get_api, version }};
const OrtApiBase* OrtGetApiBase(void) {{ return &base; }}
"#
        ),
    )
    .unwrap();
    let library = dir.join(format!("libonnxruntime.so.{version}"));
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .status()
        .expect("a C compiler (cc) is installed");
    assert!(status.success(), "cc failed");
    library
}

#[test]
fn onnx_runtime_of_another_version_is_refused_with_the_versions() {
    let dir = common::temp_dir("cli-ort-version");
    for version in ["1.16.3", "2.0.0"] {
        let library = fake_onnxruntime(&dir, version);
        let mut c = samlabel();
        c.env("ORT_DYLIB_PATH", &library)
            .arg("segment")
            .arg(first_image())
            .arg("--model-dir")
            .arg(common::model_dir())
            .args(["--point", "5,5", "--output"])
            .arg(dir.join("m.png"));
        expect_failure(
            &mut c,
            &[&format!("version {version}"), "1.17", "setup-ort.sh"],
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn segment_into(image: &Path, point: &str, dataset: &Path) -> Command {
    let mut c = samlabel();
    c.arg("segment")
        .arg(image)
        .arg("--model-dir")
        .arg(common::model_dir())
        .args(["--point", point, "--coco"])
        .arg(dataset);
    c
}

#[test]
fn odd_images_segment_upright_and_say_what_they_use() {
    let dir = common::temp_dir("cli-odd-images");
    let inputs = common::fixtures().join("inputs");
    let dataset = dir.join("annotations.json");

    // Stored 16x24 with EXIF orientation 6: the mask and the COCO size are those of the upright photo.
    let rotated = dir.join("rotated.jpg");
    std::fs::copy(inputs.join("exif_orientation_6.jpg"), &rotated).unwrap();
    let mask = dir.join("m.png");
    let (out, _, stderr) = run(segment_into(&rotated, "12,8", &dataset)
        .arg("--output")
        .arg(&mask));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(image::image_dimensions(&mask).unwrap(), (24, 16));
    let saved = coco::load(&dataset).unwrap();
    let image = &saved.dataset.images()[0];
    assert_eq!((image.width, image.height), (24, 16));
    // A point inside the upright 24x16 frame but outside the stored 16x24 one is fine...
    let (out, _, stderr) = run(&mut segment_into(&rotated, "20,4", &dataset));
    assert!(out.status.success(), "{stderr}");
    // ...and one outside the upright frame is not.
    expect_failure(&mut segment_into(&rotated, "4,20", &dataset), &["outside"]);

    // One pixel.
    let (out, _, stderr) = run(&mut segment_into(
        &inputs.join("one_pixel.png"),
        "0.5,0.5",
        &dataset,
    ));
    assert!(out.status.success(), "{stderr}");

    // Animated GIF: the first frame, with a note.
    let (out, _, stderr) = run(&mut segment_into(
        &inputs.join("animated.gif"),
        "3,3",
        &dataset,
    ));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("animated GIF") && stderr.contains("first frame"),
        "{stderr}"
    );

    // Every pixel format goes through the whole pipeline.
    for name in [
        "gray.png",
        "gray_alpha.png",
        "rgba.png",
        "palette.png",
        "rgb16.png",
        "gray16.png",
        "cmyk.jpg",
        "multipage.tif",
    ] {
        let (out, _, stderr) = run(&mut segment_into(&inputs.join(name), "5,5", &dataset));
        assert!(out.status.success(), "{name}: {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_dataset_open_in_another_samlabel_is_not_written() {
    let dir = common::temp_dir("cli-lock");
    let dataset = dir.join("annotations.json");
    let held = samlabel::annotate::lock::DatasetLock::acquire(&dataset).unwrap();
    expect_failure(
        &mut segment_into(&first_image(), "5,5", &dataset),
        &[
            "open in another samlabel process",
            &format!("process {}", std::process::id()),
        ],
    );
    assert!(!dataset.exists());
    drop(held);
    let (out, _, stderr) = run(&mut segment_into(&first_image(), "5,5", &dataset));
    assert!(out.status.success(), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_disk_or_read_only_folder_fails_the_save_and_keeps_the_dataset() {
    let dir = common::temp_dir("cli-full");
    let dataset = dir.join("annotations.json");
    // A private embedding cache, filled by these runs, so the run under the limit only writes the dataset.
    let segment = || {
        let mut c = segment_into(&first_image(), "5,5", &dataset);
        c.env("SAMLABEL_CACHE_DIR", dir.join("cache"));
        c
    };
    for _ in 0..3 {
        let (out, _, stderr) = run(&mut segment());
        assert!(out.status.success(), "{stderr}");
    }
    let before = std::fs::read(&dataset).unwrap();

    // Disk full: a file-size limit below the dataset's size makes the write fail part way (SIGXFSZ is
    // ignored, as a full disk sends no signal either).
    let limit_blocks = before.len() / 512 / 2;
    let mut c = Command::new("sh");
    c.env("SAMLABEL_CACHE_DIR", dir.join("cache"))
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {limit_blocks}; exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_samlabel"))
        .args(segment().get_args());
    expect_failure(&mut c, &["cannot save", "annotations.json"]);
    assert_eq!(
        std::fs::read(&dataset).unwrap(),
        before,
        "the dataset is intact"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // A read-only folder. Root ignores permission bits, so try the immutable attribute as well.
    let readonly = dir.join("readonly");
    std::fs::create_dir(&readonly).unwrap();
    let target = readonly.join("annotations.json");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut immutable = false;
    if std::fs::write(readonly.join("probe"), b"").is_ok() {
        let _ = std::fs::remove_file(readonly.join("probe"));
        immutable = Command::new("chattr")
            .arg("+i")
            .arg(&readonly)
            .status()
            .is_ok_and(|s| s.success());
    }
    if std::fs::write(readonly.join("probe"), b"").is_ok() {
        eprintln!("note: no way to make a read-only folder here (root without chattr); skipped");
    } else {
        expect_failure(
            &mut segment_into(&first_image(), "5,5", &target),
            &["annotations.json"],
        );
        assert!(!target.exists());
    }
    if immutable {
        let _ = Command::new("chattr").arg("-i").arg(&readonly).status();
    }
    std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}
