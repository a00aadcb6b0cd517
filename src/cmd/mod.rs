//! One module per subcommand.

pub mod bbo;
pub mod book;
pub mod feed;
pub mod gen;
pub mod inspect;
pub mod progress;
pub mod stopwatch;
