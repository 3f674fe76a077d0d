//! Finding and loading the ONNX Runtime library, and choosing an execution provider.
//!
//! samlabel links ONNX Runtime dynamically (`ort`'s `load-dynamic`), so the library is looked up at
//! run time, in this order: `ORT_DYLIB_PATH`, next to the executable, the project-local `.ort/lib`
//! that `scripts/setup-ort.sh` fills, and finally an installed Python `onnxruntime` package.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::ep::ExecutionProvider as _;
use ort::session::builder::SessionBuilder;

/// The ONNX Runtime version that the set-up step installs and the tests run against.
pub const ORT_VERSION: &str = "1.31.1";

/// The command that installs the library into the project-local directory.
pub const SETUP_COMMAND: &str = "bash scripts/setup-ort.sh";

/// Typed failures of finding or loading ONNX Runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "the ONNX Runtime library was not found; looked in: {}. Fix: run `{SETUP_COMMAND}` in the samlabel \
         checkout (or `pip install onnxruntime=={ORT_VERSION}`), or set ORT_DYLIB_PATH to the path of {}",
        .searched.join("; "),
        library_file_name()
    )]
    NotFound { searched: Vec<String> },

    #[error(
        "could not load the ONNX Runtime library {}: {reason}. Fix: run `{SETUP_COMMAND}` to install ONNX Runtime \
         {ORT_VERSION}, or point ORT_DYLIB_PATH at a working {}",
        .path.display(),
        library_file_name()
    )]
    Load { path: PathBuf, reason: String },

    #[error(
        "the ONNX Runtime library {} is version {found}; samlabel needs 1.{MIN_MINOR}.x or a later 1.x \
         (it is tested with {ORT_VERSION}). Fix: run `{SETUP_COMMAND}`, or point ORT_DYLIB_PATH at a newer {}",
        .path.display(),
        library_file_name()
    )]
    UnsupportedVersion { path: PathBuf, found: String },

    #[error("ONNX Runtime at {} could not start: {reason}", .path.display())]
    Environment { path: PathBuf, reason: String },
}

/// Oldest ONNX Runtime minor version (of 1.x) whose C API has everything samlabel calls (API 17).
pub const MIN_MINOR: u32 = 17;

/// Whether a library version string (`1.31.1`) is one samlabel can use: 1.17 or a later 1.x.
pub fn is_supported_version(version: &str) -> bool {
    let mut parts = version.trim().split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => major == 1 && minor >= MIN_MINOR,
        _ => false,
    }
}

/// Where a library candidate came from, for `doctor` and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibrarySource {
    EnvVar,
    NextToExecutable,
    ProjectLocal,
    Python,
}

impl std::fmt::Display for LibrarySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::EnvVar => "ORT_DYLIB_PATH",
            Self::NextToExecutable => "next to the executable",
            Self::ProjectLocal => "project-local .ort/lib",
            Self::Python => "Python onnxruntime package",
        })
    }
}

/// The loaded library: there is one per process.
pub struct Runtime {
    pub library_path: PathBuf,
    pub source: LibrarySource,
    pub version: String,
    environment: Environment,
}

impl Runtime {
    /// Finds, loads and initializes ONNX Runtime once per process.
    pub fn get() -> Result<&'static Runtime, RuntimeError> {
        static RUNTIME: OnceLock<Runtime> = OnceLock::new();
        if let Some(runtime) = RUNTIME.get() {
            return Ok(runtime);
        }
        let (path, source) = locate_library()?;
        let runtime = load(&path, source)?;
        Ok(RUNTIME.get_or_init(|| runtime))
    }

    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// Execution providers compiled into the loaded library, as ONNX Runtime names them.
    pub fn available_providers(&self) -> Vec<String> {
        available_providers()
    }

    pub fn has_provider(&self, name: &str) -> bool {
        self.available_providers().iter().any(|p| p == name)
    }
}

