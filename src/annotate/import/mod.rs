//! Import from other labelling tools into a COCO dataset: labelme JSON, YOLO label folders
//! (segmentation and detection) and CVAT for images 1.1 XML.
//!
//! Two steps, so that the window can run the slow one on a thread:
//! - [`read`] parses and checks every input file and the images they name. Nothing of a bad input is
//!   kept: the first problem is an [`ImportError`] that names the file and the place in it (a JSON
//!   path `shapes[3].points[2]`, an XML path `annotations/image[2]/polygon[1]@points`, a line).
//! - [`Parsed::plan`] matches what was read to a dataset: images by `file_name` (relative to the
//!   dataset's folder, [`file_name_in`]), categories by name (new ones appended with the next
//!   colours), new ids after the largest. The plan is one [`Edit`] (one undo step) and an
//!   [`ImportSummary`].
//!
//! [`import`] does both. Ids are stable: files are read in natural order of their paths (a folder's
//! files recursively), shapes in file order, and new images, categories and annotations get ids in
//! the order they are first met.

mod cvat;
mod labelme;
mod summary;
mod yolo;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Number, Value};

pub use summary::{ImportSummary, Skipped};

use super::dataset::{
    Annotation, Category, CategoryId, Dataset, Edit, EditError, ImageEntry, ImageId, Segmentation,
    default_color, file_name_in, measures, polygons_f64,
};
use super::mask::Mask;
use super::rle::Rle;

/// The formats samlabel imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// labelme JSON files (a folder: every `.json` in it, recursively).
    Labelme,
    /// A YOLO dataset folder or its `data.yaml` (segmentation or detection labels).
    YoloSeg,
    /// CVAT for images 1.1 XML files.
    Cvat,
}

impl Source {
    pub const ALL: [Self; 3] = [Self::Labelme, Self::YoloSeg, Self::Cvat];

    /// How menus name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Labelme => "labelme JSON",
            Self::YoloSeg => "YOLO (segmentation or boxes)",
            Self::Cvat => "CVAT for images 1.1 XML",
        }
    }
}

