//! Any bytes as leases.json: records kept or "nothing is held", never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portreg_core::fuzzing::leases_file(data);
});
