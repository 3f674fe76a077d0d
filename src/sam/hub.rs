//! Known models (models/manifest.json) and their download into the user cache directory.
//!
//! A download streams into a `.part` file while hashing it, is checked against the manifest's size and
//! sha256, and only then is unpacked and moved into place, so a cache entry is either complete or absent.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

const MANIFEST_JSON: &str = include_str!("../../models/manifest.json");

/// Typed failures of the model cache.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel { name: String, known: String },

    #[error(
        "could not download model `{name}` from {url}: {reason}. The network may be unreachable: download that \
         file on another machine, unzip it anywhere here and pass the folder with --model-dir DIR (it holds \
         encoder.onnx and decoder.onnx)"
    )]
    Network {
        name: String,
        url: String,
        reason: String,
    },

    #[error(
        "the download of `{name}` is corrupt ({what}); it was deleted, run the command again to retry, or pass \
         --model-dir DIR"
    )]
    Corrupt { name: String, what: String },

    #[error("cannot write the model cache at {}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },

    #[error("the archive of `{name}` lacks {member}")]
    MissingMember { name: String, member: String },

    #[error("the built-in model manifest is invalid: {0}")]
    Manifest(String),
}

#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    pub default: String,
    pub models: Vec<ModelEntry>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub description: String,
    pub license: String,
    pub archive: Download,
    /// Member names inside the archive.
    pub encoder: String,
    pub decoder: String,
    #[serde(default)]
    pub extra_files: Vec<String>,
    #[serde(default)]
    pub preprocess_in_graph: bool,
    /// The model family; SAM 1 when absent.
    #[serde(default)]
    pub family: Option<super::family::Family>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Download {
    pub url: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn builtin() -> Result<Self, HubError> {
        serde_json::from_str(MANIFEST_JSON).map_err(|e| HubError::Manifest(e.to_string()))
    }

    pub fn get(&self, name: &str) -> Result<&ModelEntry, HubError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| HubError::UnknownModel {
                name: name.to_string(),
                known: self
                    .models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The user cache directory of samlabel (`SAMLABEL_CACHE_DIR` overrides it).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SAMLABEL_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("samlabel")
}

/// The on-disk embedding cache every command and the window share.
pub fn embeddings_dir() -> PathBuf {
    cache_dir().join("embeddings")
}

/// Which model to run: a folder, or a known model by name (downloaded into the cache on first use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    Dir(PathBuf),
    Named(String),
}

impl ModelSource {
    /// `--model-dir`, else `--model NAME`, else the manifest's default model.
    pub fn from_args(dir: Option<&Path>, name: Option<&str>) -> Result<Self, HubError> {
        Ok(match (dir, name) {
            (Some(dir), _) => Self::Dir(dir.to_path_buf()),
            (None, Some(name)) => Self::Named(name.to_string()),
            (None, None) => Self::Named(Manifest::builtin()?.default),
        })
    }

