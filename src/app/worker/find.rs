//! Find (SAM 3) on a thread of its own: a SAM 3 image encode takes seconds on a CPU, and the point
//! model's clicks must not wait for it. The SAM 3 model is loaded on first use; the images' features
//! stay in a memory cache that shares the embeddings' budget.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use super::Notifier;
use super::memory::{Budget, MemoryCache};
use super::messages::{FindJob, FoundPhrase, Response};
use crate::sam::concept::{self, ConceptFeatures, ConceptModel, ConceptQuery};
use crate::sam::{SessionOptions, hub};

/// What the Find thread is asked.
pub(super) enum FindRequest {
    Find(FindJob),
    /// Use the SAM 3 model in this folder from now on.
    UseDir(PathBuf),
}

/// The Find thread: the newest model change first, then the newest Find (older ones are stale).
pub(super) fn run(
    dir: Option<PathBuf>,
    session: SessionOptions,
    requests: Receiver<FindRequest>,
    notify: Notifier,
    budget: Arc<Budget>,
) {
    let mut finder = Finder::new(dir, session);
    let mut cache: MemoryCache<ConceptFeatures> = MemoryCache::new(budget, 1);
    while let Ok(first) = requests.recv() {
        let (mut dir, mut job) = (None, None);
        for request in std::iter::once(first).chain(requests.try_iter()) {
            match request {
                FindRequest::UseDir(d) => dir = Some(d),
                FindRequest::Find(j) => job = Some(j),
            }
        }
        if let Some(dir) = dir
            && finder.use_dir(dir, &notify)
        {
            cache.clear();
        }
        if let Some(job) = job {
            cache.pinned = Some(job.path.clone());
            finder.find(job, &mut cache, &notify);
        }
    }
}

/// The SAM 3 model and where it comes from.
struct Finder {
    /// The folder to load from; `None`: the `sam3` folder of the model cache.
    dir: Option<PathBuf>,
    session: SessionOptions,
    model: Option<ConceptModel>,
}

impl Finder {
    fn new(dir: Option<PathBuf>, session: SessionOptions) -> Self {
        Self {
            dir,
            session,
            model: None,
        }
    }

    fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| hub::model_dir(hub::SAM3))
    }

    /// Uses the SAM 3 model in `dir` from now on (loaded at once, so that a bad folder is said now);
    /// true when it did, and the features made with the old one are then of no use.
    fn use_dir(&mut self, dir: PathBuf, notify: &Notifier) -> bool {
        match ConceptModel::load(&dir, self.session) {
            Ok(model) => {
                notify.send(Response::FindModelReady {
                    name: model.name.clone(),
                    dir: dir.clone(),
                });
                self.model = Some(model);
                self.dir = Some(dir);
                true
            }
            Err(err) => {
                notify.send(Response::FindModelFailed(format!(
                    "cannot use the SAM 3 model in {}: {err}",
                    dir.display()
                )));
                false
            }
        }
    }

    /// The model, loaded now if it is not yet (`loading` is called first; the window learns its name).
    fn model(
        &mut self,
        loading: impl FnOnce(),
        notify: &Notifier,
    ) -> Result<&mut ConceptModel, String> {
        if self.model.is_none() {
            let dir = self.dir();
            if !concept::is_concept_dir(&dir) {
                return Err(format!(
                    "Find needs a SAM 3 model: choose its folder with Model > Choose model... \
                     (sam3_image_encoder.onnx, sam3_language_encoder.onnx, sam3_decoder.onnx and \
                     bpe_simple_vocab_16e6.txt.gz; not found in {})",
                    dir.display()
                ));
            }
            loading();
            let model = ConceptModel::load(&dir, self.session)
                .map_err(|e| format!("cannot use the SAM 3 model in {}: {e}", dir.display()))?;
            notify.send(Response::FindModelReady {
                name: model.name.clone(),
                dir,
            });
            self.model = Some(model);
        }
        Ok(self.model.as_mut().expect("loaded above"))
    }

    /// Runs one Find: every phrase (or the example boxes alone) on the image, whose features come
    /// from `cache` or the image encoder (and then stay in `cache`).
    fn find(&mut self, job: FindJob, cache: &mut MemoryCache<ConceptFeatures>, notify: &Notifier) {
        let start = Instant::now();
        let failed = |message: String| {
            notify.send(Response::FindFailed {
                path: job.path.clone(),
                message,
            })
        };
        let progress = |stage: &'static str| {
            notify.send(Response::FindProgress {
                path: job.path.clone(),
                stage,
            })
        };
        let model = match self.model(|| progress("loading the SAM 3 model"), notify) {
            Ok(model) => model,
            Err(message) => return failed(message),
        };
        if !cache.touch(&job.path) {
            progress("encoding the image");
            match model.encode(&job.image) {
                Ok(features) => cache.insert(job.path.clone(), features),
                Err(err) => return failed(err.to_string()),
            }
        }
        let Some(features) = cache.get(&job.path) else {
            return failed("the image's features are gone".into());
        };
        // Each phrase on its own (with the examples), or the examples alone.
        let texts: Vec<Option<String>> = if job.phrases.is_empty() {
            vec![None]
        } else {
            job.phrases.iter().cloned().map(Some).collect()
        };
        let mut found = Vec::new();
        for text in texts {
            let query = ConceptQuery {
                text: text.clone(),
                boxes: job.boxes.clone(),
            };
            match model.find(features, &query, job.threshold) {
                Ok((instances, _)) => found.push(FoundPhrase {
                    phrase: text,
                    instances,
                }),
                Err(err) => {
                    let what = text.map_or_else(|| "the examples".to_owned(), |t| format!("`{t}`"));
                    return failed(format!("finding {what} failed: {err}"));
                }
            }
        }
        notify.send(Response::Found {
            path: job.path,
            found,
            millis: start.elapsed().as_secs_f64() * 1e3,
        });
    }
}
