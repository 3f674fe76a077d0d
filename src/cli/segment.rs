//! `samlabel segment`: one prompt on one image → mask PNG + one JSON line.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use samlabel::imageio;
use samlabel::project::Project;
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
    /// Use an image whose file is cut short (its missing part is grey) instead of refusing it.
    #[arg(long)]
    allow_partial: bool,
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
    let image = if args.allow_partial {
        let (image, warning) = imageio::load_rgb_allowing_partial(&args.image)?;
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
        image
    } else {
        imageio::load_rgb(&args.image)?
    };
    if let Some(note) = imageio::first_frame_note(&args.image) {
        eprintln!("note: {note}");
    }
    // Check the prompt before the slow part: loading the model and encoding.
    prompt
        .validate(image.width(), image.height())
        .with_context(|| format!("bad prompt for {}", args.image.display()))?;

    // Open the dataset before the slow part too, so a broken or busy file is reported at once. The
    // project holds its lock until the edit is saved: two writers would lose one another's annotations.
    let mut project = match args.coco.as_deref() {
        Some(path) => {
            let (project, warnings) = Project::open_for_writing(path)?;
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            Some(project)
        }
        None => None,
    };

    let mut model = args.model.load()?;
    let cache = EmbeddingCache::for_model(&hub::embeddings_dir(), &model);
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
    if let Some(project) = project.as_mut() {
        let category = project.dataset.ensure_category(&args.category)?;
        let id = project.add_mask(&args.image, image.dimensions(), category, &prediction.mask)?;
        project.save()?;
        line["annotation_id"] = id.into();
    }
    println!("{line}");
    Ok(())
}
