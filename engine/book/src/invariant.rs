//! The error returned by [`crate::Market::check_invariants`].

/// A violated internal invariant of the book (a bug in this crate, never a feed problem).
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("book invariant violated: {0}")]
pub struct InvariantError(pub String);
