//! The dataset: images, categories and annotations, and the one place edits go through.
//!
//! Every change is an `Edit` applied by `Dataset::apply`, which records its inverse so that
//! `undo`/`redo` restore exact states. Masks are held as RLE.

use serde_json::{Map, Number, Value};

use super::rle::Rle;

pub type ImageId = u64;
pub type CategoryId = u64;
pub type AnnotationId = u64;

/// An image of the dataset; `width`/`height` are those of the EXIF-oriented image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageEntry {
    pub id: ImageId,
    /// Relative to the dataset's folder.
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    /// Keys samlabel does not interpret, written back unchanged.
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    pub supercategory: String,
    /// Display colour (saved in the extra key `color`, which COCO readers ignore).
    pub color: [u8; 3],
    pub extra: Map<String, Value>,
}

pub use annotation::{Annotation, Segmentation, json_number, measures, polygons_f64};

/// One change to the dataset. Applying an edit returns its inverse.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    AddImage(ImageEntry),
    RemoveImage(ImageId),
    AddAnnotation(Annotation),
    DeleteAnnotation(AnnotationId),
    Relabel {
        id: AnnotationId,
        category_id: CategoryId,
    },
    SetMask {
        id: AnnotationId,
        segmentation: Segmentation,
        area: Number,
        bbox: [Number; 4],
    },
    AddCategory(Category),
    RenameCategory {
        id: CategoryId,
        name: String,
    },
    RecolorCategory {
        id: CategoryId,
        color: [u8; 3],
    },
    /// Deletes the category and every annotation that uses it.
    DeleteCategory(CategoryId),
    /// Several edits undone and redone together.
    Batch(Vec<Edit>),
    /// Puts an image back at its old place in the list (the inverse of a removal).
    InsertImage {
        index: usize,
        image: ImageEntry,
    },
    /// Puts an annotation back at its old place in the list.
    InsertAnnotation {
        index: usize,
        annotation: Annotation,
    },
    /// Puts a category back at its old place in the list.
    InsertCategory {
        index: usize,
        category: Category,
    },
    /// Sets (or, with `None`, removes) an extra key of an image entry, such as samlabel's review
    /// state (`IMAGE_STATE_KEY`).
    SetImageExtra {
        id: ImageId,
        key: String,
        value: Option<Value>,
    },
}

/// The extra key of an image entry that holds its review state (`"done"` or `"no objects"`); COCO
/// readers ignore it.
pub const IMAGE_STATE_KEY: &str = "samlabel_state";

impl Edit {
    /// Gives annotation `id` the segmentation `segmentation`, whose mask is `rle`: COCO's area and
    /// bbox come from it.
    pub fn set_segmentation(id: AnnotationId, segmentation: Segmentation, rle: &Rle) -> Self {
        let (area, bbox) = measures(rle);
        Self::SetMask {
            id,
            segmentation,
            area,
            bbox,
        }
    }
}

/// Why an edit cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("no image with id {0}")]
    NoImage(ImageId),
    #[error("no annotation with id {0}")]
    NoAnnotation(AnnotationId),
    #[error("no category with id {0}")]
    NoCategory(CategoryId),
    #[error("id {0} is already used")]
    DuplicateId(u64),
    #[error("a category named `{0}` already exists")]
    DuplicateName(String),
    #[error("the mask is {got_w}x{got_h} but the image is {want_w}x{want_h}")]
    MaskSize {
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
}

/// A COCO instances dataset with undo/redo.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub info: Map<String, Value>,
    /// Top-level keys besides `info`, `images`, `annotations` and `categories` (`licenses`, ...).
    pub extra: Map<String, Value>,
    images: Vec<ImageEntry>,
    categories: Vec<Category>,
    annotations: Vec<Annotation>,
    undo: Vec<Edit>,
    redo: Vec<Edit>,
    /// Increases with every change; lets savers know whether there is something to save.
    revision: u64,
}

/// Distinct, readable colours for new categories. No blue near the window's preview colour
/// (30, 144, 255): a preview must never look like an accepted mask.
const PALETTE: [[u8; 3]; 10] = [
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [128, 128, 0],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
    [210, 245, 60],
    [250, 190, 212],
];