/// Why an import failed; nothing was added.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("nothing to import: give {0}")]
    NoInput(&'static str),
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
    /// Malformed XML or YAML; `reason` says where.
    #[error("{} is not valid {format}: {reason}", .path.display())]
    Syntax {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    /// A bad value at a place in a structured file: a JSON path (`shapes[3].points[2]`), an XML
    /// path (`annotations/image[2]/polygon[1]@points`, 1-based as in XPath) or a YAML key.
    #[error("{}: `{at}`: {problem}", .path.display())]
    Invalid {
        path: PathBuf,
        at: String,
        problem: String,
    },
    /// A bad line of a text file (YOLO labels), counted from 1.
    #[error("{}:{line}: {problem}", .path.display())]
    Line {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// A problem with a file or folder as a whole.
    #[error("{}: {problem}", .path.display())]
    File { path: PathBuf, problem: String },
    #[error(
        "{file_name} is {}x{} in the dataset but {}x{} in {}; masks would not line up",
        .listed.0, .listed.1, .imported.0, .imported.1, .path.display()
    )]
    SizeConflict {
        file_name: String,
        listed: (u32, u32),
        imported: (u32, u32),
        path: PathBuf,
    },
    #[error(transparent)]
    Edit(#[from] EditError),
}

impl ImportError {
    fn invalid(path: &Path, at: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            at: at.into(),
            problem: problem.into(),
        }
    }

    fn read(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |error| Self::Read {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// Reads `inputs` as `source` and adds what they hold to `dataset` as one undoable edit; `root` is
/// the dataset's folder (image `file_name`s are relative to it). On error the dataset is unchanged.
pub fn import(
    source: Source,
    inputs: &[PathBuf],
    dataset: &mut Dataset,
    root: &Path,
) -> Result<ImportSummary, ImportError> {
    let plan = read(source, inputs)?.plan(dataset, root)?;
    dataset.apply(plan.edit)?;
    Ok(plan.summary)
}

/// Parses and checks `inputs` (files, or folders searched as the format wants) and the images they
/// name, without a dataset: the slow part of an import, which the window runs on a thread.
pub fn read(source: Source, inputs: &[PathBuf]) -> Result<Parsed, ImportError> {
    let mut parsed = Parsed::default();
    match source {
        Source::Labelme => labelme::read(inputs, &mut parsed)?,
        Source::YoloSeg => yolo::read(inputs, &mut parsed)?,
        Source::Cvat => cvat::read(inputs, &mut parsed)?,
    }
    Ok(parsed)
}

/// What the inputs hold, checked, before it meets a dataset.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    images: Vec<SourceImage>,
    /// Where each image (by normalized path) is in `images`.
    image_index: HashMap<PathBuf, usize>,
    /// Category names in the order first met (a format's label list first).
    categories: Vec<String>,
    items: Vec<Item>,
    /// Counts, skipped things and notes gathered while reading.
    summary: ImportSummary,
}

#[derive(Clone, Debug)]
struct SourceImage {
    /// Where the image file is, or would be (normalized, absolute).
    path: PathBuf,
    width: u32,
    height: u32,
}

/// One annotation as read: its image and category (indices into [`Parsed`]), and its COCO fields.
#[derive(Clone, Debug)]
struct Item {
    image: usize,
    category: usize,
    kind: Kind,
    segmentation: Segmentation,
    area: Number,
    bbox: [Number; 4],
    extra: Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Polygons,
    Mask,
    Box,
}

/// An import matched to a dataset: the edit that adds it and what it adds.
#[derive(Clone, Debug)]
pub struct Plan {
    /// New categories, then new images, then the annotations, as one batch (one undo step).
    pub edit: Edit,
    pub summary: ImportSummary,
}

impl Parsed {
    /// Matches the import to `dataset`, whose image `file_name`s are relative to `root`: images by
    /// file name (an image listed with another size is an error), categories by name; new images,
    /// categories and annotations get the ids after the dataset's largest.
    pub fn plan(&self, dataset: &Dataset, root: &Path) -> Result<Plan, ImportError> {
        let mut summary = self.summary.clone();
        summary.images = self.images.len();
        let mut edits = Vec::new();

        let mut next_category = dataset.next_category_id();
        let mut category_count = dataset.categories().len();
        let mut category_ids: Vec<CategoryId> = Vec::with_capacity(self.categories.len());
        for name in &self.categories {
            if let Some(c) = dataset.category_by_name(name) {
                category_ids.push(c.id);
                continue;
            }
            edits.push(Edit::AddCategory(Category {
                id: next_category,
                name: name.clone(),
                supercategory: String::new(),
                color: default_color(category_count),
                extra: Map::new(),
            }));
            summary.new_categories.push(name.clone());
            category_ids.push(next_category);
            next_category += 1;
            category_count += 1;
        }

        let mut next_image = dataset.next_image_id();
        let mut image_ids: Vec<ImageId> = Vec::with_capacity(self.images.len());
        for image in &self.images {
            let file_name = file_name_in(root, &image.path);
            if let Some(listed) = dataset.image_by_file(&file_name) {
                if (listed.width, listed.height) != (image.width, image.height) {
                    return Err(ImportError::SizeConflict {
                        file_name,
                        listed: (listed.width, listed.height),
                        imported: (image.width, image.height),
                        path: image.path.clone(),
                    });
                }
                image_ids.push(listed.id);
                continue;
            }
            edits.push(Edit::AddImage(ImageEntry {
                id: next_image,
                file_name,
                width: image.width,
                height: image.height,
                extra: Map::new(),
            }));
            summary.new_images += 1;
            image_ids.push(next_image);
            next_image += 1;
        }

        let mut annotated = vec![false; self.images.len()];
        for (id, item) in (dataset.next_annotation_id()..).zip(&self.items) {
            annotated[item.image] = true;
            match item.kind {
                Kind::Polygons => summary.polygons += 1,
                Kind::Mask => summary.masks += 1,
                Kind::Box => summary.boxes += 1,
            }
            edits.push(Edit::AddAnnotation(Annotation {
                id,
                image_id: image_ids[item.image],
                category_id: category_ids[item.category],
                segmentation: item.segmentation.clone(),
                area: item.area.clone(),
                bbox: item.bbox.clone(),
                iscrowd: 0,
                extra: item.extra.clone(),
            }));
        }
        summary.images_without_annotations = annotated.iter().filter(|&&a| !a).count();
        Ok(Plan {
            edit: Edit::Batch(edits),
            summary,
        })
    }

    /// The image at `path` (`width` x `height`, `found` whether the file is there), listed once; a
    /// second mention with another size is an error at `at` in `source`.
    fn image(
        &mut self,
        path: &Path,
        (width, height): (u32, u32),
        found: bool,
        source: &Path,
        at: &str,
    ) -> Result<usize, ImportError> {
        let path = normalize(path);
        if let Some(&i) = self.image_index.get(&path) {
            let image = &self.images[i];
            if (image.width, image.height) != (width, height) {
                return Err(ImportError::invalid(
                    source,
                    at,
                    format!(
                        "{} is {width}x{height} here but {}x{} in an earlier file",
                        path.display(),
                        image.width,
                        image.height
                    ),
                ));
            }
            return Ok(i);
        }
        if !found {
            self.summary.missing_images += 1;
        }
        self.images.push(SourceImage {
            path: path.clone(),
            width,
            height,
        });
        self.image_index.insert(path, self.images.len() - 1);
        Ok(self.images.len() - 1)
    }

    /// The index of the category named `name`, added if new.
    fn category(&mut self, name: &str) -> usize {
        match self.categories.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.categories.push(name.to_string());
                self.categories.len() - 1
            }
        }
    }

    fn push(&mut self, item: Item) {
        self.items.push(item);
    }
}

