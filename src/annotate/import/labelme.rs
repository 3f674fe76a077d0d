//! labelme JSON (one file per image, labelme 3 to 6, and its `LabelFile` output) → annotations.
//!
//! `polygon` (and labelme 6's `oriented_rectangle`, which labelme draws as a polygon) keep their
//! vertices as written; shapes with the same `label` and non-null `group_id` are one object, as
//! labelme's own `shapes_to_label` makes them; `rectangle` becomes a box without a mask; `mask`
//! (labelme 5.3+: a base64 PNG of the box between its two points) becomes RLE. Other shape types
//! are skipped and named in the summary. The image is `imagePath` relative to the JSON file, or a
//! file with the JSON's name beside it; its size is checked against `imageWidth`/`imageHeight`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::{ImportError, Item, Objects, Parsed, Part, box_of, image_size};
use crate::annotate::coco::kind;
use crate::annotate::mask::Mask;

/// Reads every labelme file among `inputs` (folders: their `.json` files, recursively).
pub(super) fn read(inputs: &[PathBuf], out: &mut Parsed) -> Result<(), ImportError> {
    for (path, in_folder) in
        super::files_to_read(inputs, "json", "labelme JSON files or folders of them")?
    {
        read_file(&path, in_folder, out)?;
    }
    Ok(())
}

fn read_file(path: &Path, in_folder: bool, out: &mut Parsed) -> Result<(), ImportError> {
    let text = super::read_text(path)?;
    let value: Value = serde_json::from_str(&text).map_err(|error| ImportError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    let invalid = |at: &str, problem: String| ImportError::invalid(path, at, problem);
    let Value::Object(top) = value else {
        return Err(invalid("$", "a labelme file holds a JSON object".into()));
    };
    if in_folder && !top.contains_key("shapes") && top.contains_key("images") {
        // A COCO file (such as the project file itself) among the labelme files of a folder.
        out.summary.skip(
            (
                "JSON file that is not labelme's",
                "JSON files that are not labelme's",
            ),
            "COCO files have no shapes; `samlabel merge` adds them",
            path.display().to_string(),
        );
        return Ok(());
    }
    let shapes = match top.get("shapes") {
        Some(Value::Array(shapes)) => shapes,
        Some(other) => {
            return Err(invalid(
                "shapes",
                format!("must be a list of shapes, not {}", kind(other)),
            ));
        }
        None => {
            return Err(invalid(
                "shapes",
                "missing: a labelme file lists its shapes".into(),
            ));
        }
    };
    let (image_path, size, found) = locate_image(path, &top)?;
    let image = out.image(&image_path, size, found, path, "imagePath")?;
    out.summary.files += 1;
    if let Some(Value::Object(flags)) = top.get("flags") {
        for (name, _) in flags.iter().filter(|(_, v)| v.as_bool() == Some(true)) {
            out.summary.skip(
                ("image flag", "image flags"),
                "labelme's flags of a whole image; samlabel has no image tags",
                format!("{} `flags.{name}`", path.display()),
            );
        }
    }

    let mut objects = Objects::default();
    for (i, shape) in shapes.iter().enumerate() {
        let at = format!("shapes[{i}]");
        let Value::Object(shape) = shape else {
            return Err(invalid(
                &at,
                format!("must be an object, not {}", kind(shape)),
            ));
        };
        let label = match shape.get("label") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(invalid(
                    &format!("{at}.label"),
                    format!("must be a string, not {}", kind(other)),
                ));
            }
            None => return Err(invalid(&format!("{at}.label"), "missing".into())),
        };
        // labelme 3 files may have no shape_type; labelme reads them as polygons.
        let shape_type = match shape.get("shape_type") {
            None | Some(Value::Null) => "polygon".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(invalid(
                    &format!("{at}.shape_type"),
                    format!("must be a string, not {}", kind(other)),
                ));
            }
        };
        let points = points(shape.get("points"), &format!("{at}.points"))
            .map_err(|(at, problem)| invalid(&at, problem))?;
        let group_id = match shape.get("group_id") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
            Some(other) => {
                return Err(invalid(
                    &format!("{at}.group_id"),
                    format!("must be an integer or null, not {other}"),
                ));
            }
        };
        let extra = shape_extra(shape);
        let place = format!("{} `{at}`", path.display());
        let part = match shape_type.as_str() {
            "polygon" | "oriented_rectangle" => {
                if points.len() < 3 {
                    out.summary.skip(
                        (
                            "polygon with fewer than 3 points",
                            "polygons with fewer than 3 points",
                        ),
                        "a polygon needs 3",
                        place,
                    );
                    continue;
                }
                Part::Polygon(points.into_iter().flat_map(|(n, _)| n).collect())
            }
            "rectangle" => {
                let corners: Vec<[f64; 2]> = points.iter().map(|(_, xy)| *xy).collect();
                let bbox = box_of(&corners);
                if corners.len() < 2 || bbox[2] <= 0.0 || bbox[3] <= 0.0 {
                    out.summary.skip(
                        ("rectangle with no area", "rectangles with no area"),
                        "its corners are not two distinct points",
                        place,
                    );
                    continue;
                }
                objects.add_box(Item::boxed(image, out.category(&label), bbox).with_extra(extra));
                continue;
            }
            "mask" => {
                let corners: Vec<[f64; 2]> = points.iter().map(|(_, xy)| *xy).collect();
                Part::Mask(
                    mask(shape.get("mask"), &corners, size, &at)
                        .map_err(|(at, problem)| invalid(&at, problem))?,
                )
            }
            other => {
                out.summary.skip(
                    (&format!("`{other}` shape"), &format!("`{other}` shapes")),
                    "labelme shape type samlabel does not import",
                    place,
                );
                continue;
            }
        };
        objects.add_part(out.category(&label), group_id, part, extra, at);
    }
    objects.finish(image, size, path, out)
}

