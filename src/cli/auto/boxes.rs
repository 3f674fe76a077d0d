//! `samlabel auto DATASET.json --from-boxes [--output OUT.json]`: each box-only annotation (a
//! detection) gets SAM's mask for its box, in the same image loop as the other modes. Each image is
//! encoded once for all its boxes. Resumable without marks: only box-only annotations are work, so a
//! second run skips what has a mask and images without boxes left (a box whose mask came out empty
//! stays a box and is tried again). Shards split the dataset's images in natural order of their names;
//! with `--output`, each shard's file holds its images, so `merge` puts the shards back together.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Dataset, Edit, ImageEntry};
use samlabel::imageio::natural_cmp;
use samlabel::project::Project;
use samlabel::project::boxes::{
    BoxJob, BoxMask, boxes_by_image, converted, masks_from_boxes, store_masks,
};
use samlabel::sam::cache::{EmbeddingCache, encode_cached};
use samlabel::sam::hub;

use super::{AutoArgs, Item, Resume, label_images};
use crate::cli::embed::shard_of;

/// The boxes still to convert on one image, and the size the dataset lists it with.
struct Todo {
    size: (u32, u32),
    boxes: Vec<BoxJob>,
}

pub fn run(args: &AutoArgs) -> anyhow::Result<()> {
    let input = match args.paths.as_slice() {
        [input] if input.is_file() => input,
        [input] => anyhow::bail!("{} is not a COCO file", input.display()),
        more => anyhow::bail!(
            "--from-boxes takes one COCO file (the dataset whose boxes become masks), not {}",
            more.len()
        ),
    };
    let (k, n) = args.shard.unwrap_or((1, 1));
    let output = args
        .output
        .as_deref()
        .filter(|out| !crate::cli::merge::same_file(input, out));
    // The dataset before the slow part: a busy or broken file is reported at once.
    let (mut project, mine) = match output {
        None => {
            let project = crate::cli::open_for_writing(input)?;
            let mine = shard_images(&project.dataset, &project.root, (k, n));
            let mine = mine
                .into_iter()
                .map(|(path, image)| Item {
                    path,
                    file_name: image.file_name.clone(),
                })
                .collect::<Vec<_>>();
            (project, mine)
        }
        Some(out) => {
            let imported =
                coco::load(input).with_context(|| format!("cannot read {}", input.display()))?;
            for warning in &imported.warnings {
                eprintln!("warning: {}: {warning}", input.display());
            }
            let root = input.parent().unwrap_or(Path::new("."));
            let mine = shard_images(&imported.dataset, root, (k, n));
            let resumed = out.exists();
            let mut project = crate::cli::open_for_writing(out)?;
            if resumed {
                eprintln!(
                    "note: {} exists: converting the boxes left there",
                    out.display()
                );
            } else {
                copy_images(&mut project, &imported.dataset, &mine)?;
            }
            let paths = mine.into_iter().map(|(path, _)| path).collect();
            let mine = super::items(&project, paths);
            (project, mine)
        }
    };
    let todo = todo(&project.dataset, &mine);
    let mut model = args.model.load()?;
    let cache = EmbeddingCache::for_model(&hub::embeddings_dir(), &model);

    let (mut empty, mut invalid) = (0, 0);
    let pending = |file_name: &str| todo.contains_key(file_name);
    let tally = label_images(
        &mut project,
        &mine,
        Resume::Pending(&pending),
        |item, image| {
            let Some(work) = todo.get(&item.file_name) else {
                return Ok(Vec::new());
            };
            if work.size != image.dimensions() {
                anyhow::bail!(
                    "the dataset lists {} as {}x{}, but the image is {}x{}: its boxes are kept",
                    item.file_name,
                    work.size.0,
                    work.size.1,
                    image.width(),
                    image.height()
                );
            }
            let (embedding, _) = encode_cached(&mut model, image, &item.path, Some(&cache), None)?;
            Ok(masks_from_boxes(&mut model, &embedding, &work.boxes)?)
        },
        |project, image_id, masks: Vec<(BoxJob, BoxMask)>| {
            let stored = store_masks(project, image_id, masks)?;
            empty += stored.empty.len();
            invalid += stored.invalid.len();
            for (id, why) in &stored.invalid {
                eprintln!("warning: annotation {id} keeps its box: {why}");
            }
            Ok(stored.converted.len())
        },
    )?;
    let written = output.unwrap_or(input);
    if !written.exists() {
        // A shard without images or categories makes no edit, and an unchanged dataset is not
        // saved; the shard's file is written all the same, for `merge`.
        coco::save(&project.dataset, written)
            .with_context(|| format!("cannot write {}", written.display()))?;
    }
    println!(
        "{} images (shard {k}/{n}): {}, {empty} empty and {invalid} unusable \
         as a prompt (kept as boxes); {} images segmented, {} without boxes to convert, {} failed; \
         written to {}",
        mine.len(),
        converted(tally.found),
        tally.labelled,
        tally.skipped,
        tally.failed,
        written.display()
    );
    Ok(())
}

/// The K-th of N shares of the dataset's images, in natural order of their names, with their files.
fn shard_images<'a>(
    dataset: &'a Dataset,
    root: &Path,
    shard: (usize, usize),
) -> Vec<(PathBuf, &'a ImageEntry)> {
    let mut images: Vec<&ImageEntry> = dataset.images().iter().collect();
    images.sort_by(|a, b| natural_cmp(&a.file_name, &b.file_name));
    let by_path: HashMap<PathBuf, &ImageEntry> = images
        .iter()
        .map(|&i| (root.join(&i.file_name), i))
        .collect();
    let paths = images.iter().map(|i| root.join(&i.file_name)).collect();
    shard_of(paths, shard)
        .into_iter()
        .filter_map(|path| by_path.get(&path).map(|&i| (path, i)))
        .collect()
}

/// Starts the output with the input's categories, top-level keys and the shard's images (named
/// relative to the output's folder) with their annotations, ids kept.
fn copy_images(
    project: &mut Project,
    input: &Dataset,
    mine: &[(PathBuf, &ImageEntry)],
) -> anyhow::Result<()> {
    project.dataset.info = input.info.clone();
    project.dataset.extra = input.extra.clone();
    for category in input.categories() {
        project.apply(Edit::AddCategory(category.clone()))?;
    }
    let paths: HashMap<_, _> = mine.iter().map(|(path, i)| (i.id, path)).collect();
    // In the input's order, not the shard's.
    for image in input.images() {
        if let Some(path) = paths.get(&image.id) {
            let file_name = project.file_name_for(path);
            project.apply(Edit::AddImage(ImageEntry {
                file_name,
                ..image.clone()
            }))?;
        }
    }
    for annotation in input.annotations() {
        if paths.contains_key(&annotation.image_id) {
            project.apply(Edit::AddAnnotation(annotation.clone()))?;
        }
    }
    Ok(())
}

/// The box-only annotations still to convert, by image name, for the shard's images.
fn todo(dataset: &Dataset, mine: &[Item]) -> HashMap<String, Todo> {
    let mut boxes = boxes_by_image(dataset);
    let by_name: HashMap<&str, &ImageEntry> = dataset
        .images()
        .iter()
        .map(|i| (i.file_name.as_str(), i))
        .collect();
    mine.iter()
        .filter_map(|item| {
            let image = by_name.get(item.file_name.as_str())?;
            let boxes = boxes.remove(&image.id)?;
            let size = (image.width, image.height);
            Some((item.file_name.clone(), Todo { size, boxes }))
        })
        .collect()
}
