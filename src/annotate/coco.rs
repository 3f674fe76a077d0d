//! COCO instances JSON ⇄ `Dataset`.
//!
//! Import validates everything and names the JSON path of the first problem
//! (`annotations[12].segmentation.counts`); what can be repaired safely is repaired with a warning.
//! Save writes atomically (temporary file, fsync, rename) and keeps the previous version as `NAME.bak`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};

use super::dataset::{
    Annotation, Category, Dataset, ImageEntry, Segmentation, default_color, measures, polygons_f64,
};
use super::rle::Rle;

/// Why a COCO file cannot be imported or saved.
#[derive(Debug, thiserror::Error)]
pub enum CocoError {
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not valid JSON: {error}", .path.display())]
    Json {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("{}: `{json_path}`: {problem}", .path.display())]
    Invalid {
        path: PathBuf,
        json_path: String,
        problem: String,
    },
    #[error("cannot save {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// A problem that import repaired; shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub json_path: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.json_path, self.message)
    }
}

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    pub dataset: Dataset,
    pub warnings: Vec<Warning>,
    /// Images whose files are not found next to the dataset (their annotations are kept).
    pub missing_images: Vec<String>,
}

/// Reads and validates a COCO instances file. Image files are looked up relative to its folder.
pub fn load(path: &Path) -> Result<Imported, CocoError> {
    if path.is_dir() {
        return Err(CocoError::Read {
            path: path.to_path_buf(),
            error: std::io::Error::other("this is a folder; give the path of a COCO .json file"),
        });
    }
    let bytes = std::fs::read(path).map_err(|error| CocoError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| CocoError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    let root = path.parent().unwrap_or(Path::new("."));
    from_value(value, Some(root)).map_err(|(json_path, problem)| CocoError::Invalid {
        path: path.to_path_buf(),
        json_path,
        problem,
    })
}

type Problem = (String, String);

fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    (path.into(), message.into())
}