    /// The model folder, downloading a named model first if it is not in the cache yet.
    /// `on_download` is called once before a download starts; `progress` gets `(bytes so far, total)`.
    pub fn resolve(
        &self,
        on_download: &mut dyn FnMut(&ModelEntry),
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<PathBuf, HubError> {
        match self {
            Self::Dir(dir) => Ok(dir.clone()),
            Self::Named(name) => {
                if is_downloaded(name) {
                    return Ok(model_dir(name));
                }
                let manifest = Manifest::builtin()?;
                let entry = manifest.get(name)?;
                on_download(entry);
                ensure_model(entry, progress)
            }
        }
    }
}

/// The name of SAM 3's folder in the model cache (`samlabel segment --text` and Find look there).
pub const SAM3: &str = "sam3";

/// Where a downloaded model lives once complete.
pub fn model_dir(name: &str) -> PathBuf {
    model_dir_in(&cache_dir(), name)
}

fn model_dir_in(cache: &Path, name: &str) -> PathBuf {
    cache.join("models").join(name)
}

/// Whether `name` has been downloaded completely.
pub fn is_downloaded(name: &str) -> bool {
    is_complete(&model_dir(name))
}

/// A model folder is complete once its `model.json` exists: it is written last, in the staging
/// folder that is then moved into place.
fn is_complete(dir: &Path) -> bool {
    dir.join("model.json").is_file()
}

/// Returns the model's directory, downloading it first if needed. `progress` receives
/// `(bytes so far, total bytes)`.
pub fn ensure_model(
    entry: &ModelEntry,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PathBuf, HubError> {
    ensure_model_in(&cache_dir(), entry, progress)
}

/// `ensure_model` with an explicit cache directory.
pub fn ensure_model_in(
    cache: &Path,
    entry: &ModelEntry,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PathBuf, HubError> {
    let dir = model_dir_in(cache, &entry.name);
    if is_complete(&dir) {
        return Ok(dir);
    }
    let downloads = cache.join("downloads");
    create_dir(&downloads)?;
    let archive = downloads.join(format!("{}.zip", entry.name));
    download_verified(entry, &archive, progress)?;
    let unpacked = unpack(entry, &archive, &dir);
    let _ = std::fs::remove_file(&archive);
    unpacked?;
    Ok(dir)
}

fn create_dir(path: &Path) -> Result<(), HubError> {
    std::fs::create_dir_all(path).map_err(|error| HubError::Io {
        path: path.to_path_buf(),
        error,
    })
}

fn download_verified(
    entry: &ModelEntry,
    archive: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), HubError> {
    let network = |reason: String| HubError::Network {
        name: entry.name.clone(),
        url: entry.archive.url.clone(),
        reason,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| HubError::Io { path, error }
    };
    let part = archive.with_extension("zip.part");
    let mut response = ureq::get(&entry.archive.url)
        .call()
        .map_err(|e| network(e.to_string()))?;
    let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut file = std::fs::File::create(&part).map_err(io(&part))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(network(e.to_string()));
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io(&part))?;
        done += n as u64;
        progress(done, entry.archive.size);
    }
    file.sync_all().map_err(io(&part))?;
    drop(file);
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let corrupt = |what: String| {
        let _ = std::fs::remove_file(&part);
        HubError::Corrupt {
            name: entry.name.clone(),
            what,
        }
    };
    if done != entry.archive.size {
        return Err(corrupt(format!(
            "{done} bytes, expected {}",
            entry.archive.size
        )));
    }
    if !digest.eq_ignore_ascii_case(&entry.archive.sha256) {
        return Err(corrupt(format!(
            "sha256 {digest}, expected {}",
            entry.archive.sha256
        )));
    }
    std::fs::rename(&part, archive).map_err(io(archive))
}

/// Extracts the model's files from the archive into `<dir>.partial`, writes `model.json`, then moves
/// the folder into place.
fn unpack(entry: &ModelEntry, archive: &Path, dir: &Path) -> Result<(), HubError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| HubError::Io { path, error }
    };
    let corrupt = |what: String| HubError::Corrupt {
        name: entry.name.clone(),
        what,
    };
    let staging = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&staging);
    create_dir(&staging)?;
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| corrupt(e.to_string()))?;
    let wanted: Vec<&String> = [&entry.encoder, &entry.decoder]
        .into_iter()
        .chain(&entry.extra_files)
        .collect();
    for member in wanted {
        let index = (0..zip.len())
            .find(|&i| {
                zip.name_for_index(i).is_some_and(|n| {
                    n.ok()
                        .is_some_and(|n| n.rsplit('/').next() == Some(member.as_str()))
                })
            })
            .ok_or_else(|| HubError::MissingMember {
                name: entry.name.clone(),
                member: member.clone(),
            })?;
        let mut src = zip.by_index(index).map_err(|e| corrupt(e.to_string()))?;
        let out_path = staging.join(member);
        let mut out = std::fs::File::create(&out_path).map_err(io(&out_path))?;
        std::io::copy(&mut src, &mut out).map_err(io(&out_path))?;
        out.sync_all().map_err(io(&out_path))?;
    }
    let config = serde_json::json!({
        "name": entry.name,
        "encoder": entry.encoder,
        "decoder": entry.decoder,
        "preprocess_in_graph": entry.preprocess_in_graph,
    });
    let config_path = staging.join("model.json");
    std::fs::write(
        &config_path,
        serde_json::to_vec_pretty(&config).unwrap_or_default(),
    )
    .map_err(io(&config_path))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&staging, dir).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lists_the_required_models() {
        let manifest = Manifest::builtin().unwrap();
        for name in ["mobile-sam", "sam-vit-b", "sam-vit-l", "sam-vit-h"] {
            let entry = manifest.get(name).unwrap();
            assert_eq!(entry.archive.sha256.len(), 64, "{name}");
            assert!(entry.archive.url.starts_with("https://"), "{name}");
        }
        assert!(manifest.get(&manifest.default).is_ok());
        let err = manifest.get("nope").unwrap_err().to_string();
        assert!(err.contains("mobile-sam"), "{err}");
    }

    /// Serves `body` once per connection on a loopback port and returns the URL.
    fn serve(body: Vec<u8>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                let Ok(mut stream) = stream else { return };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        format!("http://{addr}/model.zip")
    }

    fn test_zip() -> Vec<u8> {
        let mut cursor = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, data) in [
            ("m/enc.onnx", b"encoder".as_slice()),
            ("m/dec.onnx", b"decoder"),
        ] {
            zip.start_file(name, stored).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        cursor.into_inner()
    }

    fn entry(url: String, size: u64, sha256: String) -> ModelEntry {
        ModelEntry {
            name: "tiny".into(),
            description: String::new(),
            license: String::new(),
            archive: Download { url, size, sha256 },
            encoder: "enc.onnx".into(),
            decoder: "dec.onnx".into(),
            extra_files: vec![],
            preprocess_in_graph: true,
            family: None,
        }
    }

    fn temp_cache(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("samlabel-hub-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn verified_download_is_unpacked_into_place() {
        let body = test_zip();
        let sha: String = Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let cache = temp_cache("ok");
        let e = entry(serve(body.clone()), body.len() as u64, sha);
        let mut last = 0;
        let dir = ensure_model_in(&cache, &e, &mut |done, _| last = done).unwrap();
        assert_eq!(last, body.len() as u64);
        assert_eq!(std::fs::read(dir.join("enc.onnx")).unwrap(), b"encoder");
        let config = ModelConfigProbe::read(&dir);
        assert_eq!(config["encoder"], "enc.onnx");
        assert_eq!(config["preprocess_in_graph"], true);
        assert!(!cache.join("downloads").join("tiny.zip.part").exists());
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn wrong_hash_is_refused_and_leaves_nothing() {
        let body = test_zip();
        let cache = temp_cache("bad");
        let e = entry(serve(body.clone()), body.len() as u64, "0".repeat(64));
        let err = ensure_model_in(&cache, &e, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, HubError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("sha256"), "{err}");
        assert!(!model_dir_in(&cache, "tiny").exists());
        assert!(!cache.join("downloads").join("tiny.zip.part").exists());
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn unreachable_network_names_model_dir() {
        // Bind then drop a listener: nothing listens on that loopback port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cache = temp_cache("net");
        let e = entry(format!("http://127.0.0.1:{port}/m.zip"), 1, "0".repeat(64));
        let err = ensure_model_in(&cache, &e, &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("network") && err.contains("--model-dir"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&cache);
    }

    struct ModelConfigProbe;
    impl ModelConfigProbe {
        fn read(dir: &Path) -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap()
        }
    }
}
