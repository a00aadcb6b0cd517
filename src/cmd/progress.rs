//! Progress bars for long runs: drawn only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// `{rate}`: units a second, in millions with one decimal (`17.3 M/s`).
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.1} M/s", state.per_sec() / 1e6);
}

/// A bar over `total` units (messages or bytes); hidden when stderr is not a terminal.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template =
        format!("{{spinner}} {what} [{{bar:40}}] {{human_pos}}/{{human_len}} ({{rate}}, {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.with_key("rate", rate).progress_chars("=> "));
    }
    pb
}

/// A counter of `what` with its rate, for a run whose total is not known up front (a file read
/// as a stream); hidden when stderr is not a terminal.
pub fn counter(what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let template = format!("{{spinner}} {{elapsed}} {what} {{human_pos}} ({{rate}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.with_key("rate", rate));
    }
    pb
}

/// A spinner with a message, for a live status line; hidden when stderr is not a terminal.
pub fn status_line() -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        pb.set_style(style);
    }
    pb
}
