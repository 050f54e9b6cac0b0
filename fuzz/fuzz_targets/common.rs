//! The body of the `parse_and_evaluate` fuzz target, shared with `tests/fuzz_corpus.rs` so the
//! project's test command runs it too. Property: no panic, whatever the input.

use preflight_core::policy::Policy;
use preflight_core::simulate::{Scenario, outcome_json, split_input};
use preflight_core::spec::{Origin, Spec};

/// Parse + evaluate on arbitrary bytes: scenarios, policy documents and specs from untrusted JSON,
/// then the decision and its explanation.
pub fn parse_and_evaluate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(values) = split_input(text) else { return };
    for value in values.into_iter().take(8) {
        let _ = Policy::parse("key policy", &value);
        let _ = Spec::from_value(&value, Origin::Properties);
        let _ = Spec::from_value(&value, Origin::File);
        if let Ok(scenario) = Scenario::from_value(value) {
            let outcome = scenario.decide();
            let _ = scenario.explain(&outcome);
            let _ = outcome_json(&outcome).to_string();
        }
    }
}
