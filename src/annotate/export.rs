//! Exports besides the project file: COCO with polygons, YOLO segmentation labels, PNG masks.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::coco::{self, CocoError, SegmentationFormat};
use super::dataset::{Annotation, Dataset, ImageEntry, Segmentation, json_number, polygons_f64};
use super::polygon::{PolygonResult, polygons_from_rle};
use super::rle::Rle;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Coco(#[from] CocoError),
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {}: {reason}", .path.display())]
    Image { path: PathBuf, reason: String },
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |error| ExportError::Write {
        path: path.to_path_buf(),
        error,
    }
}

/// What an export did, for the summary the user sees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub images: usize,
    pub annotations: usize,
    pub polygons: usize,
    /// Kept as RLE because the mask has holes.
    pub rle_holes: usize,
    /// Kept as RLE because polygons would change the mask by more than 1% IoU.
    pub rle_lossy: usize,
    /// Empty masks (no polygon, no YOLO line).
    pub empty: usize,
    /// YOLO only: masks whose holes were filled (the format cannot express them), and the pixels.
    pub holes_filled: usize,
    pub hole_pixels: u64,
    /// YOLO only: parts under `polygon::SPECK_PX` pixels left out, and their pixels.
    pub specks: usize,
    pub speck_pixels: u64,
    /// Box-only annotations (no mask) written as boxes: COCO's `[]` with the bbox, labelme's
    /// `rectangle`.
    pub boxes: usize,
    /// Box-only annotations left out: YOLO segmentation labels and PNG masks need a mask.
    pub boxes_skipped: usize,
}

impl ExportSummary {
    /// Counts what an outline could not hold: holes filled and specks left out, (how many, pixels).
    fn left_out(&mut self, holes: (usize, u64), specks: (usize, u64)) {
        if holes.0 > 0 {
            self.holes_filled += 1;
            self.hole_pixels += holes.1;
        }
        self.specks += specks.0;
        self.speck_pixels += specks.1;
    }

    /// The summary with where it went: "exported 3 annotations on 2 images to DIR; ...".
    pub fn to_folder(&self, out: &Path) -> String {
        format!(
            "exported {} annotations on {} images to {}{}",
            self.annotations,
            self.images,
            out.display(),
            self.details()
        )
    }

    /// What was written in which form and what was left out, each part after "; ".
    fn details(&self) -> String {
        self.to_string()
            .split_once("; ")
            .map_or_else(String::new, |(_, rest)| format!("; {rest}"))
    }
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exported {} annotations on {} images",
            self.annotations, self.images
        )?;
        if self.polygons + self.rle_holes + self.rle_lossy > 0 {
            write!(
                f,
                "; {} as polygons, {} kept as RLE ({} with holes, {} where polygons would change the mask by more than 1%)",
                self.polygons,
                self.rle_holes + self.rle_lossy,
                self.rle_holes,
                self.rle_lossy
            )?;
        }
        if self.holes_filled > 0 {
            write!(
                f,
                "; {} masks had holes that its polygons cannot hold (filled: {} px)",
                self.holes_filled, self.hole_pixels
            )?;
        }
        if self.specks > 0 {
            write!(
                f,
                "; {} parts left out ({} px): under {} px, or (YOLO) smaller than the line that would join them",
                self.specks,
                self.speck_pixels,
                super::polygon::SPECK_PX
            )?;
        }
        if self.empty > 0 {
            write!(f, "; {} empty masks skipped", self.empty)?;
        }
        if self.boxes > 0 {
            write!(f, "; {} box-only annotations as boxes", self.boxes)?;
        }
        if self.boxes_skipped > 0 {
            write!(
                f,
                "; {} box-only annotations have no mask, so are not in the export",
                self.boxes_skipped
            )?;
        }
        Ok(())
    }
}

fn rle_of(dataset: &Dataset, ann: &Annotation) -> Rle {
    let (h, w) = dataset
        .image(ann.image_id)
        .map_or((0, 0), |i| (i.height, i.width));
    ann.segmentation.to_rle(h, w)
}