/// COCO `file_name` of an image: its path relative to the dataset's folder with `/` separators, or
/// the absolute path when the image lies outside that folder.
pub fn file_name_in(root: &std::path::Path, image: &std::path::Path) -> String {
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (root, image) = (absolute(root), absolute(image));
    match image.strip_prefix(&root) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => image.to_string_lossy().into_owned(),
    }
}

/// The default colour of the `index`-th category.
pub fn default_color(index: usize) -> [u8; 3] {
    PALETTE[index % PALETTE.len()]
}

impl Dataset {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a dataset from parts that were already validated (import).
    pub fn from_parts(
        info: Map<String, Value>,
        extra: Map<String, Value>,
        images: Vec<ImageEntry>,
        categories: Vec<Category>,
        annotations: Vec<Annotation>,
    ) -> Self {
        Self {
            info,
            extra,
            images,
            categories,
            annotations,
            ..Self::default()
        }
    }

    pub fn images(&self) -> &[ImageEntry] {
        &self.images
    }

    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    pub fn annotations(&self) -> &[Annotation] {
        &self.annotations
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn image(&self, id: ImageId) -> Option<&ImageEntry> {
        self.images.iter().find(|i| i.id == id)
    }

    pub fn image_by_file(&self, file_name: &str) -> Option<&ImageEntry> {
        self.images.iter().find(|i| i.file_name == file_name)
    }

    pub fn category(&self, id: CategoryId) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    pub fn category_by_name(&self, name: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.name == name)
    }

    pub fn annotation(&self, id: AnnotationId) -> Option<&Annotation> {
        self.annotations.iter().find(|a| a.id == id)
    }

    pub fn annotations_of(&self, image_id: ImageId) -> impl Iterator<Item = &Annotation> {
        self.annotations
            .iter()
            .filter(move |a| a.image_id == image_id)
    }

    pub fn next_image_id(&self) -> ImageId {
        self.images.iter().map(|i| i.id).max().map_or(1, |m| m + 1)
    }

    pub fn next_category_id(&self) -> CategoryId {
        self.categories
            .iter()
            .map(|c| c.id)
            .max()
            .map_or(1, |m| m + 1)
    }

    pub fn next_annotation_id(&self) -> AnnotationId {
        self.annotations
            .iter()
            .map(|a| a.id)
            .max()
            .map_or(1, |m| m + 1)
    }

    /// A colour for the next new category.
    pub fn next_color(&self) -> [u8; 3] {
        default_color(self.categories.len())
    }

