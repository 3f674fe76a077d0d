//! Find (SAM 3) on the model thread: the SAM 3 model, loaded on first use, and the features of the
//! images it searched most recently.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;

use super::Notifier;
use super::messages::{FindJob, FoundPhrase, Response};
use crate::sam::concept::{self, ConceptFeatures, ConceptModel, ConceptQuery};
use crate::sam::{SessionOptions, hub};

/// The SAM 3 side of the model thread.
pub(super) struct Finder {
    /// The folder to load from; `None`: the `sam3` folder of the model cache.
    dir: Option<PathBuf>,
    session: SessionOptions,
    model: Option<ConceptModel>,
    /// Image features, most recent first, within `budget` bytes (the newest is always kept: a
    /// real SAM 3's are about 110 MB an image).
    features: VecDeque<(PathBuf, ConceptFeatures)>,
    budget: usize,
}

impl Finder {
    pub(super) fn new(dir: Option<PathBuf>, session: SessionOptions, budget: usize) -> Self {
        Self {
            dir,
            session,
            model: None,
            features: VecDeque::new(),
            budget,
        }
    }

    fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| hub::model_dir(hub::SAM3))
    }

    /// Uses the SAM 3 model in `dir` from now on (loaded at once, so that a bad folder is said now).
    pub(super) fn use_dir(&mut self, dir: PathBuf, notify: &Notifier) {
        match ConceptModel::load(&dir, self.session) {
            Ok(model) => {
                notify.send(Response::FindModelReady {
                    name: model.name.clone(),
                    dir: dir.clone(),
                });
                self.model = Some(model);
                self.dir = Some(dir);
                self.features.clear();
            }
            Err(err) => notify.send(Response::FindModelFailed(format!(
                "cannot use the SAM 3 model in {}: {err}",
                dir.display()
            ))),
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

    /// Puts `path`'s features first in the list, encoding the image if they are not there.
    fn features(&mut self, path: &Path, image: &RgbImage) -> Result<(), String> {
        if let Some(at) = self.features.iter().position(|(p, _)| p == path) {
            let entry = self.features.remove(at).expect("found");
            self.features.push_front(entry);
        } else {
            let model = self.model()?;
            let features = model.encode(image).map_err(|e| e.to_string())?;
            let size = features.bytes();
            while !self.features.is_empty()
                && self.features.iter().map(|(_, f)| f.bytes()).sum::<usize>() + size > self.budget
            {
                self.features.pop_back();
            }
            self.features.push_front((path.to_path_buf(), features));
        }
        Ok(())
    }

    /// Runs one Find: every phrase (or the example boxes alone) on the image.
    pub(super) fn find(&mut self, job: FindJob, notify: &Notifier) {
        let start = Instant::now();
        let failed = |message: String| {
            notify.send(Response::FindFailed {
                path: job.path.clone(),
                message,
            })
        };
        if let Err(message) = self.model().map(|_| ()) {
            return failed(message);
        }
        if let Err(message) = self.features(&job.path, &job.image) {
            return failed(message);
        }
        let (Some(model), Some((_, features))) = (self.model.as_mut(), self.features.front())
        else {
            return failed("the SAM 3 model is gone".into());
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
