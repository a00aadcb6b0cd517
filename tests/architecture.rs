//! The workspace's layering, checked from the manifests (README, "Architecture"): strategy
//! crates depend only on the strategy API (and `fixed` for signal math); nothing below the
//! runtime depends on tokio, ractor or quinn, or on a machine clock; nothing in `engine/`
//! depends on a wire protocol (`feeds`, `replay`). With clippy's `disallowed-methods`
//! (`clippy.toml`) this keeps the wall clock out of everything a strategy can reach.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

/// The names in a manifest's `[dependencies]` table.
fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every crate directory under `dir` (one with a Cargo.toml).
fn crates(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn strategy_crates_depend_only_on_the_strategy_api() {
    let allowed: BTreeSet<String> = ["ticklane-strategy", "fixed"]
        .into_iter()
        .map(String::from)
        .collect();
    let found = crates("strategies");
    assert!(found.len() >= 2, "{found:?}");
    for c in found {
        let deps = dependencies(&c.join("Cargo.toml"));
        assert!(deps.contains("ticklane-strategy"), "{}", c.display());
        let extra: Vec<_> = deps.difference(&allowed).collect();
        assert!(extra.is_empty(), "{}: {extra:?}", c.display());
    }
}

#[test]
fn nothing_below_the_runtime_knows_async_io_a_clock_or_a_wire_protocol() {
    let banned = [
        "tokio",
        "ractor",
        "quinn",
        "quanta",
        "core_affinity",
        "ticklane-feeds",
        "ticklane-replay",
        "ticklane-live",
        "ticklane-runtime",
        "zerocopy",
    ];
    let found = crates("engine");
    assert!(found.len() >= 6, "{found:?}");
    for c in found {
        let name = c.file_name().unwrap().to_string_lossy().into_owned();
        let deps = dependencies(&c.join("Cargo.toml"));
        if name == "runtime" {
            // The runtime owns the threads, the control plane and the hop clock, and still
            // knows no wire protocol.
            for wire in [
                "ticklane-feeds",
                "ticklane-replay",
                "ticklane-live",
                "quinn",
            ] {
                assert!(!deps.contains(wire), "engine/runtime depends on {wire}");
            }
            continue;
        }
        for b in banned {
            assert!(!deps.contains(b), "engine/{name} depends on {b}");
        }
    }
}
