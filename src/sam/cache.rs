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

use super::encoder::Embedding;
use super::model::SamModel;
use super::preprocess::ModelFromImage;

const MAGIC: &[u8; 8] = b"SAMEMB01";

/// Default memory for embeddings kept in memory by the window, in MB: 64 SAM embeddings of 4 MB.
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
        && embedding.model_from_image.image_size == image.dimensions()
        && embedding.shape == model.embedding_shape
    {
        return Ok((embedding, true));
    }
    let (embedding, _) = model.encode_with(image, cancel)?;
    if let (Some(cache), Some(key)) = (cache, key.as_deref()) {
        cache.put(key, &embedding);
    }
    Ok((embedding, false))
}

fn encode(embedding: &Embedding) -> std::io::Result<Vec<u8>> {
    let raw: Vec<u8> = embedding
        .data
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let t = &embedding.model_from_image;
    let mut out = Vec::with_capacity(raw.len() / 2);
    out.extend_from_slice(MAGIC);
    for v in [
        embedding.shape[0] as u32,
        embedding.shape[1] as u32,
        embedding.shape[2] as u32,
        t.image_size.0,
        t.image_size.1,
        t.target,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&Sha256::digest(&raw));
    let mut deflate = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    deflate.write_all(&raw)?;
    deflate.finish()
}

fn decode(bytes: &[u8]) -> Option<Embedding> {
    let header_len = MAGIC.len() + 6 * 4 + 32;
    if bytes.len() < header_len || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let word = |i: usize| {
        let at = MAGIC.len() + 4 * i;
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    };
    let shape = [word(0) as usize, word(1) as usize, word(2) as usize];
    let (w, h, target) = (word(3), word(4), word(5));
    let expected = shape.iter().product::<usize>().checked_mul(4)?;
    if w == 0 || h == 0 || target == 0 || expected > 64 << 20 {
        return None;
    }
    let checksum = &bytes[MAGIC.len() + 24..header_len];
    let mut raw = Vec::with_capacity(expected);
    flate2::read::DeflateDecoder::new(&bytes[header_len..])
        .take(expected as u64 + 1)
        .read_to_end(&mut raw)
        .ok()?;
    if raw.len() != expected || Sha256::digest(&raw).as_slice() != checksum {
        return None;
    }
    let data = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(Embedding {
        data,
        shape,
        model_from_image: ModelFromImage::new(w, h, target),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedding() -> Embedding {
        Embedding {
            data: (0..2 * 3 * 4).map(|i| i as f32 * 0.25 - 1.0).collect(),
            shape: [2, 3, 4],
            model_from_image: ModelFromImage::new(640, 480, 1024),
        }
    }

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let dir = std::env::temp_dir().join(format!("samlabel-cache-{}", std::process::id()));
        let cache = EmbeddingCache { dir: dir.clone() };
        cache.put("abc", &embedding());
        let back = cache.get("abc").unwrap();
        assert_eq!(back.data, embedding().data);
        assert_eq!(back.shape, [2, 3, 4]);
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
        std::fs::write(&path, b"SAMEMB01 short").unwrap();
        assert!(cache.get("abc").is_none());
        assert!(cache.get("missing").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
