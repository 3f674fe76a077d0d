//! The background worker: owns the SAM model, loads and encodes images, decodes prompts.
//!
//! The UI sends `Request`s and polls `Response`s; it never waits. Requests are coalesced: only the
//! newest decode and the newest open count, a decode runs before any encode, and prefetching (encoding
//! the next images) only runs when nothing else is waiting. Results carry the image path (and decodes a
//! sequence number), so the UI drops answers for an image it already left.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use image::RgbImage;

use super::render::preview_size;
use crate::imageio;
use crate::sam::cache::{EmbeddingCache, encode_cached};
use crate::sam::hub::{self, Manifest};
use crate::sam::{Embedding, Multimask, Prediction, Prompt, SamModel, SessionOptions};

/// Which model the worker should load.
#[derive(Clone, Debug)]
pub enum ModelSource {
    Dir(PathBuf),
    /// A model from the manifest, downloaded on first use.
    Named(String),
}

#[derive(Debug)]
pub enum Request {
    /// Load the image for display and encode it (before anything but a decode).
    Open(PathBuf),
    /// Encode these images in the background, in order, when idle; replaces the previous list.
    Prefetch(Vec<PathBuf>),
    Decode {
        seq: u64,
        path: PathBuf,
        prompt: Prompt,
        multimask: Multimask,
    },
}

#[derive(Debug)]
pub enum Response {
    Downloading {
        done: u64,
        total: u64,
    },
    ModelReady {
        name: String,
        provider: String,
        notices: Vec<String>,
    },
    ModelFailed(String),
    ImageLoaded {
        path: PathBuf,
        image: Arc<RgbImage>,
    },
    ImageFailed {
        path: PathBuf,
        message: String,
    },
    EncodeStarted {
        path: PathBuf,
    },
    Encoded {
        path: PathBuf,
        millis: f64,
    },
    EncodeFailed {
        path: PathBuf,
        message: String,
    },
    Decoded {
        seq: u64,
        path: PathBuf,
        /// The chosen candidate's mask is at preview resolution (`render::preview_size`).
        prediction: Box<Prediction>,
        /// Decoder plus preview upscaling.
        millis: f64,
    },
    DecodeFailed {
        seq: u64,
        message: String,
    },
}

/// The UI's handle on the worker thread.
pub struct Worker {
    requests: Sender<Request>,
    responses: Receiver<Response>,
    repaint: Arc<Mutex<Option<egui::Context>>>,
}

impl Worker {
    pub fn spawn(
        source: ModelSource,
        options: SessionOptions,
        cache_root: Option<PathBuf>,
    ) -> Self {
        let (req_tx, req_rx) = mpsc::channel();
        let (resp_tx, resp_rx) = mpsc::channel();
        let repaint = Arc::new(Mutex::new(None::<egui::Context>));
        let notify = Notifier {
            sender: resp_tx,
            repaint: repaint.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("samlabel-worker".into())
            .spawn(move || run(source, options, cache_root, req_rx, notify));
        if let Err(err) = spawned {
            tracing::error!("cannot start the model thread: {err}");
        }
        Self {
            requests: req_tx,
            responses: resp_rx,
            repaint,
        }
    }

    /// Lets the worker wake the UI when an answer arrives.
    pub fn set_context(&self, ctx: &egui::Context) {
        if let Ok(mut slot) = self.repaint.lock()
            && slot.is_none()
        {
            *slot = Some(ctx.clone());
        }
    }

    pub fn send(&self, request: Request) {
        // A closed channel means the worker died; the UI learns it from the missing answers.
        let _ = self.requests.send(request);
    }

    pub fn try_recv(&self) -> Option<Response> {
        self.responses.try_recv().ok()
    }
}

struct Notifier {
    sender: Sender<Response>,
    repaint: Arc<Mutex<Option<egui::Context>>>,
}

impl Notifier {
    fn send(&self, response: Response) {
        let _ = self.sender.send(response);
        if let Ok(slot) = self.repaint.lock()
            && let Some(ctx) = slot.as_ref()
        {
            ctx.request_repaint();
        }
    }
}

/// Embeddings kept in memory (each is 4 MB for SAM).
const CACHE_LEN: usize = 8;

#[derive(Default)]
struct Pending {
    open: Option<PathBuf>,
    prefetch: VecDeque<PathBuf>,
    decode: Option<(u64, PathBuf, Prompt, Multimask)>,
}

impl Pending {
    fn take(&mut self, request: Request) {
        match request {
            Request::Open(path) => self.open = Some(path),
            Request::Prefetch(paths) => self.prefetch = paths.into(),
            Request::Decode {
                seq,
                path,
                prompt,
                multimask,
            } => self.decode = Some((seq, path, prompt, multimask)),
        }
    }

