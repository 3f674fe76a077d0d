//! YOLO label folders (Ultralytics' layout) → annotations.
//!
//! A dataset is a folder with a `data.yaml` (or the YAML file itself): `names` (a list, or a map
//! from class index to name), `path` (the dataset's root; when it is not a folder here, the YAML's
//! folder is used and the summary says so), and the splits `train`, `val`, `test`, each a folder of
//! images, a `.txt` list of them, or a list of either. Without a YAML the folder itself holds the
//! images, with class names from `classes.txt` when there is one. An image's labels are where
//! Ultralytics looks: the last `/images/` of its path replaced by `/labels/` and the extension by
//! `.txt` (so a bare folder has each `.txt` beside its image).
//!
//! A line `c x y w h` is a box (a box-only annotation), `c x1 y1 ... xn yn` a polygon; coordinates
//! are normalized and become pixels of the EXIF-oriented image, rounded to 1e-6 px (YOLO's 6
//! decimals of a 30000 px image are 0.03 px). Each line is read on its own, so files that mix both
//! kinds (as Ultralytics' `convert_coco` writes for objects without a polygon) import whole.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode as _, Scalar, Yaml};
use serde_json::Number;

use super::{ImportError, Item, Parsed, image_size, round_px};
use crate::annotate::dataset::json_number;
use crate::annotate::export::yolo_label_path;