impl Item {
    /// Polygons kept as written; area and bbox are those of the rasterized mask (pycocotools'
    /// `frPyObjects`, as labelme's own labelme2coco computes them). `Err` says why they cannot be
    /// rasterized.
    fn polygons(
        image: usize,
        category: usize,
        polygons: Vec<Vec<Number>>,
        (width, height): (u32, u32),
    ) -> Result<Self, String> {
        let rle = Rle::from_polygons(height, width, &polygons_f64(&polygons))
            .map_err(|e| e.to_string())?;
        let (area, bbox) = measures(&rle);
        Ok(Self {
            image,
            category,
            kind: Kind::Polygons,
            segmentation: Segmentation::Polygons(polygons),
            area,
            bbox,
            extra: Map::new(),
        })
    }

    /// A mask, stored as compressed RLE.
    fn mask(image: usize, category: usize, mask: &Mask) -> Self {
        let rle = Rle::from_mask(mask);
        let (area, bbox) = measures(&rle);
        Self {
            image,
            category,
            kind: Kind::Mask,
            segmentation: Segmentation::CompressedRle(rle),
            area,
            bbox,
            extra: Map::new(),
        }
    }

    /// A box without a mask, `[x, y, w, h]` in pixels.
    fn boxed(image: usize, category: usize, bbox: [f64; 4]) -> Self {
        let ann = Annotation::from_box(0, 0, 0, bbox);
        Self {
            image,
            category,
            kind: Kind::Box,
            segmentation: ann.segmentation,
            area: ann.area,
            bbox: ann.bbox,
            extra: Map::new(),
        }
    }

    fn with_extra(mut self, extra: Map<String, Value>) -> Self {
        self.extra = extra;
        self
    }
}

/// A shape that is (part of) an object's outline or mask.
enum Part {
    Polygon(Vec<Number>),
    Mask(Mask),
}

/// The objects of one image, in the order of their first shape: boxes, and parts that share a
/// label and a group id (labelme's `group_id`, CVAT's `group_id`), which make one annotation.
#[derive(Default)]
struct Objects {
    pending: Vec<Pending>,
    /// (category, group id) → index in `pending`.
    groups: HashMap<(usize, i64), usize>,
}

enum Pending {
    Box(Item),
    Parts {
        category: usize,
        parts: Vec<Part>,
        extra: Map<String, Value>,
        /// Where the first part is in its file (a JSON or XML path).
        at: String,
    },
}

impl Objects {
    fn add_box(&mut self, item: Item) {
        self.pending.push(Pending::Box(item));
    }

    /// Adds `part` to the object of `category` and `group`, or starts an object (always without a
    /// group).
    fn add_part(
        &mut self,
        category: usize,
        group: Option<i64>,
        part: Part,
        extra: Map<String, Value>,
        at: String,
    ) {
        let key = group.map(|g| (category, g));
        if let Some(&k) = key.as_ref().and_then(|key| self.groups.get(key))
            && let Pending::Parts { parts, .. } = &mut self.pending[k]
        {
            parts.push(part);
            return;
        }
        if let Some(key) = key {
            self.groups.insert(key, self.pending.len());
        }
        self.pending.push(Pending::Parts {
            category,
            parts: vec![part],
            extra,
            at,
        });
    }

    /// Adds the objects of `image` (`size` pixels), read from `source`, to `out`: polygons alone
    /// stay polygons; with a mask among the parts, everything is drawn into one mask, and a mask
    /// with no pixel in the image is skipped.
    fn finish(
        self,
        image: usize,
        size: (u32, u32),
        source: &Path,
        out: &mut Parsed,
    ) -> Result<(), ImportError> {
        for entry in self.pending {
            match entry {
                Pending::Box(item) => out.push(item),
                Pending::Parts {
                    category,
                    parts,
                    extra,
                    at,
                } => {
                    match item_of_parts(image, category, parts, size)
                        .map_err(|problem| ImportError::invalid(source, &at, problem))?
                    {
                        Some(item) => out.push(item.with_extra(extra)),
                        None => out.summary.skip(
                            ("empty mask", "empty masks"),
                            "no pixel inside the image",
                            format!("{} `{at}`", source.display()),
                        ),
                    }
                }
            }
        }
        Ok(())
    }
}

