//! `samlabel segment`: one prompt on one image → mask PNG + one JSON line.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use samlabel::annotate::coco;
use samlabel::annotate::dataset::{Annotation, Dataset, Edit, file_name_in};
use samlabel::annotate::lock::DatasetLock;
use samlabel::annotate::mask::Mask;
use samlabel::imageio;
use samlabel::sam::cache::{EmbeddingCache, encode_cached};
use samlabel::sam::hub;
use samlabel::sam::{Multimask, PointPrompt, Prompt};

use super::ModelArgs;

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// The image (coordinates are pixels of the image after its EXIF orientation).
    image: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// A positive point `X,Y` on the object (repeatable).
    #[arg(long = "point", value_name = "X,Y", value_parser = super::parse_point, allow_hyphen_values = true)]
    points: Vec<[f32; 2]>,
    /// A negative point `X,Y` off the object (repeatable).
    #[arg(long = "negative", value_name = "X,Y", value_parser = super::parse_point, allow_hyphen_values = true)]
    negatives: Vec<[f32; 2]>,
    /// A box `X0,Y0,X1,Y1` around the object.
    #[arg(long = "box", value_name = "X0,Y0,X1,Y1", value_parser = super::parse_box, allow_hyphen_values = true)]
    bbox: Option<[f32; 4]>,
    /// `auto`: pick the best of three candidates for a single point, else the single-mask answer.
    #[arg(long, value_enum, default_value_t = Multimask::Auto)]
    multimask: Multimask,
    /// Where to write the mask (8-bit PNG, 255 inside).
    #[arg(long, short, value_name = "MASK.png", required_unless_present = "coco")]
    output: Option<PathBuf>,
    /// Add the mask as an annotation to this COCO dataset (created if missing).
    #[arg(long, value_name = "OUT.json")]
    coco: Option<PathBuf>,
    /// Category of the annotation added with --coco (created if missing).
    #[arg(long, value_name = "NAME", default_value = "object", requires = "coco")]
    category: String,
}

pub fn run(args: SegmentArgs) -> anyhow::Result<()> {
    let prompt = Prompt {
        points: args
            .points
            .iter()
            .map(|&p| PointPrompt {
                point_in_image: p,
                positive: true,
            })
            .chain(args.negatives.iter().map(|&p| PointPrompt {
                point_in_image: p,
                positive: false,
            }))
            .collect(),
        box_in_image: args.bbox,
        mask_input: None,
    };
    let image = imageio::load_rgb(&args.image)?;
    if let Some(note) = imageio::first_frame_note(&args.image) {
        eprintln!("note: {note}");
    }
    // Check the prompt before the slow part: loading the model and encoding.
    prompt
        .validate(image.width(), image.height())
        .with_context(|| format!("bad prompt for {}", args.image.display()))?;

    // Open the dataset before the slow part too, so a broken or busy file is reported at once. The
    // lock is held until the edit is saved: two writers would lose one another's annotations.
    let _lock = args.coco.as_deref().map(DatasetLock::acquire).transpose()?;
    let dataset = args.coco.as_deref().map(open_or_create).transpose()?;

    let mut model = args.model.load()?;
    let cache = EmbeddingCache::for_model(&hub::cache_dir().join("embeddings"), &model);
    let (embedding, _) = encode_cached(&mut model, &image, &args.image, Some(&cache), None)
        .with_context(|| format!("encoding {} failed", args.image.display()))?;
    let prediction = model.predict(&embedding, &prompt, args.multimask)?;

    if let Some(output) = &args.output {
        prediction
            .mask
            .to_gray()
            .save_with_format(output, image::ImageFormat::Png)
            .with_context(|| format!("cannot write {}", output.display()))?;
    }
    let mut line = serde_json::json!({
        "score": prediction.score,
        "area": prediction.mask.area(),
        "bbox": prediction.mask.bbox(),
    });
    if let (Some(dataset_path), Some(dataset)) = (&args.coco, dataset) {
        let id = add_to_coco(
            dataset,
            dataset_path,
            &args.image,
            &args.category,
            &prediction.mask,
        )?;
        line["annotation_id"] = id.into();
    }
    println!("{line}");
    Ok(())
}

/// Loads a COCO dataset, or starts an empty one when the file does not exist yet.
fn open_or_create(path: &Path) -> anyhow::Result<Dataset> {
    if !path.exists() {
        return Ok(Dataset::new());
    }
    let imported = coco::load(path)?;
    for warning in &imported.warnings {
        eprintln!("warning: {}: {warning}", path.display());
    }
    Ok(imported.dataset)
}

/// Adds the mask to the dataset, with its image and category, and saves it atomically.
fn add_to_coco(
    mut dataset: Dataset,
    dataset_path: &Path,
    image_path: &Path,
    category: &str,
    mask: &Mask,
) -> anyhow::Result<u64> {
    let file_name = file_name_in(dataset_path.parent().unwrap_or(Path::new(".")), image_path);
    let image_id = dataset.ensure_image(&file_name, mask.width(), mask.height())?;
    let image = dataset.image(image_id).context("image was just added")?;
    if (image.width, image.height) != (mask.width(), mask.height()) {
        anyhow::bail!(
            "{} lists {file_name} as {}x{}, but the image is {}x{}",
            dataset_path.display(),
            image.width,
            image.height,
            mask.width(),
            mask.height()
        );
    }
    let category_id = dataset.ensure_category(category)?;
    let annotation =
        Annotation::from_mask(dataset.next_annotation_id(), image_id, category_id, mask);
    let id = annotation.id;
    dataset.apply(Edit::AddAnnotation(annotation))?;
    coco::save(&dataset, dataset_path)?;
    Ok(id)
}