    fn is_empty(&self) -> bool {
        self.open.is_none() && self.prefetch.is_empty() && self.decode.is_none()
    }
}

fn run(
    source: ModelSource,
    options: SessionOptions,
    cache_root: Option<PathBuf>,
    requests: Receiver<Request>,
    notify: Notifier,
) {
    let mut model = match load_model(&source, options, &notify) {
        Ok(model) => {
            notify.send(Response::ModelReady {
                name: model.name.clone(),
                provider: model.provider.to_string(),
                notices: model.notices.clone(),
            });
            Some(model)
        }
        Err(message) => {
            notify.send(Response::ModelFailed(message));
            None
        }
    };
    let disk = model
        .as_ref()
        .zip(cache_root.as_deref())
        .map(|(m, root)| EmbeddingCache::for_model(root, m));
    let mut cache: VecDeque<(PathBuf, Embedding)> = VecDeque::new();
    let mut failed: Vec<PathBuf> = Vec::new();
    let mut pending = Pending::default();
    loop {
        if pending.is_empty() {
            match requests.recv() {
                Ok(request) => pending.take(request),
                Err(_) => return,
            }
        }
        loop {
            match requests.try_recv() {
                Ok(request) => pending.take(request),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }

        // 1. A decode whose embedding is ready.
        if let Some((seq, path, prompt, multimask)) = pending.decode.take() {
            match (model.as_mut(), cache.iter().find(|(p, _)| *p == path)) {
                (Some(model), Some((_, embedding))) => {
                    let start = Instant::now();
                    let size = preview_size(embedding.model_from_image.image_size);
                    match model.predict_at(embedding, &prompt, multimask, size) {
                        Ok(prediction) => notify.send(Response::Decoded {
                            seq,
                            path,
                            prediction: Box::new(prediction),
                            millis: start.elapsed().as_secs_f64() * 1e3,
                        }),
                        Err(err) => notify.send(Response::DecodeFailed {
                            seq,
                            message: err.to_string(),
                        }),
                    }
                    continue;
                }
                (None, _) => {
                    notify.send(Response::DecodeFailed {
                        seq,
                        message: "no model is loaded".into(),
                    });
                    continue;
                }
                // Not encoded yet: keep it until the encode below is done.
                (Some(_), None) => pending.decode = Some((seq, path, prompt, multimask)),
            }
        }

        // 2. The image the user opened: load it for display, then encode it.
        if let Some(path) = pending.open.take() {
            match imageio::load_rgb(&path) {
                Ok(image) => {
                    let image = Arc::new(image);
                    notify.send(Response::ImageLoaded {
                        path: path.clone(),
                        image: image.clone(),
                    });
                    if let Some(model) = model.as_mut() {
                        encode_into_cache(model, &path, &image, &mut cache, disk.as_ref(), &notify);
                    }
                }
                Err(err) => {
                    if pending.decode.as_ref().is_some_and(|d| d.1 == path) {
                        pending.decode = None;
                    }
                    notify.send(Response::ImageFailed {
                        path,
                        message: err.to_string(),
                    });
                }
            }
            continue;
        }
        if pending.decode.is_some() && model.is_some() {
            // The decode waits for an image that is neither cached nor being opened: it was dropped.
            pending.decode = None;
        }

        // 3. Prefetch, one image at a time, so new requests are looked at in between.
        if let (Some(path), Some(model)) = (pending.prefetch.pop_front(), model.as_mut()) {
            if cache.iter().any(|(p, _)| *p == path) || failed.contains(&path) {
                continue;
            }
            match imageio::load_rgb(&path) {
                Ok(image) => {
                    encode_into_cache(model, &path, &image, &mut cache, disk.as_ref(), &notify)
                }
                Err(_) => failed.push(path),
            }
        } else {
            pending.prefetch.clear();
        }
    }
}

fn encode_into_cache(
    model: &mut SamModel,
    path: &PathBuf,
    image: &RgbImage,
    cache: &mut VecDeque<(PathBuf, Embedding)>,
    disk: Option<&EmbeddingCache>,
    notify: &Notifier,
) {
    if let Some(pos) = cache.iter().position(|(p, _)| p == path) {
        // Most recently used goes to the back.
        if let Some(entry) = cache.remove(pos) {
            cache.push_back(entry);
        }
        notify.send(Response::Encoded {
            path: path.clone(),
            millis: 0.0,
        });
        return;
    }
    notify.send(Response::EncodeStarted { path: path.clone() });
    let start = Instant::now();
    match encode_cached(model, image, path, disk) {
        Ok((embedding, _)) => {
            if cache.len() >= CACHE_LEN {
                cache.pop_front();
            }
            cache.push_back((path.clone(), embedding));
            notify.send(Response::Encoded {
                path: path.clone(),
                millis: start.elapsed().as_secs_f64() * 1e3,
            });
        }
        Err(err) => notify.send(Response::EncodeFailed {
            path: path.clone(),
            message: err.to_string(),
        }),
    }
}

fn load_model(
    source: &ModelSource,
    options: SessionOptions,
    notify: &Notifier,
) -> Result<SamModel, String> {
    let dir = match source {
        ModelSource::Dir(dir) => dir.clone(),
        ModelSource::Named(name) => {
            let manifest = Manifest::builtin().map_err(|e| e.to_string())?;
            let entry = manifest.get(name).map_err(|e| e.to_string())?;
            let mut last = Instant::now();
            hub::ensure_model(entry, &mut |done, total| {
                if last.elapsed().as_millis() > 100 || done == total {
                    last = Instant::now();
                    notify.send(Response::Downloading { done, total });
                }
            })
            .map_err(|e| e.to_string())?
        }
    };
    SamModel::load(&dir, options)
        .map_err(|e| format!("cannot use the model in {}: {e}", dir.display()))
}
