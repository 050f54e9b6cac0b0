//! The fuzz target's body (`fuzz/fuzz_targets/common.rs`) in the project's test command: over the
//! scenario corpus, the saved regressions, and deterministic mutations of the corpus (byte flips,
//! truncations, splices). The long exploration is `scripts/fuzz.sh` (cargo fuzz).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod corpus;

#[path = "../../../fuzz/fuzz_targets/common.rs"]
mod common;

fn corpus() -> Vec<Vec<u8>> {
    corpus::cases().iter().map(|c| c["scenario"].to_string().into_bytes()).collect()
}

#[test]
fn the_fuzz_target_survives_the_corpus_and_the_regressions() {
    let mut inputs = corpus();
    assert_eq!(inputs.len(), 231, "every corpus scenario is an input");
    let mut regressions = 0;
    for entry in std::fs::read_dir(corpus::repo().join("fuzz/regressions")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            inputs.push(std::fs::read(path).unwrap());
            regressions += 1;
        }
    }
    // fuzz/regressions holds only its README today: a saved crash input must raise this count.
    assert_eq!(regressions, 0, "update the count of saved regressions");
    for input in &inputs {
        common::parse_and_evaluate(input);
    }
}

#[test]
fn the_fuzz_target_survives_deterministic_mutations() {
    let corpus = corpus();
    let mut state: u64 = 0x0DDB_1A5E_5BAD_5EED;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tokens: &[&[u8]] = &[
        b"\"", b"{", b"}", b"[", b"]", b",", b":", b"*", b"?", b"${", b"null", b"true", b"1e999", b"\\u0000", b"\xff",
    ];
    let mut runs = 0;
    for _ in 0..20 {
        for base in &corpus {
            let mut input = base.clone();
            match next() % 4 {
                0 if !input.is_empty() => {
                    let at = (next() as usize) % input.len();
                    input[at] = next() as u8;
                }
                1 => input.truncate((next() as usize) % (input.len() + 1)),
                2 => {
                    let at = (next() as usize) % (input.len() + 1);
                    let token = tokens[(next() as usize) % tokens.len()];
                    input.splice(at..at, token.iter().copied());
                }
                _ => {
                    let other = &corpus[(next() as usize) % corpus.len()];
                    let cut = (next() as usize) % (other.len() + 1);
                    input.extend_from_slice(&other[cut..]);
                }
            }
            common::parse_and_evaluate(&input);
            runs += 1;
        }
    }
    assert_eq!(runs, 20 * 231, "every corpus input mutated 20 times");
}

#[test]
fn the_fuzz_target_survives_templates_and_their_mutations() {
    let dir = corpus::repo().join("tests/templates");
    let mut templates: Vec<Vec<u8>> =
        std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    templates.sort();
    assert_eq!(templates.len(), 3, "the templates of tests/templates");
    let mut state: u64 = 0x7E3A_11CE_5EED_0002;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tokens: &[&[u8]] =
        &[b"!Ref ", b"!Sub '${", b"!GetAtt ", b"!If [", b"{\"Fn::Join\": [", b"- ", b": ", b"\n  ", b"'", b"\xff"];
    let mut runs = 0;
    for base in &templates {
        common::parse_and_evaluate(base);
        for _ in 0..500 {
            let mut input = base.clone();
            match next() % 3 {
                0 if !input.is_empty() => {
                    let at = (next() as usize) % input.len();
                    input[at] = next() as u8;
                }
                1 => input.truncate((next() as usize) % (input.len() + 1)),
                _ => {
                    let at = (next() as usize) % (input.len() + 1);
                    let token = tokens[(next() as usize) % tokens.len()];
                    input.splice(at..at, token.iter().copied());
                }
            }
            common::parse_and_evaluate(&input);
            runs += 1;
        }
    }
    assert_eq!(runs, 3 * 500);
}
