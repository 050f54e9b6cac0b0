//! Parse + evaluate on arbitrary input: scenarios, policy documents and specs from untrusted JSON,
//! then the decision and its explanation. The property: no panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preflight::policy::Policy;
use preflight::simulate::{Scenario, split_input};
use preflight::spec::{Origin, Spec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(values) = split_input(text) else { return };
    for value in values.into_iter().take(8) {
        let _ = Policy::parse("key policy", &value);
        let _ = Spec::from_value(&value, Origin::Properties);
        let _ = Spec::from_value(&value, Origin::File);
        if let Ok(scenario) = Scenario::from_value(value) {
            let outcome = scenario.decide();
            let _ = scenario.explain(&outcome);
            let _ = preflight::simulate::outcome_json(&outcome).to_string();
        }
    }
});