/// The formats samlabel exports to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// COCO instances JSON, masks as compressed RLE, polygon annotations as their polygons
    /// (`annotations.json`).
    Coco,
    /// COCO instances JSON, masks as polygons where they reproduce the mask within 1% IoU.
    CocoPolygons,
    /// YOLO segmentation labels (`labels/*.txt`, `images/`, `data.yaml`).
    YoloSeg,
    /// PNG masks per image: 16-bit instance ids and 8-bit category indices.
    Masks,
    /// labelme JSON beside each image: a polygon per part, grouped by `group_id` per object.
    Labelme,
}

impl Format {
    pub const ALL: [Self; 5] = [
        Self::Coco,
        Self::CocoPolygons,
        Self::YoloSeg,
        Self::Labelme,
        Self::Masks,
    ];

    /// How menus name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Coco => "COCO (RLE masks)",
            Self::CocoPolygons => "COCO (polygons)",
            Self::YoloSeg => "YOLO segmentation",
            Self::Masks => "PNG masks",
            Self::Labelme => "labelme JSON",
        }
    }

    /// The folder name an export goes to by default, beside the dataset.
    pub fn default_folder(self) -> &'static str {
        match self {
            Self::Coco => "export-coco",
            Self::CocoPolygons => "export-coco-polygons",
            Self::YoloSeg => "export-yolo-seg",
            Self::Masks => "export-masks",
            Self::Labelme => "export-labelme",
        }
    }
}

/// Exports `dataset` (whose image `file_name`s are relative to `root`) as `format` into the folder
/// `out`, creating it.
pub fn export_to(
    dataset: &Dataset,
    root: &Path,
    format: Format,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    std::fs::create_dir_all(out).map_err(write_error(out))?;
    match format {
        Format::Coco => coco_rle(dataset, &out.join("annotations.json")),
        Format::CocoPolygons => coco_polygons(dataset, &out.join("annotations.json")),
        Format::YoloSeg => yolo_seg(dataset, root, out),
        Format::Masks => masks(dataset, out),
        Format::Labelme => labelme(dataset, root, out),
    }
}

/// COCO JSON with every mask as compressed RLE; annotations that are polygons (drawn, edited or
/// imported as polygons) keep them; box-only annotations are `[]` and their box.
pub fn coco_rle(dataset: &Dataset, path: &Path) -> Result<ExportSummary, ExportError> {
    coco::write_json_atomic(&coco::to_value(dataset, SegmentationFormat::Rle), path)?;
    Ok(ExportSummary {
        images: dataset.images().len(),
        annotations: dataset.annotations().len(),
        boxes: dataset
            .annotations()
            .iter()
            .filter(|a| a.is_box_only())
            .count(),
        ..Default::default()
    })
}

/// COCO JSON with polygons: an annotation that is polygons (imported, or loaded so) keeps them
/// unchanged, a mask becomes polygons where they reproduce it and stays RLE elsewhere; box-only
/// annotations stay `[]` with their box.
pub fn coco_polygons(dataset: &Dataset, path: &Path) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary {
        images: dataset.images().len(),
        annotations: dataset.annotations().len(),
        ..Default::default()
    };
    let mut doc = coco::to_value(dataset, SegmentationFormat::Rle);
    let annotations: Vec<Value> = dataset
        .annotations()
        .iter()
        .map(|ann| {
            if let Segmentation::Polygons(polygons) = &ann.segmentation {
                if polygons.is_empty() {
                    summary.boxes += 1;
                } else {
                    summary.polygons += 1;
                }
                let kept = coco::segmentation_value(&ann.segmentation, SegmentationFormat::AsIs);
                return coco::annotation_value(ann, kept);
            }
            let rle = rle_of(dataset, ann);
            let segmentation = match polygons_from_rle(&rle) {
                PolygonResult::Polygons(p) => {
                    summary.polygons += 1;
                    Value::from(p)
                }
                other => {
                    match other {
                        PolygonResult::Holes => summary.rle_holes += 1,
                        PolygonResult::Empty => summary.empty += 1,
                        _ => summary.rle_lossy += 1,
                    }
                    serde_json::json!({"size": [rle.height, rle.width], "counts": rle.to_compressed()})
                }
            };
            coco::annotation_value(ann, segmentation)
        })
        .collect();
    doc["annotations"] = Value::Array(annotations);
    coco::write_json_atomic(&doc, path)?;
    Ok(summary)
}

