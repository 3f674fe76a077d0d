//! Find (SAM 3) on the model thread: the SAM 3 model, loaded on first use. The images' features are
//! kept in the thread's memory cache, under the same budget as the embeddings.

use std::path::PathBuf;
use std::time::Instant;

use super::Notifier;
use super::memory::MemoryCache;
use super::messages::{FindJob, FoundPhrase, Response};
use crate::sam::concept::{self, ConceptModel, ConceptQuery};
use crate::sam::{SessionOptions, hub};

/// The SAM 3 side of the model thread.
pub(super) struct Finder {
    /// The folder to load from; `None`: the `sam3` folder of the model cache.
    dir: Option<PathBuf>,
    session: SessionOptions,
    model: Option<ConceptModel>,
}

impl Finder {
    pub(super) fn new(dir: Option<PathBuf>, session: SessionOptions) -> Self {
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
    pub(super) fn use_dir(&mut self, dir: PathBuf, notify: &Notifier) -> bool {
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

    fn model(&mut self) -> Result<&mut ConceptModel, String> {
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
            let model = ConceptModel::load(&dir, self.session)
                .map_err(|e| format!("cannot use the SAM 3 model in {}: {e}", dir.display()))?;
            self.model = Some(model);
        }
        Ok(self.model.as_mut().expect("loaded above"))
    }

    /// Runs one Find: every phrase (or the example boxes alone) on the image, whose features come
    /// from `cache` or the image encoder (and then stay in `cache`).
    pub(super) fn find(&mut self, job: FindJob, cache: &mut MemoryCache, notify: &Notifier) {
        let start = Instant::now();
        let failed = |message: String| {
            notify.send(Response::FindFailed {
                path: job.path.clone(),
                message,
            })
        };
        let model = match self.model() {
            Ok(model) => model,
            Err(message) => return failed(message),
        };
        if !cache.touch_kind(&job.path, true) {
            match model.encode(&job.image) {
                Ok(features) => cache.insert_concept(job.path.clone(), features),
                Err(err) => return failed(err.to_string()),
            }
        }
        let Some(features) = cache.get_concept(&job.path) else {
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
