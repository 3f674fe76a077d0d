//! `samlabel export`: a COCO dataset → COCO (RLE or polygons), YOLO segmentation or PNG masks.

use std::path::PathBuf;

use clap::Args;
use samlabel::annotate::coco;
use samlabel::annotate::export::{self, Format};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The COCO dataset file (samlabel's project file).
    dataset: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Coco)]
    format: Format,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let imported = coco::load(&args.dataset)?;
    for warning in &imported.warnings {
        eprintln!("warning: {}: {warning}", args.dataset.display());
    }
    let root = args.dataset.parent().map(PathBuf::from).unwrap_or_default();
    let summary = export::export_to(&imported.dataset, &root, args.format, &args.out)?;
    println!("{}", summary.to_folder(&args.out));
    Ok(())
}
