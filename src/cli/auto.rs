//! `samlabel auto PATH... --everything|--text PHRASES --coco OUT.json`: propose every object (SAM's
//! automatic mask generator) or every instance of named things (SAM 3) in images and folders
//! (recursively), into a COCO file through the same project layer as the window: locked, saved
//! atomically, resumable (images already done in this mode are skipped unless `--redo`), and
//! splittable over machines with `--shard K/N`. `samlabel auto DATASET.json --from-boxes` gives each
//! box-only annotation of a dataset SAM's mask for its box (see `boxes`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use samlabel::annotate::dataset::{Annotation, Dataset, Edit, ImageId, Segmentation, measures};
use samlabel::imageio::{self, has_image_extension, natural_cmp};
use samlabel::project::Project;
use samlabel::sam::cache::{EmbeddingCache, encode_cached};
use samlabel::sam::concept::{ConceptQuery, Instance, split_phrases};
use samlabel::sam::everything::{EverythingOptions, Proposal};
use samlabel::sam::hub;
use serde_json::Value;

use super::ModelArgs;
use super::embed::{parse_shard, shard_of};

/// The image entry's extra key that records which automatic mode labelled it.
pub const AUTO_KEY: &str = "samlabel_auto";
/// The annotation extra key that marks a proposal of an automatic mode.
const SOURCE_KEY: &str = "samlabel_source";
/// The segment-everything mode (the text mode is `text: PHRASE, ...`).
const EVERYTHING: &str = "everything";
/// Save at least this often during a long run (a killed run loses no more than this); while saving
/// is quick, after every image.
const SAVE_EVERY: Duration = Duration::from_secs(20);

mod boxes;

#[derive(Debug, Args)]
pub struct AutoArgs {
    /// Images and folders of images (folders are searched recursively); with --from-boxes, the
    /// COCO file whose boxes become masks.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// Propose every object: SAM's automatic mask generator (a grid of single-point prompts).
    #[arg(long, required_unless_present_any = ["text", "from_boxes"], conflicts_with_all = ["text", "from_boxes"])]
    everything: bool,
    /// Give each box-only annotation (a detection: a bbox, no segmentation) of the dataset SAM's mask
    /// for its box, keeping its id, category and other keys. Images without boxes left are skipped.
    #[arg(long, conflicts_with_all = ["text", "coco", "category", "redo"])]
    from_boxes: bool,
    /// With --from-boxes: write the dataset (the shard's images) here instead of changing it in place;
    /// when this file exists, the run continues in it.
    #[arg(long, value_name = "OUT.json", conflicts_with_all = ["everything", "text", "coco"])]
    output: Option<PathBuf>,
    /// Find every instance of these comma-separated phrases with a SAM 3 model, each phrase
    /// into a category of its name (e.g. `--text "car,person"`).
    #[arg(long, value_name = "PHRASES")]
    text: Option<String>,
    /// With --text: keep instances scoring above this (the official default 0.5).
    #[arg(long, value_name = "F", requires = "text", default_value_t = samlabel::sam::concept::DEFAULT_THRESHOLD)]
    threshold: f32,
    /// Points along each side of the prompt grid (the official `points_per_side`).
    #[arg(long, default_value_t = 32, value_name = "N")]
    points_per_side: usize,
    /// Drop proposals whose predicted IoU is not above this; 0 keeps all. Default: the model
    /// family's official value (0.88 for SAM, 0.8 for SAM 2.1).
    #[arg(long, value_name = "F")]
    pred_iou_thresh: Option<f32>,
    /// Drop proposals whose stability score is below this; 0 keeps all.
    #[arg(long, default_value_t = 0.95, value_name = "F")]
    stability_score_thresh: f32,
    /// Box IoU above which the weaker of two proposals is dropped (1 keeps all).
    #[arg(long, default_value_t = 0.7, value_name = "F")]
    box_nms_thresh: f32,
    /// Fill holes and remove islands smaller than this many pixels (`min_mask_region_area`).
    #[arg(long, default_value_t = 0, value_name = "PX")]
    min_area: u64,
    /// Crop layers besides the whole image (`crop_n_layers`): finds small objects, costs more.
    #[arg(long, default_value_t = 0, value_name = "N")]
    crop_layers: usize,
    /// The COCO file to add the proposals to (created if missing).
    #[arg(long, value_name = "OUT.json", required_unless_present = "from_boxes")]
    coco: Option<PathBuf>,
    /// Category of the proposals of --everything (created if missing).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "object",
        conflicts_with = "text"
    )]
    category: String,
    /// Only the K-th of N shares of the (name-sorted) images, e.g. `2/4`, as `embed` splits them.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Label images again that this mode already labelled (their earlier proposals are replaced).
    #[arg(long)]
    redo: bool,
}

