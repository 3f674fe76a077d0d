//! SAM 3's concept prompts: a phrase ("car") and/or example boxes in, every matching instance out.
//!
//! A SAM 3 model folder holds three graphs in samexporter's layout (see [`family::sam3`]) and CLIP's
//! vocabulary. The image encoder runs once per image ([`ConceptModel::encode`]); a phrase is encoded
//! once and kept ([`ConceptModel::language`], a small cache of recent phrases); the decoder runs per
//! query and returns instances with a score, a box and a full-size mask.
//!
//! The image goes in as the official `Sam3Processor` prepares it: stretched to the graph's square
//! input with torchvision's `v2.Resize` on the `uint8` image (bilinear, antialiased, integer
//! arithmetic: [`resample::Flavor::TorchUint8`]); the graph normalizes. The position encodings that
//! the encoder also returns depend only on the input size, so they are kept once per model and only
//! the image features are stored per image.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use super::encoder::Tensor;
use super::family::sam3::{self, ConceptIo, DecoderFeed};
use super::model::{ModelError, Pool, SessionOptions, open_session};
use super::resample::{self, Flavor};
use super::tokenizer::{self, Tokenizer};
use super::{EncodeTimings, Provider, Runtime, SamError};
use crate::annotate::mask::Mask;

/// Phrases whose encodings are kept (each is a few tens of kilobytes).
const PHRASES_KEPT: usize = 32;
/// The text the official processor encodes for a query made of example boxes only.
pub const VISUAL: &str = "visual";
/// The official `Sam3Processor`'s default confidence threshold.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// The phrases of `"car, person"`: trimmed, empty ones and repeats dropped.
pub fn split_phrases(text: &str) -> Vec<String> {
    let mut phrases: Vec<String> = Vec::new();
    for phrase in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !phrases.iter().any(|p| p == phrase) {
            phrases.push(phrase.to_owned());
        }
    }
    phrases
}

/// An example box: pixels of the image, `positive` for "more like this", negative for "not this".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExampleBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub positive: bool,
}

/// What to look for: a phrase, example boxes, or both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConceptQuery {
    pub text: Option<String>,
    pub boxes: Vec<ExampleBox>,
}

/// One instance found.
#[derive(Clone, Debug)]
pub struct Instance {
    pub score: f32,
    /// `[x0, y0, x1, y1]` in image pixels as the model predicts it (not clipped to the image).
    pub box_xyxy: [f32; 4],
    pub mask: Mask,
}

/// An image's features: what the decoder reads that depends on the image.
#[derive(Clone, Debug)]
pub struct ConceptFeatures {
    pub tensors: Vec<Tensor>,
    pub width: u32,
    pub height: u32,
}

impl ConceptFeatures {
    pub fn bytes(&self) -> usize {
        self.tensors.iter().map(|t| t.data.len() * 4).sum()
    }
}

/// A phrase's encoding (the language encoder's three outputs).
#[derive(Debug)]
pub struct Language {
    /// `true` = padding.
    mask: Vec<bool>,
    memory: Tensor3,
    embeds: Tensor3,
}

#[derive(Debug)]
struct Tensor3 {
    shape: [usize; 3],
    data: Vec<f32>,
}

/// Where the time of one query went.
#[derive(Clone, Copy, Debug, Default)]
pub struct FindTimings {
    /// Zero when the phrase's encoding was kept from before.
    pub language: Duration,
    pub decoder: Duration,
}

/// A loaded SAM 3 model.
pub struct ConceptModel {
    pub name: String,
    pub dir: PathBuf,
    pub provider: Provider,
    pub notices: Vec<String>,
    encoder: Session,
    language: Session,
    decoder: Session,
    io: ConceptIo,
    tokenizer: Tokenizer,
    /// The encoder outputs that do not depend on the image, from the first encode.
    constants: Option<Vec<Tensor>>,
    phrases: VecDeque<(String, Arc<Language>)>,
    scratch: Vec<resample::Scratch>,
    threads: usize,
}

impl std::fmt::Debug for ConceptModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConceptModel")
            .field("name", &self.name)
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}

/// Whether `dir` holds a SAM 3 model (its three graphs).
pub fn is_concept_dir(dir: &Path) -> bool {
    sam3::FILES.iter().all(|f| dir.join(f).is_file())
}

/// Whether `dir` holds a SAM 3 model and no point model (`encoder.onnx`): a folder for Find only.
pub fn is_find_only_dir(dir: &Path) -> bool {
    is_concept_dir(dir) && !dir.join("encoder.onnx").is_file()
}