/// The image a labelme file belongs to: its path, size and whether the file is there.
fn locate_image(
    json: &Path,
    top: &Map<String, Value>,
) -> Result<(PathBuf, (u32, u32), bool), ImportError> {
    let dir = json.parent().unwrap_or(Path::new("."));
    let invalid = |at: &str, problem: String| ImportError::invalid(json, at, problem);
    let image_path = match top.get("imagePath") {
        None | Some(Value::Null) => None,
        // labelme writes Windows paths as they were; it reads them with `/`.
        Some(Value::String(s)) if !s.is_empty() => Some(dir.join(s.replace('\\', "/"))),
        Some(Value::String(_)) => None,
        Some(other) => {
            return Err(invalid(
                "imagePath",
                format!("must be a string, not {}", kind(other)),
            ));
        }
    };
    let declared_side = |key: &str| -> Result<Option<u32>, ImportError> {
        match top.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => match super::side_problem(v) {
                    None => Ok(u32::try_from(v).ok()),
                    Some(problem) => Err(invalid(key, problem)),
                },
                None => Err(invalid(key, format!("must be a positive size, not {n}"))),
            },
            Some(other) => Err(invalid(
                key,
                format!("must be a number, not {}", kind(other)),
            )),
        }
    };
    let declared = (declared_side("imageWidth")?, declared_side("imageHeight")?);
    // The file imagePath names, else one with the JSON's name and an image extension beside it.
    let stem = json.file_stem().unwrap_or_default().to_string_lossy();
    let beside = crate::imageio::IMAGE_EXTENSIONS
        .iter()
        .flat_map(|e| [e.to_string(), e.to_ascii_uppercase()])
        .map(|e| dir.join(format!("{stem}.{e}")));
    let found = image_path
        .iter()
        .cloned()
        .chain(beside)
        .find_map(|p| image_size(&p).map(|size| (p, size)));
    match found {
        Some((path, (w, h))) => {
            if let (Some(dw), Some(dh)) = declared
                && (dw, dh) != (w, h)
            {
                return Err(invalid(
                    "imageWidth",
                    format!(
                        "the file says {dw}x{dh}, but {} is {w}x{h} (after EXIF orientation)",
                        path.display()
                    ),
                ));
            }
            Ok((path, (w, h), true))
        }
        None => {
            let Some(path) = image_path else {
                return Err(invalid(
                    "imagePath",
                    format!(
                        "missing, and no image named {stem} is beside {}",
                        json.display()
                    ),
                ));
            };
            let size = match declared {
                (Some(w), Some(h)) => (w, h),
                _ => embedded_size(top).ok_or_else(|| {
                    invalid(
                        "imageWidth",
                        format!(
                            "missing, and the image {} is not found to measure",
                            path.display()
                        ),
                    )
                })?,
            };
            Ok((path, size, false))
        }
    }
}

