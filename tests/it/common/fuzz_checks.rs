//! What the fuzz targets check for one input; shared by fuzz/ (cargo fuzz) and the replay of saved
//! inputs in tests/it/fuzz_regressions.rs. Each function panics when samlabel misbehaves on `data`.

use std::path::Path;

use samlabel::annotate::coco::{self, SegmentationFormat};
use samlabel::annotate::mask::Mask;
use samlabel::annotate::rle::Rle;
use samlabel::imageio;

/// COCO import: any bytes either load as a dataset or give an error; a loaded dataset saves and
/// loads back to the same document.
pub fn coco_import(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(imported) = coco::from_value(value, None) else {
        return;
    };
    let saved = coco::to_value(&imported.dataset, SegmentationFormat::AsIs);
    let again = coco::from_value(saved.clone(), None).expect("a saved dataset loads back");
    assert!(
        coco::to_value(&again.dataset, SegmentationFormat::AsIs) == saved,
        "save, load, save changed the document"
    );
}

/// RLE: compressed strings decode or fail cleanly, and mask -> RLE -> string -> RLE -> mask is exact.
pub fn rle_roundtrip(data: &[u8]) {
    let [h, w, rest @ ..] = data else {
        return;
    };
    let (height, width) = (u32::from(*h % 64) + 1, u32::from(*w % 64) + 1);

    // Arbitrary text as a compressed counts string.
    if let Ok(text) = std::str::from_utf8(rest)
        && let Ok(rle) = Rle::from_string(height, width, text)
    {
        let mask = rle.to_mask();
        assert_eq!(mask.area(), rle.area(), "area of the decoded mask");
        let again =
            Rle::from_string(height, width, &rle.to_compressed()).expect("re-encoded string");
        assert!(again.to_mask() == mask, "string -> RLE -> string -> RLE");
    }

    // The bytes as mask pixels: encoding and decoding give the same pixels back.
    let mut mask = Mask::new(width, height);
    for (i, byte) in rest.iter().enumerate().take((width * height) as usize) {
        let i = i as u32;
        mask.set(i % width, i / width, byte & 1 == 1);
    }
    let rle = Rle::from_mask(&mask);
    assert!(rle.to_mask() == mask, "mask -> RLE -> mask");
    let parsed = Rle::from_string(height, width, &rle.to_compressed()).expect("own string parses");
    assert!(parsed.to_mask() == mask, "mask -> string -> mask");
    assert_eq!(rle.area(), mask.area());
}

/// Image loading: any bytes give an RGB image within the limits, or an error.
pub fn image_load(data: &[u8]) {
    // The format is read from the content; the name only appears in messages.
    if let Ok(image) = imageio::decode_rgb(data, Path::new("input.jpg")) {
        assert!(image.width() > 0 && image.height() > 0);
        assert!(image.width() <= imageio::MAX_SIDE && image.height() <= imageio::MAX_SIDE);
    }
}
