//! Image → `Embedding`: preprocess and run the image encoder once per image.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::RunOptions;
use ort::value::TensorRef;

use super::SamError;
use super::family::EncoderInput;
use super::model::SamModel;
use super::preprocess::ModelFromImage;

/// The encoder's output for one image, with the transform that produced it.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// The encoder outputs the decoder reads, in the order of the model's
    /// [`Interface::embedding`](super::family::Interface::embedding): SAM 1's `256 x 64 x 64`
    /// embedding; SAM 2's two high-resolution feature maps and its embedding.
    pub tensors: Vec<Tensor>,
    pub model_from_image: ModelFromImage,
}

/// One tensor of an embedding: `C x H x W` floats, batch dimension dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: [usize; 3],
    pub data: Vec<f32>,
}

impl Embedding {
    /// Bytes the embedding takes in memory.
    pub fn bytes(&self) -> usize {
        self.tensors
            .iter()
            .map(|t| t.data.len() * size_of::<f32>())
            .sum()
    }
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
    /// How this model fits a `width x height` image into its input.
    pub fn model_from_image(&self, width: u32, height: u32) -> ModelFromImage {
        let target = self.config.input_size;
        match self.interface.encoder_input {
            EncoderInput::Stretched { .. } => ModelFromImage::stretched(width, height, target),
            EncoderInput::Nchw { .. } | EncoderInput::HwcInGraph { .. } => {
                ModelFromImage::new(width, height, target)
            }
        }
    }

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
        let interface = &self.interface;
        let norm = interface.normalization;
        let (w, h) = image.dimensions();
        let model_from_image = self.model_from_image(w, h);
        let (input, shape): (&[f32], _) = match &interface.encoder_input {
            EncoderInput::Nchw { .. } => (
                self.preprocessor.nchw(image, target, norm.mean, norm.std),
                vec![1, 3, i64::from(target), i64::from(target)],
            ),
            EncoderInput::HwcInGraph { .. } => {
                let (rw, rh) = model_from_image.resized_size;
                let input = self.preprocessor.hwc(image, target);
                (input, vec![i64::from(rh), i64::from(rw), 3])
            }
            EncoderInput::Stretched { .. } => (
                self.preprocessor
                    .stretched_nchw(image, target, norm.mean, norm.std),
                vec![1, 3, i64::from(target), i64::from(target)],
            ),
        };
        let preprocess_time = start.elapsed();

        let start = Instant::now();
        let tensor = TensorRef::from_array_view((shape, input))?;
        let inputs = ort::inputs![interface.encoder_input.name() => tensor];
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
        let mut tensors = Vec::with_capacity(interface.embedding.len());
        for io in &interface.embedding {
            let value = outputs
                .get(&io.encoder_output)
                .ok_or_else(|| SamError::MissingOutput(io.encoder_output.clone()))?;
            let (out_shape, data) = value.try_extract_tensor::<f32>()?;
            let dims: Vec<usize> = out_shape.iter().map(|&d| d.max(0) as usize).collect();
            if dims.len() != 4 || dims[0] != 1 || dims[1..] != io.shape[..] {
                return Err(SamError::BadOutputShape {
                    name: io.encoder_output.clone(),
                    shape: dims,
                });
            }
            tensors.push(Tensor {
                shape: io.shape,
                data: data.to_vec(),
            });
        }
        let embedding = Embedding {
            tensors,
            model_from_image,
        };
        let timings = EncodeTimings {
            preprocess: preprocess_time,
            encoder: start.elapsed(),
        };
        Ok((embedding, timings))
    }
}