/// The path of an image's export file: the image's relative path with a new extension.
fn sibling(out: &Path, image: &ImageEntry, suffix: &str) -> PathBuf {
    let rel = Path::new(&image.file_name);
    let rel = if rel.is_absolute() {
        PathBuf::from(rel.file_name().unwrap_or_default())
    } else {
        rel.components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect()
    };
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.join(rel.with_file_name(format!("{stem}{suffix}")))
}

fn create_parent(path: &Path) -> Result<(), ExportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error(parent))?;
    }
    Ok(())
}

/// YOLO segmentation: `out/images/...` (links to the images), their labels where Ultralytics looks
/// ([`yolo_label_path`]: `out/labels/....txt`, or for an image in a folder named `images`, that
/// folder's `labels`) with one line per annotation (`class x1 y1 x2 y2 ...`, normalized; several parts joined into one outline), and
/// `out/data.yaml`. Class indices follow the order of the categories. Polygons are written as they
/// are (an import from YOLO exports back to the same lines); box-only annotations are left out and
/// counted: Ultralytics reads a file with any polygon line as all polygons, boxes misread.
pub fn yolo_seg(
    dataset: &Dataset,
    dataset_root: &Path,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary {
        images: dataset.images().len(),
        ..Default::default()
    };
    for image in dataset.images() {
        let dst = sibling(&out.join("images"), image, "");
        let dst = dst.with_extension(Path::new(&image.file_name).extension().unwrap_or_default());
        let label_path = yolo_label_path(&dst);
        create_parent(&label_path)?;
        let mut lines = String::new();
        for ann in dataset.annotations_of(image.id) {
            let Some(class) = dataset
                .categories()
                .iter()
                .position(|c| c.id == ann.category_id)
            else {
                continue;
            };
            let outline = match &ann.segmentation {
                Segmentation::Polygons(polygons) if polygons.is_empty() => {
                    summary.boxes_skipped += 1;
                    continue;
                }
                // Polygons as they are, several joined there and back (as Ultralytics'
                // `merge_multi_segment` does), along the shortest links.
                Segmentation::Polygons(polygons) => {
                    let parts: Vec<Vec<[f64; 2]>> = polygons_f64(polygons)
                        .iter()
                        .map(|p| p.chunks_exact(2).map(|xy| [xy[0], xy[1]]).collect())
                        .collect();
                    super::polygon::join_polygons(&parts)
                        .into_iter()
                        .flatten()
                        .collect::<Vec<f64>>()
                }
                _ => {
                    let Some(outline) = super::polygon::yolo_outline(&rle_of(dataset, ann)) else {
                        summary.empty += 1;
                        continue;
                    };
                    summary.left_out(outline.holes, outline.specks);
                    if outline.points.is_empty() {
                        // Nothing but specks.
                        summary.empty += 1;
                        continue;
                    }
                    outline.points
                }
            };
            lines.push_str(&class.to_string());
            for pair in outline.chunks_exact(2) {
                let x = (pair[0] / f64::from(image.width)).clamp(0.0, 1.0);
                let y = (pair[1] / f64::from(image.height)).clamp(0.0, 1.0);
                lines.push_str(&format!(" {x:.6} {y:.6}"));
            }
            lines.push('\n');
            summary.annotations += 1;
        }
        std::fs::write(&label_path, lines).map_err(write_error(&label_path))?;

        create_parent(&dst)?;
        link_image(&dataset_root.join(&image.file_name), &dst)?;
    }
    let mut yaml = format!(
        "# YOLO segmentation dataset exported by samlabel\npath: {}\ntrain: images\nval: images\nnames:\n",
        out.display()
    );
    for (i, c) in dataset.categories().iter().enumerate() {
        yaml.push_str(&format!(
            "  {i}: {}\n",
            serde_json::to_string(&c.name).unwrap_or_default()
        ));
    }
    let yaml_path = out.join("data.yaml");
    std::fs::write(&yaml_path, yaml).map_err(write_error(&yaml_path))?;
    Ok(summary)
}