fn load(path: &Path, source: LibrarySource) -> Result<Runtime, RuntimeError> {
    // Check the version first: asking an older library for a newer API only fails inside `ort`.
    let version = library_version(path);
    if version != "unknown" && !is_supported_version(&version) {
        return Err(RuntimeError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let builder = ort::init_from(path).map_err(|e| RuntimeError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let environment = builder
        .with_name("samlabel")
        .with_telemetry(false)
        .build()
        .map_err(|e| RuntimeError::Environment {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(Runtime {
        library_path: path.to_path_buf(),
        source,
        version,
        environment,
    })
}

/// Reads the library's own version string (`OrtGetApiBase()->GetVersionString()`).
fn library_version(path: &Path) -> String {
    // SAFETY: the library is already loaded by `ort::init_from`, so this only takes another reference to
    // it; `OrtGetApiBase` has this signature in every ONNX Runtime release and returns static data.
    unsafe {
        let Ok(lib) = libloading::Library::new(path) else {
            return "unknown".into();
        };
        let Ok(get_base) =
            lib.get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase")
        else {
            return "unknown".into();
        };
        let base = get_base();
        if base.is_null() {
            return "unknown".into();
        }
        let s = ((*base).GetVersionString)();
        if s.is_null() {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned()
    }
}

fn available_providers() -> Vec<String> {
    let mut names = Vec::new();
    let mut providers: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut count: std::ffi::c_int = 0;
    let api = ort::api();
    // SAFETY: plain C API calls on a loaded library; the array is released before returning.
    unsafe {
        let status = (api.GetAvailableProviders)(&mut providers, &mut count);
        if !status.0.is_null() {
            (api.ReleaseStatus)(status.0);
            return names;
        }
        if providers.is_null() {
            return names;
        }
        for i in 0..count as usize {
            let p = *providers.add(i);
            if !p.is_null() {
                names.push(std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned());
            }
        }
        let _ = (api.ReleaseAvailableProviders)(providers, count);
    }
    names
}

/// File name of the ONNX Runtime library on this platform.
pub fn library_file_name() -> &'static str {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else {
        "libonnxruntime.so"
    }
}

/// Looks for the library in the documented order and returns the first hit.
pub fn locate_library() -> Result<(PathBuf, LibrarySource), RuntimeError> {
    let mut searched = Vec::new();

    match std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        Some(value) => {
            let path = PathBuf::from(value);
            let hit = if path.is_dir() {
                find_in_dir(&path)
            } else {
                path.is_file().then(|| path.clone())
            };
            if let Some(hit) = hit {
                return Ok((hit, LibrarySource::EnvVar));
            }
            // An explicit choice that is wrong must not be replaced silently by another library.
            return Err(RuntimeError::NotFound {
                searched: vec![format!("ORT_DYLIB_PATH={} (no such file)", path.display())],
            });
        }
        None => searched.push("ORT_DYLIB_PATH (not set)".into()),
    }

    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        for dir in [exe_dir.clone(), exe_dir.join("lib")] {
            if let Some(hit) = find_in_dir(&dir) {
                return Ok((hit, LibrarySource::NextToExecutable));
            }
        }
        searched.push(format!("next to the executable ({})", exe_dir.display()));
    }

    for dir in project_local_dirs() {
        if let Some(hit) = find_in_dir(&dir) {
            return Ok((hit, LibrarySource::ProjectLocal));
        }
        searched.push(dir.display().to_string());
    }

    let python_dirs = python_package_dirs();
    for dir in &python_dirs {
        if let Some(hit) = find_in_dir(&dir.join("capi")) {
            return Ok((hit, LibrarySource::Python));
        }
    }
    searched.push(if python_dirs.is_empty() {
        "Python packages (no onnxruntime package installed)".into()
    } else {
        format!(
            "Python packages ({})",
            python_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });

    Err(RuntimeError::NotFound { searched })
}

/// `.ort/lib` in the folders above the executable and the working directory, and in the source
/// checkout this binary was built from.
fn project_local_dirs() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut push_ancestors = |start: &Path| {
        for dir in start.ancestors() {
            if dir.join("Cargo.toml").is_file() || dir.join(".ort").is_dir() {
                let lib = dir.join(".ort").join("lib");
                if !roots.contains(&lib) {
                    roots.push(lib);
                }
                break;
            }
        }
    };
    if let Ok(exe) = std::env::current_exe() {
        push_ancestors(&exe);
    }
    if let Ok(cwd) = std::env::current_dir() {
        push_ancestors(&cwd);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".ort")
        .join("lib");
    if !roots.contains(&built_from) {
        roots.push(built_from);
    }
    roots
}

/// Finds the library file in `dir`: the plain name first, else the highest versioned name.
fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    let plain = dir.join(library_file_name());
    if plain.is_file() {
        return Some(plain);
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if cfg!(target_os = "macos") {
                name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
            } else if cfg!(target_os = "windows") {
                name == "onnxruntime.dll"
            } else {
                name.starts_with("libonnxruntime.so.")
            }
        })
        .filter(|p| p.is_file())
        .collect();
    versioned.sort();
    versioned.pop()
}

