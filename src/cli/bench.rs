//! `samlabel bench`: the yardstick for speed work. Prints one JSON object with the median (p50) and
//! p95 of every stage a user pays for, and the peak memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use samlabel::imageio;
use samlabel::sam::cache::EmbeddingCache;
use samlabel::sam::concept::{ConceptQuery, DEFAULT_THRESHOLD, split_phrases};
use samlabel::sam::everything::EverythingOptions;
use samlabel::sam::{Multimask, PointPrompt, Prompt, postprocess};

use super::ModelArgs;

/// Counts what Rust code allocates (ONNX Runtime's own arena is not in it), so the bench can show
/// that a click allocates nothing image-sized. Two relaxed atomic adds per allocation.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LARGEST_ALLOCATION: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LARGEST_ALLOCATION.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LARGEST_ALLOCATION.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The image to encode and click on.
    image: PathBuf,
    /// Number of clicks (random points) to decode.
    #[arg(long, default_value_t = 50)]
    clicks: usize,
    /// How often to repeat reading, preprocessing and encoding the image.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Seed for the random click positions.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also time segment-everything on the image with this many points per side, with the quality
    /// filters off (`pred_iou_thresh` and `stability_score_thresh` 0: every candidate goes through
    /// every stage, the most work; otherwise the official defaults); 0: skip.
    #[arg(long, default_value_t = 0, value_name = "N")]
    everything: usize,
    /// With a SAM 3 model: time Find instead of clicks, for these comma-separated phrases (image
    /// encode, each phrase's language encode, and its decode).
    #[arg(long, value_name = "PHRASES")]
    text: Option<String>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.text.is_some() {
        return run_find(&args);
    }
    let repeats = args.repeats.max(1);
    let mut read = Vec::with_capacity(repeats);
    let mut image = None;
    for _ in 0..repeats {
        let start = Instant::now();
        image = Some(imageio::load_rgb(&args.image)?);
        read.push(start.elapsed());
    }
    let image = image.ok_or_else(|| anyhow::anyhow!("no image read"))?;

    let mut model = args.model.load()?;
    let (mut preprocess, mut encoder) = (Vec::new(), Vec::new());
    let mut embedding = None;
    for _ in 0..repeats {
        let (e, timings) = model.encode(&image)?;
        preprocess.push(timings.preprocess);
        encoder.push(timings.encoder);
        embedding = Some(e);
    }
    let embedding = embedding.ok_or_else(|| anyhow::anyhow!("no embedding"))?;

    // The window's click: decode and a preview at the size the window asks for.
    let (w, h) = (image.width(), image.height());
    let preview_size = postprocess::preview_size((w, h));

    let mut rng = SplitMix64(args.seed);
    let (mut decoder, mut preview, mut full, mut click) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut click_allocations, mut largest_click_allocation) = (0usize, 0usize);
    // Memory after a few warm-up clicks (ONNX Runtime's arena settles), to compare with after all.
    const WARM_UP_CLICKS: usize = 10;
    let mut rss_after_warm_up = None;
    for n in 0..args.clicks {
        if n == WARM_UP_CLICKS.min(args.clicks - 1) {
            rss_after_warm_up = rss_mb("VmRSS:");
        }
        let prompt = Prompt {
            points: vec![PointPrompt {
                point_in_image: [rng.unit() * w as f32, rng.unit() * h as f32],
                positive: true,
            }],
            ..Default::default()
        };
        let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
        LARGEST_ALLOCATION.store(0, Ordering::Relaxed);
        let t = Instant::now();
        let prediction = model.predict_at(&embedding, &prompt, Multimask::Auto, preview_size)?;
        click.push(t.elapsed());
        std::hint::black_box(&prediction.mask);
        click_allocations += ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
        largest_click_allocation =
            largest_click_allocation.max(LARGEST_ALLOCATION.load(Ordering::Relaxed));
        let t = Instant::now();
        let mask =
            postprocess::mask_in_image(prediction.low_res_logits(), &embedding.model_from_image);
        full.push(t.elapsed());
        std::hint::black_box(mask);
        decoder.push(prediction.decoder);
        preview.push(prediction.postprocess);
    }

    let rss_after_clicks = rss_mb("VmRSS:");

    // Reopening an image encoded in an earlier run: read its embedding back from the disk cache.
    let cache_root = std::env::temp_dir().join(format!("samlabel-bench-{}", std::process::id()));
    let cache = EmbeddingCache::for_model(&cache_root, &model);
    cache.put("bench", &embedding);
    let mut cache_read = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        let cached = cache.get("bench");
        cache_read.push(t.elapsed());
        anyhow::ensure!(
            cached.is_some(),
            "the disk cache in {} does not work",
            cache_root.display()
        );
    }
    let _ = std::fs::remove_dir_all(&cache_root);

    // Segment everything once, on the embedding the clicks used (the encode is timed above).
    let (everything_ms, everything_count) = if args.everything > 0 {
        let mut options = EverythingOptions::official(model.interface.family);
        options.points_per_side = args.everything;
        options.pred_iou_thresh = 0.0;
        options.stability_score_thresh = 0.0;
        let start = Instant::now();
        let found =
            model.segment_everything(&image, &options, Some(&embedding), None, &mut |_| {})?;
        (Some(ms(start.elapsed())), Some(found.len()))
    } else {
        (None, None)
    };

    let report = serde_json::json!({
        "image": args.image.display().to_string(),
        "image_size": [w, h],
        "model": model.name,
        "provider": model.provider.to_string(),
        "encoder_threads": args.model.threads,
        "decoder_threads": args.model.decoder_threads,
        "clicks": args.clicks,
        "repeats": repeats,
        "preview_size": [preview_size.0, preview_size.1],
        "read_decode_ms": percentiles(&mut read),
        "preprocess_ms": percentiles(&mut preprocess),
        "encoder_ms": percentiles(&mut encoder),
        "decoder_ms": percentiles(&mut decoder),
        "postprocess_preview_ms": percentiles(&mut preview),
        "postprocess_full_ms": percentiles(&mut full),
        "click_total_ms": percentiles(&mut click),
        "disk_cache_read_ms": percentiles(&mut cache_read),
        "click_rust_allocations_per_click": click_allocations as f64 / args.clicks.max(1) as f64,
        "click_largest_rust_allocation_kb": largest_click_allocation / 1024,
        "rss_after_10_clicks_mb": rss_after_warm_up,
        "rss_after_clicks_mb": rss_after_clicks,
        "everything_points_per_side": args.everything,
        "everything_ms": everything_ms,
        "everything_proposals": everything_count,
        "peak_rss_mb": rss_mb("VmHWM:"),
    });
    println!("{report}");
    Ok(())
}

