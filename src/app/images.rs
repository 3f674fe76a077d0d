//! The images of the open dataset: the list with each image's embedding state, the current image, the
//! image on screen, and which images to encode ahead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use egui::TextureHandle;
use image::RgbImage;

use super::prompt::PromptState;
use crate::imageio::natural_cmp;

/// How many images after the current one are encoded in the background.
const PREFETCH_AHEAD: usize = 2;

/// State of an image's embedding, shown in the image list.
#[derive(Clone, Debug, PartialEq)]
pub enum EmbedState {
    Waiting,
    Encoding(Instant),
    Ready,
    Failed(String),
}

pub struct ImageItem {
    pub path: PathBuf,
    /// Name in the dataset (relative to its folder).
    pub file_name: String,
    pub embed: EmbedState,
    pub missing: bool,
    /// The prompt left on this image without Enter, kept for when the user comes back.
    parked: Option<Box<PromptState>>,
}

impl ImageItem {
    /// Whether a mask made on this image waits to be accepted.
    pub fn has_unaccepted(&self) -> bool {
        self.parked.is_some()
    }
}

/// The image on screen, once loaded.
pub struct View {
    pub path: PathBuf,
    pub image: Arc<RgbImage>,
    pub texture: TextureHandle,
    /// Shown over the image while it is on screen (a file cut short).
    pub warning: Option<String>,
}

/// What the worker should do for a newly selected image.
pub struct Selected {
    pub open: PathBuf,
    pub prefetch: Vec<PathBuf>,
}

#[derive(Default)]
pub struct Images {
    items: Vec<ImageItem>,
    current: Option<usize>,
    view: Option<View>,
}

impl Images {
    pub fn items(&self) -> &[ImageItem] {
        &self.items
    }

    pub fn current_index(&self) -> Option<usize> {
        self.current
    }

    pub fn current(&self) -> Option<&ImageItem> {
        self.current.and_then(|i| self.items.get(i))
    }

    pub fn view(&self) -> Option<&View> {
        self.view.as_ref()
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Adds an image unless one of that dataset name is listed.
    pub fn add(&mut self, path: PathBuf, file_name: String) {
        if self.items.iter().any(|i| i.file_name == file_name) {
            return;
        }
        let missing = !path.is_file();
        self.items.push(ImageItem {
            path,
            file_name,
            embed: EmbedState::Waiting,
            missing,
            parked: None,
        });
    }

    /// Orders the list as file browsers do (`img2` before `img10`), keeping the current image.
    pub fn sort_natural(&mut self) {
        let current = self.current().map(|i| i.path.clone());
        self.items
            .sort_by(|a, b| natural_cmp(&a.file_name, &b.file_name));
        self.current = current.and_then(|p| self.items.iter().position(|i| i.path == p));
    }

    /// Keeps the current image's unaccepted prompt with it.
    pub fn park(&mut self, prompt: PromptState) {
        if let Some(item) = self.current.and_then(|i| self.items.get_mut(i)) {
            item.parked = Some(Box::new(prompt));
        }
    }

    /// The prompt kept with image `index`, taken back.
    pub fn unpark(&mut self, index: usize) -> Option<PromptState> {
        self.items
            .get_mut(index)
            .and_then(|i| i.parked.take())
            .map(|p| *p)
    }

    pub fn parked_count(&self) -> usize {
        self.items.iter().filter(|i| i.parked.is_some()).count()
    }

    /// Whether `select(index)` would change anything.
    pub fn is_selectable(&self, index: usize) -> bool {
        index < self.items.len() && (self.current != Some(index) || self.view.is_none())
    }

    /// Makes image `index` current (its view comes when the loader has read it). Returns what to
    /// load and prefetch; the error is a sentence for the user about a missing file.
    pub fn select(&mut self, index: usize) -> Result<Selected, String> {
        self.current = Some(index);
        self.view = None;
        let item = &self.items[index];
        if item.missing {
            return Err(format!(
                "{} is missing; its annotations are kept",
                item.path.display()
            ));
        }
        Ok(Selected {
            open: item.path.clone(),
            prefetch: self.prefetch_after(index),
        })
    }

    /// The images to encode ahead of the user after image `index`.
    fn prefetch_after(&self, index: usize) -> Vec<PathBuf> {
        self.items
            .iter()
            .skip(index + 1)
            .filter(|i| !i.missing)
            .take(PREFETCH_AHEAD)
            .map(|i| i.path.clone())
            .collect()
    }

    /// The loader read `path`: shows it if it is still the current image.
    pub fn loaded(&mut self, view: View) -> bool {
        let current = self.current().is_some_and(|i| i.path == view.path);
        if current {
            self.view = Some(view);
        }
        current
    }

    pub fn set_embed(&mut self, path: &Path, state: EmbedState) {
        if let Some(item) = self.items.iter_mut().find(|i| i.path == path) {
            item.embed = state;
        }
    }

    /// Another model is in use: no image is encoded with it yet, and the prompts set aside on other
    /// images forget the old model's answers. Returns the current image's path and pixels (to encode
    /// again) and the images to prefetch.
    pub fn model_changed(&mut self) -> (Option<(PathBuf, Arc<RgbImage>)>, Vec<PathBuf>) {
        for item in &mut self.items {
            item.embed = EmbedState::Waiting;
            if let Some(prompt) = item.parked.as_mut() {
                prompt.model_changed();
            }
        }
        let current = self
            .view
            .as_ref()
            .map(|v| (v.path.clone(), v.image.clone()));
        let prefetch = self
            .current
            .map(|index| self.prefetch_after(index))
            .unwrap_or_default();
        (current, prefetch)
    }

    /// The current image is on screen and its embedding is ready: clicks can be decoded.
    pub fn is_ready(&self) -> bool {
        self.current().is_some_and(|i| i.embed == EmbedState::Ready) && self.view.is_some()
    }

    pub fn is_encoding(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.embed, EmbedState::Encoding(_)))
    }
}
