//! `samlabel models list|download`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use samlabel::sam::hub::{self, HubError, Manifest, ModelEntry};

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// List known models, their size and whether they are downloaded.
    List,
    /// Download a model into the cache directory (verified by sha256).
    Download {
        /// Model name from `samlabel models list`.
        name: String,
    },
}

pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let manifest = Manifest::builtin()?;
    match args.command {
        ModelsCommand::List => {
            println!(
                "models are kept in {}",
                hub::cache_dir().join("models").display()
            );
            println!(
                "{:<12} {:>11}  {:<14}  description",
                "name", "download", "in the cache"
            );
            for m in &manifest.models {
                let name = if m.name == manifest.default {
                    format!("{} *", m.name)
                } else {
                    m.name.clone()
                };
                let state = if hub::is_downloaded(&m.name) {
                    "yes"
                } else {
                    "no"
                };
                println!(
                    "{name:<12} {:>8.1} MB  {state:<14}  {}",
                    m.archive.size as f64 / 1e6,
                    m.description
                );
            }
            println!("* the default model (used without --model or --model-dir)");
        }
        ModelsCommand::Download { name } => {
            let entry = manifest.get(&name)?;
            let dir = download_with_progress(entry)?;
            println!("{}", dir.display());
        }
    }
    Ok(())
}

/// Downloads (or finds) a model with a progress bar on stderr.
pub fn download_with_progress(entry: &ModelEntry) -> Result<PathBuf, HubError> {
    let bar = progress_bar(entry);
    let result = hub::ensure_model(entry, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    result
}

/// The download bar every command shows.
pub fn progress_bar(entry: &ModelEntry) -> ProgressBar {
    let bar = ProgressBar::new(entry.archive.size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(entry.name.clone());
    bar
}
