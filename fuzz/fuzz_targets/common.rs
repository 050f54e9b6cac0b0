//! The body of the `parse_and_evaluate` fuzz target, shared with `tests/fuzz_corpus.rs` so the
//! project's test command runs it too. Property: no panic, whatever the input.

use preflight_core::policy::Policy;
use preflight_core::simulate::{Scenario, outcome_json, split_input};
use preflight_core::spec::{Origin, Spec};
use preflight_core::stack::{self, StackEnv, Template};

/// Parse + evaluate on arbitrary bytes: scenarios, policy documents and specs from untrusted JSON,
/// then the decision and its explanation.
pub fn parse_and_evaluate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A template, as JSON or YAML text: parsed, resolved and inferred from.
    let env = StackEnv {
        account: Some("111111111111".into()),
        region: Some("us-east-1".into()),
        partition: Some("aws".into()),
        ..StackEnv::default()
    };
    if let Ok(t) = Template::parse(text) {
        let _ = stack::infer(&t, &env, None).to_value();
    }
    let Ok(values) = split_input(text) else { return };
    for value in values.into_iter().take(8) {
        if let Ok(t) = Template::from_value(&value) {
            let _ = stack::infer(&t, &env, None).to_value();
        }
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