impl ConceptModel {
    /// Loads the three graphs and the vocabulary from `dir`.
    pub fn load(dir: &Path, options: SessionOptions) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingDir(dir.to_path_buf()));
        }
        for file in sam3::FILES.iter().chain([&tokenizer::VOCAB_FILE]) {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(ModelError::MissingConceptFile(path));
            }
        }
        let vocab = dir.join(tokenizer::VOCAB_FILE);
        let tokenizer = Tokenizer::from_file(&vocab).map_err(|e| ModelError::Load {
            path: vocab,
            reason: e.to_string(),
        })?;
        let runtime = Runtime::get()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = options.encoder_threads.unwrap_or(cores);
        let mut notices = Vec::new();
        let [encoder_path, language_path, decoder_path] = sam3::FILES.map(|f| dir.join(f));
        // SAM 3's graphs are large: without ONNX Runtime's arena and memory pattern the three
        // sessions peak at 7.1 GB instead of 11.9 GB on a 4000x2667 photo, for 8% more encode time.
        let pool = Pool {
            threads,
            spin: false,
            lean: true,
        };
        let (encoder, provider) =
            open_session(runtime, &encoder_path, options.device, pool, &mut notices)?;
        let device = provider.device();
        let (language, _) = open_session(runtime, &language_path, device, pool, &mut notices)?;
        let decoder_pool = Pool {
            threads: options.decoder_threads.unwrap_or(threads),
            ..pool
        };
        let (decoder, _) =
            open_session(runtime, &decoder_path, device, decoder_pool, &mut notices)?;
        let io = sam3::inspect(
            (&encoder, &encoder_path),
            (&language, &language_path),
            (&decoder, &decoder_path),
        )?;
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            provider,
            notices,
            encoder,
            language,
            decoder,
            io,
            tokenizer,
            constants: None,
            phrases: VecDeque::new(),
            scratch: Vec::new(),
            threads: cores,
        })
    }

    /// What the graphs take and give.
    pub fn io(&self) -> &ConceptIo {
        &self.io
    }

    /// The token ids the language encoder gets for `text`.
    pub fn tokens(&self, text: &str) -> Vec<i64> {
        self.tokenizer.tokens(text, self.io.context)
    }

    /// The graph's input for `image`: see [`stretch_chw`].
    pub fn preprocess(&mut self, image: &RgbImage) -> Vec<u8> {
        stretch_chw_with(image, self.io.input_size, self.threads, &mut self.scratch)
    }

    /// Runs the image encoder: the features the decoder needs for this image.
    pub fn encode(&mut self, image: &RgbImage) -> Result<ConceptFeatures, SamError> {
        self.encode_timed(image).map(|(features, _)| features)
    }

    /// [`Self::encode`], with where the time went.
    pub fn encode_timed(
        &mut self,
        image: &RgbImage,
    ) -> Result<(ConceptFeatures, EncodeTimings), SamError> {
        let (width, height) = image.dimensions();
        if width == 0 || height == 0 {
            return Err(SamError::EmptyImage);
        }
        let start = Instant::now();
        let input = self.preprocess(image);
        let preprocess = start.elapsed();
        let start = Instant::now();
        let side = self.io.input_size as usize;
        let tensor = TensorRef::from_array_view(([3, side, side], input.as_slice()))?;
        let outputs = self
            .encoder
            .run(ort::inputs![self.io.image_input.as_str() => tensor])?;
        let extract = |name: &str| -> Result<Tensor, SamError> {
            let value = outputs
                .get(name)
                .ok_or_else(|| SamError::MissingOutput(name.to_owned()))?;
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            match dims[..] {
                [1, c, h, w] => Ok(Tensor {
                    shape: [c, h, w],
                    data: data.to_vec(),
                }),
                _ => Err(SamError::BadOutputShape {
                    name: name.to_owned(),
                    shape: dims,
                }),
            }
        };
        if self.constants.is_none() {
            let constants = self
                .io
                .constant_inputs
                .iter()
                .map(|name| extract(name))
                .collect::<Result<Vec<_>, _>>()?;
            self.constants = Some(constants);
        }
        let tensors = self
            .io
            .image_inputs
            .iter()
            .map(|name| extract(name))
            .collect::<Result<Vec<_>, _>>()?;
        let features = ConceptFeatures {
            tensors,
            width,
            height,
        };
        let timings = EncodeTimings {
            preprocess,
            encoder: start.elapsed(),
        };
        Ok((features, timings))
    }

    /// The encoding of `text`, from the cache of recent phrases or the language encoder.
    pub fn language(&mut self, text: &str) -> Result<(Arc<Language>, Duration), SamError> {
        if let Some(at) = self.phrases.iter().position(|(t, _)| t == text) {
            let entry = self.phrases.remove(at).expect("found");
            let language = entry.1.clone();
            self.phrases.push_front(entry);
            return Ok((language, Duration::ZERO));
        }
        let start = Instant::now();
        let tokens = self.tokens(text);
        let context = tokens.len();
        let tensor = TensorRef::from_array_view(([1, context], tokens.as_slice()))?;
        let outputs = self
            .language
            .run(ort::inputs![self.io.tokens_input.as_str() => tensor])?;
        let get = |name: &str| {
            outputs
                .get(name)
                .ok_or_else(|| SamError::MissingOutput(name.to_owned()))
        };
        let (_, mask) = get(&self.io.language.mask)?.try_extract_tensor::<bool>()?;
        let three = |name: &str| -> Result<Tensor3, SamError> {
            let (shape, data) = get(name)?.try_extract_tensor::<f32>()?;
            let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            match dims[..] {
                [a, b, c] => Ok(Tensor3 {
                    shape: [a, b, c],
                    data: data.to_vec(),
                }),
                _ => Err(SamError::BadOutputShape {
                    name: name.to_owned(),
                    shape: dims,
                }),
            }
        };
        let language = Arc::new(Language {
            mask: mask.to_vec(),
            memory: three(&self.io.language.memory)?,
            embeds: three(&self.io.language.embeds)?,
        });
        self.phrases.push_front((text.to_owned(), language.clone()));
        self.phrases.truncate(PHRASES_KEPT);
        Ok((language, start.elapsed()))
    }

    /// How many example boxes one query can hold (`None`: any number).
    pub fn box_capacity(&self) -> Option<usize> {
        self.io.box_slots
    }

    /// Every instance of `query` in the image of `features` scoring above `threshold`, best first.
    pub fn find(
        &mut self,
        features: &ConceptFeatures,
        query: &ConceptQuery,
        threshold: f32,
    ) -> Result<(Vec<Instance>, FindTimings), SamError> {
        let text = match (&query.text, query.boxes.is_empty()) {
            (Some(text), _) => text.as_str(),
            (None, false) => VISUAL,
            (None, true) => return Err(SamError::EmptyQuery),
        };
        let (language, language_time) = self.language(text)?;
        let start = Instant::now();
        let (w, h) = (features.width as f32, features.height as f32);
        let slots = match self.io.box_slots {
            Some(capacity) if query.boxes.len() > capacity => {
                return Err(SamError::TooManyBoxes {
                    given: query.boxes.len(),
                    capacity,
                });
            }
            Some(capacity) => capacity,
            None => query.boxes.len().max(1),
        };
        // Sequence-first, as SAM 3's `Prompt`: `[K, 1, 4]` normalized cx, cy, w, h; unused slots
        // are masked (`true` = no box), which is also the official dummy prompt of a text query.
        let mut coords = vec![0f32; slots * 4];
        let mut labels = vec![1i64; slots];
        let mut masked = vec![true; slots];
        for (i, b) in query.boxes.iter().enumerate() {
            let (x0, x1) = (b.x0.min(b.x1), b.x0.max(b.x1));
            let (y0, y1) = (b.y0.min(b.y1), b.y0.max(b.y1));
            coords[i * 4..i * 4 + 4].copy_from_slice(&[
                (x0 + x1) / 2.0 / w,
                (y0 + y1) / 2.0 / h,
                (x1 - x0) / w,
                (y1 - y0) / h,
            ]);
            labels[i] = i64::from(b.positive);
            masked[i] = false;
        }
        let height = [i64::from(features.height)];
        let width = [i64::from(features.width)];
        let constants = self.constants.as_deref().unwrap_or_default();
        let mut inputs: Vec<(
            std::borrow::Cow<'_, str>,
            ort::session::SessionInputValue<'_>,
        )> = Vec::new();
        for feed in &self.io.decoder_feeds {
            let (name, value): (&str, ort::session::SessionInputValue<'_>) = match feed {
                DecoderFeed::OriginalHeight(n) => {
                    (n, TensorRef::from_array_view(((), &height[..]))?.into())
                }
                DecoderFeed::OriginalWidth(n) => {
                    (n, TensorRef::from_array_view(((), &width[..]))?.into())
                }
                DecoderFeed::Image(n, i) => (n, four(&features.tensors[*i])?),
                DecoderFeed::Constant(n, i) => {
                    let tensor = constants
                        .get(*i)
                        .ok_or_else(|| SamError::MissingOutput(n.clone()))?;
                    (n, four(tensor)?)
                }
                DecoderFeed::LanguageMask(n) => (
                    n,
                    TensorRef::from_array_view((
                        [1, language.mask.len()],
                        language.mask.as_slice(),
                    ))?
                    .into(),
                ),
                DecoderFeed::LanguageFeatures(n) => (n, three(&language.memory)?),
                DecoderFeed::LanguageEmbeds(n) => (n, three(&language.embeds)?),
                DecoderFeed::BoxCoords(n) => (
                    n,
                    TensorRef::from_array_view(([slots, 1, 4], coords.as_slice()))?.into(),
                ),
                DecoderFeed::BoxLabels(n) => (
                    n,
                    TensorRef::from_array_view(([slots, 1], labels.as_slice()))?.into(),
                ),
                DecoderFeed::BoxMasks(n) => (
                    n,
                    TensorRef::from_array_view(([1, slots], masked.as_slice()))?.into(),
                ),
            };
            inputs.push((name.into(), value));
        }
        let outputs = self.decoder.run(inputs)?;
        let get = |name: &str| {
            outputs
                .get(name)
                .ok_or_else(|| SamError::MissingOutput(name.to_owned()))
        };
        let (_, scores) = get(&self.io.outputs.scores)?.try_extract_tensor::<f32>()?;
        let (_, boxes) = get(&self.io.outputs.boxes)?.try_extract_tensor::<f32>()?;
        let (mask_shape, masks) = get(&self.io.outputs.masks)?.try_extract_tensor::<bool>()?;
        let n = scores.len();
        let dims: Vec<usize> = mask_shape.iter().map(|&d| d.max(0) as usize).collect();
        let plane = (features.width as usize) * (features.height as usize);
        if boxes.len() != n * 4 || masks.len() != n * plane || dims.first() != Some(&n) {
            return Err(SamError::BadOutputShape {
                name: self.io.outputs.masks.clone(),
                shape: dims,
            });
        }
        let mut instances: Vec<Instance> = (0..n)
            .filter(|&i| scores[i] > threshold)
            .map(|i| {
                let bits = &masks[i * plane..(i + 1) * plane];
                Instance {
                    score: scores[i],
                    box_xyxy: [
                        boxes[i * 4],
                        boxes[i * 4 + 1],
                        boxes[i * 4 + 2],
                        boxes[i * 4 + 3],
                    ],
                    mask: Mask::from_fn(features.width, features.height, |p| bits[p]),
                }
            })
            .collect();
        // Best first; equal scores keep the model's order.
        instances.sort_by(|a, b| b.score.total_cmp(&a.score));
        let timings = FindTimings {
            language: language_time,
            decoder: start.elapsed(),
        };
        Ok((instances, timings))
    }
}

