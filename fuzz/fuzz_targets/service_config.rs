//! The service config parser (gRFC A2 JSON: load balancing, method configs, retry and hedging policies,
//! retry throttling). Properties: no panic, whatever the JSON; a refused config says where.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsgrpc::client::ServiceConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    match ServiceConfig::from_json(json) {
        Ok(config) => {
            let _ = config.load_balancing();
            let _ = format!("{config:?}");
        }
        Err(error) => assert!(!error.to_string().is_empty(), "an error without a message"),
    }
});
