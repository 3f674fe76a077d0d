//! What the window and the worker say to each other: requests, answers, and the masks to render.

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use crate::annotate::mask::Mask;
use crate::project::boxes::{BoxJob, BoxMask};
use crate::sam::concept::{ExampleBox, Instance};
use crate::sam::everything::{EverythingOptions, Proposal};
use crate::sam::hub::ModelSource;
use crate::sam::preprocess::ModelFromImage;
use crate::sam::{Multimask, Prediction, Prompt, postprocess};

#[derive(Debug)]
pub enum Request {
    /// Load the image for display and encode it (before anything but a decode).
    Open(PathBuf),
    /// Encode these images in the background, in order, when idle; replaces the previous list.
    Prefetch(Vec<PathBuf>),
    /// Decode a prompt; the chosen candidate comes back as a mask of `preview_size`.
    Decode {
        seq: u64,
        path: PathBuf,
        prompt: Prompt,
        multimask: Multimask,
        preview_size: (u32, u32),
    },
    /// Make a candidate's logits into a mask (Tab, accept, brush, the zoomed-in detail).
    Render(RenderJob),
    /// Load another model and use it from now on (the images encoded so far are forgotten); the old
    /// one stays if the new one cannot be used.
    UseModel(ModelSource),
    /// Encode an image already on screen again (after a model change).
    Encode(PathBuf, Arc<RgbImage>),
    /// Propose every object on an image on screen (its embedding is made first if needed).
    Everything {
        path: PathBuf,
        image: Arc<RgbImage>,
        options: EverythingOptions,
    },
    /// Stop the running segment-everything (between two batches of points).
    CancelEverything,
    /// Find every instance of phrases (and/or like example boxes) with the SAM 3 model.
    Find(FindJob),
    /// Use the SAM 3 model in this folder for Find from now on.
    UseFindModel(PathBuf),
    /// SAM's mask for each box of an image on screen (its embedding is made first if needed).
    BoxMasks(BoxMaskJob),
}

/// The box-only annotations of an image on screen, to give masks.
#[derive(Debug)]
pub struct BoxMaskJob {
    pub path: PathBuf,
    pub image: Arc<RgbImage>,
    pub boxes: Vec<BoxJob>,
}

/// One Find on an image on screen.
#[derive(Debug)]
pub struct FindJob {
    pub path: PathBuf,
    pub image: Arc<RgbImage>,
    /// Each phrase is searched on its own; none: the example boxes alone.
    pub phrases: Vec<String>,
    pub boxes: Vec<ExampleBox>,
    pub threshold: f32,
}

/// What one phrase found.
#[derive(Debug)]
pub struct FoundPhrase {
    /// `None` for a query of example boxes alone.
    pub phrase: Option<String>,
    /// Best first.
    pub instances: Vec<Instance>,
}

/// One candidate's low-res logits and the mask to make of them.
#[derive(Debug)]
pub struct RenderJob {
    /// The decode the logits came from, and the candidate.
    pub seq: u64,
    pub index: usize,
    pub logits: Vec<f32>,
    pub model_from_image: ModelFromImage,
    pub target: RenderTarget,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RenderTarget {
    /// The whole image at this size (the click preview's).
    Whole((u32, u32)),
    /// The whole image at its own size: exactly `SamPredictor`'s mask.
    Full,
    /// Part of the image (`[x0, y0, x1, y1]` in image pixels) at this size: the view zoomed in.
    Region([f32; 4], (u32, u32)),
}

impl RenderJob {
    pub(super) fn render(&self) -> Mask {
        let t = &self.model_from_image;
        match self.target {
            RenderTarget::Whole((w, h)) => postprocess::mask_at(&self.logits, t, w, h),
            RenderTarget::Full => postprocess::mask_in_image(&self.logits, t),
            RenderTarget::Region(region, (w, h)) => {
                postprocess::mask_region(&self.logits, t, region, w, h)
            }
        }
    }
}

#[derive(Debug)]
pub enum Response {
    Downloading {
        done: u64,
        total: u64,
    },
    ModelReady {
        name: String,
        /// "SAM" or "SAM 2.1", for the status bar.
        family: String,
        provider: String,
        notices: Vec<String>,
    },
    ModelFailed(String),
    /// `Request::UseModel` failed; the model in use stays.
    ModelSwitchFailed(String),
    ImageLoaded {
        path: PathBuf,
        image: Arc<RgbImage>,
        /// Said once the image shows, e.g. that only the first frame of an animation is used.
        note: Option<String>,
        /// Shown on the image as long as it is on screen: the file is cut short.
        warning: Option<String>,
    },
    ImageFailed {
        path: PathBuf,
        message: String,
    },
    EncodeStarted {
        path: PathBuf,
    },
    Encoded {
        path: PathBuf,
        millis: f64,
    },
    EncodeFailed {
        path: PathBuf,
        message: String,
    },
    /// A prefetch encode gave way to the user's work; it is retried later.
    EncodeCancelled {
        path: PathBuf,
    },
    Decoded {
        seq: u64,
        path: PathBuf,
        /// The chosen candidate's mask is at the requested preview size.
        prediction: Box<Prediction>,
        /// Decoder plus preview upscaling.
        millis: f64,
    },
    Rendered {
        seq: u64,
        index: usize,
        target: RenderTarget,
        mask: Mask,
    },
    DecodeFailed {
        seq: u64,
        message: String,
    },
    EverythingProgress {
        path: PathBuf,
        done: usize,
        total: usize,
    },
    /// Segment-everything's proposals, in the official generator's order.
    Everything {
        path: PathBuf,
        proposals: Vec<Proposal>,
    },
    /// It failed or was cancelled (`message` says which).
    EverythingFailed {
        path: PathBuf,
        message: String,
    },
    Found {
        path: PathBuf,
        found: Vec<FoundPhrase>,
        millis: f64,
    },
    FindFailed {
        path: PathBuf,
        message: String,
    },
    /// What a Find is doing while the user waits (loading the model, encoding the image).
    FindProgress {
        path: PathBuf,
        stage: &'static str,
    },
    FindModelReady {
        name: String,
        dir: PathBuf,
    },
    FindModelFailed(String),
    /// The masks of a `Request::BoxMasks`, in its order.
    BoxMasks {
        path: PathBuf,
        masks: Vec<(BoxJob, BoxMask)>,
    },
    BoxMasksFailed {
        path: PathBuf,
        message: String,
    },
}