/// Validates a parsed COCO document. With `root`, image sizes are checked against the files there.
pub fn from_value(value: Value, root: Option<&Path>) -> Result<Imported, Problem> {
    let Value::Object(mut top) = value else {
        return Err(problem(
            "$",
            "the file must hold a JSON object with images, annotations and categories",
        ));
    };
    let mut warnings = Vec::new();
    let info = match top.shift_remove("info") {
        Some(Value::Object(info)) => info,
        None => Map::new(),
        Some(_) => return Err(problem("info", "must be an object")),
    };
    let images_json = take_array(&mut top, "images")?;
    let categories_json = take_array(&mut top, "categories")?;
    let annotations_json = take_array(&mut top, "annotations")?;

    let mut images = Vec::with_capacity(images_json.len());
    let mut image_index: HashMap<u64, usize> = HashMap::new();
    let mut missing_images = Vec::new();
    for (i, v) in images_json.into_iter().enumerate() {
        let at = format!("images[{i}]");
        let mut obj = object(v, &at)?;
        let id = take_unique_id(&mut obj, &at, "image", &mut image_index, i)?;
        let file_name = take_string(&mut obj, &at, "file_name")?;
        let width = take_size(&mut obj, &at, "width")?;
        let height = take_size(&mut obj, &at, "height")?;
        if let Some(root) = root {
            match crate::imageio::oriented_dimensions(&root.join(&file_name)) {
                Some((w, h)) if (w, h) != (width, height) => {
                    return Err(problem(
                        format!("{at}.width"),
                        format!(
                            "the file says {width}x{height}, but {file_name} is {w}x{h} (after EXIF orientation); \
                             masks would not line up"
                        ),
                    ));
                }
                Some(_) => {}
                None => missing_images.push(file_name.clone()),
            }
        }
        images.push(ImageEntry {
            id,
            file_name,
            width,
            height,
            extra: obj,
        });
    }

    let mut categories = Vec::with_capacity(categories_json.len());
    let mut category_index: HashMap<u64, usize> = HashMap::new();
    for (i, v) in categories_json.into_iter().enumerate() {
        let at = format!("categories[{i}]");
        let mut obj = object(v, &at)?;
        let id = take_unique_id(&mut obj, &at, "category", &mut category_index, i)?;
        let name = take_string(&mut obj, &at, "name")?;
        let supercategory = match obj.shift_remove("supercategory") {
            None => String::new(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(problem(format!("{at}.supercategory"), "must be a string")),
        };
        let color = match obj.shift_remove("color") {
            None => default_color(i),
            Some(v) => match parse_color(&v) {
                Some(c) => c,
                None => {
                    warnings.push(Warning {
                        json_path: format!("{at}.color"),
                        message: "not an [r, g, b] colour; a default colour is used".into(),
                    });
                    default_color(i)
                }
            },
        };
        categories.push(Category {
            id,
            name,
            supercategory,
            color,
            extra: obj,
        });
    }

    let mut annotations = Vec::with_capacity(annotations_json.len());
    let mut annotation_index: HashMap<u64, usize> = HashMap::new();
    for (i, v) in annotations_json.into_iter().enumerate() {
        let at = format!("annotations[{i}]");
        let mut obj = object(v, &at)?;
        let id = take_unique_id(&mut obj, &at, "annotation", &mut annotation_index, i)?;
        let image_id = take_id(&mut obj, &at, "image_id")?;
        let image = image_index
            .get(&image_id)
            .map(|&k| &images[k])
            .ok_or_else(|| {
                problem(
                    format!("{at}.image_id"),
                    format!("no image has id {image_id}"),
                )
            })?;
        let category_id = take_id(&mut obj, &at, "category_id")?;
        if !category_index.contains_key(&category_id) {
            return Err(problem(
                format!("{at}.category_id"),
                format!("no category has id {category_id}"),
            ));
        }
        let segmentation_json = obj
            .shift_remove("segmentation")
            .ok_or_else(|| problem(format!("{at}.segmentation"), "missing"))?;
        let segmentation =
            parse_segmentation(segmentation_json, &format!("{at}.segmentation"), image)?;
        let iscrowd = match obj.shift_remove("iscrowd") {
            None => 0,
            Some(Value::Number(n)) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                n.as_u64().unwrap_or(0) as u8
            }
            Some(Value::Bool(b)) => u8::from(b),
            Some(_) => return Err(problem(format!("{at}.iscrowd"), "must be 0 or 1")),
        };
        let rle = || segmentation.to_rle(image.height, image.width);
        let area = match obj.shift_remove("area") {
            Some(Value::Number(n)) if n.as_f64().is_some_and(|a| a >= 0.0) => n,
            None => {
                warnings.push(Warning {
                    json_path: format!("{at}.area"),
                    message: "missing; computed from the mask".into(),
                });
                measures(&rle()).0
            }
            Some(_) => {
                return Err(problem(
                    format!("{at}.area"),
                    "must be a non-negative number",
                ));
            }
        };
        let bbox = match obj.shift_remove("bbox") {
            Some(v) => parse_bbox(&v)
                .ok_or_else(|| problem(format!("{at}.bbox"), "must be [x, y, width, height]"))?,
            None if segmentation.is_box_only() => {
                return Err(problem(
                    format!("{at}.bbox"),
                    "missing: an annotation without a segmentation needs a box",
                ));
            }
            None => {
                warnings.push(Warning {
                    json_path: format!("{at}.bbox"),
                    message: "missing; computed from the mask".into(),
                });
                measures(&rle()).1
            }
        };
        annotations.push(Annotation {
            id,
            image_id,
            category_id,
            segmentation,
            area,
            bbox,
            iscrowd,
            extra: obj,
        });
    }

    let dataset = Dataset::from_parts(info, top, images, categories, annotations);
    Ok(Imported {
        dataset,
        warnings,
        missing_images,
    })
}

fn take_array(top: &mut Map<String, Value>, key: &str) -> Result<Vec<Value>, Problem> {
    match top.shift_remove(key) {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(problem(key, "must be an array")),
        None => Err(problem(
            key,
            "missing: a COCO instances file has images, annotations and categories",
        )),
    }
}

