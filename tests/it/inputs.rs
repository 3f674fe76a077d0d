//! The image catalogue of issue 6: every pixel format, EXIF orientation and damaged file a camera, a
//! scanner or a colleague produces either decodes to what PIL (and so SamPredictor) sees, or gives a
//! clear error. Files and expectations come from tests/fixtures/make_input_fixtures.py.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use samlabel::imageio::{self, ImageLoadError};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    width: u32,
    height: u32,
    /// Largest difference allowed per byte (JPEG decoders round differently).
    tolerance: u8,
    rgb: Vec<u8>,
}

fn inputs() -> PathBuf {
    common::fixtures().join("inputs")
}

fn expected() -> BTreeMap<String, Expected> {
    let text = std::fs::read_to_string(inputs().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_pixel_format_and_orientation_decodes_as_pil_sees_it() {
    let all = expected();
    assert!(all.len() >= 17, "{} files", all.len());
    for (name, want) in &all {
        let path = inputs().join(name);
        let image = imageio::load_rgb(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            image.dimensions(),
            (want.width, want.height),
            "{name}: upright size"
        );
        assert_eq!(
            imageio::oriented_dimensions(&path),
            Some((want.width, want.height)),
            "{name}: size from the header alone"
        );
        let worst = image
            .as_raw()
            .iter()
            .zip(&want.rgb)
            .map(|(&a, &b)| a.abs_diff(b))
            .max()
            .unwrap_or(0);
        assert!(
            worst <= want.tolerance,
            "{name}: pixels differ from PIL's by up to {worst} (allowed {})",
            want.tolerance
        );
    }
}

#[test]
fn all_eight_exif_orientations_give_the_same_upright_picture() {
    let all = expected();
    let upright = imageio::load_rgb(&inputs().join("exif_orientation_1.jpg")).unwrap();
    for o in 2..=8 {
        let image = imageio::load_rgb(&inputs().join(format!("exif_orientation_{o}.jpg"))).unwrap();
        assert_eq!(image.dimensions(), upright.dimensions(), "orientation {o}");
        let mean = image
            .as_raw()
            .iter()
            .zip(upright.as_raw())
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / image.as_raw().len() as f64;
        assert!(mean < 3.0, "orientation {o}: mean difference {mean}");
        assert_eq!(
            all[&format!("exif_orientation_{o}.jpg")].width,
            upright.width()
        );
    }
}

#[test]
fn damaged_and_unsupported_files_are_clear_errors() {
    let check = |name: &str, needles: &[&str]| {
        let err = imageio::load_rgb(&inputs().join(name)).expect_err(name);
        let text = err.to_string();
        assert!(
            text.contains(name),
            "{name}: the message names the file: {text}"
        );
        for needle in needles {
            assert!(text.contains(needle), "{name}: `{needle}` not in: {text}");
        }
        err
    };
    assert!(matches!(
        check("empty.png", &["empty"]),
        ImageLoadError::Empty { .. }
    ));
    check("text.jpg", &["not a JPEG image"]);
    check("truncated.jpg", &["cannot read image"]);
    check("truncated.png", &["cannot read image"]);
    // Cut inside the image data: Pillow refuses it, and so does samlabel (naming what is missing).
    assert!(matches!(
        check("truncated_scan.jpg", &["cut short", "end-of-image"]),
        ImageLoadError::Truncated { .. }
    ));
    let bytes = std::fs::read(inputs().join("truncated_scan.jpg")).unwrap();
    assert!(matches!(
        imageio::decode_rgb(&bytes, std::path::Path::new("x.jpg")),
        Err(ImageLoadError::Truncated { .. })
    ));
    let (image, warning) =
        imageio::load_rgb_allowing_partial(&inputs().join("truncated_scan.jpg")).unwrap();
    assert_eq!(image.dimensions(), (600, 400));
    assert!(warning.is_some_and(|w| w.contains("cut short")));
    // Complete JPEGs, EXIF thumbnails and all, are not taken for cut ones.
    for name in ["exif_orientation_6.jpg", "cmyk.jpg"] {
        let bytes = std::fs::read(inputs().join(name)).unwrap();
        assert_eq!(imageio::jpeg_truncation(&bytes), None, "{name}");
    }
    check("unsupported.ppm", &["not supported"]);
    check("missing.png", &["cannot open image"]);
}

#[test]
fn animated_gif_and_multipage_tiff_open_their_first_frame_with_a_note() {
    let all = expected();
    for (name, kind) in [
        ("animated.gif", "animated GIF"),
        ("multipage.tif", "multi-page TIFF"),
    ] {
        let path = inputs().join(name);
        let note = imageio::first_frame_note(&path).unwrap_or_else(|| panic!("{name}: no note"));
        assert!(
            note.contains(kind) && note.contains("first frame"),
            "{note}"
        );
        let image = imageio::load_rgb(&path).unwrap();
        assert_eq!(image.as_raw(), &all[name].rgb[..], "{name}: first frame");
    }
    for single in ["gray.png", "exif_orientation_6.jpg", "one_pixel.png"] {
        assert_eq!(imageio::first_frame_note(&inputs().join(single)), None);
    }
}

#[test]
fn in_memory_decoding_gives_the_same_pixels_and_errors() {
    for name in ["palette.png", "exif_orientation_6.jpg", "cmyk.jpg"] {
        let path = inputs().join(name);
        let bytes = std::fs::read(&path).unwrap();
        let a = imageio::decode_rgb(&bytes, &path).unwrap();
        let b = imageio::load_rgb(&path).unwrap();
        assert!(a == b, "{name}");
    }
    let err = imageio::decode_rgb(b"", std::path::Path::new("x.png")).unwrap_err();
    assert!(matches!(err, ImageLoadError::Empty { .. }));
}