/// Every image file under `paths` (folders recursively), in natural order, each once.
pub fn collect_images(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut images = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut images).with_context(|| format!("cannot read {}", path.display()))?;
        } else if path.is_file() {
            images.push(path.clone());
        } else {
            anyhow::bail!("{} does not exist", path.display());
        }
    }
    let key = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    images.sort_by(|a, b| natural_cmp(&key(a).to_string_lossy(), &key(b).to_string_lossy()));
    images.dedup_by(|a, b| key(a) == key(b));
    Ok(images)
}

fn walk(dir: &Path, images: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, images)?;
        } else if has_image_extension(&path) {
            images.push(path);
        }
    }
    Ok(())
}

pub fn run(args: AutoArgs) -> anyhow::Result<()> {
    if args.from_boxes {
        return boxes::run(&args);
    }
    let coco = args
        .coco
        .as_deref()
        .context("--coco OUT.json says where the annotations go")?;
    if let Some(text) = &args.text {
        return run_text(&args, &split_phrases(text), coco);
    }
    let images = collect_images(&args.paths)?;
    let (k, n) = args.shard.unwrap_or((1, 1));
    let mine = shard_of(images, (k, n));

    // The dataset before the slow part: a busy or broken file is reported at once.
    let mut project = super::open_for_writing(coco)?;
    let mine = items(&project, mine);
    let category = project.dataset.ensure_category(&args.category)?;
    let mut model = args.model.load()?;
    let mut options = EverythingOptions::official(model.interface.family);
    options.points_per_side = args.points_per_side;
    if let Some(t) = args.pred_iou_thresh {
        options.pred_iou_thresh = t;
    }
    options.stability_score_thresh = args.stability_score_thresh;
    options.box_nms_thresh = args.box_nms_thresh;
    options.min_mask_region_area = args.min_area;
    options.crop_n_layers = args.crop_layers;
    let cache = EmbeddingCache::for_model(&hub::embeddings_dir(), &model);

    let tally = label_images(
        &mut project,
        &mine,
        Resume::Marked {
            mode: EVERYTHING,
            redo: args.redo,
        },
        |item, image| {
            let path = &item.path;
            let (embedding, _) = encode_cached(&mut model, image, path, Some(&cache), None)?;
            Ok(model.segment_everything(image, &options, Some(&embedding), None, &mut |_| {})?)
        },
        |project, image_id, found| {
            let count = found.len();
            replace_proposals(project, image_id, category, found)?;
            Ok(count)
        },
    )?;
    println!(
        "{} images (shard {k}/{n}): {} labelled with {} proposals, {} already done (--redo labels \
         them again), {} failed; written to {}",
        mine.len(),
        tally.labelled,
        tally.found,
        tally.skipped,
        tally.failed,
        coco.display()
    );
    Ok(())
}

/// What a run over the images did.
#[derive(Default)]
struct Tally {
    labelled: usize,
    skipped: usize,
    failed: usize,
    /// Annotations made.
    found: usize,
}

/// One image of a run: its file, and its name in the dataset.
struct Item {
    path: PathBuf,
    file_name: String,
}

