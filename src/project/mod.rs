//! The headless project layer: a dataset file with its lock, open-or-create, unsaved edits, autosave
//! timing, atomic save with `.bak`, recovery from the `.bak`, adding a mask, and the recent list. The
//! window and `segment --coco` both go through it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::annotate::coco::{self, CocoError};
use crate::annotate::dataset::{
    Annotation, AnnotationId, CategoryId, Dataset, Edit, EditError, ImageId, Segmentation,
    file_name_in, measures,
};
use crate::annotate::lock::{DatasetLock, LockError};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;

pub mod boxes;

/// Why a dataset cannot be opened for writing, saved or given an annotation.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Load(CocoError),
    #[error("not saved: {0}")]
    Save(CocoError),
    #[error("not saved: {0}")]
    ReadOnly(String),
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(
        "{} lists {file_name} as {}x{}, but the image is {}x{}",
        .dataset.display(), .listed.0, .listed.1, .actual.0, .actual.1
    )]
    SizeMismatch {
        dataset: PathBuf,
        file_name: String,
        listed: (u32, u32),
        actual: (u32, u32),
    },
}

pub struct Project {
    pub dataset: Dataset,
    pub path: PathBuf,
    /// The dataset's folder: image `file_name`s are relative to it.
    pub root: PathBuf,
    saved_revision: u64,
    /// When the first unsaved edit happened.
    dirty_since: Option<Instant>,
    /// Set when the file exists but cannot be read: samlabel then never overwrites it.
    pub load_error: Option<String>,
    /// Set when another samlabel process has the dataset open: this one only reads it.
    pub busy: Option<String>,
    /// Held while this process may save the dataset.
    _lock: Option<DatasetLock>,
    pub last_saved: Option<Instant>,
    /// The last image changed since the file was written (no edit of its own: it does not make the
    /// dataset dirty, it is written with the next save).
    position_unsaved: bool,
}

/// The key in the dataset's `info` that holds the image last on screen; COCO readers ignore it.
const LAST_IMAGE_KEY: &str = "samlabel_last_image";

impl Project {
    /// Opens `path`, or starts an empty dataset there if it does not exist. A file that exists but
    /// cannot be read is never overwritten: the project stays read-only and says why.
    pub fn open(path: &Path) -> (Self, Vec<String>) {
        let mut warnings = Vec::new();
        let (lock, busy) = match DatasetLock::acquire(path) {
            Ok(lock) => (Some(lock), None),
            Err(err @ LockError::Busy { .. }) => (
                None,
                Some(format!(
                    "{err}: opened read-only, edits here are not saved. Close the other window to edit."
                )),
            ),
            // A folder samlabel cannot write to: saving will say so; reading still works.
            Err(err @ LockError::Io { .. }) => {
                warnings.push(format!("{err}; the dataset may not be saved"));
                (None, None)
            }
        };
        let (dataset, load_error) = if path.exists() {
            match coco::load(path) {
                Ok(imported) => {
                    warnings.extend(
                        imported
                            .warnings
                            .iter()
                            .map(|w| format!("{}: {w}", path.display())),
                    );
                    if !imported.missing_images.is_empty() {
                        warnings.push(format!(
                            "{} images listed in {} are missing (moved or deleted); their annotations are kept",
                            imported.missing_images.len(),
                            path.display()
                        ));
                    }
                    (imported.dataset, None)
                }
                Err(err) => {
                    let bak = coco::backup_path(path);
                    let hint = if bak.is_file() {
                        format!(
                            "; the previous version is in {} (Restore it from the side panel)",
                            bak.display()
                        )
                    } else {
                        String::new()
                    };
                    (
                        Dataset::new(),
                        Some(format!(
                            "{err}. samlabel will not overwrite it: fix or move the file{hint}"
                        )),
                    )
                }
            }
        } else {
            (Dataset::new(), None)
        };
        let project = Self::with(path, dataset, lock, load_error, busy);
        (project, warnings)
    }