/// Reads each input: a dataset folder, or its YAML file.
pub(super) fn read(inputs: &[PathBuf], out: &mut Parsed) -> Result<(), ImportError> {
    if inputs.is_empty() {
        return Err(ImportError::NoInput(
            "a YOLO dataset folder (with data.yaml) or its data.yaml",
        ));
    }
    let mut inputs = inputs.to_vec();
    super::sort_paths(&mut inputs, |p| p);
    for input in &inputs {
        let dataset = if input.is_dir() {
            match find_yaml(input)? {
                Some(yaml) => Dataset::from_yaml(&yaml, out)?,
                None => Dataset::bare(input, out)?,
            }
        } else if input.is_file() {
            Dataset::from_yaml(input, out)?
        } else {
            return Err(ImportError::Read {
                path: input.clone(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        };
        dataset.read(out)?;
    }
    Ok(())
}

/// `data.yaml` in `dir`, else its only `.yaml`/`.yml` file; `None` when there is none.
fn find_yaml(dir: &Path) -> Result<Option<PathBuf>, ImportError> {
    let data = dir.join("data.yaml");
    if data.is_file() {
        return Ok(Some(data));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(ImportError::read(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && (super::has_extension(p, "yaml") || super::has_extension(p, "yml"))
        })
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(ImportError::File {
            path: dir.to_path_buf(),
            problem: format!("{n} YAML files and none is data.yaml; name the dataset's YAML file"),
        }),
    }
}

/// One YOLO dataset: its images, where their label folders are, and its class names.
struct Dataset {
    /// What the problems are reported against (the YAML file or the folder).
    origin: PathBuf,
    images: Vec<PathBuf>,
    /// Folders whose `.txt` files are labels; any that no image claims are reported.
    label_dirs: Vec<PathBuf>,
    /// Class names by index; `None` without a YAML or `classes.txt` (named `class_N` as met).
    names: Option<Vec<String>>,
    /// Keypoints per line for a pose dataset (`kpt_shape: [k, d]`): k * d numbers after the box.
    keypoint_values: Option<usize>,
}

impl Dataset {
    fn bare(dir: &Path, out: &mut Parsed) -> Result<Self, ImportError> {
        let mut images = Vec::new();
        walk_images(dir, &mut images)?;
        let classes = [
            dir.join("classes.txt"),
            dir.join("labels").join("classes.txt"),
        ]
        .into_iter()
        .find(|p| p.is_file());
        let names = match classes {
            Some(path) => Some(
                super::read_text(&path)?
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            None => {
                out.summary.note(format!(
                    "{} has no data.yaml or classes.txt: classes are named class_0, class_1, ...",
                    dir.display()
                ));
                None
            }
        };
        Ok(Self {
            origin: dir.to_path_buf(),
            images,
            label_dirs: vec![dir.to_path_buf()],
            names,
            keypoint_values: None,
        })
    }

    fn from_yaml(yaml: &Path, out: &mut Parsed) -> Result<Self, ImportError> {
        let text = super::read_text(yaml)?;
        let docs = Yaml::load_from_str(&text).map_err(|e| ImportError::Syntax {
            path: yaml.to_path_buf(),
            format: "YAML",
            reason: e.to_string(),
        })?;
        let invalid = |at: &str, problem: String| ImportError::invalid(yaml, at, problem);
        let Some(doc) = docs.first().filter(|d| d.is_mapping()) else {
            return Err(invalid(
                "$",
                "a dataset YAML is a mapping (names, train, val, ...)".into(),
            ));
        };
        let get = |key: &str| doc.as_mapping_get(key).filter(|v| !v.is_null());
        let names = match (get("names"), get("nc")) {
            (Some(names), nc) => {
                let names = class_names(names).map_err(|p| invalid("names", p))?;
                if let Some(nc) = nc
                    && nc.as_integer() != Some(names.len() as i64)
                {
                    return Err(invalid(
                        "nc",
                        format!(
                            "says {} classes but names has {}",
                            scalar_text(nc).unwrap_or_default(),
                            names.len()
                        ),
                    ));
                }
                names
            }
            (None, Some(nc)) => {
                let n = nc
                    .as_integer()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid("nc", "must be a number of classes".into()))?;
                (0..n).map(|i| format!("class_{i}")).collect()
            }
            (None, None) => {
                return Err(invalid(
                    "names",
                    "missing: the class names (or nc, their number)".into(),
                ));
            }
        };
        let keypoint_values = match get("kpt_shape") {
            None => None,
            Some(shape) => {
                let dims: Option<Vec<usize>> = shape.as_vec().and_then(|v| {
                    v.iter()
                        .map(|d| d.as_integer().and_then(|d| usize::try_from(d).ok()))
                        .collect()
                });
                match dims.as_deref() {
                    Some([k, d]) => Some(k * d),
                    _ => {
                        return Err(invalid(
                            "kpt_shape",
                            "must be [keypoints, values per keypoint]".into(),
                        ));
                    }
                }
            }
        };

        let yaml_dir = yaml.parent().unwrap_or(Path::new(".")).to_path_buf();
        let root = match get("path") {
            None => yaml_dir.clone(),
            Some(p) => {
                let p = scalar_text(p).ok_or_else(|| invalid("path", "must be a folder".into()))?;
                let dir = yaml_dir.join(&p);
                if dir.is_dir() {
                    dir
                } else {
                    out.summary.note(format!(
                        "{}'s path `{p}` is not a folder here; its splits are read from {}",
                        yaml.display(),
                        yaml_dir.display()
                    ));
                    yaml_dir.clone()
                }
            }
        };

        let mut images = Vec::new();
        let mut label_dirs = Vec::new();
        let mut any_split = false;
        for key in ["train", "val", "test"] {
            let Some(split) = get(key) else { continue };
            let entries: Vec<String> = match split.as_vec() {
                Some(list) => list.iter().filter_map(scalar_text).collect(),
                None => scalar_text(split).into_iter().collect(),
            };
            for entry in entries {
                let mut path = root.join(&entry);
                // Ultralytics' own fallback for splits written relative to the YAML's parent.
                if !path.exists()
                    && let Some(rest) = entry.strip_prefix("../")
                {
                    path = root.join(rest);
                }
                if path.is_dir() {
                    walk_images(&path, &mut images)?;
                    label_dirs.push(labels_dir(&path));
                } else if path.is_file() {
                    images.extend(listed_images(&path)?);
                } else {
                    out.summary.skip(
                        ("split that is not here", "splits that are not here"),
                        "the folder or list data.yaml names does not exist",
                        format!("{} `{key}`: {}", yaml.display(), path.display()),
                    );
                    continue;
                }
                any_split = true;
            }
        }
        if !any_split {
            return Err(ImportError::File {
                path: yaml.to_path_buf(),
                problem: format!(
                    "none of its splits (train, val, test) is a folder or list of images under {}",
                    root.display()
                ),
            });
        }
        Ok(Self {
            origin: yaml.to_path_buf(),
            images,
            label_dirs,
            names: Some(names),
            keypoint_values,
        })
    }

    /// Reads every image's labels into `out`; reports label files that no image claims.
    fn read(mut self, out: &mut Parsed) -> Result<(), ImportError> {
        if self.images.is_empty() {
            return Err(ImportError::File {
                path: self.origin.clone(),
                problem: "no images found".into(),
            });
        }
        super::sort_paths(&mut self.images, |p| p);
        self.images
            .dedup_by(|a, b| super::normalize(a) == super::normalize(b));
        if let Some(names) = &self.names {
            for name in names {
                out.category(name);
            }
        }
        let mut claimed = HashSet::new();
        for image in &self.images {
            let Some(size) = image_size(image) else {
                out.summary.skip(
                    ("image samlabel cannot read", "images samlabel cannot read"),
                    "not an image file it decodes",
                    image.display().to_string(),
                );
                continue;
            };
            let index = out.image(image, size, true, &self.origin, "images")?;
            let label = yolo_label_path(&super::normalize(image));
            if label.is_file() {
                claimed.insert(super::normalize(&label));
                out.summary.files += 1;
                self.read_labels(&label, index, size, out)?;
            }
        }
        let mut label_files = Vec::new();
        for dir in self.label_dirs.iter().filter(|d| d.is_dir()) {
            super::walk(dir, "txt", &mut label_files)?;
        }
        super::sort_paths(&mut label_files, |p| p);
        label_files.dedup();
        for file in label_files {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            if name == "classes.txt" || claimed.contains(&super::normalize(&file)) {
                continue;
            }
            out.summary.skip(
                (
                    "label file without an image",
                    "label files without an image",
                ),
                "no image of the dataset has its name",
                file.display().to_string(),
            );
        }
        Ok(())
    }

    /// The lines of one label file, for the image `index` of `(width, height)` pixels.
    fn read_labels(
        &self,
        path: &Path,
        image: usize,
        (width, height): (u32, u32),
        out: &mut Parsed,
    ) -> Result<(), ImportError> {
        let text = super::read_text(path)?;
        let mut seen = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let error = |problem: String| ImportError::Line {
                path: path.to_path_buf(),
                line: line_no,
                problem,
            };
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.is_empty() {
                continue;
            }
            if !seen.insert(tokens.join(" ")) {
                out.summary.skip(
                    ("duplicate label line", "duplicate label lines"),
                    "Ultralytics drops repeated lines too",
                    format!("{}:{line_no}", path.display()),
                );
                continue;
            }
            let values: Vec<f64> = tokens
                .iter()
                .map(|t| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| error(format!("`{t}` is not a number")))
                })
                .collect::<Result<_, _>>()?;
            let class = values[0];
            if class < 0.0 || class.fract() != 0.0 {
                return Err(error(format!(
                    "the class `{}` is not a class index",
                    tokens[0]
                )));
            }
            let class = class as usize;
            let category = match &self.names {
                Some(names) if class >= names.len() => {
                    return Err(error(format!(
                        "class {class} is not among the {} class names of {}",
                        names.len(),
                        self.origin.display()
                    )));
                }
                Some(_) => class,
                None => out.category(&format!("class_{class}")),
            };
            let (w, h) = (f64::from(width), f64::from(height));
            let coords = &values[1..];
            let is_box = match self.keypoint_values {
                Some(k) if coords.len() == 4 + k => {
                    if k > 0 {
                        out.summary.skip(
                            ("set of keypoints", "sets of keypoints"),
                            "samlabel does not import keypoints; their boxes are imported",
                            format!("{}:{line_no}", path.display()),
                        );
                    }
                    true
                }
                Some(k) => {
                    return Err(error(format!(
                        "{} values; a pose line has a class, a box and {k} keypoint values",
                        values.len()
                    )));
                }
                None => coords.len() == 4,
            };
            let used = if is_box { &coords[..4] } else { coords };
            if let Some(v) = used.iter().find(|v| !(0.0..=1.0).contains(*v)) {
                return Err(error(format!(
                    "coordinate {v} is outside 0..1 (YOLO coordinates are fractions of the image size)"
                )));
            }
            if is_box {
                let [cx, cy, bw, bh] = [coords[0], coords[1], coords[2], coords[3]];
                if bw <= 0.0 || bh <= 0.0 {
                    out.summary.skip(
                        ("box with no area", "boxes with no area"),
                        "its width or height is 0",
                        format!("{}:{line_no}", path.display()),
                    );
                    continue;
                }
                let bbox = [
                    round_px((cx - bw / 2.0) * w),
                    round_px((cy - bh / 2.0) * h),
                    round_px(bw * w),
                    round_px(bh * h),
                ];
                out.push(Item::boxed(image, category, bbox));
                continue;
            }
            if !coords.len().is_multiple_of(2) {
                return Err(error(format!(
                    "an odd number of coordinates ({}): a polygon is x y pairs",
                    coords.len()
                )));
            }
            if coords.len() < 6 {
                return Err(error(format!(
                    "{} values: a line is a class and a box (4 numbers) or a polygon (3 or more x y pairs)",
                    values.len()
                )));
            }
            let polygon: Vec<Number> = coords
                .chunks_exact(2)
                .flat_map(|xy| {
                    [
                        json_number(round_px(xy[0] * w)),
                        json_number(round_px(xy[1] * h)),
                    ]
                })
                .collect();
            let item = Item::polygons(image, category, vec![polygon], (width, height))
                .map_err(|p| error(format!("the polygon cannot be drawn: {p}")))?;
            out.push(item);
        }
        Ok(())
    }
}

