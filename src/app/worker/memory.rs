//! The embeddings the model thread keeps in memory, within a budget.

use std::collections::VecDeque;
use std::path::PathBuf;

use crate::sam::Embedding;

/// Embeddings in memory, least recently used first, within a budget in bytes.
pub(super) struct MemoryCache {
    pub(super) entries: VecDeque<(PathBuf, Embedding)>,
    budget: usize,
    /// The image the user has open: never evicted, whatever prefetching brings in.
    pub(super) pinned: Option<PathBuf>,
}

impl MemoryCache {
    pub(super) fn new(budget: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            budget,
            pinned: None,
        }
    }

    pub(super) fn get(&self, path: &PathBuf) -> Option<&Embedding> {
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

    /// Adds an embedding, evicting the least recently used ones to stay within the budget; the newest
    /// one and the pinned one stay even when they alone are over it.
    pub(super) fn insert(&mut self, path: PathBuf, embedding: Embedding) {
        let size = embedding.bytes();
        while self.bytes() + size > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .position(|(p, _)| Some(p) != self.pinned.as_ref())
            else {
                break;
            };
            self.entries.remove(oldest);
        }
        self.entries.push_back((path, embedding));
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
        let mut cache = MemoryCache::new(800);
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
}