/// Directories of installed Python `onnxruntime` packages (the GPU package installs under the same name).
fn python_package_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(prefix) = std::env::var_os(var) {
            let lib = PathBuf::from(prefix).join("lib");
            if let Ok(entries) = std::fs::read_dir(&lib) {
                for entry in entries.flatten() {
                    let dir = entry.path().join("site-packages").join("onnxruntime");
                    if dir.is_dir() {
                        dirs.push(dir);
                    }
                }
            }
        }
    }
    // `find_spec` locates the package without importing it (importing pulls in numpy: slow).
    let script = "import importlib.util as u\ns = u.find_spec('onnxruntime')\nprint(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";
    for python in ["python3", "python"] {
        let Ok(out) = std::process::Command::new(python)
            .args(["-c", script])
            .stderr(std::process::Stdio::null())
            .output()
        else {
            continue;
        };
        let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !found.is_empty() {
            let dir = PathBuf::from(found);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        break;
    }
    dirs
}

/// The device the user asked for on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    /// CUDA if the library and the machine support it, then CoreML, then CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    Coreml,
}

/// The execution provider a session actually runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Cpu,
    Cuda,
    CoreMl,
}

impl Provider {
    /// The device that asks for exactly this provider.
    pub fn device(self) -> Device {
        match self {
            Provider::Cpu => Device::Cpu,
            Provider::Cuda => Device::Cuda,
            Provider::CoreMl => Device::Coreml,
        }
    }

    /// ONNX Runtime's name for the provider.
    pub fn ort_name(self) -> &'static str {
        match self {
            Self::Cpu => "CPUExecutionProvider",
            Self::Cuda => "CUDAExecutionProvider",
            Self::CoreMl => "CoreMLExecutionProvider",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::CoreMl => "CoreML",
        })
    }
}

/// Providers to try for a requested device, best first. CPU is always the last resort.
pub fn candidates(device: Device) -> Vec<Provider> {
    match device {
        Device::Auto => vec![Provider::Cuda, Provider::CoreMl],
        Device::Cpu => vec![],
        Device::Cuda => vec![Provider::Cuda],
        Device::Coreml => vec![Provider::CoreMl],
    }
}

/// Registers `provider` on a session builder; the error says why in words a user can act on.
pub fn register(
    runtime: &Runtime,
    provider: Provider,
    builder: &mut SessionBuilder,
) -> Result<(), String> {
    if provider == Provider::Cpu {
        return Ok(());
    }
    if !runtime.has_provider(provider.ort_name()) {
        return Err(not_in_build_reason(runtime, provider));
    }
    let result = match provider {
        Provider::Cuda => ort::ep::CUDA::default().register(builder),
        Provider::CoreMl => ort::ep::CoreML::default().register(builder),
        Provider::Cpu => Ok(()),
    };
    result.map_err(|e| explain_provider_error(provider, &e.to_string()))
}

fn not_in_build_reason(runtime: &Runtime, provider: Provider) -> String {
    match provider {
        Provider::Cuda => format!(
            "the loaded ONNX Runtime library ({}) is the CPU build; install the GPU build with \
             `{SETUP_COMMAND} --gpu` (the onnxruntime-gpu package)",
            runtime.library_path.display()
        ),
        Provider::CoreMl => format!(
            "the loaded ONNX Runtime library ({}) has no CoreML support (CoreML needs macOS and the macOS \
             build of onnxruntime)",
            runtime.library_path.display()
        ),
        Provider::Cpu => String::new(),
    }
}

/// Turns ONNX Runtime's provider errors into a reason that names the missing piece.
pub fn explain_provider_error(provider: Provider, message: &str) -> String {
    if provider == Provider::Cuda {
        if let Some(file) = missing_shared_library(message) {
            let what = if file.contains("cudnn") {
                "the cuDNN library"
            } else if file.contains("libcuda.so") || file.contains("nvcuda") {
                "the NVIDIA driver library"
            } else {
                "a CUDA library"
            };
            let package = package_for(&file).map_or_else(
                || "the matching nvidia-* pip package".to_string(),
                |p| format!("pip package {p}"),
            );
            return format!(
                "{what} {file} that CUDA needs is missing; install it ({package}) and add its folder \
                 to LD_LIBRARY_PATH"
            );
        }
        let lower = message.to_ascii_lowercase();
        if lower.contains("driver version is insufficient") || lower.contains("driver is too old") {
            return "the NVIDIA driver is too old for this CUDA build of ONNX Runtime; update the driver".into();
        }
        if lower.contains("no cuda-capable device") || lower.contains("cudaerrornodevice") {
            return "no CUDA-capable GPU was found on this machine".into();
        }
    }
    format!("{provider} could not be enabled: {}", message.trim())
}

