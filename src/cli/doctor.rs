//! `samlabel doctor`: what would run, and why a GPU is or is not used.

use clap::Args;
use samlabel::sam::SamModel;
use samlabel::sam::concept::{self, ConceptModel};
use samlabel::sam::family::EncoderInput;
use samlabel::sam::hub::{self, Manifest};
use samlabel::sam::runtime::{self, Provider, Runtime};

use super::ModelArgs;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: DoctorArgs) -> anyhow::Result<()> {
    println!("samlabel {}", env!("CARGO_PKG_VERSION"));
    let runtime = Runtime::get()?;
    println!(
        "ONNX Runtime: {} at {} (found via {})",
        runtime.version,
        runtime.library_path.display(),
        runtime.source
    );
    if runtime.version != runtime::ORT_VERSION {
        println!(
            "  note: samlabel is tested with ONNX Runtime {}; `{}` installs it",
            runtime::ORT_VERSION,
            runtime::SETUP_COMMAND
        );
    }
    println!(
        "Execution providers in this library: {}",
        runtime.available_providers().join(", ")
    );

    // One verdict per provider, from opening a session the way the models do.
    match runtime::cuda_diagnosis(runtime) {
        None => println!("CUDA: available"),
        Some(reason) => println!("CUDA: not usable: {reason}"),
    }
    if runtime.has_provider(Provider::CoreMl.ort_name()) {
        println!("CoreML: available");
    } else {
        println!("CoreML: not in this library (macOS builds only)");
    }

    match &args.model.model_dir {
        Some(dir) if concept::is_concept_dir(dir) => concept_model(dir, &args),
        Some(dir) => match SamModel::load(dir, args.model.session_options()) {
            Ok(model) => {
                let interface = &model.interface;
                println!(
                    "Model: {} ({}) at {}",
                    model.name,
                    interface.family,
                    dir.display()
                );
                let form = match &interface.encoder_input {
                    EncoderInput::Nchw { name } => {
                        format!("`{name}` [1, 3, S, S], resized and normalized by samlabel")
                    }
                    EncoderInput::HwcInGraph { name } => {
                        format!("`{name}` [H, W, 3], normalized inside the graph")
                    }
                    EncoderInput::Stretched { name } => {
                        format!("`{name}` [1, 3, S, S], stretched and normalized by samlabel")
                    }
                };
                println!("  encoder input: {form}");
                let tensors: Vec<String> = interface
                    .embedding
                    .iter()
                    .map(|t| format!("`{}` {:?}", t.encoder_output, t.shape))
                    .collect();
                println!("  embedding: {}", tensors.join(", "));
                let asked = clap::ValueEnum::to_possible_value(&args.model.device)
                    .map_or_else(String::new, |v| v.get_name().to_string());
                println!("  with --device {asked} it runs on: {}", model.provider);
                for notice in &model.notices {
                    println!("  warning: {notice}");
                }
            }
            Err(err) => println!("Model at {}: NOT USABLE: {err}", dir.display()),
        },
        None => {
            let manifest = Manifest::builtin()?;
            let name = args.model.model.as_deref().unwrap_or(&manifest.default);
            manifest.get(name)?;
            let state = if hub::is_downloaded(name) {
                "downloaded"
            } else {
                "not downloaded yet: fetched on first use, or pass --model-dir DIR"
            };
            println!(
                "Model: {name} at {} ({state})",
                hub::model_dir(name).display()
            );
            let find = hub::model_dir(hub::SAM3);
            if concept::is_concept_dir(&find) {
                concept_model(&find, &args);
            } else {
                println!(
                    "Find (SAM 3): no model in {} (pass --find-model DIR to the window, or \
                     --model-dir DIR to `segment --text`)",
                    find.display()
                );
            }
        }
    }
    Ok(())
}

/// What `doctor` says about a SAM 3 folder.
fn concept_model(dir: &std::path::Path, args: &DoctorArgs) {
    match ConceptModel::load(dir, args.model.session_options()) {
        Ok(model) => {
            println!(
                "Model: {} (SAM 3, finds by name) at {}",
                model.name,
                dir.display()
            );
            let io = model.io();
            println!(
                "  image input: `{}` [3, {s}, {s}] uint8, stretched by samlabel",
                io.image_input,
                s = io.input_size
            );
            println!(
                "  per image: {}; kept once: {}",
                io.image_inputs.join(", "),
                if io.constant_inputs.is_empty() {
                    "nothing".to_owned()
                } else {
                    io.constant_inputs.join(", ")
                }
            );
            let slots = io
                .box_slots
                .map_or_else(|| "any number of".to_owned(), |k| format!("up to {k}"));
            println!(
                "  text: {} tokens; {slots} example boxes per query",
                io.context
            );
            println!("  runs on: {}", model.provider);
            for notice in &model.notices {
                println!("  warning: {notice}");
            }
        }
        Err(err) => println!("Model at {}: NOT USABLE: {err}", dir.display()),
    }
}
