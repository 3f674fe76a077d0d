//! Fallback fonts, so that category and file names in Chinese, Japanese, Korean, Arabic and other
//! scripts render instead of showing boxes. egui's bundled font covers Latin, Greek and Cyrillic; for
//! the rest samlabel uses fonts the system already has (well-known files under the usual font
//! folders, and any font in the folders `SAMLABEL_FONT_DIRS` or `AppOptions::font_dirs` name).

use std::path::{Path, PathBuf};

use egui::{FontData, FontFamily, FontInsert, FontPriority, InsertFontFamily};

/// Font files known to cover scripts egui's default font lacks, by file name (any folder below the
/// system's font folders). Checked in this order; each one found is added as a fallback.
const KNOWN_FALLBACKS: [&str; 26] = [
    // Linux distributions
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSansCJKjp-Regular.otf",
    "NotoSansCJKkr-Regular.otf",
    "DroidSansFallbackFull.ttf",
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NanumGothic.ttf",
    "NotoSansArabic-Regular.ttf",
    "NotoNaskhArabic-Regular.ttf",
    "NotoSansHebrew-Regular.ttf",
    "NotoSansDevanagari-Regular.ttf",
    "NotoSansThai-Regular.ttf",
    "DejaVuSans.ttf",
    // Symbols (the file browser's folder icons)
    "NotoEmoji-Regular.ttf",
    "Symbola.ttf",
    // Windows
    "seguisym.ttf",
    "msyh.ttc",
    "YuGothR.ttc",
    "malgun.ttf",
    "segoeui.ttf",
    // macOS
    "PingFang.ttc",
    "Hiragino Sans GB.ttc",
    "AppleSDGothicNeo.ttc",
    "GeezaPro.ttc",
    "Apple Symbols.ttf",
];

/// Folders searched for the known fallbacks.
fn system_font_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/usr/share/fonts"),
        PathBuf::from("/usr/local/share/fonts"),
        PathBuf::from("/System/Library/Fonts"),
        PathBuf::from("/Library/Fonts"),
        PathBuf::from("C:\\Windows\\Fonts"),
    ];
    if let Some(home) = dirs::home_dir() {
        dirs.push(home.join(".local/share/fonts"));
        dirs.push(home.join(".fonts"));
        dirs.push(home.join("Library/Fonts"));
    }
    dirs
}

fn is_font_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "ttf" | "otf" | "ttc"))
}

/// Font files below `dir` (a few levels deep), sorted by path.
fn font_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() && depth > 0 {
            font_files(&path, depth - 1, out);
        } else if is_font_file(&path) {
            out.push(path);
        }
    }
}

/// The fallback font files to load: every font in `extra_dirs`, then the known system ones found.
pub fn fallback_files(extra_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut chosen = Vec::new();
    for dir in extra_dirs {
        font_files(dir, 2, &mut chosen);
    }
    let mut system = Vec::new();
    for dir in system_font_dirs() {
        font_files(&dir, 4, &mut system);
    }
    for known in KNOWN_FALLBACKS {
        if let Some(path) = system
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == known))
        {
            chosen.push(path.clone());
        }
    }
    chosen
}

/// Adds the fallback fonts after egui's own, for both families; returns the files it added.
pub fn install_fallbacks(ctx: &egui::Context, extra_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut added = Vec::new();
    for path in fallback_files(extra_dirs) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let name = format!("fallback:{}", path.display());
        let families = [FontFamily::Proportional, FontFamily::Monospace]
            .into_iter()
            .map(|family| InsertFontFamily {
                family,
                priority: FontPriority::Lowest,
            })
            .collect();
        ctx.add_font(FontInsert::new(
            &name,
            FontData::from_owned(bytes),
            families,
        ));
        added.push(path);
    }
    tracing::debug!("fallback fonts: {added:?}");
    added
}
