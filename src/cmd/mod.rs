//! One module per subcommand.

pub mod bbo;
pub mod bench;
pub mod book;
pub mod charts;
pub mod demo;
pub mod export;
pub mod feed;
pub mod gen;
pub mod inspect;
pub mod jitter;
pub mod live;
pub mod lobster_check;
pub mod pipeline;
pub mod progress;
pub mod record;
pub mod relay;
pub mod report;
pub mod run;
pub mod stopwatch;
