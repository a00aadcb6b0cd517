//! Order books (see issue 3).
