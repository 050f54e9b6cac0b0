//! `scripts/demo.sh`, as README.md gives it ("See it catch the stories"): it seeds the stories'
//! broken account and the fixed one into a local AWS, with the fake DNS hierarchy, and runs
//! `preflight check` on each; the broken one stops the deploy, the fixed one lets it go on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::process::Command;

#[test]
fn the_demo_catches_the_stories_and_passes_the_fixed_account_as_the_readme_says() {
    let out = Command::new("bash").arg("scripts/demo.sh").current_dir(support::repo()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo.sh failed:\n{stderr}\n{stdout}");
    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FAIL: ") || l.starts_with("PASS: ") || l.starts_with("(exit status"))
        .collect();
    assert_eq!(
        verdicts,
        [
            "FAIL: 15 failed, 1 unknown, 3 passed",
            "(exit status 1: the deploy would stop here)",
            "PASS: 0 failed, 2 unknown, 16 passed",
            "(exit status 0: the deploy would go on)",
        ],
        "{stdout}"
    );
    // It says what it does while it works, and the README quotes its broken verdict.
    for step in ["building Preflight", "seeding the broken account", "seeding the fixed account"] {
        assert!(stderr.contains(step), "no `{step}` in:\n{stderr}");
    }
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    assert!(readme.contains("FAIL: 15 failed, 1 unknown, 3 passed"), "the README quotes the demo's verdict");
}
