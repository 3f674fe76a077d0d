//! What the model thread keeps in memory, within one budget: the embeddings of the point model and
//! SAM 3's image features (Find).

use std::collections::VecDeque;
use std::path::PathBuf;

use crate::sam::Embedding;
use crate::sam::concept::ConceptFeatures;

/// One image's encoding by one of the two models.
pub(super) enum Entry {
    Embedding(Embedding),
    Concept(ConceptFeatures),
}

impl Entry {
    fn bytes(&self) -> usize {
        match self {
            Entry::Embedding(e) => e.bytes(),
            Entry::Concept(f) => f.bytes(),
        }
    }

    fn is_concept(&self) -> bool {
        matches!(self, Entry::Concept(_))
    }
}

/// Encodings in memory, least recently used first, within a budget in bytes.
pub(super) struct MemoryCache {
    entries: VecDeque<(PathBuf, Entry)>,
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

    fn position(&self, path: &PathBuf, concept: bool) -> Option<usize> {
        self.entries
            .iter()
            .position(|(p, e)| p == path && e.is_concept() == concept)
    }

    pub(super) fn get(&self, path: &PathBuf) -> Option<&Embedding> {
        match &self.entries.get(self.position(path, false)?)?.1 {
            Entry::Embedding(e) => Some(e),
            Entry::Concept(_) => None,
        }
    }

    pub(super) fn get_concept(&self, path: &PathBuf) -> Option<&ConceptFeatures> {
        match &self.entries.get(self.position(path, true)?)?.1 {
            Entry::Concept(f) => Some(f),
            Entry::Embedding(_) => None,
        }
    }

    /// Marks `path`'s embedding (or with `concept`, its SAM 3 features) as just used; false if it is
    /// not cached.
    pub(super) fn touch_kind(&mut self, path: &PathBuf, concept: bool) -> bool {
        match self.position(path, concept) {
            Some(pos) => {
                if let Some(entry) = self.entries.remove(pos) {
                    self.entries.push_back(entry);
                }
                true
            }
            None => false,
        }
    }

    pub(super) fn touch(&mut self, path: &PathBuf) -> bool {
        self.touch_kind(path, false)
    }

    /// Forgets every embedding (another point model) or, with `concept`, every SAM 3 feature.
    pub(super) fn clear_kind(&mut self, concept: bool) {
        self.entries.retain(|(_, e)| e.is_concept() != concept);
    }

    fn bytes(&self) -> usize {
        self.entries.iter().map(|(_, e)| e.bytes()).sum()
    }

    pub(super) fn insert(&mut self, path: PathBuf, embedding: Embedding) {
        self.insert_entry(path, Entry::Embedding(embedding));
    }

    pub(super) fn insert_concept(&mut self, path: PathBuf, features: ConceptFeatures) {
        self.insert_entry(path, Entry::Concept(features));
    }

    /// Adds an entry, evicting the least recently used ones to stay within the budget; the newest
    /// one and the pinned image's stay even when they alone are over it.
    fn insert_entry(&mut self, path: PathBuf, entry: Entry) {
        if let Some(old) = self.position(&path, entry.is_concept()) {
            self.entries.remove(old);
        }
        let size = entry.bytes();
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
        self.entries.push_back((path, entry));
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

    #[test]
    fn sam3_features_share_the_budget_and_are_cleared_on_their_own() {
        let features = |floats: usize| ConceptFeatures {
            tensors: vec![crate::sam::encoder::Tensor {
                shape: [floats, 1, 1],
                data: vec![0.0; floats],
            }],
            width: 10,
            height: 10,
        };
        let mut cache = MemoryCache::new(800);
        let (a, b) = (PathBuf::from("a"), PathBuf::from("b"));
        cache.insert(a.clone(), embedding(100));
        cache.insert_concept(a.clone(), features(100));
        assert!(cache.get(&a).is_some() && cache.get_concept(&a).is_some());
        // SAM 3 features of another image push out the least recently used entry, of either kind.
        cache.insert_concept(b.clone(), features(100));
        assert!(cache.get(&a).is_none() && cache.get_concept(&b).is_some());
        cache.clear_kind(true);
        assert!(cache.get_concept(&a).is_none() && cache.get_concept(&b).is_none());
    }
}
