//! Model families: what differs between SAM 1 and SAM 2.1 is found here and nowhere else.
//!
//! Each family module reads a model's two graphs and returns an [`Interface`]: how the encoder wants
//! its image ([`EncoderInput`]), which encoder outputs the decoder reads ([`EmbeddingIo`]), how the
//! decoder wants its prompt ([`PointLayout`]) and how its candidates are chosen ([`TokenRule`]). The
//! encoder, decoder, cache and postprocessing follow those facts and never ask which family a model
//! is. Adding a family is adding a module with an `inspect` function and a line in [`inspect`].

mod sam1;
mod sam2;
pub mod sam3;

use std::path::Path;

use ort::session::Session;
use ort::value::ValueType;

use super::model::{ModelConfig, ModelError};

/// A family of models that share an ONNX interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum Family {
    /// SAM (ViT-B/L/H), MobileSAM, and other exports of `segment_anything`'s interface.
    #[serde(rename = "sam1")]
    Sam1,
    /// SAM 2 and 2.1 (Hiera tiny, small, base+, large) in samexporter's layout.
    #[serde(rename = "sam2")]
    Sam2,
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Sam1 => "SAM",
            Family::Sam2 => "SAM 2.1",
        })
    }
}

/// How the encoder wants its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncoderInput {
    /// `[1, 3, S, S]`: resized longest side to `S` with Pillow's bilinear, normalized, zero-padded.
    Nchw { name: String },
    /// `[H, W, 3]` floats in 0..255, resized by the app; the graph normalizes and pads.
    HwcInGraph { name: String },
    /// `[1, 3, S, S]`: stretched to `S x S` with torch's antialiased bilinear on 0..1 floats, then
    /// normalized (SAM 2's `SAM2Transforms`).
    Stretched { name: String },
}

impl EncoderInput {
    pub fn name(&self) -> &str {
        match self {
            EncoderInput::Nchw { name }
            | EncoderInput::HwcInGraph { name }
            | EncoderInput::Stretched { name } => name,
        }
    }
}

/// One tensor of the embedding: an encoder output that the decoder reads as an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingIo {
    pub encoder_output: String,
    pub decoder_input: String,
    /// `[C, H, W]` (batch dimension 1 dropped).
    pub shape: [usize; 3],
}

/// How a prompt becomes the decoder's `point_coords` / `point_labels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointLayout {
    /// SAM 1's `SamPredictor`: clicks, then the box corners (labels 2, 3); without a box the app
    /// appends the padding point `(0, 0)` with label -1.
    PointsThenBox,
    /// `SAM2ImagePredictor`: the box corners first, then the clicks; the graph appends the padding
    /// point itself (always), so the app does not.
    BoxThenPoints,
}

/// How the candidate to show is chosen among the decoder's outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRule {
    /// Index 0 is the single-mask answer, 1.. the multimask candidates: multimask picks the best of
    /// 1.., otherwise 0.
    SingleFirst,
    /// As `SingleFirst`, but without multimask the single-mask answer is kept only when it is stable
    /// (SAM 2's `dynamic_multimask_via_stability`), else the best of 1..
    SingleFirstIfStable,
    /// Only multimask candidates (samexporter's SAM 2 decoders drop the single-mask token): the best.
    MultimaskOnly,
}

/// What the decoder graph is fed and gives back, by name.
#[derive(Clone, Debug)]
pub struct DecoderIo {
    pub point_coords: String,
    pub point_labels: String,
    pub mask_input: String,
    pub has_mask_input: String,
    /// SAM 1's exports have it (the graph's own upscaled `masks` output, unused here).
    pub orig_im_size: Option<String>,
    pub iou_predictions: String,
    /// The low-res (`256 x 256`) logits of the candidates.
    pub low_res_masks: String,
    pub points: PointLayout,
    /// The rule for a decoder with as many outputs as the family's full set (4); fewer are read
    /// with [`DecoderIo::rule_for`].
    pub tokens: TokenRule,
    /// Whether the logits are clamped to +-32 before upscaling (SAM 2's predictor does).
    pub clamp_logits: bool,
    /// Whether the prompt inputs have a dynamic leading dimension, so that independent prompts
    /// are decoded in one run (SAM 2's exports; SAM 1's official export takes one at a time).
    pub batched: bool,
}

impl DecoderIo {
    /// The token rule for a decoder that returned `count` candidates.
    pub fn rule_for(&self, count: usize) -> TokenRule {
        match (self.tokens, count) {
            (_, 0 | 1) => TokenRule::SingleFirst,
            (TokenRule::SingleFirstIfStable, 3) => TokenRule::MultimaskOnly,
            (rule, _) => rule,
        }
    }
}

/// The normalization the encoder's input gets: `(x - mean) / std`, in the units the family's
/// preprocessing works in (0..255 for SAM 1, 0..1 for SAM 2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// Everything the app needs to know about a model's graphs.
#[derive(Clone, Debug)]
pub struct Interface {
    pub family: Family,
    pub encoder_input: EncoderInput,
    pub normalization: Normalization,
    /// The encoder outputs the decoder reads, in the encoder's order.
    pub embedding: Vec<EmbeddingIo>,
    pub decoder: DecoderIo,
}