fn object(v: Value, at: &str) -> Result<Map<String, Value>, Problem> {
    match v {
        Value::Object(obj) => Ok(obj),
        _ => Err(problem(at, "must be an object")),
    }
}

fn take_id(obj: &mut Map<String, Value>, at: &str, key: &str) -> Result<u64, Problem> {
    match obj.shift_remove(key) {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            problem(
                format!("{at}.{key}"),
                format!("must be a non-negative integer, not {n}"),
            )
        }),
        Some(other) => Err(problem(
            format!("{at}.{key}"),
            format!("must be an integer, not {}", kind(&other)),
        )),
        None => Err(problem(format!("{at}.{key}"), "missing")),
    }
}

/// The entry's `id`, refused when an earlier entry of the same list (`seen`: id → index) has it.
fn take_unique_id(
    obj: &mut Map<String, Value>,
    at: &str,
    kind: &str,
    seen: &mut HashMap<u64, usize>,
    index: usize,
) -> Result<u64, Problem> {
    let id = take_id(obj, at, "id")?;
    if let Some(first) = seen.insert(id, index) {
        let list = at.split('[').next().unwrap_or(at);
        return Err(problem(
            format!("{at}.id"),
            format!("duplicate {kind} id {id} (also {list}[{first}])"),
        ));
    }
    Ok(id)
}

fn take_size(obj: &mut Map<String, Value>, at: &str, key: &str) -> Result<u32, Problem> {
    let v = take_id(obj, at, key)?;
    if v > u64::from(crate::imageio::MAX_SIDE) {
        return Err(problem(
            format!("{at}.{key}"),
            format!(
                "{v} is larger than samlabel handles ({} pixels a side)",
                crate::imageio::MAX_SIDE
            ),
        ));
    }
    u32::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| {
        problem(
            format!("{at}.{key}"),
            format!("must be a positive size, not {v}"),
        )
    })
}

fn take_string(obj: &mut Map<String, Value>, at: &str, key: &str) -> Result<String, Problem> {
    match obj.shift_remove(key) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(problem(
            format!("{at}.{key}"),
            format!("must be a string, not {}", kind(&other)),
        )),
        None => Err(problem(format!("{at}.{key}"), "missing")),
    }
}

/// What a JSON value is, in words (`a string`), for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_color(v: &Value) -> Option<[u8; 3]> {
    let items = v.as_array()?;
    if items.len() != 3 {
        return None;
    }
    let c: Vec<u8> = items
        .iter()
        .filter_map(|x| x.as_u64().and_then(|x| u8::try_from(x).ok()))
        .collect();
    (c.len() == 3).then(|| [c[0], c[1], c[2]])
}

fn parse_bbox(v: &Value) -> Option<[Number; 4]> {
    let items = v.as_array()?;
    if items.len() != 4 {
        return None;
    }
    let n: Vec<Number> = items
        .iter()
        .filter_map(|x| {
            x.as_number()
                .filter(|n| n.as_f64().is_some_and(f64::is_finite))
                .cloned()
        })
        .collect();
    (n.len() == 4).then(|| [n[0].clone(), n[1].clone(), n[2].clone(), n[3].clone()])
}

