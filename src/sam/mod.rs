//! Everything that touches ONNX Runtime: finding the library, loading a SAM model, encoding an image
//! and decoding prompts into masks.

pub mod cache;
pub mod concept;
pub mod decoder;
pub mod encoder;
pub mod everything;
pub mod family;
pub mod hub;
mod interpolate;
pub mod model;
pub mod postprocess;
pub mod preprocess;
mod resample;
pub mod runtime;
pub mod tokenizer;

use crate::annotate::mask::Mask;

pub use decoder::{Candidates, Multimask, PointPrompt, Prompt, PromptError, select_candidate};
pub use encoder::{CancelToken, Embedding, EncodeTimings};
pub use model::{ModelConfig, ModelError, SamModel, SessionOptions};
pub use runtime::{Device, Provider, Runtime, RuntimeError};

/// Failures while running a loaded model.
#[derive(Debug, thiserror::Error)]
pub enum SamError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("the encode was cancelled")]
    Cancelled,
    #[error("the image is empty (0 pixels)")]
    EmptyImage,
    #[error("nothing to find: give a phrase or an example box")]
    EmptyQuery,
    #[error(
        "this SAM 3 decoder takes at most {capacity} example boxes per query; {given} were given"
    )]
    TooManyBoxes { given: usize, capacity: usize },
    #[error("ONNX Runtime failed: {0}")]
    Ort(#[from] ort::Error),
    #[error("the model has no output `{0}`")]
    MissingOutput(String),
    #[error("the model's output `{name}` has the unexpected shape {shape:?}")]
    BadOutputShape { name: String, shape: Vec<usize> },
}

/// One answer to a prompt: the chosen candidate as a full-resolution mask.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The chosen candidate's mask (at the image's size unless asked for another).
    pub mask: Mask,
    /// Predicted IoU of the chosen candidate.
    pub score: f32,
    /// Index of the chosen candidate among the decoder's outputs.
    pub index: usize,
    pub candidates: Candidates,
    /// The transform the logits belong to, for upscaling another candidate later.
    pub model_from_image: preprocess::ModelFromImage,
    /// Time in the decoder (ONNX Runtime) and in making `mask`.
    pub decoder: std::time::Duration,
    pub postprocess: std::time::Duration,
}

impl Prediction {
    /// Low-res logits of the chosen candidate: feed them back as `Prompt::mask_input` to refine.
    pub fn low_res_logits(&self) -> &[f32] {
        self.candidates.logits(self.index)
    }
}

impl SamModel {
    /// Decodes `prompt`, picks a candidate and upscales it to the image size.
    pub fn predict(
        &mut self,
        embedding: &Embedding,
        prompt: &Prompt,
        multimask: Multimask,
    ) -> Result<Prediction, SamError> {
        let size = embedding.model_from_image.image_size;
        self.predict_at(embedding, prompt, multimask, size)
    }

    /// `predict` with the mask made at `(width, height)` covering the whole image: a smaller size
    /// gives a quick preview; the image's own size is SamPredictor's exact mask. This is the window's
    /// click (at `postprocess::preview_size`), and what `bench` times.
    pub fn predict_at(
        &mut self,
        embedding: &Embedding,
        prompt: &Prompt,
        multimask: Multimask,
        (width, height): (u32, u32),
    ) -> Result<Prediction, SamError> {
        let start = std::time::Instant::now();
        let candidates = self.decode(embedding, prompt)?;
        let decoder = start.elapsed();
        let index = select_candidate(&candidates, multimask, prompt);
        let t = embedding.model_from_image;
        let start = std::time::Instant::now();
        let mask = postprocess::mask_at(candidates.logits(index), &t, width, height);
        let postprocess = start.elapsed();
        Ok(Prediction {
            decoder,
            postprocess,
            mask,
            score: candidates.iou[index],
            index,
            candidates,
            model_from_image: t,
        })
    }
}
