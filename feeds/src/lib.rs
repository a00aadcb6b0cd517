//! Feed codecs and sources.