/// The images as the dataset names them.
fn items(project: &Project, paths: Vec<PathBuf>) -> Vec<Item> {
    paths
        .into_iter()
        .map(|path| Item {
            file_name: project.file_name_for(&path),
            path,
        })
        .collect()
}

/// Which images a run skips.
enum Resume<'a> {
    /// Those marked done in `mode` (unless `redo`); the run marks each image it labels.
    Marked { mode: &'a str, redo: bool },
    /// Those for which this says there is nothing to do (nothing is marked).
    Pending(&'a dyn Fn(&str) -> bool),
}

impl Resume<'_> {
    fn skips(&self, dataset: &Dataset, file_name: &str) -> bool {
        match self {
            Self::Marked { mode, redo } => {
                !redo
                    && dataset
                        .image_by_file(file_name)
                        .is_some_and(|i| i.extra.get(AUTO_KEY) == Some(&Value::from(*mode)))
            }
            Self::Pending(pending) => !pending(file_name),
        }
    }
}

/// The loop every mode shares: for each image that `resume` does not skip, `label` computes what to
/// add (the slow part) and `store` puts it on the image entry, returning how many annotations it
/// made; the image is then marked as done if the mode marks. A failing image is reported and
/// skipped; the dataset is saved after every image while saving is quick next to labelling (a
/// killed run then loses only the image in progress), at least every [`SAVE_EVERY`], and at the end.
fn label_images<T>(
    project: &mut Project,
    images: &[Item],
    resume: Resume<'_>,
    mut label: impl FnMut(&Item, &image::RgbImage) -> anyhow::Result<T>,
    mut store: impl FnMut(&mut Project, ImageId, T) -> anyhow::Result<usize>,
) -> anyhow::Result<Tally> {
    let bar = progress_bar(images.len());
    let mut tally = Tally::default();
    let (mut last_save, mut save_took) = (Instant::now(), Duration::ZERO);
    for item in images {
        let file_name = &item.file_name;
        bar.set_message(file_name.clone());
        if resume.skips(&project.dataset, file_name) {
            tally.skipped += 1;
            bar.inc(1);
            continue;
        }
        let result = imageio::load_rgb(&item.path)
            .map_err(anyhow::Error::from)
            .and_then(|image| Ok((image.dimensions(), label(item, &image)?)));
        match result {
            Ok((size, found)) => {
                let image_id = project.list_image(file_name, size)?;
                tally.found += store(project, image_id, found)?;
                if let Resume::Marked { mode, .. } = resume {
                    project.apply(Edit::SetImageExtra {
                        id: image_id,
                        key: AUTO_KEY.into(),
                        value: Some(Value::from(mode)),
                    })?;
                }
                tally.labelled += 1;
            }
            Err(err) => {
                tally.failed += 1;
                bar.suspend(|| eprintln!("warning: {}: {err:#}", item.path.display()));
            }
        }
        if last_save.elapsed() >= SAVE_EVERY.min(save_took * 10) {
            let start = Instant::now();
            project.save()?;
            (last_save, save_took) = (Instant::now(), start.elapsed());
        }
        bar.inc(1);
    }
    project.save()?;
    bar.finish_and_clear();
    Ok(tally)
}

/// Puts `found` on the image as annotations of `category`, in place of what this mode put there
/// before, and marks the image as done in this mode.
fn replace_proposals(
    project: &mut Project,
    image_id: ImageId,
    category: samlabel::annotate::dataset::CategoryId,
    found: Vec<Proposal>,
) -> anyhow::Result<()> {
    let earlier: Vec<_> = project
        .dataset
        .annotations_of(image_id)
        .filter(|a| a.extra.get(SOURCE_KEY) == Some(&Value::from(EVERYTHING)))
        .map(|a| a.id)
        .collect();
    for id in earlier {
        project.apply(Edit::DeleteAnnotation(id))?;
    }
    for proposal in found {
        let (area, bbox) = measures(&proposal.rle);
        let mut extra = serde_json::Map::new();
        extra.insert("score".into(), Value::from(proposal.predicted_iou));
        extra.insert(
            "stability_score".into(),
            Value::from(proposal.stability_score),
        );
        extra.insert(
            "point_coords".into(),
            Value::from(vec![proposal.point.to_vec()]),
        );
        extra.insert(SOURCE_KEY.into(), Value::from(EVERYTHING));
        project.apply(Edit::AddAnnotation(Annotation {
            id: project.dataset.next_annotation_id(),
            image_id,
            category_id: category,
            segmentation: Segmentation::CompressedRle(proposal.rle),
            area,
            bbox,
            iscrowd: 0,
            extra,
        }))?;
    }
    Ok(())
}

