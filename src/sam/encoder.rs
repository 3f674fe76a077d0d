//! Image → `Embedding`: preprocess and run the image encoder once per image.

use std::time::{Duration, Instant};

use image::RgbImage;
use ort::value::TensorRef;

use super::SamError;
use super::model::{EncoderInput, SamModel};
use super::preprocess::{self, ModelFromImage};

/// The encoder's output for one image, with the transform that produced it.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// `C x H x W` floats (`256 x 64 x 64` for SAM), batch dimension dropped.
    pub data: Vec<f32>,
    pub shape: [usize; 3],
    pub model_from_image: ModelFromImage,
}

/// Time spent in each stage of one encode.
#[derive(Clone, Copy, Debug, Default)]
pub struct EncodeTimings {
    pub preprocess: Duration,
    pub encoder: Duration,
}

impl SamModel {
    /// Runs the encoder on an RGB image in image space.
    pub fn encode(&mut self, image: &RgbImage) -> Result<(Embedding, EncodeTimings), SamError> {
        if image.width() == 0 || image.height() == 0 {
            return Err(SamError::EmptyImage);
        }
        let target = self.config.input_size;
        let start = Instant::now();
        let model_from_image = ModelFromImage::new(image.width(), image.height(), target);
        let resized = preprocess::resize_longest_side(image, target);
        let (input, shape): (Vec<f32>, Vec<i64>) = match &self.encoder_input {
            EncoderInput::Nchw { .. } => (
                preprocess::normalize_pad_nchw(
                    &resized,
                    target,
                    self.config.pixel_mean,
                    self.config.pixel_std,
                ),
                vec![1, 3, i64::from(target), i64::from(target)],
            ),
            EncoderInput::HwcInGraph { .. } => (
                preprocess::hwc_f32(&resized),
                vec![i64::from(resized.height()), i64::from(resized.width()), 3],
            ),
        };
        let preprocess_time = start.elapsed();

        let start = Instant::now();
        let input_name = match &self.encoder_input {
            EncoderInput::Nchw { name } | EncoderInput::HwcInGraph { name } => name.clone(),
        };
        let tensor = TensorRef::from_array_view((shape, input.as_slice()))?;
        let outputs = self
            .encoder
            .run(ort::inputs![input_name.as_str() => tensor])?;
        let value = outputs
            .get(&self.encoder_output)
            .ok_or_else(|| SamError::MissingOutput(self.encoder_output.clone()))?;
        let (out_shape, data) = value.try_extract_tensor::<f32>()?;
        let dims: Vec<usize> = out_shape.iter().map(|&d| d.max(0) as usize).collect();
        if dims.len() != 4 || dims[0] != 1 || dims[1..] != self.embedding_shape[..] {
            return Err(SamError::BadOutputShape {
                name: self.encoder_output.clone(),
                shape: dims,
            });
        }
        let embedding = Embedding {
            data: data.to_vec(),
            shape: self.embedding_shape,
            model_from_image,
        };
        let timings = EncodeTimings {
            preprocess: preprocess_time,
            encoder: start.elapsed(),
        };
        Ok((embedding, timings))
    }
}
