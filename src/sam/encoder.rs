//! Image → `Embedding`: preprocess and run the image encoder once per image.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::RunOptions;
use ort::value::TensorRef;

use super::SamError;
use super::model::{EncoderInput, SamModel};
use super::preprocess::ModelFromImage;

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

/// Stops an encode that runs on another thread (background work that the user no longer needs).
///
/// ONNX Runtime checks the flag between graph nodes, so a cancelled encode returns
/// [`SamError::Cancelled`] within one node's time.
pub struct CancelToken {
    options: RunOptions,
    cancelled: AtomicBool,
}

impl CancelToken {
    pub fn new() -> Result<Self, SamError> {
        // ort's calls need the library loaded first (it would panic otherwise).
        super::Runtime::get()?;
        Ok(Self {
            options: RunOptions::new()?,
            cancelled: AtomicBool::new(false),
        })
    }

    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Err(err) = self.options.terminate() {
            tracing::warn!("cannot stop the running encode: {err}");
        }
    }

    /// Makes the token usable for the next encode.
    pub fn reset(&self) {
        self.cancelled.store(false, Ordering::SeqCst);
        if let Err(err) = self.options.unterminate() {
            tracing::warn!("cannot reset the cancel flag: {err}");
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

impl SamModel {
    /// Runs the encoder on an RGB image in image space.
    pub fn encode(&mut self, image: &RgbImage) -> Result<(Embedding, EncodeTimings), SamError> {
        self.encode_with(image, None)
    }

    /// `encode` that `cancel` can stop from another thread.
    pub fn encode_with(
        &mut self,
        image: &RgbImage,
        cancel: Option<&CancelToken>,
    ) -> Result<(Embedding, EncodeTimings), SamError> {
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(SamError::Cancelled);
        }
        if image.width() == 0 || image.height() == 0 {
            return Err(SamError::EmptyImage);
        }
        let target = self.config.input_size;
        let start = Instant::now();
        let model_from_image = ModelFromImage::new(image.width(), image.height(), target);
        let (rw, rh) = model_from_image.resized_size;
        let (input, shape): (&[f32], Vec<i64>) = match &self.encoder_input {
            EncoderInput::Nchw { .. } => (
                self.preprocessor.nchw(
                    image,
                    target,
                    self.config.pixel_mean,
                    self.config.pixel_std,
                ),
                vec![1, 3, i64::from(target), i64::from(target)],
            ),
            EncoderInput::HwcInGraph { .. } => (
                self.preprocessor.hwc(image, target),
                vec![i64::from(rh), i64::from(rw), 3],
            ),
        };
        let preprocess_time = start.elapsed();

        let start = Instant::now();
        let input_name = match &self.encoder_input {
            EncoderInput::Nchw { name } | EncoderInput::HwcInGraph { name } => name.clone(),
        };
        let tensor = TensorRef::from_array_view((shape, input))?;
        let inputs = ort::inputs![input_name.as_str() => tensor];
        let outputs = match cancel {
            Some(token) => self
                .encoder
                .run_with_options(inputs, &token.options)
                .map_err(|err| {
                    if token.is_cancelled() {
                        SamError::Cancelled
                    } else {
                        err.into()
                    }
                })?,
            None => self.encoder.run(inputs)?,
        };
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