/// Where Ultralytics looks for the labels of the image at `image` (`img2label_paths`): in its absolute
/// path, the last folder named `images` becomes `labels` and the extension `.txt`; with no such
/// folder, the `.txt` beside the image.
pub fn yolo_label_path(image: &Path) -> PathBuf {
    let image = std::path::absolute(image).unwrap_or_else(|_| image.to_path_buf());
    let parts: Vec<std::path::Component> = image.components().collect();
    let folders = parts.len().saturating_sub(1);
    let swap = parts[..folders]
        .iter()
        .rposition(|c| c.as_os_str() == "images");
    let mut label: PathBuf = parts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if Some(i) == swap {
                std::ffi::OsStr::new("labels")
            } else {
                c.as_os_str()
            }
        })
        .collect();
    label.set_extension("txt");
    label
}

/// Puts the image `src` at `dst` (a hard link, else a copy) unless it is there or missing.
fn link_image(src: &Path, dst: &Path) -> Result<(), ExportError> {
    if !dst.exists() && src.is_file() && std::fs::hard_link(src, dst).is_err() {
        std::fs::copy(src, dst).map_err(write_error(dst))?;
    }
    Ok(())
}

/// labelme: per image `<name>.json` beside a link to the image (`imagePath`), one `polygon` shape per
/// part of each annotation, the parts of one annotation sharing a `group_id` (labelme's way to make
/// one object of several shapes), `label` the category's name. A mask's holes are filled and specks
/// left out (as for YOLO), and the summary says so; an annotation that is polygons keeps its
/// vertices exactly, and a box-only annotation is a `rectangle`.
pub fn labelme(
    dataset: &Dataset,
    dataset_root: &Path,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary {
        images: dataset.images().len(),
        ..Default::default()
    };
    for image in dataset.images() {
        let extension = Path::new(&image.file_name)
            .extension()
            .unwrap_or_default()
            .to_owned();
        let image_path = sibling(out, image, "").with_extension(&extension);
        let json_path = sibling(out, image, ".json");
        create_parent(&json_path)?;
        let mut shapes = Vec::new();
        for (group, ann) in dataset.annotations_of(image.id).enumerate() {
            let label = dataset
                .categories()
                .iter()
                .find(|c| c.id == ann.category_id)
                .map_or("object", |c| c.name.as_str());
            let shape = |shape_type: &str, points: Value| {
                serde_json::json!({
                    "label": label,
                    "points": points,
                    "group_id": group,
                    "description": "",
                    "shape_type": shape_type,
                    "flags": {},
                    "mask": null,
                })
            };
            match &ann.segmentation {
                Segmentation::Polygons(polygons) if polygons.is_empty() => {
                    let [x, y, w, h] = ann.bbox_f64();
                    let corner = |a: f64, b: f64| Value::Number(json_number(round6(a + b)));
                    let points = serde_json::json!([
                        [ann.bbox[0].clone(), ann.bbox[1].clone()],
                        [corner(x, w), corner(y, h)],
                    ]);
                    shapes.push(shape("rectangle", points));
                    summary.boxes += 1;
                }
                // Polygons as they are, vertex for vertex.
                Segmentation::Polygons(polygons) => {
                    for polygon in polygons {
                        let points: Vec<Value> = polygon
                            .chunks_exact(2)
                            .map(|xy| serde_json::json!([xy[0].clone(), xy[1].clone()]))
                            .collect();
                        shapes.push(shape("polygon", Value::Array(points)));
                    }
                    summary.polygons += 1;
                }
                _ => {
                    let Some(super::polygon::Outlines {
                        polygons,
                        holes,
                        specks,
                    }) = super::polygon::labelme_polygons(&rle_of(dataset, ann))
                    else {
                        summary.empty += 1;
                        continue;
                    };
                    summary.left_out(holes, specks);
                    if polygons.is_empty() {
                        summary.empty += 1;
                        continue;
                    }
                    for points in polygons {
                        shapes.push(shape("polygon", serde_json::json!(points)));
                    }
                }
            }
            summary.annotations += 1;
        }
        let doc = serde_json::json!({
            "version": "5.5.0",
            "flags": {},
            "shapes": shapes,
            "imagePath": image_path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "imageData": null,
            "imageHeight": image.height,
            "imageWidth": image.width,
        });
        coco::write_json_atomic(&doc, &json_path)?;
        link_image(&dataset_root.join(&image.file_name), &image_path)?;
    }
    Ok(summary)
}

