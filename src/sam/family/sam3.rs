//! SAM 3 in samexporter's layout (`export_sam3.py`), the layout X-AnyLabeling downloads: three
//! graphs and CLIP's vocabulary, no `model.json`.
//!
//! - `sam3_image_encoder.onnx`: `image` `uint8 [3, S, S]` (RGB, stretched; normalized in the graph)
//!   -> `vision_pos_enc_0..2` and `backbone_fpn_0..2` (`[1, D, S/3.5, ..]`, `/7`, `/14`);
//! - `sam3_language_encoder.onnx`: `tokens` `int64 [1, 32]` -> `text_attention_mask` (`true` =
//!   padding), `text_memory`, `text_embeds`;
//! - `sam3_decoder.onnx`: `original_height` / `original_width` (`int64` scalars), the image tensors,
//!   `language_mask` / `language_features` / `language_embeds`, `box_coords` `[K, 1, 4]`,
//!   `box_labels` `[K, 1]`, `box_masks` `[1, K]` -> `boxes` `[N, 4]`, `scores` `[N]`, `masks`
//!   `bool [N, 1, H, W]`.
//!
//! Exporters drop decoder inputs the graph does not read (`vision_pos_enc_0/1`, `language_embeds`
//! in the exports seen so far), so the decoder is fed exactly what it declares, by name.

use std::path::Path;

use ort::session::Session;

use super::{fmt_shape, input_shape, mismatch, names, need, only_input};
use crate::sam::model::ModelError;

/// The three graphs, in the order encoder, language encoder, decoder.
pub const FILES: [&str; 3] = [
    "sam3_image_encoder.onnx",
    "sam3_language_encoder.onnx",
    "sam3_decoder.onnx",
];
/// Encoder outputs whose values depend only on the input size (position encodings).
const CONSTANT_PREFIX: &str = "vision_pos_enc";

/// The language encoder's outputs, by name.
#[derive(Clone, Debug)]
pub struct LanguageIo {
    pub mask: String,
    pub memory: String,
    pub embeds: String,
}

/// The decoder's outputs, by name.
#[derive(Clone, Debug)]
pub struct DecoderOutputs {
    pub boxes: String,
    pub scores: String,
    pub masks: String,
}

/// What one decoder input is fed with.
#[derive(Clone, Debug)]
pub enum DecoderFeed {
    OriginalHeight(String),
    OriginalWidth(String),
    /// The image's `i`-th feature tensor ([`ConceptIo::image_inputs`]).
    Image(String, usize),
    /// The `i`-th constant encoder output ([`ConceptIo::constant_inputs`]).
    Constant(String, usize),
    LanguageMask(String),
    LanguageFeatures(String),
    LanguageEmbeds(String),
    BoxCoords(String),
    BoxLabels(String),
    BoxMasks(String),
}

/// Everything the app needs to know about a SAM 3 model's graphs.
#[derive(Clone, Debug)]
pub struct ConceptIo {
    pub image_input: String,
    /// Side of the square image input.
    pub input_size: u32,
    pub tokens_input: String,
    /// Tokens per phrase.
    pub context: usize,
    pub language: LanguageIo,
    /// Encoder outputs the decoder reads that depend on the image (stored per image).
    pub image_inputs: Vec<String>,
    /// Encoder outputs the decoder reads that do not (kept once).
    pub constant_inputs: Vec<String>,
    /// Every decoder input, in the decoder's order.
    pub decoder_feeds: Vec<DecoderFeed>,
    /// Example-box slots of the decoder, `None` when the axis is dynamic.
    pub box_slots: Option<usize>,
    pub outputs: DecoderOutputs,
}