fn parse_segmentation(v: Value, at: &str, image: &ImageEntry) -> Result<Segmentation, Problem> {
    match v {
        Value::Array(polygons) => {
            if polygons.is_empty() {
                // A detection: the box is the annotation (checked to be there by the caller).
                return Ok(Segmentation::Polygons(Vec::new()));
            }
            let mut out = Vec::with_capacity(polygons.len());
            for (k, polygon) in polygons.into_iter().enumerate() {
                let at_k = format!("{at}[{k}]");
                let Value::Array(coords) = polygon else {
                    return Err(problem(
                        at_k,
                        "must be a list of coordinates [x1, y1, x2, y2, ...]",
                    ));
                };
                let xy: Vec<Number> = coords
                    .into_iter()
                    .map(|c| match c {
                        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Some(n),
                        _ => None,
                    })
                    .collect::<Option<_>>()
                    .ok_or_else(|| problem(&at_k, "holds something that is not a number"))?;
                if !xy.len().is_multiple_of(2) {
                    return Err(problem(
                        at_k,
                        format!("has an odd number of coordinates ({})", xy.len()),
                    ));
                }
                if xy.len() < 6 {
                    return Err(problem(
                        at_k,
                        format!("has {} points; a polygon needs at least 3", xy.len() / 2),
                    ));
                }
                out.push(xy);
            }
            Rle::from_polygons(image.height, image.width, &polygons_f64(&out))
                .map_err(|e| problem(at, e.to_string()))?;
            Ok(Segmentation::Polygons(out))
        }
        Value::Object(mut obj) => {
            let size = obj
                .shift_remove("size")
                .ok_or_else(|| problem(format!("{at}.size"), "missing"))?;
            let (h, w) = size
                .as_array()
                .filter(|s| s.len() == 2)
                .and_then(|s| Some((s[0].as_u64()?, s[1].as_u64()?)))
                .and_then(|(h, w)| Some((u32::try_from(h).ok()?, u32::try_from(w).ok()?)))
                .ok_or_else(|| problem(format!("{at}.size"), "must be [height, width]"))?;
            if (h, w) != (image.height, image.width) {
                return Err(problem(
                    format!("{at}.size"),
                    format!(
                        "is [{h}, {w}] but image {} is {}x{} (height {}, width {})",
                        image.id, image.width, image.height, image.height, image.width
                    ),
                ));
            }
            let at_counts = format!("{at}.counts");
            match obj.shift_remove("counts") {
                Some(Value::String(s)) => Rle::from_string(h, w, &s)
                    .map(Segmentation::CompressedRle)
                    .map_err(|e| problem(at_counts, e.to_string())),
                Some(Value::Array(items)) => {
                    let counts: Vec<u32> = items
                        .iter()
                        .map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                        .collect::<Option<_>>()
                        .ok_or_else(|| problem(&at_counts, "must hold non-negative integers"))?;
                    Rle::from_counts(h, w, counts)
                        .map(Segmentation::UncompressedRle)
                        .map_err(|e| problem(at_counts, e.to_string()))
                }
                Some(_) => Err(problem(at_counts, "must be a string or a list of integers")),
                None => Err(problem(at_counts, "missing")),
            }
        }
        other => Err(problem(
            at,
            format!("must be polygons or RLE, not {}", kind(&other)),
        )),
    }
}

/// How segmentations are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SegmentationFormat {
    /// Each segmentation as it was loaded or made (new masks are compressed RLE).
    #[default]
    AsIs,
    /// Every mask as compressed RLE; polygons (drawn, edited or imported as such) stay polygons.
    Rle,
}

/// Builds the COCO document for a dataset.
pub fn to_value(dataset: &Dataset, format: SegmentationFormat) -> Value {
    let mut top = Map::new();
    let mut info = dataset.info.clone();
    if !info.contains_key("description") {
        info.insert("description".into(), Value::from("made with samlabel"));
    }
    top.insert("info".into(), Value::Object(info));
    for (k, v) in &dataset.extra {
        top.insert(k.clone(), v.clone());
    }
    let images: Vec<Value> = dataset
        .images()
        .iter()
        .map(|img| {
            let mut obj = Map::new();
            obj.insert("id".into(), Value::from(img.id));
            obj.insert("file_name".into(), Value::from(img.file_name.clone()));
            obj.insert("width".into(), Value::from(img.width));
            obj.insert("height".into(), Value::from(img.height));
            obj.extend(img.extra.clone());
            Value::Object(obj)
        })
        .collect();
    top.insert("images".into(), Value::Array(images));
    let annotations: Vec<Value> = dataset
        .annotations()
        .iter()
        .map(|ann| annotation_value(ann, segmentation_value(&ann.segmentation, format)))
        .collect();
    top.insert("annotations".into(), Value::Array(annotations));
    let categories: Vec<Value> = dataset
        .categories()
        .iter()
        .map(|c| {
            let mut obj = Map::new();
            obj.insert("id".into(), Value::from(c.id));
            obj.insert("name".into(), Value::from(c.name.clone()));
            obj.insert("supercategory".into(), Value::from(c.supercategory.clone()));
            obj.insert("color".into(), Value::from(c.color.to_vec()));
            obj.extend(c.extra.clone());
            Value::Object(obj)
        })
        .collect();
    top.insert("categories".into(), Value::Array(categories));
    Value::Object(top)
}