/// `--text`: SAM 3's image encode, then per phrase the language encode (the first query; later
/// ones reuse it, as the window does) and the decode.
fn run_find(args: &BenchArgs) -> anyhow::Result<()> {
    let repeats = args.repeats.max(1);
    let phrases = split_phrases(args.text.as_deref().unwrap_or_default());
    anyhow::ensure!(!phrases.is_empty(), "--text has no phrase");
    let image = imageio::load_rgb(&args.image)?;
    let mut model = args.model.load_concept()?;
    let (mut preprocess, mut encoder) = (Vec::new(), Vec::new());
    let mut features = None;
    for _ in 0..repeats {
        let (f, timings) = model.encode_timed(&image)?;
        preprocess.push(timings.preprocess);
        encoder.push(timings.encoder);
        features = Some(f);
    }
    let features = features.ok_or_else(|| anyhow::anyhow!("no features"))?;
    let mut per_phrase = serde_json::Map::new();
    let (mut language_all, mut decoder_all) = (Vec::new(), Vec::new());
    for phrase in &phrases {
        let query = ConceptQuery {
            text: Some(phrase.clone()),
            boxes: Vec::new(),
        };
        let (mut language, mut decoder) = (Vec::new(), Vec::new());
        let mut found = 0;
        for _ in 0..repeats {
            let (instances, timings) = model.find(&features, &query, DEFAULT_THRESHOLD)?;
            if timings.language > Duration::ZERO {
                language.push(timings.language);
            }
            decoder.push(timings.decoder);
            found = instances.len();
        }
        language_all.extend(&language);
        decoder_all.extend(&decoder);
        per_phrase.insert(
            phrase.clone(),
            serde_json::json!({
                "language_encode_ms": percentiles(&mut language),
                "decode_ms": percentiles(&mut decoder),
                "instances": found,
            }),
        );
    }
    let report = serde_json::json!({
        "image": args.image.display().to_string(),
        "image_size": [image.width(), image.height()],
        "model": model.name,
        "provider": model.provider.to_string(),
        "repeats": repeats,
        "preprocess_ms": percentiles(&mut preprocess),
        "image_encoder_ms": percentiles(&mut encoder),
        "image_features_mb": (features.bytes() as f64 / (1 << 20) as f64 * 10.0).round() / 10.0,
        "language_encode_ms": percentiles(&mut language_all),
        "decode_ms": percentiles(&mut decoder_all),
        "phrases": per_phrase,
        "peak_rss_mb": rss_mb("VmHWM:"),
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

/// Resident memory of this process from `/proc/self/status` (`VmRSS:` now, `VmHWM:` peak), in MB.
fn rss_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
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