/// One annotation of `parts` on an image of `size`; `None` when they cover no pixel (a mask) —
/// polygons are kept whatever they cover.
fn item_of_parts(
    image: usize,
    category: usize,
    parts: Vec<Part>,
    size: (u32, u32),
) -> Result<Option<Item>, String> {
    if parts.iter().all(|p| matches!(p, Part::Polygon(_))) {
        let polygons = parts
            .into_iter()
            .filter_map(|p| match p {
                Part::Polygon(p) => Some(p),
                Part::Mask(_) => None,
            })
            .collect();
        return Item::polygons(image, category, polygons, size).map(Some);
    }
    let (width, height) = size;
    let mut union = Mask::new(width, height);
    for part in parts {
        let mask = match part {
            Part::Mask(m) => m,
            Part::Polygon(p) => Rle::from_polygons(height, width, &polygons_f64(&[p]))
                .map_err(|e| e.to_string())?
                .to_mask(),
        };
        for (i, &v) in mask.as_bytes().iter().enumerate() {
            if v != 0 {
                union.set(i as u32 % width, i as u32 / width, true);
            }
        }
    }
    Ok((union.area() > 0).then(|| Item::mask(image, category, &union)))
}

/// A pixel coordinate computed from others (denormalized, a difference), rounded to 1e-6 px so it
/// is written as the short number it stands for (`150.12288`, not `150.12288000000001`).
fn round_px(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// `[x, y, w, h]` of the box with corners at the extremes of `points` (pairs of pixels).
fn box_of(points: &[[f64; 2]]) -> [f64; 4] {
    let (mut x0, mut y0, mut x1, mut y1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for &[x, y] in points {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    [x0, y0, round_px(x1 - x0), round_px(y1 - y0)]
}

/// `path` made absolute, with `.` and `..` resolved by name, so one file has one name.
fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Files to read: each input that is a file, and the files with `extension` (any case) in each
/// folder, recursively (hidden folders left out); natural order of their paths, each once. The bool
/// says whether the file was found in a folder (not named).
fn files_to_read(
    inputs: &[PathBuf],
    extension: &str,
    what: &'static str,
) -> Result<Vec<(PathBuf, bool)>, ImportError> {
    if inputs.is_empty() {
        return Err(ImportError::NoInput(what));
    }
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found = Vec::new();
            walk(input, extension, &mut found)?;
            files.extend(found.into_iter().map(|f| (f, true)));
        } else if input.is_file() {
            files.push((input.clone(), false));
        } else {
            return Err(ImportError::Read {
                path: input.clone(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    sort_paths(&mut files, |(p, _)| p);
    files.dedup_by(|a, b| normalize(&a.0) == normalize(&b.0));
    Ok(files)
}

/// Sorts by path in natural order (`img2` before `img10`).
fn sort_paths<T>(items: &mut [T], path: impl Fn(&T) -> &PathBuf) {
    items.sort_by(|a, b| {
        crate::imageio::natural_cmp(&path(a).to_string_lossy(), &path(b).to_string_lossy())
    });
}

/// Files under `dir` whose extension is `extension` (any case), recursively, hidden folders left out.
fn walk(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    for entry in std::fs::read_dir(dir).map_err(ImportError::read(dir))? {
        let path = entry.map_err(ImportError::read(dir))?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_dir() {
            if !hidden {
                walk(&path, extension, out)?;
            }
        } else if has_extension(&path, extension) {
            out.push(path);
        }
    }
    Ok(())
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(extension))
}

/// A text file, without a leading byte-order mark.
fn read_text(path: &Path) -> Result<String, ImportError> {
    let bytes = std::fs::read(path).map_err(ImportError::read(path))?;
    let text = String::from_utf8(bytes).map_err(|e| ImportError::File {
        path: path.to_path_buf(),
        problem: format!("not UTF-8 text ({e})"),
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// Why a side of `v` pixels, read from a label file, is refused: samlabel handles images up to
/// `imageio::MAX_SIDE` pixels a side (masks are allocated at the image's size).
fn side_problem(v: u64) -> Option<String> {
    let max = crate::imageio::MAX_SIDE;
    if v == 0 {
        Some("must be a positive size".into())
    } else if v > u64::from(max) {
        Some(format!(
            "{v} is larger than samlabel handles ({max} pixels a side)"
        ))
    } else {
        None
    }
}

/// The size of the image at `path` after EXIF orientation, when it is a readable image.
fn image_size(path: &Path) -> Option<(u32, u32)> {
    if path.is_file() {
        crate::imageio::oriented_dimensions(path)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
