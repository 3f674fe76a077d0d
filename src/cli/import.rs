//! `samlabel import labelme|yolo-seg|cvat INPUT... --output PROJECT.json`: annotations made with other
//! tools into a COCO project file; an existing one is imported into, keeping everything in it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use samlabel::annotate::import::{self, Source};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The format of the inputs.
    #[arg(value_enum)]
    format: Source,
    /// labelme: JSON files or folders of them (searched recursively); yolo-seg: dataset folders
    /// (with data.yaml, or images with their .txt labels) or data.yaml files; cvat: XML files.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// The COCO project file: created, or imported into when it exists.
    #[arg(long, value_name = "PROJECT.json")]
    output: PathBuf,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let mut project = super::open_for_writing(&args.output)?;
    let nothing = || format!("nothing imported into {}", args.output.display());
    let plan = import::read(args.format, &args.inputs)
        .and_then(|parsed| parsed.plan(&project.dataset, &project.root))
        .with_context(nothing)?;
    project.apply(plan.edit).with_context(nothing)?;
    project.save()?;
    println!("{}; saved to {}", plan.summary, args.output.display());
    Ok(())
}
