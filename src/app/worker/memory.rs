//! What the worker threads keep in memory: the point model's embeddings (model thread) and SAM 3's
//! image features (Find thread), each in a cache of its own, the two within one budget.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::sam::Embedding;
use crate::sam::concept::ConceptFeatures;

/// Something a cache holds, with its size.
pub(super) trait Footprint {
    fn bytes(&self) -> usize;
}

impl Footprint for Embedding {
    fn bytes(&self) -> usize {
        Embedding::bytes(self)
    }
}

impl Footprint for ConceptFeatures {
    fn bytes(&self) -> usize {
        ConceptFeatures::bytes(self)
    }
}

/// The memory budget the caches share: each publishes what it holds, and keeps what it adds within
/// what the others leave.
#[derive(Debug)]
pub(super) struct Budget {
    limit: usize,
    used: [AtomicUsize; 2],
}

impl Budget {
    pub(super) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: [AtomicUsize::new(0), AtomicUsize::new(0)],
        })
    }
}

/// Entries in memory, least recently used first, within the share of a [`Budget`].
pub(super) struct MemoryCache<E> {
    pub(super) entries: VecDeque<(PathBuf, E)>,
    budget: Arc<Budget>,
    /// Which of the budget's users this cache is.
    slot: usize,
    /// The image the user has open: never evicted, whatever prefetching brings in.
    pub(super) pinned: Option<PathBuf>,
}

impl<E: Footprint> MemoryCache<E> {
    /// A cache that is user `slot` (0 or 1) of `budget`.
    pub(super) fn new(budget: Arc<Budget>, slot: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            budget,
            slot: slot.min(1),
            pinned: None,
        }
    }

    pub(super) fn get(&self, path: &PathBuf) -> Option<&E> {
        self.entries.iter().find(|(p, _)| p == path).map(|(_, e)| e)
    }

    /// Marks `path` as just used; false if it is not cached.
    pub(super) fn touch(&mut self, path: &PathBuf) -> bool {
        match self.entries.iter().position(|(p, _)| p == path) {
            Some(pos) => {
                if let Some(entry) = self.entries.remove(pos) {
                    self.entries.push_back(entry);
                }
                true
            }
            None => false,
        }
    }

    fn bytes(&self) -> usize {
        self.entries.iter().map(|(_, e)| e.bytes()).sum()
    }

    fn publish(&self) {
        self.budget.used[self.slot].store(self.bytes(), Ordering::Relaxed);
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.publish();
    }

    /// Adds an entry, evicting this cache's least recently used ones to stay within what the other
    /// cache leaves of the budget; the newest one and the pinned one stay even when they alone are
    /// over it.
    pub(super) fn insert(&mut self, path: PathBuf, entry: E) {
        self.entries.retain(|(p, _)| *p != path);
        let size = entry.bytes();
        let others = self.budget.used[1 - self.slot].load(Ordering::Relaxed);
        let room = self.budget.limit.saturating_sub(others);
        while self.bytes() + size > room {
            let Some(oldest) = self
                .entries
                .iter()
                .position(|(p, _)| Some(p) != self.pinned.as_ref())
            else {
                break;
            };
            self.entries.remove(oldest);
        }
        self.entries.push_back((path, entry));
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sam::preprocess::ModelFromImage;

    fn embedding(floats: usize) -> Embedding {
        Embedding {
            tensors: vec![crate::sam::encoder::Tensor {
                shape: [floats, 1, 1],
                data: vec![0.0; floats],
            }],
            model_from_image: ModelFromImage::new(10, 10, 1024),
        }
    }

    #[test]
    fn memory_cache_keeps_to_its_budget_and_evicts_least_recently_used() {
        // Room for two embeddings of 400 bytes.
        let mut cache = MemoryCache::new(Budget::new(800), 0);
        let (a, b, c) = (PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c"));
        cache.insert(a.clone(), embedding(100));
        cache.insert(b.clone(), embedding(100));
        assert!(cache.touch(&a)); // b is now the least recently used
        cache.insert(c.clone(), embedding(100));
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        assert!(cache.get(&b).is_none());
        assert!(cache.bytes() <= 800);

        // One embedding over the whole budget still stays: it is the one the user works on.
        cache.insert(b.clone(), embedding(1000));
        assert_eq!(cache.entries.len(), 1);
        assert!(cache.get(&b).is_some());
        assert!(!cache.touch(&a));

        // Prefetched embeddings never push out the image the user has open.
        cache.pinned = Some(b.clone());
        cache.insert(a.clone(), embedding(100));
        cache.insert(c.clone(), embedding(100));
        assert!(cache.get(&b).is_some(), "the open image stays");
        assert!(cache.get(&c).is_some() && cache.get(&a).is_none());
    }

    #[test]
    fn two_caches_share_one_budget() {
        let features = |floats: usize| ConceptFeatures {
            tensors: vec![crate::sam::encoder::Tensor {
                shape: [floats, 1, 1],
                data: vec![0.0; floats],
            }],
            width: 10,
            height: 10,
        };
        let budget = Budget::new(1200);
        let mut embeddings = MemoryCache::new(budget.clone(), 0);
        let mut find = MemoryCache::new(budget, 1);
        let (a, b, c) = (PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c"));
        embeddings.insert(a.clone(), embedding(100));
        embeddings.insert(b.clone(), embedding(100));
        // 800 bytes of embeddings leave room for one 400-byte SAM 3 entry.
        find.insert(a.clone(), features(100));
        find.insert(b.clone(), features(100));
        assert!(find.get(&a).is_none() && find.get(&b).is_some());
        // Once the embeddings shrink, both fit.
        embeddings.clear();
        find.insert(c.clone(), features(100));
        assert!(find.get(&b).is_some() && find.get(&c).is_some());
    }
}
