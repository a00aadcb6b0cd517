// The body of the `run_config` fuzz target, shared with the corpus test at the end of
// `src/run_config.rs`: both `include!` this file with `RunConfig` in scope. (The loader lives in
// the binary crate, which the fuzz crate cannot depend on; the target compiles
// `src/run_config.rs` in with `#[path]`.)

/// Origin given to `RunConfig::parse`; every error must start with it.
const FUZZ_ORIGIN: &str = "fuzz.toml";

/// Checks `RunConfig::parse` on the fuzzer's bytes (as UTF-8; other inputs are skipped).
///
/// Checks: nothing panics (parsing, validation, the venue factory it builds, strategy
/// placement); an error names the file and then a key (`engine.lanes`, `strategy[2].name`,
/// `` `field` ``) or a position (`line N, column M`).
pub fn run_config_check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RunConfig::parse(text, FUZZ_ORIGIN) {
        Ok(cfg) => {
            let _ = cfg.place_strategies(FUZZ_ORIGIN);
        }
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(
                msg.starts_with(&format!("{FUZZ_ORIGIN}: ")),
                "error does not name the file: {msg}"
            );
            let rest = &msg[FUZZ_ORIGIN.len() + 2..];
            let position = rest.contains("line ") && rest.contains("column ");
            let quoted_key = rest.contains('`');
            let key_path = ["source", "engine.", "venue.", "risk", "strategy"]
                .iter()
                .any(|k| rest.starts_with(k) || rest.contains(&format!(": {k}")));
            assert!(
                position || quoted_key || key_path,
                "error names neither a key nor a position: {msg}"
            );
        }
    }
}
