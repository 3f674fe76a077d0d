//! Reading image files into RGB images in image space (EXIF orientation applied).

use std::path::{Path, PathBuf};

use std::io::Read as _;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

/// Largest side accepted.
pub const MAX_SIDE: u32 = 30_000;
/// Largest decoded size accepted: a 20000x15000 RGB photo (900 MB) fits, with room for 16-bit samples.
pub const MAX_DECODED_BYTES: u64 = 2_000_000_000;

/// Why an image could not be opened, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum ImageLoadError {
    #[error("cannot open image {}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot read image {}: {reason}", .path.display())]
    Decode { path: PathBuf, reason: String },
    #[error(
        "image {} is {width}x{height} pixels; samlabel opens images up to {MAX_SIDE} pixels a side and {} MB \
         decoded: downscale it first",
        .path.display(),
        MAX_DECODED_BYTES / 1_000_000
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("image {} is empty (0 bytes or 0 pixels)", .path.display())]
    Empty { path: PathBuf },
    #[error(
        "image {} is cut short: {what}; the rest of the picture would be grey (pass --allow-partial to use it anyway)",
        .path.display()
    )]
    Truncated { path: PathBuf, what: String },
}

/// What a JPEG file lacks when its data ends before the end-of-image marker, if it does.
///
/// Walks the marker segments from the start: the image data of each scan runs until the next
/// marker (0xFF followed by anything but 0x00 or a restart marker). Decoders fill what is missing
/// with grey without a word; Pillow, which SamPredictor uses, refuses such files.
pub fn jpeg_truncation(bytes: &[u8]) -> Option<String> {
    let cut = |at: usize| {
        Some(format!(
            "its JPEG data stops after {at} bytes, before the end-of-image marker"
        ))
    };
    if bytes.len() < 4 || bytes[..2] != [0xFF, 0xD8] {
        return None;
    }
    let mut at = 2;
    loop {
        // The next marker: 0xFF (fill bytes allowed), then its code.
        while at < bytes.len() && bytes[at] == 0xFF && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if at + 1 >= bytes.len() {
            return cut(bytes.len());
        }
        if bytes[at] != 0xFF {
            // Not where a marker should be: a damaged file, which the decoder reports itself.
            return None;
        }
        let code = bytes[at + 1];
        at += 2;
        match code {
            0xD9 => return None,
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        if at + 2 > bytes.len() {
            return cut(bytes.len());
        }
        let length = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        at += length;
        if at > bytes.len() {
            return cut(bytes.len());
        }
        if code == 0xDA {
            // Entropy-coded data of the scan, up to the next real marker.
            let is_marker =
                |at: usize| bytes[at] == 0xFF && !matches!(bytes[at + 1], 0x00 | 0xD0..=0xD7);
            while at + 1 < bytes.len() && !is_marker(at) {
                at += 1;
            }
        }
    }
}

/// `load_rgb` that also takes a file cut short, with a warning that says what is missing (the
/// window shows such an image with the warning; the command line asks for `--allow-partial`).
pub fn load_rgb_allowing_partial(
    path: &Path,
) -> Result<(RgbImage, Option<String>), ImageLoadError> {
    let (image, missing) = load(path)?;
    let warning = missing.map(|what| format!("{} is cut short: {what}", path.display()));
    Ok((image, warning))
}

/// Opens an image file and returns its pixels as RGB after applying the EXIF orientation.
///
/// Grayscale is replicated into three channels, alpha is dropped and 16-bit samples are scaled to
/// 8 bits, as PIL's `convert("RGB")` does for what `SamPredictor` sees.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageLoadError> {
    complete(load(path)?, path)
}

/// `load_rgb` for a file already in memory; `name` is what messages call it.
pub fn decode_rgb(bytes: &[u8], name: &Path) -> Result<RgbImage, ImageLoadError> {
    complete(decode_bytes(bytes, name)?, name)
}

/// The image, or the error that says what a file cut short lacks.
fn complete(
    (image, missing): (RgbImage, Option<String>),
    path: &Path,
) -> Result<RgbImage, ImageLoadError> {
    match missing {
        Some(what) => Err(ImageLoadError::Truncated {
            path: path.to_path_buf(),
            what,
        }),
        None => Ok(image),
    }
}

/// Decodes a file once, and says what is missing when it is a JPEG cut short (the decoders of the
/// other formats report that themselves). A JPEG is read whole, decoded from memory and checked on
/// the same bytes; other files stream from disk.
fn load(path: &Path) -> Result<(RgbImage, Option<String>), ImageLoadError> {
    let io_error = |error| ImageLoadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut head = [0u8; 64];
    let head_len = read_head(path, &mut head).map_err(io_error)?;
    let head = &head[..head_len];
    if image::guess_format(head).is_ok_and(|f| f == ImageFormat::Jpeg) {
        let bytes = std::fs::read(path).map_err(io_error)?;
        return decode_bytes(&bytes, path);
    }
    let reader = ImageReader::open(path)
        .map_err(io_error)?
        .with_guessed_format()
        .map_err(io_error)?;
    Ok((decode(reader, head, path)?, None))
}

/// `load` for bytes in memory.
fn decode_bytes(bytes: &[u8], name: &Path) -> Result<(RgbImage, Option<String>), ImageLoadError> {
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| ImageLoadError::Io {
            path: name.to_path_buf(),
            error,
        })?;
    let image = decode(reader, &bytes[..bytes.len().min(64)], name)?;
    let missing = image::guess_format(bytes)
        .is_ok_and(|f| f == ImageFormat::Jpeg)
        .then(|| jpeg_truncation(bytes))
        .flatten();
    Ok((image, missing))
}

