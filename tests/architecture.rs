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

/// The workspace's resolved dependency graph for this machine's platform (`cargo metadata`):
/// what the manifests' `[dependencies]` tables miss, the target-specific tables, renamed
/// dependencies and the dependencies of dependencies, is in it.
struct Graph {
    /// Package id → package name.
    names: std::collections::HashMap<String, String>,
    /// Package id → the ids of its normal (not dev, not build) dependencies.
    normal: std::collections::HashMap<String, Vec<String>>,
}

fn graph() -> Graph {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let v = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .unwrap();
    let host = String::from_utf8(v.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This platform's packages only: the build fetched them, so no download is needed.
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", &host, "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = m["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap().to_string();
            (id, p["name"].as_str().unwrap().to_string())
        })
        .collect();
    let normal = m["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap().to_string())
                .collect();
            (n["id"].as_str().unwrap().to_string(), deps)
        })
        .collect();
    Graph { names, normal }
}

impl Graph {
    /// The names of every package `name` depends on at run time, directly or not.
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let start = self
            .names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no package {name}"));
        let mut seen = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(id) = todo.pop() {
            for d in &self.normal[&id] {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen.iter().map(|id| self.names[id].clone()).collect()
    }
}

/// The same rules on the resolved graph: a dependency of a dependency, a target-specific one
/// or a renamed one does not get past them (the manifest tests above read only the
/// `[dependencies]` tables).
#[test]
fn the_layering_holds_for_every_dependency_direct_or_not() {
    let g = graph();
    let async_or_clock = ["tokio", "ractor", "quinn", "quanta", "core_affinity"];
    // (`zerocopy` is banned from the engine's own manifests above, not here: `rust_decimal`
    // reaches it through `rand`, which is no wire protocol.)
    let wire = ["ticklane-feeds", "ticklane-replay", "ticklane-live"];
    for engine in [
        "ticklane-core",
        "ticklane-book",
        "ticklane-ring",
        "ticklane-strategy",
        "ticklane-exec",
    ] {
        let deps = g.closure(engine);
        for b in async_or_clock
            .iter()
            .chain(&wire)
            .chain(&["ticklane-runtime"])
        {
            assert!(!deps.contains(*b), "{engine} depends on {b}: {deps:?}");
        }
    }
    let runtime = g.closure("ticklane-runtime");
    for b in wire.iter().chain(&["quinn"]) {
        assert!(!runtime.contains(*b), "ticklane-runtime depends on {b}");
    }
    // A strategy crate reaches nothing that the strategy API and `fixed` do not.
    let mut allowed = g.closure("ticklane-strategy");
    allowed.extend(g.closure("fixed"));
    allowed.extend(["ticklane-strategy".to_string(), "fixed".to_string()]);
    let strategies: Vec<String> = g
        .names
        .values()
        .filter(|n| n.starts_with("ticklane-strategy-"))
        .cloned()
        .collect();
    assert!(strategies.len() >= 2, "{strategies:?}");
    for s in strategies {
        let extra: Vec<String> = g.closure(&s).difference(&allowed).cloned().collect();
        assert!(extra.is_empty(), "{s} reaches {extra:?}");
    }
}