impl Interface {
    /// Bytes of one embedding in memory.
    pub fn embedding_bytes(&self) -> usize {
        self.embedding
            .iter()
            .map(|t| t.shape.iter().product::<usize>() * size_of::<f32>())
            .sum()
    }
}

/// Reads both graphs and returns the interface of the family they belong to (`model.json`'s
/// `family`, or detected from the decoder's inputs), or says what does not fit.
pub fn inspect(
    encoder: (&Session, &Path),
    decoder: (&Session, &Path),
    config: &ModelConfig,
) -> Result<Interface, ModelError> {
    let detected = if has_input(decoder.0, sam2::HIGH_RES_0) || has_input(decoder.0, "image_embed")
    {
        Family::Sam2
    } else {
        Family::Sam1
    };
    match config.family.unwrap_or(detected) {
        Family::Sam1 => sam1::inspect(encoder, decoder, config),
        Family::Sam2 => sam2::inspect(encoder, decoder, config),
    }
}

fn has_input(session: &Session, name: &str) -> bool {
    session.inputs().iter().any(|i| i.name() == name)
}

/// The error for a graph that does not fit, naming the part and what differs.
fn mismatch<'a>(path: &'a Path, part: &'static str) -> impl Fn(String) -> ModelError + 'a {
    move |m| ModelError::Interface {
        path: path.to_path_buf(),
        part,
        mismatch: m,
    }
}

fn tensor_shape(dtype: &ValueType) -> Option<Vec<i64>> {
    dtype.tensor_shape().map(|s| s.iter().copied().collect())
}

fn dims_match(actual: &[i64], expected: &[i64]) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(&a, &e)| a < 0 || e < 0 || a == e)
}

fn fmt_shape(shape: &[i64]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|&d| if d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("[{}]", dims.join(", "))
}

fn names(names: impl Iterator<Item = impl AsRef<str>>) -> String {
    names
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name `name` among `available`, or an error listing what there is.
fn need(
    available: &[&str],
    name: &str,
    kind: &str,
    error: &impl Fn(String) -> ModelError,
) -> Result<String, ModelError> {
    available
        .contains(&name)
        .then(|| name.to_string())
        .ok_or_else(|| {
            error(format!(
                "missing {kind} `{name}` ({kind}s: {})",
                names(available.iter())
            ))
        })
}

/// The name and shape of `session`'s only input (`what` it should be, for the error).
fn only_input(
    session: &Session,
    what: &str,
    error: &impl Fn(String) -> ModelError,
) -> Result<(String, Vec<i64>), ModelError> {
    match session.inputs() {
        [input] => Ok((
            input.name().to_owned(),
            tensor_shape(input.dtype()).unwrap_or_default(),
        )),
        inputs => Err(error(format!(
            "expected one {what} input, found {} ({})",
            inputs.len(),
            names(inputs.iter().map(|i| i.name()))
        ))),
    }
}

/// The shape of `session`'s input `name` (empty when it is not a tensor or not there).
fn input_shape(session: &Session, name: &str) -> Vec<i64> {
    session
        .inputs()
        .iter()
        .find(|i| i.name() == name)
        .and_then(|i| tensor_shape(i.dtype()))
        .unwrap_or_default()
}

/// The `[C, H, W]` of a 4-d output shape `[1, C, H, W]`, dynamic dimensions taken from `default`.
fn chw(shape: &[i64], default: [usize; 3]) -> Option<[usize; 3]> {
    if shape.len() != 4 {
        return None;
    }
    let dim = |d: i64, default: usize| if d > 0 { d as usize } else { default };
    Some([
        dim(shape[1], default[0]),
        dim(shape[2], default[1]),
        dim(shape[3], default[2]),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_with_dynamic_dims_match() {
        assert!(dims_match(&[1, 3, -1, -1], &[1, 3, 1024, 1024]));
        assert!(!dims_match(&[1, 3, 512, 512], &[1, 3, 1024, 1024]));
        assert!(!dims_match(&[3, 1024, 1024], &[1, 3, 1024, 1024]));
    }

    #[test]
    fn three_token_sam2_decoders_choose_among_multimask_candidates() {
        let io = DecoderIo {
            point_coords: String::new(),
            point_labels: String::new(),
            mask_input: String::new(),
            has_mask_input: String::new(),
            orig_im_size: None,
            iou_predictions: String::new(),
            low_res_masks: String::new(),
            points: PointLayout::BoxThenPoints,
            tokens: TokenRule::SingleFirstIfStable,
            clamp_logits: true,
            batched: true,
        };
        assert_eq!(io.rule_for(4), TokenRule::SingleFirstIfStable);
        assert_eq!(io.rule_for(3), TokenRule::MultimaskOnly);
        assert_eq!(io.rule_for(1), TokenRule::SingleFirst);
    }
}