/// Extracts `libfoo.so.12` from a dlopen message such as
/// `libfoo.so.12: cannot open shared object file: No such file or directory`.
fn missing_shared_library(message: &str) -> Option<String> {
    let idx = message.find(": cannot open shared object file")?;
    let head = &message[..idx];
    let start = head
        .rfind(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '/')
        .map_or(0, |i| i + 1);
    let name = head[start..].trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// A one-node ONNX graph (`y = Relu(x)`, float [1, 4]) to open a session on a provider, as the
/// models do, without a model at hand. Made with the `onnx` package (opset 17).
const PROBE_MODEL: &[u8] = include_bytes!("probe.onnx");

/// Opens a session on `provider` exactly as a model does (register, then create the session), on a
/// tiny graph: the error is ONNX Runtime's own, explained.
pub fn probe(runtime: &Runtime, provider: Provider) -> Result<(), String> {
    let mut builder = ort::session::Session::builder(runtime.environment())
        .map_err(|e| format!("cannot create a session: {e}"))?;
    register(runtime, provider, &mut builder)?;
    builder
        .commit_from_memory(PROBE_MODEL)
        .map(drop)
        .map_err(|e| explain_provider_error(provider, &e.to_string()))
}

/// Whether CUDA works here, and if not, one sentence that says why: `None` means usable. It does
/// what the app does (a session with the CUDA provider); only when that fails does it look for
/// the reason (the library build, the driver, the CUDA and cuDNN library ONNX Runtime names).
pub fn cuda_diagnosis(runtime: &Runtime) -> Option<String> {
    if !runtime.has_provider(Provider::Cuda.ort_name()) {
        return Some(not_in_build_reason(runtime, Provider::Cuda));
    }
    let reason = probe(runtime, Provider::Cuda).err()?;
    let driver = if cfg!(target_os = "windows") {
        "nvcuda.dll"
    } else {
        "libcuda.so.1"
    };
    // SAFETY: loading a system library only to see whether it exists; no symbols are called.
    if !reason.contains(driver)
        && let Err(e) = unsafe { libloading::Library::new(driver) }
    {
        return Some(format!(
            "{reason}; the NVIDIA driver library {driver} cannot be loaded either ({e}): install the NVIDIA driver"
        ));
    }
    Some(reason)
}

/// The pip package that ships a CUDA library, where its file name says which.
fn package_for(file: &str) -> Option<String> {
    let major = file.rsplit(".so.").next().and_then(|v| v.split('.').next());
    let cuda_major = |package: &str| major.map(|m| format!("{package}-cu{m}"));
    if file.starts_with("libcudnn") {
        Some("nvidia-cudnn-cu12 or nvidia-cudnn-cu13 (the one for your CUDA version)".into())
    } else if file.starts_with("libcublas") {
        cuda_major("nvidia-cublas")
    } else if file.starts_with("libcudart") {
        cuda_major("nvidia-cuda-runtime")
    } else if file.starts_with("libnvrtc") {
        cuda_major("nvidia-cuda-nvrtc")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1_17_and_later_1_x_are_supported() {
        for ok in ["1.17.0", "1.31.1", "1.40.0-dev"] {
            assert!(is_supported_version(ok), "{ok}");
        }
        for bad in ["1.16.3", "0.9.0", "2.0.0", "", "unknown", "1"] {
            assert!(!is_supported_version(bad), "{bad}");
        }
    }

    #[test]
    fn names_the_missing_cuda_library() {
        let msg = "Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: \
                   cannot open shared object file: No such file or directory";
        let reason = explain_provider_error(Provider::Cuda, msg);
        assert!(reason.contains("libcublasLt.so.12"), "{reason}");
        assert!(
            reason.contains("nvidia-cublas-cu12"),
            "the package that ships it: {reason}"
        );
        let reason = explain_provider_error(
            Provider::Cuda,
            "libcudart.so.13: cannot open shared object file: No such file or directory",
        );
        assert!(reason.contains("nvidia-cuda-runtime-cu13"), "{reason}");
        let reason = explain_provider_error(
            Provider::Cuda,
            "libcudnn.so.9: cannot open shared object file: No such file or directory",
        );
        assert!(
            reason.contains("cuDNN") && reason.contains("libcudnn.so.9"),
            "{reason}"
        );
    }

    #[test]
    fn auto_prefers_gpu_then_cpu() {
        assert_eq!(
            candidates(Device::Auto),
            vec![Provider::Cuda, Provider::CoreMl]
        );
        assert!(candidates(Device::Cpu).is_empty());
    }
}
