//! "Masks from boxes" on the model thread: the image's embedding (from memory, disk or the encoder),
//! then one decode per box.

use super::messages::BoxMaskJob;
use super::{MemoryCache, Notifier, Response, encode_into_cache};
use crate::project::boxes::masks_from_boxes;
use crate::sam::cache::EmbeddingCache;
use crate::sam::{Embedding, SamModel};

/// Sends the masks of `job`'s boxes, or why there are none.
pub(super) fn masks(
    model: Option<&mut SamModel>,
    job: BoxMaskJob,
    (cache, disk): (&mut MemoryCache<Embedding>, Option<&EmbeddingCache>),
    notify: &Notifier,
) {
    let failed = |message: String| {
        notify.send(Response::BoxMasksFailed {
            path: job.path.clone(),
            message,
        })
    };
    let Some(model) = model else {
        return failed("no model is loaded".into());
    };
    if cache.get(&job.path).is_none()
        && encode_into_cache(model, &job.path, &job.image, cache, disk, None, notify).is_err()
    {
        return failed("the image could not be encoded".into());
    }
    let Some(embedding) = cache.get(&job.path) else {
        return failed("the image's embedding is gone".into());
    };
    match masks_from_boxes(model, embedding, &job.boxes) {
        Ok(masks) => notify.send(Response::BoxMasks {
            path: job.path.clone(),
            masks,
        }),
        Err(err) => failed(err.to_string()),
    }
}