    /// Applies an edit and records it for undo; clears the redo stack.
    pub fn apply(&mut self, edit: Edit) -> Result<(), EditError> {
        let inverse = self.apply_raw(edit)?;
        self.undo.push(inverse);
        self.redo.clear();
        Ok(())
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Reverts the last edit; returns false when there is nothing to undo.
    pub fn undo(&mut self) -> bool {
        self.step(true)
    }

    /// Re-applies the last undone edit; returns false when there is nothing to redo.
    pub fn redo(&mut self) -> bool {
        self.step(false)
    }

    fn step(&mut self, undo: bool) -> bool {
        let edit = if undo {
            self.undo.pop()
        } else {
            self.redo.pop()
        };
        let Some(edit) = edit else { return false };
        match self.apply_raw(edit) {
            Ok(inverse) => {
                if undo {
                    self.redo.push(inverse);
                } else {
                    self.undo.push(inverse);
                }
                true
            }
            // Inverses are built from the state they undo, so this means a bug; keep the data as is.
            Err(err) => {
                tracing::error!(
                    "cannot {} an edit: {err}",
                    if undo { "undo" } else { "redo" }
                );
                false
            }
        }
    }

    /// Applies an edit without touching the undo/redo stacks and returns its inverse.
    fn apply_raw(&mut self, edit: Edit) -> Result<Edit, EditError> {
        let inverse = match edit {
            Edit::AddImage(image) => {
                let index = self.images.len();
                return self.apply_raw(Edit::InsertImage { index, image });
            }
            Edit::InsertImage { index, image } => {
                if self.image(image.id).is_some() {
                    return Err(EditError::DuplicateId(image.id));
                }
                let id = image.id;
                self.images.insert(index.min(self.images.len()), image);
                Edit::RemoveImage(id)
            }
            Edit::RemoveImage(id) => {
                let pos = self
                    .images
                    .iter()
                    .position(|i| i.id == id)
                    .ok_or(EditError::NoImage(id))?;
                // Annotations go with the image, and come back with it.
                let mut batch = self.delete_annotations_where(|a| a.image_id == id)?;
                let image = self.images.remove(pos);
                batch.insert(0, Edit::InsertImage { index: pos, image });
                Edit::Batch(batch)
            }
            Edit::AddAnnotation(annotation) => {
                let index = self.annotations.len();
                return self.apply_raw(Edit::InsertAnnotation { index, annotation });
            }
            Edit::InsertAnnotation {
                index,
                annotation: ann,
            } => {
                if self.annotation(ann.id).is_some() {
                    return Err(EditError::DuplicateId(ann.id));
                }
                let image = self
                    .image(ann.image_id)
                    .ok_or(EditError::NoImage(ann.image_id))?;
                if self.category(ann.category_id).is_none() {
                    return Err(EditError::NoCategory(ann.category_id));
                }
                if let Segmentation::CompressedRle(rle) | Segmentation::UncompressedRle(rle) =
                    &ann.segmentation
                    && (rle.width, rle.height) != (image.width, image.height)
                {
                    return Err(EditError::MaskSize {
                        got_w: rle.width,
                        got_h: rle.height,
                        want_w: image.width,
                        want_h: image.height,
                    });
                }
                let id = ann.id;
                self.annotations
                    .insert(index.min(self.annotations.len()), ann);
                Edit::DeleteAnnotation(id)
            }
            Edit::DeleteAnnotation(id) => {
                let pos = self
                    .annotations
                    .iter()
                    .position(|a| a.id == id)
                    .ok_or(EditError::NoAnnotation(id))?;
                Edit::InsertAnnotation {
                    index: pos,
                    annotation: self.annotations.remove(pos),
                }
            }
            Edit::Relabel { id, category_id } => {
                if self.category(category_id).is_none() {
                    return Err(EditError::NoCategory(category_id));
                }
                let ann = self.annotation_mut(id)?;
                let old = std::mem::replace(&mut ann.category_id, category_id);
                Edit::Relabel {
                    id,
                    category_id: old,
                }
            }
            Edit::SetMask {
                id,
                segmentation,
                area,
                bbox,
            } => {
                let ann = self.annotation_mut(id)?;
                Edit::SetMask {
                    id,
                    segmentation: std::mem::replace(&mut ann.segmentation, segmentation),
                    area: std::mem::replace(&mut ann.area, area),
                    bbox: std::mem::replace(&mut ann.bbox, bbox),
                }
            }
            Edit::AddCategory(category) => {
                let index = self.categories.len();
                return self.apply_raw(Edit::InsertCategory { index, category });
            }
            Edit::InsertCategory { index, category } => {
                if self.category(category.id).is_some() {
                    return Err(EditError::DuplicateId(category.id));
                }
                if self.category_by_name(&category.name).is_some() {
                    return Err(EditError::DuplicateName(category.name));
                }
                let id = category.id;
                self.categories
                    .insert(index.min(self.categories.len()), category);
                Edit::DeleteCategory(id)
            }
            Edit::RenameCategory { id, name } => {
                if self.categories.iter().any(|c| c.name == name && c.id != id) {
                    return Err(EditError::DuplicateName(name));
                }
                let category = self.category_mut(id)?;
                let old = std::mem::replace(&mut category.name, name);
                Edit::RenameCategory { id, name: old }
            }
            Edit::RecolorCategory { id, color } => {
                let category = self.category_mut(id)?;
                let old = std::mem::replace(&mut category.color, color);
                Edit::RecolorCategory { id, color: old }
            }
            Edit::DeleteCategory(id) => {
                let pos = self
                    .categories
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or(EditError::NoCategory(id))?;
                let mut batch = self.delete_annotations_where(|a| a.category_id == id)?;
                // The category must come back before its annotations, at its old place in the list.
                let category = self.categories.remove(pos);
                batch.insert(
                    0,
                    Edit::InsertCategory {
                        index: pos,
                        category,
                    },
                );
                Edit::Batch(batch)
            }
            Edit::SetImageExtra { id, key, value } => {
                let image = self
                    .images
                    .iter_mut()
                    .find(|i| i.id == id)
                    .ok_or(EditError::NoImage(id))?;
                let old = match value {
                    Some(value) => image.extra.insert(key.clone(), value),
                    None => image.extra.remove(&key),
                };
                Edit::SetImageExtra {
                    id,
                    key,
                    value: old,
                }
            }
            Edit::Batch(edits) => {
                let mut inverses = Vec::with_capacity(edits.len());
                for edit in edits {
                    match self.apply_raw(edit) {
                        Ok(inverse) => inverses.push(inverse),
                        Err(err) => {
                            // Leave the dataset as it was before the batch.
                            for inverse in inverses.into_iter().rev() {
                                let _ = self.apply_raw(inverse);
                            }
                            return Err(err);
                        }
                    }
                }
                inverses.reverse();
                Edit::Batch(inverses)
            }
        };
        self.revision += 1;
        Ok(inverse)
    }

    /// Deletes every annotation that matches and returns the inverses in the order that puts each
    /// back at the index it was removed from.
    fn delete_annotations_where(
        &mut self,
        matches: impl Fn(&Annotation) -> bool,
    ) -> Result<Vec<Edit>, EditError> {
        let ids: Vec<AnnotationId> = self
            .annotations
            .iter()
            .filter(|a| matches(a))
            .map(|a| a.id)
            .collect();
        let mut inverses = Vec::with_capacity(ids.len());
        for id in ids {
            inverses.push(self.apply_raw(Edit::DeleteAnnotation(id))?);
        }
        inverses.reverse();
        Ok(inverses)
    }

    fn annotation_mut(&mut self, id: AnnotationId) -> Result<&mut Annotation, EditError> {
        self.annotations
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or(EditError::NoAnnotation(id))
    }

    fn category_mut(&mut self, id: CategoryId) -> Result<&mut Category, EditError> {
        self.categories
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(EditError::NoCategory(id))
    }

    /// Returns the category named `name`, adding it (as an undoable edit) if there is none.
    pub fn ensure_category(&mut self, name: &str) -> Result<CategoryId, EditError> {
        if let Some(c) = self.category_by_name(name) {
            return Ok(c.id);
        }
        let category = Category {
            id: self.next_category_id(),
            name: name.to_string(),
            supercategory: String::new(),
            color: self.next_color(),
            extra: Map::new(),
        };
        let id = category.id;
        self.apply(Edit::AddCategory(category))?;
        Ok(id)
    }

    /// Returns the image with `file_name`, listing it if there is none, without an undo step:
    /// opening an image is not an edit to take back. COCO keeps images without annotations.
    pub fn list_image(
        &mut self,
        file_name: &str,
        width: u32,
        height: u32,
    ) -> Result<ImageId, EditError> {
        self.image_entry(file_name, width, height, false)
    }

    /// The image with `file_name`, added (as an undoable edit, or without one) if there is none.
    fn image_entry(
        &mut self,
        file_name: &str,
        width: u32,
        height: u32,
        undoable: bool,
    ) -> Result<ImageId, EditError> {
        if let Some(image) = self.image_by_file(file_name) {
            return Ok(image.id);
        }
        let image = ImageEntry {
            id: self.next_image_id(),
            file_name: file_name.to_string(),
            width,
            height,
            extra: Map::new(),
        };
        let id = image.id;
        if undoable {
            self.apply(Edit::AddImage(image))?;
        } else {
            self.apply_raw(Edit::AddImage(image))?;
        }
        Ok(id)
    }

    /// Returns the image with `file_name`, adding it (as an undoable edit) if there is none.
    pub fn ensure_image(
        &mut self,
        file_name: &str,
        width: u32,
        height: u32,
    ) -> Result<ImageId, EditError> {
        self.image_entry(file_name, width, height, true)
    }
}

mod annotation;
mod history;

#[cfg(test)]
mod tests;