/// A coordinate computed from two (a box's far corner), rounded to 1e-6 px so that it is written as
/// the short number it stands for.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// PNG masks: per image `<name>_instances.png` (16-bit, 0 background, k = the k-th annotation with a
/// mask of the image) and `<name>_categories.png` (8-bit, 0 background, c = the c-th category), plus
/// `instances.json` mapping each k back to its annotation id and category. Box-only annotations have
/// no mask: they are left out and counted.
pub fn masks(dataset: &Dataset, out: &Path) -> Result<ExportSummary, ExportError> {
    let mut summary = ExportSummary {
        images: dataset.images().len(),
        ..Default::default()
    };
    let mut index = serde_json::Map::new();
    for image in dataset.images() {
        let (w, h) = (image.width, image.height);
        let mut instances = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::new(w, h);
        let mut categories = image::GrayImage::new(w, h);
        let mut entries = Vec::new();
        let annotations = || dataset.annotations_of(image.id);
        summary.boxes_skipped += annotations().filter(|a| a.is_box_only()).count();
        for (k, ann) in annotations().filter(|a| !a.is_box_only()).enumerate() {
            let instance = u16::try_from(k + 1).unwrap_or(u16::MAX);
            let class = dataset
                .categories()
                .iter()
                .position(|c| c.id == ann.category_id)
                .map_or(0, |c| u8::try_from(c + 1).unwrap_or(u8::MAX));
            let mask = rle_of(dataset, ann).to_mask();
            for (i, &v) in mask.as_bytes().iter().enumerate() {
                if v != 0 {
                    let (x, y) = (i as u32 % w, i as u32 / w);
                    instances.put_pixel(x, y, image::Luma([instance]));
                    categories.put_pixel(x, y, image::Luma([class]));
                }
            }
            entries.push(serde_json::json!({"value": instance, "annotation_id": ann.id, "category_id": ann.category_id}));
            summary.annotations += 1;
        }
        let inst_path = sibling(out, image, "_instances.png");
        let cat_path = sibling(out, image, "_categories.png");
        create_parent(&inst_path)?;
        for (path, result) in [
            (
                &inst_path,
                instances.save_with_format(&inst_path, image::ImageFormat::Png),
            ),
            (
                &cat_path,
                categories.save_with_format(&cat_path, image::ImageFormat::Png),
            ),
        ] {
            result.map_err(|e| ExportError::Image {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        }
        index.insert(image.file_name.clone(), Value::Array(entries));
    }
    let categories: Vec<Value> = dataset
        .categories()
        .iter()
        .enumerate()
        .map(|(i, c)| serde_json::json!({"value": i + 1, "category_id": c.id, "name": c.name}))
        .collect();
    let doc = serde_json::json!({"images": index, "categories": categories});
    coco::write_json_atomic(&doc, &out.join("instances.json"))?;
    Ok(summary)
}