fn decode<R: std::io::BufRead + std::io::Seek>(
    reader: ImageReader<R>,
    head: &[u8],
    path: &Path,
) -> Result<RgbImage, ImageLoadError> {
    let decode_error = |reason: String| ImageLoadError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    if head.is_empty() {
        return Err(ImageLoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    if image::guess_format(head).is_err() {
        let reason = match ImageFormat::from_path(path) {
            Ok(format) => format!(
                "the file is not a {} image (its content does not match its extension)",
                format!("{format:?}").to_uppercase()
            ),
            Err(_) => "not an image in a supported format (PNG, JPEG, TIFF, WebP, BMP, GIF)".into(),
        };
        return Err(decode_error(reason));
    }
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e.to_string()))?;
    // Refuse before allocating: a header can claim any size.
    let (w, h) = decoder.dimensions();
    let bytes = u64::from(w) * u64::from(h) * u64::from(decoder.color_type().bytes_per_pixel());
    if w > MAX_SIDE || h > MAX_SIDE || bytes > MAX_DECODED_BYTES {
        return Err(ImageLoadError::TooLarge {
            path: path.to_path_buf(),
            width: w,
            height: h,
        });
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    decoder
        .set_limits(limits)
        .map_err(|e| decode_error(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| decode_error(e.to_string()))?;
    let decoded = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e.to_string()))?;
    // Orient the 8-bit RGB image (a move for RGB photos, the smallest form otherwise): flips and
    // the 180-degree turn happen in place; only the 90-degree turns need a second buffer.
    let mut image = DynamicImage::ImageRgb8(decoded.into_rgb8());
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err(ImageLoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(image.into_rgb8())
}

/// Reads up to `buf.len()` bytes from the start of the file.
fn read_head(path: &Path, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut file = std::fs::File::open(path)?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A note when the file holds more than one image (an animated GIF, a multi-page TIFF): samlabel
/// annotates the first frame only. Reads headers only (and at most two GIF frames).
pub fn first_frame_note(path: &Path) -> Option<String> {
    let format = ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .format()?;
    let more = match format {
        ImageFormat::Gif => {
            use image::AnimationDecoder as _;
            let file = std::io::BufReader::new(std::fs::File::open(path).ok()?);
            let decoder = image::codecs::gif::GifDecoder::new(file).ok()?;
            decoder.into_frames().take(2).count() > 1
        }
        ImageFormat::Tiff => tiff_has_second_page(std::fs::File::open(path).ok()?)?,
        _ => false,
    };
    let kind = if format == ImageFormat::Gif {
        "an animated GIF"
    } else {
        "a multi-page TIFF"
    };
    more.then(|| {
        format!(
            "{} is {kind}: samlabel shows and annotates its first frame only",
            path.display()
        )
    })
}

/// Whether a classic TIFF's first image directory links to a second one. Reads the header and the
/// first directory's entry count and link (14 bytes), not the image.
fn tiff_has_second_page(mut file: impl std::io::Read + std::io::Seek) -> Option<bool> {
    use std::io::SeekFrom;
    let mut header = [0u8; 8];
    file.read_exact(&mut header).ok()?;
    let little = match &header[..4] {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return Some(false),
    };
    let u32_of = |b: [u8; 4]| {
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let ifd = u64::from(u32_of(header[4..8].try_into().ok()?));
    let mut count = [0u8; 2];
    file.seek(SeekFrom::Start(ifd)).ok()?;
    file.read_exact(&mut count).ok()?;
    let entries = if little {
        u16::from_le_bytes(count)
    } else {
        u16::from_be_bytes(count)
    };
    let mut next = [0u8; 4];
    file.seek(SeekFrom::Current(i64::from(entries) * 12)).ok()?;
    file.read_exact(&mut next).ok()?;
    Some(u32_of(next) != 0)
}

/// Width and height of an image file after EXIF orientation, read from its header only.
pub fn oriented_dimensions(path: &Path) -> Option<(u32, u32)> {
    use image::ImageDecoder as _;
    let mut decoder = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let (w, h) = decoder.dimensions();
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    use image::metadata::Orientation::*;
    Some(match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
        _ => (w, h),
    })
}

/// Compares names as file browsers order them: runs of digits by their number (`img2` < `img10`),
/// the rest by character, case-insensitively first.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let digits = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut run = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        run.push(c);
                        it.next();
                    }
                    run
                };
                let (m, n) = (digits(&mut x), digits(&mut y));
                let (m_trim, n_trim) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let order = m_trim
                    .len()
                    .cmp(&n_trim.len())
                    .then_with(|| m_trim.cmp(n_trim));
                if order != Ordering::Equal {
                    return order;
                }
            }
            (Some(c), Some(d)) => {
                let order = c.to_lowercase().cmp(d.to_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                x.next();
                y.next();
            }
        }
    }
}

/// Image files the folder dialog, the command line and `embed` pick up.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif", "jfif",
];

/// Whether `path` names an image file by its extension (any case).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files directly in `dir` (by extension, any case), in natural order (`natural_cmp`).
pub fn list_images(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_image_extension(p))
        .collect();
    files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;

    #[test]
    fn names_sort_as_file_browsers_show_them() {
        let mut names = vec![
            "img10.png",
            "img2.png",
            "IMG1.png",
            "img02b.png",
            "b.png",
            "a10",
            "a9",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "a9",
                "a10",
                "b.png",
                "IMG1.png",
                "img2.png",
                "img02b.png",
                "img10.png"
            ]
        );
    }
}
