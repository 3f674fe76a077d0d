//! SAM 2 / 2.1 in samexporter's layout: the image stretched to `S x S` with torch's antialiased
//! bilinear on 0..1 floats and normalized with ImageNet's mean and std; three embedding tensors
//! (`image_embed` and two high-resolution feature maps); box corners before the clicks, the padding
//! point and the +0.5 shift added by the graph; `SAM2ImagePredictor`'s candidate choice.

use std::path::Path;

use ort::session::Session;

use super::{
    DecoderIo, EmbeddingIo, EncoderInput, Family, Interface, Normalization, PointLayout, TokenRule,
    chw, dims_match, fmt_shape, input_shape, mismatch, names, need, only_input, tensor_shape,
};
use crate::sam::model::{ModelConfig, ModelError};

pub const HIGH_RES_0: &str = "high_res_feats_0";
const HIGH_RES_1: &str = "high_res_feats_1";
const IMAGE_EMBED: &str = "image_embed";

/// ImageNet's mean and std in 0..1, as `SAM2Transforms` normalizes.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

pub fn inspect(
    (encoder, encoder_path): (&Session, &Path),
    (decoder, decoder_path): (&Session, &Path),
    config: &ModelConfig,
) -> Result<Interface, ModelError> {
    let s = config.input_size as usize;
    // The embedding tensors, in the encoder's order, with their shapes for an `S x S` input.
    let expected = [
        (HIGH_RES_0, [32, s / 4, s / 4]),
        (HIGH_RES_1, [64, s / 8, s / 8]),
        (IMAGE_EMBED, [256, s / 16, s / 16]),
    ];

    let error = mismatch(encoder_path, "SAM 2 image encoder");
    let (input_name, shape) = only_input(encoder, "image", &error)?;
    let side = s as i64;
    if !dims_match(&shape, &[1, 3, side, side]) {
        return Err(error(format!(
            "input `{}` has shape {}, expected [1, 3, {s}, {s}] (the image stretched to {s}x{s}); \
             encoders that preprocess in the graph are not supported for SAM 2",
            input_name,
            fmt_shape(&shape)
        )));
    }
    let outputs: Vec<&str> = encoder.outputs().iter().map(|o| o.name()).collect();
    let mut embedding = Vec::new();
    for (name, default) in expected {
        need(&outputs, name, "output", &error)?;
        let shape = encoder
            .outputs()
            .iter()
            .find(|o| o.name() == name)
            .and_then(|o| tensor_shape(o.dtype()))
            .unwrap_or_default();
        let [c, h, w] = default.map(|d| d as i64);
        let found = chw(&shape, default).filter(|_| dims_match(&shape, &[1, c, h, w]));
        let Some(shape) = found else {
            return Err(error(format!(
                "output `{name}` has shape {}, expected {}",
                fmt_shape(&shape),
                fmt_shape(&[1, c, h, w])
            )));
        };
        embedding.push(EmbeddingIo {
            encoder_output: name.into(),
            decoder_input: name.into(),
            shape,
        });
    }

    let error = mismatch(decoder_path, "SAM 2 mask decoder");
    let inputs: Vec<&str> = decoder.inputs().iter().map(|i| i.name()).collect();
    let outputs: Vec<&str> = decoder.outputs().iter().map(|o| o.name()).collect();
    if inputs.contains(&"orig_im_size") {
        return Err(error(
            "this decoder takes `orig_im_size` and upscales the masks in the graph; samlabel needs \
             the 256x256 low-res logits (samexporter's layout: inputs image_embed, high_res_feats_0, \
             high_res_feats_1, point_coords, point_labels, mask_input, has_mask_input)"
                .into(),
        ));
    }
    for tensor in &embedding {
        need(&inputs, &tensor.decoder_input, "input", &error)?;
        let shape = input_shape(decoder, &tensor.decoder_input);
        let [c, h, w] = tensor.shape.map(|d| d as i64);
        if !dims_match(&shape, &[-1, c, h, w]) && !dims_match(&shape, &[c, h, w]) {
            return Err(error(format!(
                "input `{}` has shape {}, but the encoder produces {}: encoder and decoder do not \
                 belong together",
                tensor.decoder_input,
                fmt_shape(&shape),
                fmt_shape(&[1, c, h, w])
            )));
        }
    }
    let masks = ["masks", "low_res_masks"]
        .into_iter()
        .find(|n| outputs.contains(n))
        .ok_or_else(|| {
            error(format!(
                "no `masks` output (outputs: {})",
                names(outputs.iter())
            ))
        })?;
    let mask_shape = decoder
        .outputs()
        .iter()
        .find(|o| o.name() == masks)
        .and_then(|o| tensor_shape(o.dtype()))
        .unwrap_or_default();
    if !dims_match(&mask_shape, &[-1, -1, 256, 256]) {
        return Err(error(format!(
            "output `{masks}` has shape {}, expected [L, K, 256, 256] low-res logits",
            fmt_shape(&mask_shape)
        )));
    }
    let point_coords = need(&inputs, "point_coords", "input", &error)?;
    let batched = input_shape(decoder, &point_coords)
        .first()
        .is_some_and(|&d| d < 0);
    let io = DecoderIo {
        point_coords,
        point_labels: need(&inputs, "point_labels", "input", &error)?,
        mask_input: need(&inputs, "mask_input", "input", &error)?,
        has_mask_input: need(&inputs, "has_mask_input", "input", &error)?,
        orig_im_size: None,
        iou_predictions: need(&outputs, "iou_predictions", "output", &error)?,
        low_res_masks: masks.to_string(),
        points: PointLayout::BoxThenPoints,
        tokens: TokenRule::SingleFirstIfStable,
        clamp_logits: true,
        batched,
    };
    Ok(Interface {
        family: Family::Sam2,
        encoder_input: EncoderInput::Stretched { name: input_name },
        normalization: Normalization {
            mean: config.pixel_mean.unwrap_or(MEAN),
            std: config.pixel_std.unwrap_or(STD),
        },
        embedding,
        decoder: io,
    })
}
