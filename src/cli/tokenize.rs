//! `samlabel tokenize`: the token ids SAM 3's language encoder gets for a phrase (for bug reports:
//! they must equal the official `sam3` tokenizer's).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use samlabel::sam::hub;
use samlabel::sam::tokenizer::{self, Tokenizer};

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// The phrases; one JSON list of ids is printed per phrase.
    #[arg(required = true, value_name = "PHRASE")]
    phrases: Vec<String>,
    /// A SAM 3 model folder (its bpe_simple_vocab_16e6.txt.gz is read); default: the `sam3`
    /// folder in the model cache.
    #[arg(long, value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// Print the cleaned-up text before the ids (what the BPE sees).
    #[arg(long)]
    clean: bool,
}

pub fn run(args: TokenizeArgs) -> anyhow::Result<()> {
    let dir = args.model_dir.unwrap_or_else(|| hub::model_dir(hub::SAM3));
    let vocab = dir.join(tokenizer::VOCAB_FILE);
    let tokenizer = Tokenizer::from_file(&vocab)
        .with_context(|| format!("{} is not a SAM 3 model folder", dir.display()))?;
    for phrase in &args.phrases {
        if args.clean {
            println!(
                "{}",
                serde_json::to_string(&tokenizer::clean_lower(phrase))?
            );
        }
        println!(
            "{}",
            serde_json::to_string(&tokenizer.tokens(phrase, tokenizer::CONTEXT))?
        );
    }
    Ok(())
}
