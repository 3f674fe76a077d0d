//! `samlabel [IMAGE|DIR]...`: the annotation window (in builds with the `gui` feature).

use std::path::PathBuf;

use clap::Args;
use samlabel::sam::cache::DEFAULT_MEMORY_MB;

use super::ModelArgs;

#[derive(Debug, Args)]
pub struct GuiArgs {
    /// Images or folders of images to annotate.
    #[arg(value_name = "IMAGE|DIR")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// The dataset file (COCO JSON); default: annotations.json in the folder of the first image.
    #[arg(long, value_name = "DATASET.json")]
    output: Option<PathBuf>,
    /// Memory for image embeddings (and SAM 3's image features for Find) kept for quick switching
    /// between images, in MB (SAM: 4 MB an image, SAM 2.1: 16.8 MB, SAM 3: about 110 MB).
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MEMORY_MB)]
    embedding_memory_mb: usize,
    /// The SAM 3 model folder for Find (text prompts); default: the `sam3` folder of the model
    /// cache. Model > Choose model... also takes one.
    #[arg(long, value_name = "DIR")]
    find_model: Option<PathBuf>,
}

#[cfg(feature = "gui")]
pub fn run(args: GuiArgs) -> anyhow::Result<()> {
    use samlabel::app::{AppOptions, SamApp};
    use samlabel::sam::hub;

    for path in &args.paths {
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
    }
    let options = AppOptions {
        model: args.model.source()?,
        session: args.model.session_options(),
        paths: args.paths,
        output: args.output,
        remember_recent: true,
        embedding_cache: Some(hub::embeddings_dir()),
        embedding_memory_mb: args.embedding_memory_mb,
        find_model: args.find_model,
        font_dirs: Vec::new(),
    };
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("samlabel")
            .with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    eframe::run_native(
        "samlabel",
        native,
        Box::new(|_cc| Ok(Box::new(SamApp::new(options)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open a window: {e}"))
}

#[cfg(not(feature = "gui"))]
pub fn run(_args: GuiArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this samlabel was built without the window (cargo feature `gui`); use a command: segment, \
         embed, export, doctor, bench or models (see samlabel --help), or build with the default features"
    )
}