pub fn inspect(
    (encoder, encoder_path): (&Session, &Path),
    (language, language_path): (&Session, &Path),
    (decoder, decoder_path): (&Session, &Path),
) -> Result<ConceptIo, ModelError> {
    let error = mismatch(encoder_path, "SAM 3 image encoder");
    let (image_input, shape) = only_input(encoder, "image", &error)?;
    let input_size = match shape[..] {
        [3, h, w] if h == w && h > 0 => h as u32,
        _ => {
            return Err(error(format!(
                "input `{image_input}` has shape {}, expected [3, S, S] (uint8 RGB, e.g. [3, 1008, \
                 1008])",
                fmt_shape(&shape)
            )));
        }
    };
    let encoder_outputs: Vec<&str> = encoder.outputs().iter().map(|o| o.name()).collect();

    let error = mismatch(language_path, "SAM 3 language encoder");
    let (tokens_input, shape) = only_input(language, "`tokens`", &error)?;
    let context = match shape[..] {
        [1, c] if c > 0 => c as usize,
        [1, _] => crate::sam::tokenizer::CONTEXT,
        _ => {
            return Err(error(format!(
                "input `{tokens_input}` has shape {}, expected [1, 32]",
                fmt_shape(&shape)
            )));
        }
    };
    let outputs: Vec<&str> = language.outputs().iter().map(|o| o.name()).collect();
    let language_io = LanguageIo {
        mask: need(&outputs, "text_attention_mask", "output", &error)?,
        memory: need(&outputs, "text_memory", "output", &error)?,
        embeds: need(&outputs, "text_embeds", "output", &error)?,
    };

    let error = mismatch(decoder_path, "SAM 3 decoder");
    let mut image_inputs = Vec::new();
    let mut constant_inputs = Vec::new();
    let mut feeds = Vec::new();
    let mut box_slots = None;
    for input in decoder.inputs() {
        let name = input.name().to_owned();
        let feed = match name.as_str() {
            "original_height" => DecoderFeed::OriginalHeight(name),
            "original_width" => DecoderFeed::OriginalWidth(name),
            "language_mask" => DecoderFeed::LanguageMask(name),
            "language_features" => DecoderFeed::LanguageFeatures(name),
            "language_embeds" => DecoderFeed::LanguageEmbeds(name),
            "box_coords" => {
                let shape = input_shape(decoder, &name);
                box_slots = match shape[..] {
                    [k, 1, 4] => (k > 0).then_some(k as usize),
                    _ => {
                        return Err(error(format!(
                            "input `box_coords` has shape {}, expected [K, 1, 4]",
                            fmt_shape(&shape)
                        )));
                    }
                };
                DecoderFeed::BoxCoords(name)
            }
            "box_labels" => DecoderFeed::BoxLabels(name),
            "box_masks" => DecoderFeed::BoxMasks(name),
            other if encoder_outputs.contains(&other) => {
                if other.starts_with(CONSTANT_PREFIX) {
                    constant_inputs.push(name.clone());
                    DecoderFeed::Constant(name, constant_inputs.len() - 1)
                } else {
                    image_inputs.push(name.clone());
                    DecoderFeed::Image(name, image_inputs.len() - 1)
                }
            }
            other => {
                return Err(error(format!(
                    "unknown input `{other}` (not an image encoder output: {})",
                    names(encoder_outputs.iter())
                )));
            }
        };
        feeds.push(feed);
    }
    let outputs: Vec<&str> = decoder.outputs().iter().map(|o| o.name()).collect();
    let decoder_outputs = DecoderOutputs {
        boxes: need(&outputs, "boxes", "output", &error)?,
        scores: need(&outputs, "scores", "output", &error)?,
        masks: need(&outputs, "masks", "output", &error)?,
    };
    if image_inputs.is_empty() {
        return Err(error(format!(
            "it reads none of the image encoder's outputs ({})",
            names(encoder_outputs.iter())
        )));
    }
    Ok(ConceptIo {
        image_input,
        input_size,
        tokens_input,
        context,
        language: language_io,
        image_inputs,
        constant_inputs,
        decoder_feeds: feeds,
        box_slots,
        outputs: decoder_outputs,
    })
}
