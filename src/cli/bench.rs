//! `samlabel bench`: the yardstick for speed work. Prints one JSON object with medians and p95s.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use samlabel::imageio;
use samlabel::sam::{Multimask, PointPrompt, Prompt, postprocess};

use super::ModelArgs;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The image to encode and click on.
    image: PathBuf,
    /// Number of clicks (random points) to decode.
    #[arg(long, default_value_t = 50)]
    clicks: usize,
    /// Seed for the random click positions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let image = imageio::load_rgb(&args.image)?;
    let load = start.elapsed();

    let mut model = args.model.load()?;
    let (embedding, timings) = model.encode(&image)?;

    let mut rng = SplitMix64(args.seed);
    let (w, h) = (image.width() as f32, image.height() as f32);
    let mut decoder = Vec::with_capacity(args.clicks);
    let mut postprocess_full = Vec::with_capacity(args.clicks);
    for _ in 0..args.clicks {
        let prompt = Prompt {
            points: vec![PointPrompt {
                point_in_image: [rng.unit() * w, rng.unit() * h],
                positive: true,
            }],
            ..Default::default()
        };
        let t = Instant::now();
        let candidates = model.decode(&embedding, &prompt)?;
        decoder.push(t.elapsed());
        let index = samlabel::sam::select_candidate(&candidates, Multimask::Auto, &prompt);
        let t = Instant::now();
        let mask =
            postprocess::mask_in_image(candidates.logits(index), &embedding.model_from_image);
        postprocess_full.push(t.elapsed());
        std::hint::black_box(mask);
    }

    let report = serde_json::json!({
        "image": args.image.display().to_string(),
        "image_size": [image.width(), image.height()],
        "model": model.name,
        "provider": model.provider.to_string(),
        "image_load_ms": ms(load),
        "preprocess_ms": ms(timings.preprocess),
        "encoder_ms": ms(timings.encoder),
        "clicks": args.clicks,
        "decoder_ms": percentiles(&mut decoder),
        "postprocess_full_ms": percentiles(&mut postprocess_full),
    });
    println!("{report}");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn percentiles(samples: &mut [Duration]) -> serde_json::Value {
    if samples.is_empty() {
        return serde_json::json!({"p50": null, "p95": null});
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({"p50": ms(at(0.5)), "p95": ms(at(0.95))})
}

/// A tiny deterministic generator for click positions (reproducible runs, no extra crate).
struct SplitMix64(u64);

impl SplitMix64 {
    fn unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}
