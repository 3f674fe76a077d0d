//! cargo fuzz target `image_load`: see tests/it/common/fuzz_checks.rs for what is checked.
#![no_main]

// Each target uses one of the shared checks.
#[allow(dead_code)]
#[path = "../../tests/it/common/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::image_load(data));
