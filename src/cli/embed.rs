//! `samlabel embed DIR`: precompute embeddings for a folder into the disk cache, optionally one shard
//! of it, so several machines sharing the cache folder can split a large dataset.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use samlabel::imageio::{self, list_images};
use samlabel::sam::cache::{EmbeddingCache, encode_cached};
use samlabel::sam::hub;

use super::ModelArgs;

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Folder of images.
    dir: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Only the K-th of N shares of the (name-sorted) images, e.g. `2/4`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
}

pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not K/N"))?;
    let (k, n): (usize, usize) = (
        k.trim()
            .parse()
            .map_err(|_| format!("`{k}` is not a number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a number"))?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: K must be between 1 and N"));
    }
    Ok((k, n))
}

/// The K-th of N shares of `images` (in their order): every N-th image, starting with the K-th, so
/// that machines given `1/N` .. `N/N` take every image exactly once.
pub fn shard_of(images: Vec<PathBuf>, (k, n): (usize, usize)) -> Vec<PathBuf> {
    images
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, p)| p)
        .collect()
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let images =
        list_images(&args.dir).with_context(|| format!("cannot read {}", args.dir.display()))?;
    let (k, n) = args.shard.unwrap_or((1, 1));
    let mine = shard_of(images, (k, n));
    let mut model = args.model.load()?;
    let cache = EmbeddingCache::for_model(&hub::embeddings_dir(), &model);
    let bar = ProgressBar::new(mine.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut encoded, mut cached, mut failed) = (0, 0, 0);
    for path in &mine {
        bar.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let result = imageio::load_rgb(path)
            .map_err(anyhow::Error::from)
            .and_then(|image| Ok(encode_cached(&mut model, &image, path, Some(&cache), None)?));
        match result {
            Ok((_, true)) => cached += 1,
            Ok((_, false)) => encoded += 1,
            Err(err) => {
                failed += 1;
                bar.suspend(|| eprintln!("warning: {}: {err:#}", path.display()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{} images (shard {k}/{n}): {encoded} encoded, {cached} already cached, {failed} failed",
        mine.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(
            parse_shard("0/4").is_err() && parse_shard("5/4").is_err() && parse_shard("x").is_err()
        );
    }
}
