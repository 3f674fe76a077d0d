//! SAM 1 (`segment_anything`'s ONNX interface): one `image_embeddings` tensor; the image resized by
//! its longest side with Pillow's bilinear, normalized in 0..255 and zero-padded (or an encoder that
//! does the last two in the graph); `SamPredictor`'s prompt layout and candidate choice.

use std::path::Path;

use ort::session::Session;

use super::{
    DecoderIo, EmbeddingIo, EncoderInput, Family, Interface, Normalization, PointLayout, TokenRule,
    chw, dims_match, fmt_shape, input_shape, mismatch, names, need, tensor_shape,
};
use crate::sam::model::{ModelConfig, ModelError};
use crate::sam::preprocess::{PIXEL_MEAN, PIXEL_STD};

const EMBEDDING: &str = "image_embeddings";

pub fn inspect(
    (encoder, encoder_path): (&Session, &Path),
    (decoder, decoder_path): (&Session, &Path),
    config: &ModelConfig,
) -> Result<Interface, ModelError> {
    let (encoder_input, output, shape) = inspect_encoder(encoder, encoder_path, config)?;
    let decoder_io = inspect_decoder(decoder, decoder_path, shape)?;
    Ok(Interface {
        family: Family::Sam1,
        encoder_input,
        normalization: Normalization {
            mean: config.pixel_mean.unwrap_or(PIXEL_MEAN),
            std: config.pixel_std.unwrap_or(PIXEL_STD),
        },
        embedding: vec![EmbeddingIo {
            encoder_output: output,
            decoder_input: EMBEDDING.into(),
            shape,
        }],
        decoder: decoder_io,
    })
}

fn inspect_encoder(
    session: &Session,
    path: &Path,
    config: &ModelConfig,
) -> Result<(EncoderInput, String, [usize; 3]), ModelError> {
    let mismatch = mismatch(path, "SAM image encoder");
    let inputs = session.inputs();
    if inputs.len() != 1 {
        return Err(mismatch(format!(
            "expected one image input, found {} ({})",
            inputs.len(),
            names(inputs.iter().map(|i| i.name()))
        )));
    }
    let input = &inputs[0];
    let shape = tensor_shape(input.dtype())
        .ok_or_else(|| mismatch(format!("input `{}` is not a tensor", input.name())))?;
    let s = i64::from(config.input_size);
    let in_graph = config.preprocess_in_graph.unwrap_or(shape.len() == 3);
    let encoder_input = if in_graph {
        if !dims_match(&shape, &[-1, -1, 3]) {
            return Err(mismatch(format!(
                "input `{}` has shape {}, expected [H, W, 3] for an encoder that preprocesses in the graph",
                input.name(),
                fmt_shape(&shape)
            )));
        }
        EncoderInput::HwcInGraph {
            name: input.name().to_string(),
        }
    } else {
        if !dims_match(&shape, &[1, 3, s, s]) {
            return Err(mismatch(format!(
                "input `{}` has shape {}, expected [1, 3, {s}, {s}] or [H, W, 3]",
                input.name(),
                fmt_shape(&shape)
            )));
        }
        EncoderInput::Nchw {
            name: input.name().to_string(),
        }
    };

    let outputs = session.outputs();
    let output = outputs
        .iter()
        .find(|o| o.name() == EMBEDDING)
        .or_else(|| {
            outputs.iter().find(|o| {
                tensor_shape(o.dtype())
                    .is_some_and(|sh| sh.len() == 4 && (sh[1] == 256 || sh[1] < 0))
            })
        })
        .ok_or_else(|| {
            mismatch(format!(
                "no `{EMBEDDING}` output of shape [1, 256, 64, 64] (outputs: {})",
                names(outputs.iter().map(|o| o.name()))
            ))
        })?;
    let out_shape = tensor_shape(output.dtype()).unwrap_or_default();
    let grid = (config.input_size / 16) as usize;
    let shape = chw(&out_shape, [256, grid, grid]).ok_or_else(|| {
        mismatch(format!(
            "output `{}` has shape {}, expected [1, C, H, W]",
            output.name(),
            fmt_shape(&out_shape)
        ))
    })?;
    Ok((encoder_input, output.name().to_string(), shape))
}

fn inspect_decoder(
    session: &Session,
    path: &Path,
    embedding_shape: [usize; 3],
) -> Result<DecoderIo, ModelError> {
    let mismatch = mismatch(path, "SAM mask decoder");
    let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    need(&inputs, EMBEDDING, "input", &mismatch)?;
    let io = DecoderIo {
        point_coords: need(&inputs, "point_coords", "input", &mismatch)?,
        point_labels: need(&inputs, "point_labels", "input", &mismatch)?,
        mask_input: need(&inputs, "mask_input", "input", &mismatch)?,
        has_mask_input: need(&inputs, "has_mask_input", "input", &mismatch)?,
        orig_im_size: inputs
            .contains(&"orig_im_size")
            .then(|| "orig_im_size".to_string()),
        iou_predictions: need(&outputs, "iou_predictions", "output", &mismatch)?,
        low_res_masks: need(&outputs, "low_res_masks", "output", &mismatch)?,
        points: PointLayout::PointsThenBox,
        tokens: TokenRule::SingleFirst,
        clamp_logits: false,
        batched: false,
    };
    let shape = input_shape(session, EMBEDDING);
    let [c, h, w] = embedding_shape.map(|d| d as i64);
    if !dims_match(&shape, &[1, c, h, w]) {
        return Err(mismatch(format!(
            "input `{EMBEDDING}` has shape {}, but the encoder produces {}: encoder and decoder do \
             not belong together",
            fmt_shape(&shape),
            fmt_shape(&[1, c, h, w])
        )));
    }
    let shape = input_shape(session, &io.point_coords);
    if !dims_match(&shape, &[1, -1, 2]) {
        return Err(mismatch(format!(
            "input `point_coords` has shape {}, expected [1, N, 2] (or [B, N, 2])",
            fmt_shape(&shape)
        )));
    }
    Ok(DecoderIo {
        batched: shape[0] < 0,
        ..io
    })
}
