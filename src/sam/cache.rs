//! On-disk embedding cache: reopening an image encoded in an earlier run costs a disk read, not an
//! encoder run.
//!
//! Key: sha256 of the image file's bytes, under a folder per model (its encoder file's path, size and
//! modification time, the input size, the normalization, and the version of the preprocessing, so that
//! embeddings an older samlabel made with another resize are not reused). Entry: a small header, the deflated little-endian floats, and
//! the sha256 of the floats; an entry whose header or checksum does not match is recomputed, never used.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::encoder::{Embedding, Tensor};
use super::model::SamModel;
use super::preprocess::{Fit, ModelFromImage};

/// The entry format: `SAMEMB01` held one tensor; `SAMEMB02` any number, and how the image was fitted.
/// An entry of another format is recomputed, never misread.
const MAGIC: &[u8; 8] = b"SAMEMB02";
/// At most this many tensors and this many floats per entry (SAM 2.1: 3 tensors, 4.2 M floats).
const MAX_TENSORS: usize = 8;
const MAX_FLOATS: usize = 64 << 20;

/// Default memory for embeddings kept in memory by the window, in MB: 64 SAM embeddings of 4 MB, or
/// 15 SAM 2.1 embeddings of 16.8 MB (three tensors).
pub const DEFAULT_MEMORY_MB: usize = 256;

/// Where a model's embeddings are cached.
pub struct EmbeddingCache {
    dir: PathBuf,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl EmbeddingCache {
    /// The cache for `model` under `root` (normally `hub::cache_dir()/embeddings`).
    pub fn for_model(root: &Path, model: &SamModel) -> Self {
        let encoder = model.dir.join(&model.config.encoder);
        let meta = std::fs::metadata(&encoder).ok();
        let identity = format!(
            "{}|{}|{:?}|{}|{:?}|{:?}|{}",
            std::path::absolute(&encoder).unwrap_or(encoder).display(),
            meta.as_ref().map_or(0, |m| m.len()),
            meta.and_then(|m| m.modified().ok()),
            model.config.input_size,
            model.config.pixel_mean,
            model.config.pixel_std,
            super::preprocess::VERSION,
        );
        let id = hex(&Sha256::digest(identity.as_bytes())[..12]);
        Self { dir: root.join(id) }
    }

    fn entry(&self, image_hash: &str) -> PathBuf {
        self.dir.join(format!("{image_hash}.emb"))
    }

    /// The key of an image file: sha256 of its bytes.
    pub fn image_key(path: &Path) -> std::io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex(&hasher.finalize()))
    }

    /// The cached embedding, or None when absent or damaged (a damaged entry is removed).
    pub fn get(&self, image_key: &str) -> Option<Embedding> {
        let path = self.entry(image_key);
        let bytes = std::fs::read(&path).ok()?;
        let embedding = decode(&bytes);
        if embedding.is_none() {
            tracing::warn!(
                "embedding cache entry {} is damaged; recomputing it",
                path.display()
            );
            let _ = std::fs::remove_file(&path);
        }
        embedding
    }

    /// Stores an embedding (atomically: a reader never sees half an entry). Errors are only logged:
    /// a cache that cannot be written costs time, not work.
    pub fn put(&self, image_key: &str, embedding: &Embedding) {
        let result = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let path = self.entry(image_key);
            let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&tmp, encode(embedding)?)?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(err) = result {
            tracing::warn!(
                "cannot write the embedding cache in {}: {err}",
                self.dir.display()
            );
        }
    }
}

/// Encodes `image` (read from `path`), or takes its embedding from the cache; stores new ones.
/// Returns whether it came from the cache.
pub fn encode_cached(
    model: &mut SamModel,
    image: &image::RgbImage,
    path: &Path,
    cache: Option<&EmbeddingCache>,
    cancel: Option<&super::CancelToken>,
) -> Result<(Embedding, bool), super::SamError> {
    let key = cache.and_then(|_| EmbeddingCache::image_key(path).ok());
    if let (Some(cache), Some(key)) = (cache, key.as_deref())
        && let Some(embedding) = cache.get(key)
        && embedding.model_from_image == model.model_from_image(image.width(), image.height())
        && embedding.tensors.len() == model.interface.embedding.len()
        && embedding
            .tensors
            .iter()
            .zip(&model.interface.embedding)
            .all(|(t, io)| t.shape == io.shape)
    {
        return Ok((embedding, true));
    }
    let (embedding, _) = model.encode_with(image, cancel)?;
    if let (Some(cache), Some(key)) = (cache, key.as_deref()) {
        cache.put(key, &embedding);
    }
    Ok((embedding, false))
}