/// The size of the image embedded in `imageData`, when there is one.
fn embedded_size(top: &Map<String, Value>) -> Option<(u32, u32)> {
    let data = top.get("imageData")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    let (w, h) = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    [w, h]
        .iter()
        .all(|&v| super::side_problem(u64::from(v)).is_none())
        .then_some((w, h))
}

/// `[[x, y], ...]`: each point's numbers as written, and as floats. `Err((json path, problem))`.
type Points = Vec<(Vec<Number>, [f64; 2])>;

fn points(value: Option<&Value>, at: &str) -> Result<Points, (String, String)> {
    let items = match value {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err((
                at.to_string(),
                format!("must be a list of [x, y] points, not {}", kind(other)),
            ));
        }
        None => return Err((at.to_string(), "missing".into())),
    };
    items
        .iter()
        .enumerate()
        .map(|(k, point)| {
            let numbers = point.as_array().filter(|xy| xy.len() == 2).and_then(|xy| {
                let n: Vec<Number> = xy.iter().filter_map(|v| v.as_number().cloned()).collect();
                let f: Vec<f64> = n.iter().filter_map(Number::as_f64).collect();
                (n.len() == 2 && f.iter().all(|v| v.is_finite())).then(|| (n, [f[0], f[1]]))
            });
            numbers.ok_or_else(|| {
                (
                    format!("{at}[{k}]"),
                    format!("must be [x, y] with two numbers, not {point}"),
                )
            })
        })
        .collect()
}

/// A labelme `mask` shape: the PNG in `mask` covers the box from the first point to the second
/// (pixels, truncated as labelme's `astype(int)` does, both ends included); placed into a mask of
/// the image's `size`, what lies outside the image left out.
fn mask(
    value: Option<&Value>,
    corners: &[[f64; 2]],
    (width, height): (u32, u32),
    at: &str,
) -> Result<Mask, (String, String)> {
    let at_mask = format!("{at}.mask");
    let data = match value {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => {
            return Err((at_mask, "missing: a mask shape holds a base64 PNG".into()));
        }
        Some(other) => {
            return Err((
                at_mask,
                format!("must be a base64 PNG, not {}", kind(other)),
            ));
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| (at_mask.clone(), format!("not base64: {e}")))?;
    let png = image::load_from_memory(&bytes)
        .map_err(|e| (at_mask.clone(), format!("not an image: {e}")))?
        .to_luma8();
    let [first, second] = corners else {
        return Err((
            format!("{at}.points"),
            format!(
                "a mask has 2 points (its box's corners), not {}",
                corners.len()
            ),
        ));
    };
    // Truncated toward zero as numpy's astype(int); saturating, so absurd numbers cannot overflow.
    let (x0, y0) = (first[0] as i64, first[1] as i64);
    let (x1, y1) = (second[0] as i64, second[1] as i64);
    let (box_w, box_h) = (
        x1.saturating_sub(x0).saturating_add(1),
        y1.saturating_sub(y0).saturating_add(1),
    );
    if (i64::from(png.width()), i64::from(png.height())) != (box_w, box_h) {
        return Err((
            at_mask,
            format!(
                "the mask is {}x{} but its points span {box_w}x{box_h} pixels",
                png.width(),
                png.height()
            ),
        ));
    }
    let mut mask = Mask::new(width, height);
    for (x, y, pixel) in png.enumerate_pixels() {
        let (ix, iy) = (
            x0.saturating_add(i64::from(x)),
            y0.saturating_add(i64::from(y)),
        );
        if pixel.0[0] != 0
            && (0..i64::from(width)).contains(&ix)
            && (0..i64::from(height)).contains(&iy)
        {
            mask.set(ix as u32, iy as u32, true);
        }
    }
    Ok(mask)
}

/// What a shape says besides its geometry, kept on the annotation: a non-empty `description` and
/// `flags` with a set flag.
fn shape_extra(shape: &Map<String, Value>) -> Map<String, Value> {
    let mut extra = Map::new();
    if let Some(Value::String(d)) = shape.get("description")
        && !d.is_empty()
    {
        extra.insert("description".into(), Value::from(d.clone()));
    }
    if let Some(Value::Object(flags)) = shape.get("flags")
        && flags.values().any(|v| v.as_bool() == Some(true))
    {
        extra.insert("flags".into(), Value::Object(flags.clone()));
    }
    extra
}
