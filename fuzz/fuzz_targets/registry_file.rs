//! Any bytes as registry.json: parsed or called corrupt, never a panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match portreg_core::fuzzing::registry_file(data) {
        Ok(_) => {}
        Err(why) => assert!(!why.is_empty(), "a corrupt file gets a reason"),
    }
});
