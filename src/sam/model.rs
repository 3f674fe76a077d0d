//! A SAM model on disk: `encoder.onnx` + `decoder.onnx` (+ optional `model.json`), loaded into two
//! ONNX Runtime sessions whose input and output names are read from the graphs and checked against the
//! SAM interface.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use serde::Deserialize;

use super::family::{self, Family, Interface};
use super::preprocess::Preprocessor;
use super::runtime::{self, Device, Provider, Runtime, RuntimeError};

/// Typed failures of loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    #[error("model directory {} does not exist", .0.display())]
    MissingDir(PathBuf),

    #[error("{} is missing: a model directory holds encoder.onnx and decoder.onnx", .0.display())]
    MissingFile(PathBuf),

    #[error(
        "{} is missing: a SAM 3 model directory holds sam3_image_encoder.onnx, \
         sam3_language_encoder.onnx, sam3_decoder.onnx and bpe_simple_vocab_16e6.txt.gz",
        .0.display()
    )]
    MissingConceptFile(PathBuf),

    #[error(
        "{} holds a SAM 3 model, which finds objects by name (Find, `--text`); \
         clicks and boxes need a SAM or SAM 2.1 model",
        .0.display()
    )]
    ConceptModel(PathBuf),

    #[error("{} is not a valid model.json: {reason}", .path.display())]
    BadConfig { path: PathBuf, reason: String },

    #[error("{} could not be loaded by ONNX Runtime: {reason}", .path.display())]
    Load { path: PathBuf, reason: String },

    #[error("{} is not a {part}: {mismatch}", .path.display())]
    Interface {
        path: PathBuf,
        part: &'static str,
        mismatch: String,
    },
}

/// Optional `model.json` next to the ONNX files.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// `"sam1"` or `"sam2"`; detected from the decoder's inputs when absent.
    #[serde(default)]
    pub family: Option<Family>,
    #[serde(default = "default_encoder")]
    pub encoder: String,
    #[serde(default = "default_decoder")]
    pub decoder: String,
    /// Side of the square encoder input.
    #[serde(default = "default_input_size")]
    pub input_size: u32,
    /// The normalization's mean and std, in the units of the family's preprocessing (0..255 for
    /// SAM 1, 0..1 for SAM 2); the family's own when absent.
    #[serde(default)]
    pub pixel_mean: Option<[f32; 3]>,
    #[serde(default)]
    pub pixel_std: Option<[f32; 3]>,
    /// Whether the encoder graph normalizes and pads itself (samexporter's `--use-preprocess`).
    /// Detected from the encoder's input when absent.
    #[serde(default)]
    pub preprocess_in_graph: Option<bool>,
}

fn default_encoder() -> String {
    "encoder.onnx".into()
}
fn default_decoder() -> String {
    "decoder.onnx".into()
}
fn default_input_size() -> u32 {
    1024
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            name: None,
            family: None,
            encoder: default_encoder(),
            decoder: default_decoder(),
            input_size: default_input_size(),
            pixel_mean: None,
            pixel_std: None,
            preprocess_in_graph: None,
        }
    }
}

impl ModelConfig {
    /// Reads `model.json` from `dir`, or the defaults when there is none.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("model.json");
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::BadConfig {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let config: Self =
            serde_path_to_error::deserialize(de).map_err(|e| ModelError::BadConfig {
                path: path.clone(),
                reason: if e.path().iter().next().is_some() {
                    format!("at `{}`: {}", e.path(), e.inner())
                } else {
                    e.inner().to_string()
                },
            })?;
        if config.input_size == 0 || !config.input_size.is_multiple_of(16) {
            return Err(ModelError::BadConfig {
                path,
                reason: format!(
                    "input_size {} is not a positive multiple of 16",
                    config.input_size
                ),
            });
        }
        if config
            .pixel_std
            .is_some_and(|std| std.iter().any(|s| !s.is_finite() || *s == 0.0))
        {
            return Err(ModelError::BadConfig {
                path,
                reason: "pixel_std must be finite and non-zero".into(),
            });
        }
        Ok(config)
    }
}

/// Session options the caller can tune.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionOptions {
    pub device: Device,
    /// Intra-op threads for the encoder; `None` = all cores.
    pub encoder_threads: Option<usize>,
    /// Intra-op threads for the decoder; `None` = a measured default.
    pub decoder_threads: Option<usize>,
}

/// A loaded SAM model: two sessions and what we learnt about their interface.
pub struct SamModel {
    pub name: String,
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub encoder: Session,
    pub decoder: Session,
    /// What the graphs take and give: the family's facts.
    pub interface: Interface,
    pub provider: Provider,
    /// Why a requested provider is not used, in words for the user.
    pub notices: Vec<String>,
    /// Buffers reused from one encode to the next.
    pub(crate) preprocessor: Preprocessor,
}

