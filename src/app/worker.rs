//! The background workers: a loader thread reads the image the user opens, and the model thread owns
//! the SAM model, encodes images and decodes prompts.
//!
//! The UI sends `Request`s and polls `Response`s; it never waits. Requests are coalesced: only the
//! newest decode and the newest open count, and a decode runs before any encode. Prefetching (encoding
//! the next images) runs only when nothing else waits, and yields at once: a click, or opening another
//! image, cancels the running prefetch encode inside ONNX Runtime, and it starts again after a quiet
//! moment. Results carry the image path (and decodes a sequence number), so the UI drops answers for an
//! image it already left.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use image::RgbImage;

mod boxes;
mod find;
mod memory;
mod messages;
use find::FindRequest;
use memory::{Budget, MemoryCache};
pub use messages::{BoxMaskJob, FindJob, FoundPhrase, RenderJob, RenderTarget, Request, Response};

use crate::imageio;
use crate::sam::cache::{EmbeddingCache, encode_cached};
use crate::sam::everything::{EverythingOptions, Progress};
use crate::sam::hub::ModelSource;
use crate::sam::{CancelToken, Embedding, Multimask, Prompt, SamError, SamModel, SessionOptions};

/// How the worker runs: the model, where it runs and how much it may keep.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub model: ModelSource,
    pub session: SessionOptions,
    /// Folder of the on-disk embedding cache (None: memory only).
    pub disk_cache: Option<PathBuf>,
    /// Most memory the embeddings kept in memory may take, in bytes (the current one is always kept).
    pub memory_budget: usize,
    /// The SAM 3 model for Find (`None`: the `sam3` folder of the model cache, when there).
    pub find_model: Option<PathBuf>,
}

/// After a click or an open, prefetching waits this long for the user to pause.
const PREFETCH_QUIET: Duration = Duration::from_millis(1500);

/// The UI's handle on the worker threads.
pub struct Worker {
    requests: Sender<Job>,
    opens: Sender<PathBuf>,
    /// Find has a thread of its own: a SAM 3 encode takes seconds, and clicks must not wait for it.
    finds: Sender<FindRequest>,
    responses: Receiver<Response>,
    repaint: Arc<Mutex<Option<egui::Context>>>,
    background: Arc<Background>,
}

/// The prefetch encode that is running, so that the UI thread can cancel it.
struct Background {
    running: Mutex<Option<PathBuf>>,
    /// Made by the model thread once ONNX Runtime is loaded.
    cancel: OnceLock<CancelToken>,
    /// Stops segment-everything; made with `cancel`.
    everything: OnceLock<CancelToken>,
}

impl Background {
    /// Cancels the running prefetch unless it encodes `keep`.
    fn cancel_unless(&self, keep: impl Fn(&PathBuf) -> bool) {
        let Ok(running) = self.running.lock() else {
            return;
        };
        if let (Some(path), Some(cancel)) = (running.as_ref(), self.cancel.get())
            && !keep(path)
        {
            tracing::debug!("cancelling the prefetch of {}", path.display());
            cancel.cancel();
        }
    }

    /// Marks `path` as the running prefetch (or none) and readies the cancel flag.
    fn set_running(&self, path: Option<&PathBuf>) {
        if let Ok(mut running) = self.running.lock() {
            *running = path.cloned();
            if let Some(cancel) = self.cancel.get() {
                cancel.reset();
            }
        }
    }
}

/// What the model thread works on.
enum Job {
    /// Encode an image the user opened (the loader has read it).
    Encode(PathBuf, Arc<RgbImage>),
    Prefetch(Vec<PathBuf>),
    Decode(DecodeJob),
    Render(RenderJob),
    UseModel(ModelSource),
    Everything(PathBuf, Arc<RgbImage>, EverythingOptions),
    BoxMasks(BoxMaskJob),
}

struct DecodeJob {
    seq: u64,
    path: PathBuf,
    prompt: Prompt,
    multimask: Multimask,
    preview_size: (u32, u32),
}