/// SAM 3's image input as the official `Sam3Processor` makes it: `[3, side, side]` RGB bytes (three
/// planes), the image stretched with torchvision's `v2.Resize` on `uint8` (antialiased bilinear,
/// torch's integer kernel), byte for byte.
pub fn stretch_chw(image: &RgbImage, side: u32) -> Vec<u8> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    stretch_chw_with(image, side, cores, &mut Vec::new())
}

fn stretch_chw_with(
    image: &RgbImage,
    side: u32,
    threads: usize,
    scratch: &mut Vec<resample::Scratch>,
) -> Vec<u8> {
    let side = side as usize;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut hwc = vec![0u8; side * side * 3];
    resample::resize_rgb(
        image.as_raw(),
        (w, h),
        &mut hwc,
        (side, side),
        Flavor::TorchUint8,
        threads,
        scratch,
    );
    let plane = side * side;
    let mut chw = vec![0u8; plane * 3];
    let (r, rest) = chw.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in hwc.chunks_exact(3).enumerate() {
        r[i] = px[0];
        g[i] = px[1];
        b[i] = px[2];
    }
    chw
}

fn four(t: &Tensor) -> Result<ort::session::SessionInputValue<'_>, SamError> {
    let [c, h, w] = t.shape;
    Ok(TensorRef::from_array_view(([1, c, h, w], t.data.as_slice()))?.into())
}

fn three(t: &Tensor3) -> Result<ort::session::SessionInputValue<'_>, SamError> {
    Ok(TensorRef::from_array_view((t.shape, t.data.as_slice()))?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_split_trimmed_and_unique() {
        assert_eq!(
            split_phrases(" car, person ,,car, a red bus"),
            ["car", "person", "a red bus"]
        );
        assert!(split_phrases(" , ").is_empty());
    }
}