/// The folder where Ultralytics looks for the labels of the images in `dir`.
fn labels_dir(dir: &Path) -> PathBuf {
    let label = yolo_label_path(&super::normalize(&dir.join("image.png")));
    label.parent().map(Path::to_path_buf).unwrap_or(label)
}

/// The image files under `dir`, recursively.
fn walk_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    for extension in crate::imageio::IMAGE_EXTENSIONS {
        super::walk(dir, extension, out)?;
    }
    Ok(())
}

/// The images a split's `.txt` list names, one a line, relative to the list's folder.
fn listed_images(list: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let dir = list.parent().unwrap_or(Path::new("."));
    Ok(super::read_text(list)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && crate::imageio::has_image_extension(Path::new(l)))
        .map(|l| dir.join(l))
        .collect())
}

/// Class names from `names`: a list, or a map from 0..n-1 to names.
fn class_names(names: &Yaml) -> Result<Vec<String>, String> {
    if let Some(list) = names.as_vec() {
        return list
            .iter()
            .enumerate()
            .map(|(i, n)| scalar_text(n).ok_or_else(|| format!("entry {i} is not a name")))
            .collect();
    }
    let Some(map) = names.as_mapping() else {
        return Err("must be a list of names or a map from class index to name".into());
    };
    let mut indexed: Vec<(usize, String)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        let index = key
            .as_integer()
            .and_then(|k| usize::try_from(k).ok())
            .ok_or_else(|| {
                format!(
                    "key {} is not a class index",
                    scalar_text(key).unwrap_or_default()
                )
            })?;
        let name = scalar_text(value).ok_or_else(|| format!("class {index} has no name"))?;
        indexed.push((index, name));
    }
    indexed.sort_by_key(|(i, _)| *i);
    if indexed.iter().enumerate().any(|(k, (i, _))| k != *i) {
        return Err(format!(
            "class indices must be 0 to {} without gaps, as Ultralytics requires",
            indexed.len().saturating_sub(1)
        ));
    }
    Ok(indexed.into_iter().map(|(_, n)| n).collect())
}