/// `--text`: every instance of each phrase, with a SAM 3 model.
fn run_text(args: &AutoArgs, phrases: &[String], coco: &Path) -> anyhow::Result<()> {
    if phrases.is_empty() {
        anyhow::bail!(
            "--text has no phrase: give comma-separated phrases, e.g. --text \"car,person\""
        );
    }
    let mode = format!("text: {}", phrases.join(", "));
    let images = collect_images(&args.paths)?;
    let (k, n) = args.shard.unwrap_or((1, 1));
    let mine = shard_of(images, (k, n));
    let mut project = super::open_for_writing(coco)?;
    let mine = items(&project, mine);
    let categories = phrases
        .iter()
        .map(|p| project.dataset.ensure_category(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut model = args.model.load_concept()?;

    let tally = label_images(
        &mut project,
        &mine,
        Resume::Marked {
            mode: &mode,
            redo: args.redo,
        },
        |_, image| {
            let features = model.encode(image)?;
            phrases
                .iter()
                .map(|phrase| {
                    let query = ConceptQuery {
                        text: Some(phrase.clone()),
                        boxes: Vec::new(),
                    };
                    Ok(model.find(&features, &query, args.threshold)?.0)
                })
                .collect::<anyhow::Result<Vec<_>>>()
        },
        |project, image_id, found| {
            let mut count = 0;
            for ((phrase, &category), instances) in phrases.iter().zip(&categories).zip(found) {
                count += instances.len();
                replace_instances(project, image_id, category, phrase, instances)?;
            }
            Ok(count)
        },
    )?;
    println!(
        "{} images (shard {k}/{n}): {} labelled with {} instances of {}, {} already done (--redo \
         labels them again), {} failed; written to {}",
        mine.len(),
        tally.labelled,
        tally.found,
        phrases.join(", "),
        tally.skipped,
        tally.failed,
        coco.display()
    );
    Ok(())
}

fn progress_bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} images, {per_sec}, ETA {eta}  {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Puts one phrase's instances on the image as annotations of `category`, in place of what an
/// earlier run found for the same phrase.
fn replace_instances(
    project: &mut Project,
    image_id: ImageId,
    category: samlabel::annotate::dataset::CategoryId,
    phrase: &str,
    instances: Vec<Instance>,
) -> anyhow::Result<()> {
    let source = Value::from(format!("text: {phrase}"));
    let earlier: Vec<_> = project
        .dataset
        .annotations_of(image_id)
        .filter(|a| a.extra.get(SOURCE_KEY) == Some(&source))
        .map(|a| a.id)
        .collect();
    for id in earlier {
        project.apply(Edit::DeleteAnnotation(id))?;
    }
    for instance in instances {
        let mut annotation = Annotation::from_mask(
            project.dataset.next_annotation_id(),
            image_id,
            category,
            &instance.mask,
        );
        annotation
            .extra
            .insert("score".into(), Value::from(instance.score));
        annotation
            .extra
            .insert("box_xyxy".into(), Value::from(instance.box_xyxy.to_vec()));
        annotation.extra.insert(SOURCE_KEY.into(), source.clone());
        project.apply(Edit::AddAnnotation(annotation))?;
    }
    Ok(())
}