    /// Opens `path` for a script: like `open`, but a dataset that another process holds or that cannot
    /// be read is an error instead of a read-only project.
    pub fn open_for_writing(path: &Path) -> Result<(Self, Vec<String>), ProjectError> {
        let lock = DatasetLock::acquire(path)?;
        let (dataset, warnings) = if path.exists() {
            let imported = coco::load(path).map_err(ProjectError::Load)?;
            let warnings = imported
                .warnings
                .iter()
                .map(|w| format!("{}: {w}", path.display()))
                .collect();
            (imported.dataset, warnings)
        } else {
            (Dataset::new(), Vec::new())
        };
        Ok((Self::with(path, dataset, Some(lock), None, None), warnings))
    }

    fn with(
        path: &Path,
        dataset: Dataset,
        lock: Option<DatasetLock>,
        load_error: Option<String>,
        busy: Option<String>,
    ) -> Self {
        Self {
            saved_revision: dataset.revision(),
            dataset,
            path: path.to_path_buf(),
            root: path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            dirty_since: None,
            load_error,
            busy,
            _lock: lock,
            last_saved: None,
            position_unsaved: false,
        }
    }

    /// Adds `mask` as an annotation of `category` on the image file `image` (listed in the dataset
    /// with `size` if it is new). A dataset that lists the image with another size is refused: the
    /// mask would not line up.
    pub fn add_mask(
        &mut self,
        image: &Path,
        size: (u32, u32),
        category: CategoryId,
        mask: &Mask,
    ) -> Result<AnnotationId, ProjectError> {
        let rle = Rle::from_mask(mask);
        self.add_segmentation(
            image,
            size,
            category,
            Segmentation::CompressedRle(rle.clone()),
            &rle,
        )
    }

    /// Adds an annotation of `category` with `segmentation`, whose mask is `rle` (area and bbox
    /// come from it), on the image file `image`, as `add_mask` does.
    pub fn add_segmentation(
        &mut self,
        image: &Path,
        size: (u32, u32),
        category: CategoryId,
        segmentation: Segmentation,
        rle: &Rle,
    ) -> Result<AnnotationId, ProjectError> {
        let file_name = self.file_name_for(image);
        let actual = (rle.width, rle.height);
        let image_id = self.dataset.ensure_image(&file_name, size.0, size.1)?;
        let listed = self
            .dataset
            .image(image_id)
            .map_or(size, |i| (i.width, i.height));
        if listed != actual {
            return Err(ProjectError::SizeMismatch {
                dataset: self.path.clone(),
                file_name,
                listed,
                actual,
            });
        }
        let (area, bbox) = measures(rle);
        let annotation = Annotation {
            id: self.dataset.next_annotation_id(),
            image_id,
            category_id: category,
            segmentation,
            area,
            bbox,
            iscrowd: 0,
            extra: serde_json::Map::new(),
        };
        let id = annotation.id;
        self.dataset.apply(Edit::AddAnnotation(annotation))?;
        self.touched();
        Ok(id)
    }

    /// Lists an image file (with its size) in the dataset without an undo step: COCO keeps images
    /// without annotations, and opening one is no edit to take back.
    pub fn list_image(
        &mut self,
        file_name: &str,
        size: (u32, u32),
    ) -> Result<ImageId, ProjectError> {
        let revision = self.dataset.revision();
        let id = self.dataset.list_image(file_name, size.0, size.1)?;
        if self.dataset.revision() != revision {
            self.touched();
        }
        Ok(id)
    }

    /// The image the user last had on screen (kept in the dataset's `info`).
    pub fn last_image(&self) -> Option<&str> {
        self.dataset.info.get(LAST_IMAGE_KEY)?.as_str()
    }

    /// Remembers the image on screen; written with the next save, and on close.
    pub fn set_last_image(&mut self, file_name: &str) {
        let value = serde_json::Value::from(file_name);
        if self.dataset.info.get(LAST_IMAGE_KEY) != Some(&value) {
            self.dataset.info.insert(LAST_IMAGE_KEY.to_string(), value);
            self.position_unsaved = true;
        }
    }

    /// Applies an edit (recorded for undo) and starts the autosave clock.
    pub fn apply(&mut self, edit: Edit) -> Result<(), ProjectError> {
        self.dataset.apply(edit)?;
        self.touched();
        Ok(())
    }

