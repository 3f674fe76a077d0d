//! `samlabel export`: a COCO dataset → COCO (RLE or polygons), YOLO segmentation or PNG masks.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use samlabel::annotate::{coco, export};

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

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// COCO instances JSON, masks as compressed RLE (`annotations.json`).
    Coco,
    /// COCO instances JSON, masks as polygons where they reproduce the mask within 1% IoU.
    CocoPolygons,
    /// YOLO segmentation labels (`labels/*.txt`, `images/`, `data.yaml`).
    YoloSeg,
    /// PNG masks per image: 16-bit instance ids and 8-bit category indices.
    Masks,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let imported = coco::load(&args.dataset)?;
    for warning in &imported.warnings {
        eprintln!("warning: {}: {warning}", args.dataset.display());
    }
    let dataset = &imported.dataset;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let root = args.dataset.parent().map(PathBuf::from).unwrap_or_default();
    let summary = match args.format {
        Format::Coco => export::coco_rle(dataset, &args.out.join("annotations.json"))?,
        Format::CocoPolygons => export::coco_polygons(dataset, &args.out.join("annotations.json"))?,
        Format::YoloSeg => export::yolo_seg(dataset, &root, &args.out)?,
        Format::Masks => export::masks(dataset, &args.out)?,
    };
    println!("{summary} to {}", args.out.display());
    Ok(())
}
