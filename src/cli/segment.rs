//! `samlabel segment`: one prompt on one image → mask PNG + one JSON line.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use samlabel::imageio;
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
    #[arg(long, short, value_name = "MASK.png")]
    output: PathBuf,
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
    // Check the prompt before the slow part: loading the model and encoding.
    prompt
        .validate(image.width(), image.height())
        .with_context(|| format!("bad prompt for {}", args.image.display()))?;

    let mut model = args.model.load()?;
    let (embedding, _) = model
        .encode(&image)
        .with_context(|| format!("encoding {} failed", args.image.display()))?;
    let prediction = model.predict(&embedding, &prompt, args.multimask)?;

    prediction
        .mask
        .to_gray()
        .save_with_format(&args.output, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    let line = serde_json::json!({
        "score": prediction.score,
        "area": prediction.mask.area(),
        "bbox": prediction.mask.bbox(),
    });
    println!("{line}");
    Ok(())
}
