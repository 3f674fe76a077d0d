//! `samlabel segment`: one prompt on one image → mask PNG + one JSON line.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use samlabel::imageio;
use samlabel::sam::cache::{EmbeddingCache, encode_cached};
use samlabel::sam::concept::{ConceptQuery, ExampleBox};
use samlabel::sam::hub;
use samlabel::sam::{Multimask, PointPrompt, Prompt};

use super::ModelArgs;

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// The image (coordinates are pixels of the image after its EXIF orientation).
    image: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Find every instance of this phrase (a SAM 3 model): writes one mask per instance into
    /// --output-dir. With --box, the box is an example of what to find; `--text ""` finds by the
    /// example boxes alone.
    #[arg(long, value_name = "PHRASE", conflicts_with_all = ["points", "negatives", "multimask", "output"])]
    text: Option<String>,
    /// With --text: an example box `X0,Y0,X1,Y1` of what not to find (repeatable).
    #[arg(long = "negative-box", value_name = "X0,Y0,X1,Y1", value_parser = super::parse_box, allow_hyphen_values = true, requires = "text")]
    negative_boxes: Vec<[f32; 4]>,
    /// With --text: keep instances scoring above this (the official default 0.5).
    #[arg(long, value_name = "F", requires = "text", default_value_t = samlabel::sam::concept::DEFAULT_THRESHOLD)]
    threshold: f32,
    /// With --text: where to write the masks, `0.png`, `1.png`, ... best first (created if missing;
    /// without it only the JSON lines are printed).
    #[arg(long, value_name = "DIR", requires = "text")]
    output_dir: Option<PathBuf>,
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
    #[arg(long, value_enum)]
    multimask: Option<Multimask>,
    /// Where to write the mask (8-bit PNG, 255 inside).
    #[arg(long, short, value_name = "MASK.png", required_unless_present_any = ["coco", "output_dir", "text"])]
    output: Option<PathBuf>,
    /// Add the mask as an annotation to this COCO dataset (created if missing).
    #[arg(long, value_name = "OUT.json")]
    coco: Option<PathBuf>,
    /// Category of the annotations added with --coco (created if missing; default `object`, or
    /// the phrase with --text).
    #[arg(long, value_name = "NAME", requires = "coco")]
    category: Option<String>,
    /// Use an image whose file is cut short (its missing part is grey) instead of refusing it.
    #[arg(long)]
    allow_partial: bool,
}

pub fn run(args: SegmentArgs) -> anyhow::Result<()> {
    if args.text.is_some() {
        return find(args);
    }
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
    let image = load_image(&args)?;
    // Check the prompt before the slow part: loading the model and encoding.
    prompt
        .validate(image.width(), image.height())
        .with_context(|| format!("bad prompt for {}", args.image.display()))?;

    // Open the dataset before the slow part too, so a broken or busy file is reported at once. The
    // project holds its lock until the edit is saved: two writers would lose one another's annotations.
    let mut project = match args.coco.as_deref() {
        Some(path) => Some(super::open_for_writing(path)?),
        None => None,
    };

    let mut model = args.model.load()?;
    let cache = EmbeddingCache::for_model(&hub::embeddings_dir(), &model);
    let (embedding, _) = encode_cached(&mut model, &image, &args.image, Some(&cache), None)
        .with_context(|| format!("encoding {} failed", args.image.display()))?;
    let multimask = args.multimask.unwrap_or(Multimask::Auto);
    let prediction = model.predict(&embedding, &prompt, multimask)?;

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
        let name = args.category.as_deref().unwrap_or("object");
        let category = project.dataset.ensure_category(name)?;
        let id = project.add_mask(&args.image, image.dimensions(), category, &prediction.mask)?;
        project.save()?;
        line["annotation_id"] = id.into();
    }
    println!("{line}");
    Ok(())
}

fn load_image(args: &SegmentArgs) -> anyhow::Result<image::RgbImage> {
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
    Ok(image)
}

/// `--text`: every instance of a phrase (and/or like the example boxes), with a SAM 3 model.
fn find(args: SegmentArgs) -> anyhow::Result<()> {
    let text = args.text.clone().unwrap_or_default();
    let query = ConceptQuery {
        text: (!text.trim().is_empty()).then(|| text.clone()),
        boxes: args
            .bbox
            .iter()
            .map(|&b| (b, true))
            .chain(args.negative_boxes.iter().map(|&b| (b, false)))
            .map(|([x0, y0, x1, y1], positive)| ExampleBox {
                x0,
                y0,
                x1,
                y1,
                positive,
            })
            .collect(),
    };
    if query.text.is_none() && query.boxes.is_empty() {
        anyhow::bail!("--text is empty and there is no --box: give a phrase or an example box");
    }
    let image = load_image(&args)?;
    let mut project = match args.coco.as_deref() {
        Some(path) => Some(super::open_for_writing(path)?),
        None => None,
    };
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut model = args.model.load_concept()?;
    let features = model
        .encode(&image)
        .with_context(|| format!("encoding {} failed", args.image.display()))?;
    let (instances, _) = model
        .find(&features, &query, args.threshold)
        .with_context(|| format!("finding `{text}` in {} failed", args.image.display()))?;
    let category = match project.as_mut() {
        Some(project) => {
            let name = args.category.clone().unwrap_or_else(|| match &query.text {
                Some(text) => text.trim().to_owned(),
                None => "object".to_owned(),
            });
            Some(project.dataset.ensure_category(&name)?)
        }
        None => None,
    };
    for (i, instance) in instances.iter().enumerate() {
        let mut line = serde_json::json!({
            "score": instance.score,
            "box": instance.box_xyxy,
            "bbox": instance.mask.bbox(),
            "area": instance.mask.area(),
        });
        if let Some(dir) = &args.output_dir {
            let path = dir.join(format!("{i}.png"));
            instance
                .mask
                .to_gray()
                .save_with_format(&path, image::ImageFormat::Png)
                .with_context(|| format!("cannot write {}", path.display()))?;
            line["mask"] = path.display().to_string().into();
        }
        if let (Some(project), Some(category)) = (project.as_mut(), category) {
            let id = project.add_mask(&args.image, image.dimensions(), category, &instance.mask)?;
            line["annotation_id"] = id.into();
        }
        println!("{line}");
    }
    if let Some(project) = project.as_mut() {
        project.save()?;
    }
    eprintln!("{} instance(s) above {}", instances.len(), args.threshold);
    Ok(())
}