    /// Why edits are not saved, if they are not.
    pub fn read_only_reason(&self) -> Option<&str> {
        self.load_error.as_deref().or(self.busy.as_deref())
    }

    /// The previous version, when the dataset file is unreadable and `NAME.bak` exists.
    pub fn recoverable_backup(&self) -> Option<PathBuf> {
        let bak = coco::backup_path(&self.path);
        (self.load_error.is_some() && self.busy.is_none() && bak.is_file()).then_some(bak)
    }

    /// Replaces the unreadable dataset with its `.bak`: the unreadable file is kept as
    /// `NAME.unreadable` (never deleted), the backup is loaded and saved as the dataset.
    /// Returns the import's warnings; the error is a sentence for the user.
    pub fn restore_backup(&mut self) -> Result<Vec<String>, String> {
        let bak = self
            .recoverable_backup()
            .ok_or_else(|| "there is no backup to restore".to_string())?;
        let imported =
            coco::load(&bak).map_err(|e| format!("the backup cannot be read either: {e}"))?;
        let keep = self.path.with_added_extension("unreadable");
        std::fs::rename(&self.path, &keep).map_err(|e| {
            format!(
                "cannot move the unreadable {} aside: {e}",
                self.path.display()
            )
        })?;
        coco::save(&imported.dataset, &self.path)
            .map_err(|e| format!("the backup was read but cannot be saved: {e}"))?;
        self.dataset = imported.dataset;
        self.saved_revision = self.dataset.revision();
        self.dirty_since = None;
        self.load_error = None;
        self.last_saved = Some(Instant::now());
        let mut notes: Vec<String> = imported.warnings.iter().map(ToString::to_string).collect();
        notes.push(format!(
            "restored {} from {}; the unreadable file is kept as {}",
            self.path.display(),
            bak.display(),
            keep.display()
        ));
        Ok(notes)
    }

    /// The dataset name of an image file: relative to the dataset folder, `/`-separated.
    pub fn file_name_for(&self, image: &Path) -> String {
        file_name_in(&self.root, image)
    }

    /// Records that an edit happened (starts the autosave clock).
    pub fn touched(&mut self) {
        if self.dirty_since.is_none() {
            self.dirty_since = Some(Instant::now());
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dataset.revision() != self.saved_revision
    }

    /// How long until an autosave is due (zero: now); None when nothing is unsaved.
    pub fn save_due(&mut self, delay: Duration) -> Option<Duration> {
        if !self.is_dirty() || self.read_only_reason().is_some() {
            return None;
        }
        let since = *self.dirty_since.get_or_insert_with(Instant::now);
        Some(delay.saturating_sub(since.elapsed()))
    }

    /// Saves if there are unsaved edits (or, to an existing file, a new last image).
    pub fn save(&mut self) -> Result<(), ProjectError> {
        if !self.is_dirty() {
            if self.position_unsaved && self.read_only_reason().is_none() && self.path.is_file() {
                coco::save(&self.dataset, &self.path).map_err(ProjectError::Save)?;
                self.position_unsaved = false;
            }
            return Ok(());
        }
        if let Some(reason) = self.read_only_reason() {
            return Err(ProjectError::ReadOnly(reason.to_string()));
        }
        coco::save(&self.dataset, &self.path).map_err(ProjectError::Save)?;
        self.position_unsaved = false;
        self.saved_revision = self.dataset.revision();
        self.dirty_since = None;
        self.last_saved = Some(Instant::now());
        Ok(())
    }
}

fn recent_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("samlabel").join("recent.json"))
}

/// Recently opened datasets, newest first, only those that still exist.
pub fn recent() -> Vec<PathBuf> {
    let Some(file) = recent_file() else {
        return Vec::new();
    };
    let list: Vec<PathBuf> = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    list.into_iter().filter(|p| p.is_file()).collect()
}

/// Puts `path` first in the recent list (best effort: a read-only config folder is no error).
pub fn remember_recent(path: &Path) {
    let Some(file) = recent_file() else { return };
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut list = recent();
    list.retain(|p| *p != path);
    list.insert(0, path);
    list.truncate(10);
    if let Some(parent) = file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(json) = serde_json::to_vec_pretty(&list) {
        let _ = std::fs::write(file, json);
    }
}