/// Header: magic, tensor count, each tensor's `C, H, W`, the image's width and height, the model
/// input's side and how the image was fitted (all little-endian u32), then the sha256 of the floats;
/// then the deflated little-endian floats of all tensors in order.
fn encode(embedding: &Embedding) -> std::io::Result<Vec<u8>> {
    let raw: Vec<u8> = embedding
        .tensors
        .iter()
        .flat_map(|t| t.data.iter())
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let t = &embedding.model_from_image;
    let mut words = vec![embedding.tensors.len() as u32];
    for tensor in &embedding.tensors {
        words.extend(tensor.shape.map(|d| d as u32));
    }
    let fit = match t.fit {
        Fit::LongestSide => 0,
        Fit::Stretch => 1,
    };
    words.extend([t.image_size.0, t.image_size.1, t.target, fit]);
    let mut out = Vec::with_capacity(raw.len() / 2);
    out.extend_from_slice(MAGIC);
    for v in words {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&Sha256::digest(&raw));
    let mut deflate = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    deflate.write_all(&raw)?;
    deflate.finish()
}

fn decode(bytes: &[u8]) -> Option<Embedding> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let mut words = rest
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let count = words.next()? as usize;
    if count == 0 || count > MAX_TENSORS {
        return None;
    }
    let mut shapes = Vec::with_capacity(count);
    for _ in 0..count {
        let shape = [words.next()?, words.next()?, words.next()?].map(|d| d as usize);
        shapes.push(shape);
    }
    let (w, h, target, fit) = (words.next()?, words.next()?, words.next()?, words.next()?);
    let floats = shapes
        .iter()
        .try_fold(0usize, |n, s| n.checked_add(s.iter().product::<usize>()))?;
    if w == 0 || h == 0 || target == 0 || floats > MAX_FLOATS {
        return None;
    }
    let model_from_image = match fit {
        0 => ModelFromImage::new(w, h, target),
        1 => ModelFromImage::stretched(w, h, target),
        _ => return None,
    };
    let header_len = MAGIC.len() + 4 * (1 + 3 * count + 4);
    let checksum = bytes.get(header_len..header_len + 32)?;
    let expected = floats * 4;
    let mut raw = Vec::with_capacity(expected);
    flate2::read::DeflateDecoder::new(&bytes[header_len + 32..])
        .take(expected as u64 + 1)
        .read_to_end(&mut raw)
        .ok()?;
    if raw.len() != expected || Sha256::digest(&raw).as_slice() != checksum {
        return None;
    }
    let mut values = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let tensors = shapes
        .into_iter()
        .map(|shape| Tensor {
            shape,
            data: values.by_ref().take(shape.iter().product()).collect(),
        })
        .collect();
    Some(Embedding {
        tensors,
        model_from_image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedding() -> Embedding {
        Embedding {
            tensors: vec![Tensor {
                shape: [2, 3, 4],
                data: (0..2 * 3 * 4).map(|i| i as f32 * 0.25 - 1.0).collect(),
            }],
            model_from_image: ModelFromImage::new(640, 480, 1024),
        }
    }

    /// SAM 2.1's three tensors (shrunk), from a stretched image.
    fn sam2_embedding() -> Embedding {
        let tensor = |shape: [usize; 3], offset: f32| Tensor {
            shape,
            data: (0..shape.iter().product::<usize>())
                .map(|i| i as f32 * 0.5 + offset)
                .collect(),
        };
        Embedding {
            tensors: vec![
                tensor([2, 8, 8], 0.0),
                tensor([4, 4, 4], 100.0),
                tensor([8, 2, 2], -7.0),
            ],
            model_from_image: ModelFromImage::stretched(300, 451, 1024),
        }
    }

    #[test]
    fn several_tensors_round_trip_and_old_entries_are_not_read() {
        let dir = std::env::temp_dir().join(format!("samlabel-cache2-{}", std::process::id()));
        let cache = EmbeddingCache { dir: dir.clone() };
        cache.put("sam2", &sam2_embedding());
        let back = cache.get("sam2").unwrap();
        assert_eq!(back.tensors, sam2_embedding().tensors);
        assert_eq!(back.model_from_image, sam2_embedding().model_from_image);

        let path = cache.entry("sam2");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x11;
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache.get("sam2").is_none(), "a damaged entry is refused");

        // An entry in the first format (one tensor, no fit) is recomputed, not misread.
        let mut old = b"SAMEMB01".to_vec();
        for v in [2u32, 3, 4, 640, 480, 1024] {
            old.extend_from_slice(&v.to_le_bytes());
        }
        old.extend_from_slice(&[0; 32]);
        std::fs::write(&path, &old).unwrap();
        assert!(cache.get("sam2").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let dir = std::env::temp_dir().join(format!("samlabel-cache-{}", std::process::id()));
        let cache = EmbeddingCache { dir: dir.clone() };
        cache.put("abc", &embedding());
        let back = cache.get("abc").unwrap();
        assert_eq!(back.tensors, embedding().tensors);
        assert_eq!(back.model_from_image, embedding().model_from_image);

        // Flip one byte of the compressed floats: the entry is refused and removed.
        let path = cache.entry("abc");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache.get("abc").is_none());
        assert!(!path.exists());
        // Truncated and foreign files too.
        std::fs::write(&path, b"SAMEMB02 short").unwrap();
        assert!(cache.get("abc").is_none());
        assert!(cache.get("missing").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
