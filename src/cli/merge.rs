//! `samlabel merge A.json B.json ... --out C.json`: COCO files into one (the shards of `auto`, or
//! datasets labelled apart). Images are matched by file (names are rewritten relative to the output's
//! folder), categories by name; annotation ids are given anew.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use samlabel::annotate::coco;
use samlabel::annotate::dataset::Edit;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// COCO files to merge.
    #[arg(required = true, value_name = "COCO.json")]
    inputs: Vec<PathBuf>,
    /// The merged file (created if missing; an existing one is merged into).
    #[arg(long, value_name = "OUT.json")]
    out: PathBuf,
}

pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let mut project = super::open_for_writing(&args.out)?;
    let (mut images_seen, mut annotations) = (0, 0);
    for input in &args.inputs {
        if same_file(input, &args.out) {
            eprintln!(
                "note: {} is the output; its annotations are already there",
                input.display()
            );
            continue;
        }
        let imported =
            coco::load(input).with_context(|| format!("cannot merge {}", input.display()))?;
        for warning in &imported.warnings {
            eprintln!("warning: {}: {warning}", input.display());
        }
        let root = input.parent().unwrap_or(Path::new("."));
        let dataset = imported.dataset;
        let mut categories = HashMap::new();
        for category in dataset.categories() {
            categories.insert(
                category.id,
                project.dataset.ensure_category(&category.name)?,
            );
        }
        let mut images = HashMap::new();
        for image in dataset.images() {
            let file_name = project.file_name_for(&root.join(&image.file_name));
            let id = project.list_image(&file_name, (image.width, image.height))?;
            let listed = project.dataset.image(id).map(|i| (i.width, i.height));
            if listed != Some((image.width, image.height)) {
                anyhow::bail!(
                    "{}: image {file_name} is {}x{} there but {:?} in {}",
                    input.display(),
                    image.width,
                    image.height,
                    listed.unwrap_or_default(),
                    args.out.display()
                );
            }
            // Keys the output does not have yet (review state, auto mode) come along.
            for (key, value) in &image.extra {
                let present = project
                    .dataset
                    .image(id)
                    .is_some_and(|i| i.extra.contains_key(key));
                if !present {
                    project.apply(Edit::SetImageExtra {
                        id,
                        key: key.clone(),
                        value: Some(value.clone()),
                    })?;
                }
            }
            images.insert(image.id, id);
            images_seen += 1;
        }
        for annotation in dataset.annotations() {
            let mut annotation = annotation.clone();
            annotation.id = project.dataset.next_annotation_id();
            annotation.image_id = images[&annotation.image_id];
            annotation.category_id = categories[&annotation.category_id];
            project.apply(Edit::AddAnnotation(annotation))?;
            annotations += 1;
        }
    }
    project.save()?;
    println!(
        "merged {} files ({images_seen} image entries, {annotations} annotations) into {}: {} images, \
         {} annotations, {} categories",
        args.inputs.len(),
        args.out.display(),
        project.dataset.images().len(),
        project.dataset.annotations().len(),
        project.dataset.categories().len()
    );
    Ok(())
}