impl Worker {
    pub fn spawn(options: WorkerOptions) -> Self {
        let (job_tx, job_rx) = mpsc::channel();
        let (open_tx, open_rx) = mpsc::channel();
        let (find_tx, find_rx) = mpsc::channel();
        let (resp_tx, resp_rx) = mpsc::channel();
        let repaint = Arc::new(Mutex::new(None::<egui::Context>));
        let notify = Notifier {
            sender: resp_tx,
            repaint: repaint.clone(),
        };
        let background = Arc::new(Background {
            running: Mutex::new(None),
            cancel: OnceLock::new(),
            everything: OnceLock::new(),
        });

        let loader_notify = notify.clone();
        let loader_jobs = job_tx.clone();
        let loader = std::thread::Builder::new()
            .name("samlabel-loader".into())
            .spawn(move || load_images(open_rx, loader_jobs, loader_notify));
        // The embeddings and SAM 3's features share the memory budget.
        let budget = Budget::new(options.memory_budget);
        let find_notify = notify.clone();
        let find_budget = budget.clone();
        let (find_dir, session) = (options.find_model.clone(), options.session);
        let finder = std::thread::Builder::new()
            .name("samlabel-find".into())
            .spawn(move || find::run(find_dir, session, find_rx, find_notify, find_budget));
        let model_background = background.clone();
        let model = std::thread::Builder::new()
            .name("samlabel-model".into())
            .spawn(move || run(options, job_rx, notify, budget, &model_background));
        for spawned in [loader, model, finder] {
            if let Err(err) = spawned {
                tracing::error!("cannot start a worker thread: {err}");
            }
        }
        Self {
            requests: job_tx,
            opens: open_tx,
            finds: find_tx,
            responses: resp_rx,
            repaint,
            background,
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
        // A closed channel means a worker died; the UI learns it from the missing answers.
        match request {
            Request::Open(path) => {
                self.background.cancel_unless(|p| *p == path);
                let _ = self.opens.send(path);
            }
            Request::Prefetch(paths) => {
                self.background.cancel_unless(|p| paths.contains(p));
                let _ = self.requests.send(Job::Prefetch(paths));
            }
            Request::Decode {
                seq,
                path,
                prompt,
                multimask,
                preview_size,
            } => {
                // A click beats background work, unless that work is the clicked image's own encode.
                self.background.cancel_unless(|p| *p == path);
                let _ = self.requests.send(Job::Decode(DecodeJob {
                    seq,
                    path,
                    prompt,
                    multimask,
                    preview_size,
                }));
            }
            Request::Render(job) => {
                let _ = self.requests.send(Job::Render(job));
            }
            Request::UseModel(source) => {
                // Whatever is prefetched with the old model is of no use any more.
                self.background.cancel_unless(|_| false);
                let _ = self.requests.send(Job::UseModel(source));
            }
            Request::Encode(path, image) => {
                let _ = self.requests.send(Job::Encode(path, image));
            }
            Request::Everything {
                path,
                image,
                options,
            } => {
                self.background.cancel_unless(|p| *p == path);
                let _ = self.requests.send(Job::Everything(path, image, options));
            }
            Request::Find(job) => {
                let _ = self.finds.send(FindRequest::Find(job));
            }
            Request::UseFindModel(dir) => {
                let _ = self.finds.send(FindRequest::UseDir(dir));
            }
            Request::BoxMasks(job) => {
                self.background.cancel_unless(|p| *p == job.path);
                let _ = self.requests.send(Job::BoxMasks(job));
            }
            Request::CancelEverything => {
                if let Some(token) = self.background.everything.get() {
                    token.cancel();
                }
            }
        }
    }

    pub fn try_recv(&self) -> Option<Response> {
        self.responses.try_recv().ok()
    }
}

#[derive(Clone)]
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

/// The loader thread: reads the newest image the user opened, shows it and hands it to the model.
fn load_images(opens: Receiver<PathBuf>, jobs: Sender<Job>, notify: Notifier) {
    while let Ok(mut path) = opens.recv() {
        // Only the newest open counts.
        while let Ok(newer) = opens.try_recv() {
            path = newer;
        }
        match imageio::load_rgb_allowing_partial(&path) {
            Ok((image, warning)) => {
                let image = Arc::new(image);
                // The encode is queued before the UI learns of the image, so a click on it always
                // reaches the model thread after the encode it needs.
                if jobs.send(Job::Encode(path.clone(), image.clone())).is_err() {
                    return;
                }
                let note = imageio::first_frame_note(&path);
                notify.send(Response::ImageLoaded {
                    path,
                    image,
                    note,
                    warning,
                });
            }
            Err(err) => notify.send(Response::ImageFailed {
                path,
                message: err.to_string(),
            }),
        }
    }
}

#[derive(Default)]
struct Pending {
    model: Option<ModelSource>,
    everything: Option<(PathBuf, Arc<RgbImage>, EverythingOptions)>,
    encode: Option<(PathBuf, Arc<RgbImage>)>,
    prefetch: VecDeque<PathBuf>,
    decode: Option<DecodeJob>,
    renders: VecDeque<RenderJob>,
    boxes: VecDeque<BoxMaskJob>,
}

impl Pending {
    fn take(&mut self, job: Job) {
        match job {
            Job::UseModel(source) => self.model = Some(source),
            Job::Everything(path, image, options) => self.everything = Some((path, image, options)),
            Job::Encode(path, image) => self.encode = Some((path, image)),
            Job::Prefetch(paths) => self.prefetch = paths.into(),
            Job::Decode(decode) => self.decode = Some(decode),
            Job::BoxMasks(job) => self.boxes.push_back(job),
            Job::Render(render) => {
                // Only the newest view of the zoomed-in detail counts.
                if matches!(render.target, RenderTarget::Region(..)) {
                    self.renders
                        .retain(|r| !matches!(r.target, RenderTarget::Region(..)));
                }
                self.renders.push_back(render);
            }
        }
    }