/// One annotation object with the given segmentation JSON.
pub fn annotation_value(ann: &Annotation, segmentation: Value) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), Value::from(ann.id));
    obj.insert("image_id".into(), Value::from(ann.image_id));
    obj.insert("category_id".into(), Value::from(ann.category_id));
    obj.insert("segmentation".into(), segmentation);
    obj.insert("area".into(), Value::Number(ann.area.clone()));
    obj.insert(
        "bbox".into(),
        Value::Array(ann.bbox.iter().cloned().map(Value::Number).collect()),
    );
    obj.insert("iscrowd".into(), Value::from(ann.iscrowd));
    obj.extend(ann.extra.clone());
    Value::Object(obj)
}

/// COCO JSON of a segmentation.
pub fn segmentation_value(seg: &Segmentation, format: SegmentationFormat) -> Value {
    let rle_value = |rle: &Rle, counts: Value| serde_json::json!({"size": [rle.height, rle.width], "counts": counts});
    match (seg, format) {
        (Segmentation::CompressedRle(rle), _)
        | (Segmentation::UncompressedRle(rle), SegmentationFormat::Rle) => {
            rle_value(rle, Value::from(rle.to_compressed()))
        }
        (Segmentation::UncompressedRle(rle), SegmentationFormat::AsIs) => {
            rle_value(rle, Value::from(rle.counts.clone()))
        }
        // Polygons are what was drawn, edited or imported: kept in every format (a box-only
        // annotation, no polygon at all, is `[]`).
        (Segmentation::Polygons(polygons), _) => Value::Array(
            polygons
                .iter()
                .map(|p| Value::Array(p.iter().cloned().map(Value::Number).collect()))
                .collect(),
        ),
    }
}

/// `NAME.bak` beside `path`: the version before the last save.
pub fn backup_path(path: &Path) -> PathBuf {
    path.with_added_extension("bak")
}

/// Saves the dataset as COCO JSON, atomically, keeping the previous file as `NAME.bak`.
pub fn save(dataset: &Dataset, path: &Path) -> Result<(), CocoError> {
    write_json_atomic(&to_value(dataset, SegmentationFormat::AsIs), path)
}

/// Writes JSON to `path` so that a crash at any moment leaves either the old or the new file:
/// temporary file in the same folder, fsync, old file hard-linked (or copied) to `NAME.bak`,
/// rename over `path`, fsync of the folder.
pub fn write_json_atomic(value: &Value, path: &Path) -> Result<(), CocoError> {
    let write_error = |error: std::io::Error| CocoError::Write {
        path: path.to_path_buf(),
        error,
    };
    if path.is_dir() {
        return Err(write_error(std::io::Error::other(
            "the path is a folder; give a file name",
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| write_error(std::io::Error::other("the path has no file name")))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        let mut writer = std::io::BufWriter::new(&mut file);
        serde_json::to_writer(&mut writer, value).map_err(std::io::Error::other)?;
        writer.write_all(b"\n")?;
        writer.flush()?;
        drop(writer);
        file.sync_all()?;
        drop(file);
        if path.exists() {
            let bak = backup_path(path);
            let _ = std::fs::remove_file(&bak);
            if std::fs::hard_link(path, &bak).is_err() {
                std::fs::copy(path, &bak)?;
            }
        }
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(write_error)
}

#[cfg(test)]
mod tests;