/// A scalar as text (`person`, `3`, `true`); `None` for collections and nulls.
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Value(Scalar::String(s)) => Some(s.to_string()),
        Yaml::Value(Scalar::Integer(i)) => Some(i.to_string()),
        Yaml::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        Yaml::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        Yaml::Representation(s, _, _) => Some(s.to_string()),
        Yaml::Tagged(_, inner) => scalar_text(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml<'_> {
        Yaml::load_from_str(text).unwrap().remove(0)
    }

    #[test]
    fn class_names_come_as_lists_or_maps() {
        let doc = yaml("names: [person, 'traffic light', 3]");
        let names = class_names(doc.as_mapping_get("names").unwrap()).unwrap();
        assert_eq!(names, ["person", "traffic light", "3"]);
        let doc = yaml("names:\n  1: car\n  0: person\n");
        let names = class_names(doc.as_mapping_get("names").unwrap()).unwrap();
        assert_eq!(names, ["person", "car"]);
        let doc = yaml("names:\n  0: person\n  2: car\n");
        assert!(class_names(doc.as_mapping_get("names").unwrap()).is_err());
    }

    #[test]
    fn labels_are_where_ultralytics_looks() {
        let got = yolo_label_path(Path::new("/d/images/x/images/train/a.b.jpg"));
        assert_eq!(got, Path::new("/d/images/x/labels/train/a.b.txt"));
        assert_eq!(
            yolo_label_path(Path::new("/d/flat/a.png")),
            Path::new("/d/flat/a.txt")
        );
        // A file named like the folder is not the folder.
        assert_eq!(
            yolo_label_path(Path::new("/d/images")),
            Path::new("/d/images.txt")
        );
        assert_eq!(labels_dir(Path::new("/d/images")), Path::new("/d/labels"));
    }
}
