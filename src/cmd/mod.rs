//! One module per subcommand.

/// `println!` for a command's report, without its panic on a closed pipe: a reader that stops
/// early (`ticklane inspect FILE | head -3`) is not an error, so a broken pipe is `Ok` and the
/// command still ends with the exit code its input earned; any other write error (a full disk
/// under a redirect) is returned.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        match writeln!(std::io::stdout().lock(), $($arg)*) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::io::Result::Ok(()),
            written => written,
        }
    }};
}

/// `eprintln!` without its panic when standard error is a closed pipe (`ticklane ... 2>&1 |
/// head -1`): a message nobody can read is dropped, and the command keeps the exit code it
/// earned (`eprintln!` panicked: exit 101).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod bbo;
pub mod bench;
pub mod book;
pub mod charts;
pub mod daily;
pub mod demo;
pub mod export;
pub mod feed;
pub mod gen;
pub mod inspect;
pub mod jitter;
pub mod live;
pub mod lobster_check;
pub mod partial;
pub mod pipeline;
pub mod progress;
pub mod record;
pub mod relay;
pub mod report;
pub mod run;
pub mod stopwatch;