impl SamModel {
    /// Loads `encoder.onnx` and `decoder.onnx` from `dir`.
    pub fn load(dir: &Path, options: SessionOptions) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::MissingDir(dir.to_path_buf()));
        }
        if super::concept::is_find_only_dir(dir) {
            return Err(ModelError::ConceptModel(dir.to_path_buf()));
        }
        let config = ModelConfig::from_dir(dir)?;
        let encoder_path = dir.join(&config.encoder);
        let decoder_path = dir.join(&config.decoder);
        for path in [&encoder_path, &decoder_path] {
            if !path.is_file() {
                return Err(ModelError::MissingFile(path.clone()));
            }
        }
        let runtime = Runtime::get()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let encoder_threads = options.encoder_threads.unwrap_or(cores);
        // The decoder is small: beyond a few threads, synchronisation costs more than it saves.
        let decoder_threads = options.decoder_threads.unwrap_or(cores.min(4));

        let mut notices = Vec::new();
        // The encoder runs once per image: its threads sleep when a run ends instead of spinning,
        // so they leave the cores to the next image's preprocessing and to the window (spinning
        // made the resize after an encode 2.6x slower on 2 cores).
        let encoder_pool = Pool {
            threads: encoder_threads,
            spin: false,
            lean: false,
        };
        let (encoder, provider) = open_session(
            runtime,
            &encoder_path,
            options.device,
            encoder_pool,
            &mut notices,
        )?;
        // The decoder runs on whatever the encoder got, so both agree and notices are not repeated.
        let device = provider.device();
        // The decoder runs click after click: spinning saves it a wake-up (about 5%).
        let decoder_pool = Pool {
            threads: decoder_threads,
            spin: true,
            lean: false,
        };
        let (decoder, _) =
            open_session(runtime, &decoder_path, device, decoder_pool, &mut notices)?;

        let interface = family::inspect(
            (&encoder, &encoder_path),
            (&decoder, &decoder_path),
            &config,
        )?;
        let name = config.name.clone().unwrap_or_else(|| {
            dir.file_name().map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            config,
            encoder,
            decoder,
            interface,
            provider,
            notices,
            preprocessor: Preprocessor::default(),
        })
    }
}

/// A session's intra-op thread pool.
#[derive(Clone, Copy)]
pub(crate) struct Pool {
    pub threads: usize,
    /// Whether idle threads spin (ONNX Runtime's default) or sleep.
    pub spin: bool,
    /// Allocate each run's buffers afresh instead of keeping ONNX Runtime's arena and planned
    /// memory pattern: for graphs whose peak is large (SAM 3's image encoder: 12 GB with them,
    /// 7 GB without, for 8% more time).
    pub lean: bool,
}

fn builder(runtime: &Runtime, pool: Pool) -> Result<SessionBuilder, String> {
    Session::builder(runtime.environment())
        .and_then(|b| {
            b.with_optimization_level(GraphOptimizationLevel::All)
                .map_err(Into::into)
        })
        .and_then(|b| {
            b.with_intra_threads(pool.threads.max(1))
                .map_err(Into::into)
        })
        .and_then(|b| b.with_intra_op_spinning(pool.spin).map_err(Into::into))
        .and_then(|b| {
            if pool.lean {
                b.with_memory_pattern(false)
                    .map_err(Into::into)
                    .and_then(|b| {
                        b.with_execution_providers([ort::ep::CPU::default()
                            .with_arena_allocator(false)
                            .build()])
                            .map_err(Into::into)
                    })
            } else {
                Ok(b)
            }
        })
        .map_err(|e: ort::Error| e.to_string())
}

/// Opens one session on the best provider that works, falling back to CPU with a notice.
pub(crate) fn open_session(
    runtime: &Runtime,
    path: &Path,
    device: Device,
    pool: Pool,
    notices: &mut Vec<String>,
) -> Result<(Session, Provider), ModelError> {
    let load_error = |reason: String| ModelError::Load {
        path: path.to_path_buf(),
        reason,
    };
    let explicit = device != Device::Auto;
    for provider in runtime::candidates(device) {
        let mut b = builder(runtime, pool).map_err(load_error)?;
        let attempt = runtime::register(runtime, provider, &mut b).and_then(|()| {
            b.commit_from_file(path)
                .map_err(|e| runtime::explain_provider_error(provider, &e.to_string()))
        });
        match attempt {
            Ok(session) => return Ok((session, provider)),
            Err(reason) => {
                // `auto` silently skips providers that are not in this build; anything else is news.
                if explicit || runtime.has_provider(provider.ort_name()) {
                    let notice = format!("{provider} is not used, running on CPU: {reason}");
                    if !notices.contains(&notice) {
                        notices.push(notice);
                    }
                }
            }
        }
    }
    let mut b = builder(runtime, pool).map_err(load_error)?;
    let session = b.commit_from_file(path).map_err(|e| {
        let message = e.to_string();
        load_error(if message.contains("Protobuf parsing failed") {
            format!("{message} (the file is not an ONNX model, or it is damaged or incomplete)")
        } else {
            message
        })
    })?;
    Ok((session, Provider::Cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_errors() {
        let dir = std::env::temp_dir().join(format!("samlabel-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = ModelConfig::from_dir(&dir).unwrap();
        assert_eq!(config.input_size, 1024);
        assert_eq!(config.encoder, "encoder.onnx");

        std::fs::write(
            dir.join("model.json"),
            r#"{"preprocess_in_graph": true, "input_size": 1024}"#,
        )
        .unwrap();
        assert_eq!(
            ModelConfig::from_dir(&dir).unwrap().preprocess_in_graph,
            Some(true)
        );

        std::fs::write(dir.join("model.json"), r#"{"input_size": "big"}"#).unwrap();
        let err = ModelConfig::from_dir(&dir).unwrap_err().to_string();
        assert!(
            err.contains("model.json") && err.contains("input_size"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