    /// Whether anything but prefetching waits.
    fn is_urgent(&self) -> bool {
        self.model.is_some()
            || self.everything.is_some()
            || self.encode.is_some()
            || self.decode.is_some()
            || !self.renders.is_empty()
            || !self.boxes.is_empty()
    }
}

/// Tells the UI that `model` is ready to use.
fn announce(model: &SamModel, notify: &Notifier) {
    notify.send(Response::ModelReady {
        name: model.name.clone(),
        family: model.interface.family.to_string(),
        provider: model.provider.to_string(),
        notices: model.notices.clone(),
    });
}

fn run(
    options: WorkerOptions,
    jobs: Receiver<Job>,
    notify: Notifier,
    budget: Arc<Budget>,
    background: &Background,
) {
    match (CancelToken::new(), CancelToken::new()) {
        (Ok(prefetch), Ok(everything)) => {
            let _ = background.cancel.set(prefetch);
            let _ = background.everything.set(everything);
        }
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!("background work cannot be cancelled: {err}")
        }
    }
    let mut model = match load_model(&options.model, options.session, &notify) {
        Ok(model) => {
            announce(&model, &notify);
            Some(model)
        }
        Err(message) => {
            notify.send(Response::ModelFailed(message));
            None
        }
    };
    let disk_for = |model: Option<&SamModel>| {
        model
            .zip(options.disk_cache.as_deref())
            .map(|(m, root)| EmbeddingCache::for_model(root, m))
    };
    let mut disk = disk_for(model.as_ref());
    let mut cache = MemoryCache::new(budget, 0);
    let mut failed: Vec<PathBuf> = Vec::new();
    let mut pending = Pending::default();
    // Prefetching waits until the user pauses.
    let mut quiet_from = Instant::now();
    loop {
        if !pending.is_urgent() {
            let job = if pending.prefetch.is_empty() {
                jobs.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                jobs.recv_timeout(quiet_from.saturating_duration_since(Instant::now()))
            };
            match job {
                Ok(job) => pending.take(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(job) => pending.take(job),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }

        // 0. Another model: every embedding so far belongs to the old one.
        if let Some(source) = pending.model.take() {
            match load_model(&source, options.session, &notify) {
                Ok(new) => {
                    announce(&new, &notify);
                    disk = disk_for(Some(&new));
                    model = Some(new);
                    cache.clear();
                    failed.clear();
                    pending.prefetch.clear();
                    pending.decode = None;
                }
                Err(message) => notify.send(Response::ModelSwitchFailed(message)),
            }
            continue;
        }

        // 1. Masks the user waits for (a few ms each, no model needed), then a decode whose
        //    embedding is ready.
        if let Some(job) = pending.renders.pop_front() {
            let mask = job.render();
            notify.send(Response::Rendered {
                seq: job.seq,
                index: job.index,
                target: job.target,
                mask,
            });
            continue;
        }
        if let Some(job) = pending.decode.take() {
            quiet_from = Instant::now() + PREFETCH_QUIET;
            match (model.as_mut(), cache.get(&job.path)) {
                (Some(model), Some(embedding)) => {
                    decode(model, embedding, job, &notify);
                    continue;
                }
                (None, _) => {
                    notify.send(Response::DecodeFailed {
                        seq: job.seq,
                        message: "no model is loaded".into(),
                    });
                    continue;
                }
                (Some(_), None) => {
                    if pending.encode.as_ref().is_some_and(|(p, _)| *p == job.path) {
                        // Not encoded yet: keep it until the encode below is done.
                        pending.decode = Some(job);
                    }
                    // Otherwise it is for an image the user left: drop it.
                }
            }
        }

        // 2. The image the user opened.
        if let Some((path, image)) = pending.encode.take() {
            quiet_from = Instant::now() + PREFETCH_QUIET;
            cache.pinned = Some(path.clone());
            if let Some(model) = model.as_mut() {
                // The outcome has gone to the UI as a response; nothing else depends on it here.
                let _ = encode_into_cache(
                    model,
                    &path,
                    &image,
                    &mut cache,
                    disk.as_ref(),
                    None,
                    &notify,
                );
            }
            continue;
        }

        // 2b. Segment everything on an image the user has open.
        if let Some((path, image, options)) = pending.everything.take() {
            quiet_from = Instant::now() + PREFETCH_QUIET;
            if let Some(model) = model.as_mut() {
                everything(
                    model,
                    (&path, &image),
                    &options,
                    (&mut cache, disk.as_ref()),
                    background.everything.get(),
                    &notify,
                );
            }
            continue;
        }

        // 2c. Masks from the boxes of an image the user has open.
        if let Some(job) = pending.boxes.pop_front() {
            quiet_from = Instant::now() + PREFETCH_QUIET;
            boxes::masks(model.as_mut(), job, (&mut cache, disk.as_ref()), &notify);
            continue;
        }

        // 3. Prefetch, one image at a time, once the user pauses.
        let Some(model) = model.as_mut() else {
            pending.prefetch.clear();
            continue;
        };
        if Instant::now() < quiet_from {
            continue;
        }
        let Some(path) = pending.prefetch.pop_front() else {
            continue;
        };
        if cache.get(&path).is_some() || failed.contains(&path) {
            continue;
        }
        let Ok(image) = imageio::load_rgb(&path) else {
            failed.push(path);
            continue;
        };
        background.set_running(Some(&path));
        let outcome = encode_into_cache(
            model,
            &path,
            &image,
            &mut cache,
            disk.as_ref(),
            background.cancel.get(),
            &notify,
        );
        background.set_running(None);
        if matches!(outcome, Err(SamError::Cancelled)) {
            // Try again when the user pauses, unless the new prefetch list no longer has it.
            tracing::debug!("prefetch of {} cancelled", path.display());
            pending.prefetch.push_front(path);
            quiet_from = Instant::now() + PREFETCH_QUIET;
        }
    }
}

fn decode(model: &mut SamModel, embedding: &Embedding, job: DecodeJob, notify: &Notifier) {
    let start = Instant::now();
    match model.predict_at(embedding, &job.prompt, job.multimask, job.preview_size) {
        Ok(prediction) => notify.send(Response::Decoded {
            seq: job.seq,
            path: job.path,
            prediction: Box::new(prediction),
            millis: start.elapsed().as_secs_f64() * 1e3,
        }),
        Err(err) => notify.send(Response::DecodeFailed {
            seq: job.seq,
            message: err.to_string(),
        }),
    }
}

/// Makes sure `path`'s embedding is in memory: from memory, from disk, or from the encoder.
fn encode_into_cache(
    model: &mut SamModel,
    path: &PathBuf,
    image: &RgbImage,
    cache: &mut MemoryCache<Embedding>,
    disk: Option<&EmbeddingCache>,
    cancel: Option<&CancelToken>,
    notify: &Notifier,
) -> Result<(), SamError> {
    if cache.touch(path) {
        notify.send(Response::Encoded {
            path: path.clone(),
            millis: 0.0,
        });
        return Ok(());
    }
    notify.send(Response::EncodeStarted { path: path.clone() });
    let start = Instant::now();
    match encode_cached(model, image, path, disk, cancel) {
        Ok((embedding, _)) => {
            cache.insert(path.clone(), embedding);
            notify.send(Response::Encoded {
                path: path.clone(),
                millis: start.elapsed().as_secs_f64() * 1e3,
            });
            Ok(())
        }
        Err(SamError::Cancelled) => {
            notify.send(Response::EncodeCancelled { path: path.clone() });
            Err(SamError::Cancelled)
        }
        Err(err) => {
            notify.send(Response::EncodeFailed {
                path: path.clone(),
                message: err.to_string(),
            });
            Err(err)
        }
    }
}

/// Runs segment-everything on an open image (encoding it first if it is not cached) and sends the
/// proposals, or why there are none.
fn everything(
    model: &mut SamModel,
    (path, image): (&PathBuf, &RgbImage),
    options: &EverythingOptions,
    (cache, disk): (&mut MemoryCache<Embedding>, Option<&EmbeddingCache>),
    cancel: Option<&CancelToken>,
    notify: &Notifier,
) {
    if let Some(token) = cancel {
        token.reset();
    }
    let failed = |message: String| {
        notify.send(Response::EverythingFailed {
            path: path.clone(),
            message,
        })
    };
    if cache.get(path).is_none()
        && encode_into_cache(model, path, image, cache, disk, None, notify).is_err()
    {
        return failed("the image could not be encoded".into());
    }
    let Some(embedding) = cache.get(path) else {
        return failed("the image's embedding is gone".into());
    };
    let mut report = |p: Progress| {
        notify.send(Response::EverythingProgress {
            path: path.clone(),
            done: p.points_done,
            total: p.points_total,
        })
    };
    match model.segment_everything(image, options, Some(embedding), cancel, &mut report) {
        Ok(proposals) => notify.send(Response::Everything {
            path: path.clone(),
            proposals,
        }),
        Err(SamError::Cancelled) => failed("cancelled".into()),
        Err(err) => failed(err.to_string()),
    }
}

fn load_model(
    source: &ModelSource,
    options: SessionOptions,
    notify: &Notifier,
) -> Result<SamModel, String> {
    let mut last = Instant::now();
    let dir = source
        .resolve(&mut |_| {}, &mut |done, total| {
            if last.elapsed().as_millis() > 100 || done == total {
                last = Instant::now();
                notify.send(Response::Downloading { done, total });
            }
        })
        .map_err(|e| e.to_string())?;
    SamModel::load(&dir, options)
        .map_err(|e| format!("cannot use the model in {}: {e}", dir.display()))
}
