//! cargo fuzz target `rle_roundtrip`: see tests/it/common/fuzz_checks.rs for what is checked.
#![no_main]

// Each target uses one of the shared checks.
#[allow(dead_code)]
#[path = "../../tests/it/common/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::rle_roundtrip(data));
