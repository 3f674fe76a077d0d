//! Subcommands of the `samlabel` binary. Each returns `anyhow::Result`; `main` prints the error once.

mod auto;
mod bench;
mod doctor;
mod embed;
mod export;
mod gui;
mod import;
mod merge;
mod models;
mod segment;
mod tokenize;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use samlabel::sam::concept::{self, ConceptModel};
use samlabel::sam::hub::{self, ModelSource};
use samlabel::sam::{Device, SamModel, SessionOptions};

#[derive(Debug, Parser)]
#[command(
    name = "samlabel",
    version,
    about = "Label images with Segment Anything (SAM)",
    long_about = "Label images with Segment Anything (SAM).\n\nWithout a command, opens the annotation window \
                  on the given images or folders (or a start screen).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    gui: gui::GuiArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Segment one object in an image from points and/or a box and write the mask as PNG.
    Segment(segment::SegmentArgs),
    /// Show which ONNX Runtime library, execution providers and model samlabel would use, and why.
    Doctor(doctor::DoctorArgs),
    /// List or download known models.
    Models(models::ModelsArgs),
    /// Measure image loading, encoding and per-click decoding; prints one JSON object.
    Bench(bench::BenchArgs),
    /// Precompute embeddings of a folder's images into the disk cache (optionally one shard of them).
    Embed(embed::EmbedArgs),
    /// Export a COCO dataset as COCO (RLE or polygons), YOLO segmentation labels or PNG masks.
    Export(export::ExportArgs),
    /// Import labelme JSON, YOLO labels or CVAT XML into a COCO file (kept polygons, boxes, masks).
    Import(import::ImportArgs),
    /// Label images and folders automatically into a COCO file (`--everything`: every object), or
    /// give a dataset's boxes SAM's masks (`--from-boxes`).
    Auto(auto::AutoArgs),
    /// Merge COCO files into one (images matched by file, categories by name).
    Merge(merge::MergeArgs),
    /// Print the token ids SAM 3's language encoder gets for a phrase (a JSON list).
    Tokenize(tokenize::TokenizeArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        return gui::run(cli.gui);
    };
    match command {
        Command::Segment(args) => segment::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Models(args) => models::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Export(args) => export::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Import(args) => import::run(args),
        Command::Auto(args) => auto::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Tokenize(args) => tokenize::run(args),
    }
}

/// Which model to run and where.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// A folder with encoder.onnx and decoder.onnx (and optionally model.json).
    #[arg(long, value_name = "DIR", conflicts_with = "model")]
    pub model_dir: Option<PathBuf>,
    /// A known model by name (`samlabel models list`), downloaded on first use.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// Intra-op threads for the encoder (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Intra-op threads for the decoder (default: up to 4; more only adds synchronisation).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub decoder_threads: Option<u16>,
}

impl ModelArgs {
    /// Which model the arguments name (the default model when they name none).
    pub fn source(&self) -> anyhow::Result<ModelSource> {
        Ok(ModelSource::from_args(
            self.model_dir.as_deref(),
            self.model.as_deref(),
        )?)
    }

    /// The model directory, downloading a named model (with a progress bar) if needed.
    pub fn resolve_dir(&self) -> anyhow::Result<PathBuf> {
        let bar = std::cell::OnceCell::new();
        let dir = self.source()?.resolve(
            &mut |entry| {
                eprintln!(
                    "downloading model `{}` ({}) ...",
                    entry.name, entry.description
                );
                let _ = bar.set(models::progress_bar(entry));
            },
            &mut |done, total| {
                if let Some(bar) = bar.get() {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            },
        );
        if let Some(bar) = bar.get() {
            bar.finish_and_clear();
        }
        Ok(dir?)
    }

    pub fn session_options(&self) -> SessionOptions {
        SessionOptions {
            device: self.device,
            encoder_threads: self.threads.map(usize::from),
            decoder_threads: self.decoder_threads.map(usize::from),
        }
    }

    /// The SAM 3 model the arguments name; without `--model-dir` / `--model`, the `sam3` model
    /// folder in the model cache when it is there.
    pub fn load_concept(&self) -> anyhow::Result<ConceptModel> {
        let dir = match (&self.model_dir, &self.model) {
            (None, None) => {
                let dir = hub::model_dir(hub::SAM3);
                if !concept::is_concept_dir(&dir) {
                    anyhow::bail!(
                        "finding by name needs a SAM 3 model: pass --model-dir DIR with \
                         sam3_image_encoder.onnx, sam3_language_encoder.onnx, sam3_decoder.onnx and \
                         bpe_simple_vocab_16e6.txt.gz (samexporter's export_sam3.py, or \
                         X-AnyLabeling's SAM 3 download), or put them in {}",
                        dir.display()
                    );
                }
                dir
            }
            _ => self.resolve_dir()?,
        };
        let model = ConceptModel::load(&dir, self.session_options())
            .with_context(|| format!("cannot use the SAM 3 model in {}", dir.display()))?;
        for notice in &model.notices {
            eprintln!("warning: {notice}");
        }
        Ok(model)
    }

    pub fn load(&self) -> anyhow::Result<SamModel> {
        let dir = self.resolve_dir()?;
        let model = SamModel::load(&dir, self.session_options())
            .with_context(|| format!("cannot use the model in {}", dir.display()))?;
        for notice in &model.notices {
            eprintln!("warning: {notice}");
        }
        Ok(model)
    }
}

/// Opens a dataset for writing (locked until dropped), printing what was repaired or kept aside.
pub fn open_for_writing(path: &std::path::Path) -> anyhow::Result<samlabel::project::Project> {
    let (project, warnings) = samlabel::project::Project::open_for_writing(path)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(project)
}

/// Parses `X,Y` into a point.
fn parse_point(s: &str) -> Result<[f32; 2], String> {
    let v = parse_numbers(s, 2)?;
    Ok([v[0], v[1]])
}

/// Parses `X0,Y0,X1,Y1` into a box.
fn parse_box(s: &str) -> Result<[f32; 4], String> {
    let v = parse_numbers(s, 4)?;
    Ok([v[0], v[1], v[2], v[3]])
}

fn parse_numbers(s: &str, count: usize) -> Result<Vec<f32>, String> {
    let values: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("`{s}` is not {count} comma-separated numbers"))?;
    if values.len() != count {
        return Err(format!(
            "`{s}` has {} numbers, expected {count}",
            values.len()
        ));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_points_and_boxes() {
        assert_eq!(parse_point("3,4.5"), Ok([3.0, 4.5]));
        assert!(parse_point("3").is_err());
        assert!(parse_point("a,b").is_err());
        assert_eq!(parse_box("1,2,3,4"), Ok([1.0, 2.0, 3.0, 4.0]));
    }
}
