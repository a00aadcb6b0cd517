//! How a strategy crate makes itself available by name, and how its parameters are loaded.

use core::fmt;

use serde::de::DeserializeOwned;
use ticklane_core::Symbol;

use crate::Strategy;

/// A strategy's parameters or set-up were refused.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    /// The TOML table did not deserialize into the parameter struct (the message names the key).
    #[error("strategy `{strategy}`: {message}")]
    Invalid {
        /// Instance name.
        strategy: String,
        /// What was wrong, naming the key.
        message: String,
    },
    /// A parameter's value is out of range.
    #[error("strategy `{strategy}`: params.{key}: {message}")]
    Value {
        /// Instance name.
        strategy: String,
        /// The offending key.
        key: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// What a strategy is built from: its instance name, its instruments and its parameters.
#[derive(Debug, Clone, Copy)]
pub struct StrategySetup<'a> {
    /// Instance name (unique in the configuration).
    pub name: &'a str,
    /// Subscribed instruments.
    pub symbols: &'a [Symbol],
    /// The `params` table of the strategy's configuration section.
    pub params: &'a toml::Table,
}

impl StrategySetup<'_> {
    /// Deserializes the parameters into `P`. A key `P` does not have is an error naming it,
    /// whether or not `P` says `#[serde(deny_unknown_fields)]`: a misspelled key never falls
    /// back to a default without a word.
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, ParamError> {
        // Through TOML text (the text deserializer, as the file was read), with the path of
        // the key being deserialized tracked as it goes: an error names its key as an unknown
        // key does (the text's own line numbers are not the file's: the table is written back
        // with its keys sorted, so they are not shown).
        let invalid = |message: String| ParamError::Invalid {
            strategy: self.name.to_string(),
            message,
        };
        let text = toml::to_string(self.params).map_err(|e| invalid(format!("params: {e}")))?;
        let mut unknown = Vec::new();
        let mut note = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let p = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
            toml::Deserializer::new(&text),
            &mut note,
        ))
        .map_err(|e| invalid(describe(&e)))?;
        if !unknown.is_empty() {
            return Err(invalid(format!(
                "params: unknown key `{}`",
                unknown.join("`, `")
            )));
        }
        Ok(p)
    }

    /// A [`ParamError::Value`] for `key`.
    pub fn invalid(&self, key: &'static str, message: impl Into<String>) -> ParamError {
        ParamError::Value {
            strategy: self.name.to_string(),
            key,
            message: message.into(),
        }
    }
}

/// A deserialization error named by the path of the key it is about (`params.inner.alpha:
/// invalid type ...`, `params.legs[0].beta: ...`; a key that is not a bare TOML key quoted as
/// in the file, `params."a=b"`); `params: ...` for the table itself (a missing field there).
fn describe(e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    use serde_path_to_error::Segment;
    let mut path = String::from("params");
    for segment in e.path().iter() {
        match segment {
            Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let bare = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    path.push_str(&format!(".{key}"));
                } else {
                    path.push_str(&format!(".{key:?}"));
                }
            }
            Segment::Unknown => path.push_str(".?"),
        }
    }
    format!("{path}: {}", e.inner().message().trim_end())
}

/// Builds a strategy instance from its set-up.
pub type BuildFn = fn(&StrategySetup<'_>) -> Result<Box<dyn Strategy>, ParamError>;

/// A strategy kind, as its crate exports it: a name the configuration selects it by, a line of
/// description, and a constructor.
#[derive(Clone, Copy)]
pub struct StrategyDescriptor {
    /// Name used in `config/*.toml` (`kind = "..."`).
    pub name: &'static str,
    /// One line saying what it does.
    pub summary: &'static str,
    build: BuildFn,
}

impl fmt::Debug for StrategyDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrategyDescriptor")
            .field("name", &self.name)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl StrategyDescriptor {
    /// Describes a strategy kind.
    pub const fn new(name: &'static str, summary: &'static str, build: BuildFn) -> Self {
        Self {
            name,
            summary,
            build,
        }
    }

    /// Builds one instance.
    pub fn build(&self, setup: &StrategySetup<'_>) -> Result<Box<dyn Strategy>, ParamError> {
        (self.build)(setup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No `deny_unknown_fields`: unknown keys are still refused by name.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(default)]
    struct Lax {
        levels: u32,
        inner: Inner,
    }

    #[derive(serde::Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct Inner {
        alpha: f64,
    }

    impl Default for Lax {
        fn default() -> Self {
            Self {
                levels: 3,
                inner: Inner::default(),
            }
        }
    }

    fn setup_of(table: &toml::Table) -> StrategySetup<'_> {
        StrategySetup {
            name: "s",
            symbols: &[],
            params: table,
        }
    }

    #[test]
    fn an_unknown_key_is_refused_by_name_even_without_deny_unknown_fields() {
        let ok: toml::Table = toml::from_str("levels = 5\n[inner]\nalpha = 0.5").unwrap();
        assert_eq!(
            setup_of(&ok).params::<Lax>().unwrap(),
            Lax {
                levels: 5,
                inner: Inner { alpha: 0.5 }
            }
        );
        let typo: toml::Table = toml::from_str("levles = 5\n[inner]\nalhpa = 0.5").unwrap();
        let e = setup_of(&typo).params::<Lax>().unwrap_err().to_string();
        assert!(e.contains("`levles`") && e.contains("`inner.alhpa`"), "{e}");
    }

    /// A wrong type on a nested key must name the key's path (`inner.alpha`), as an unknown
    /// key does, and must not cite a line of a text the user never wrote (the table is
    /// re-serialized, keys sorted: line 2 of that text is not line 2 of the file).
    #[test]
    fn a_wrong_type_on_a_nested_key_names_its_path() {
        // As the file has it: `levels` on line 1, the bad value on line 3.
        let bad: toml::Table = toml::from_str("levels = 5\n[inner]\nalpha = \"fast\"").unwrap();
        let e = setup_of(&bad).params::<Lax>().unwrap_err().to_string();
        assert!(e.contains("inner.alpha"), "the key path is not named: {e}");
    }

    #[test]
    fn a_wrong_type_cites_no_line_of_the_reserialized_text() {
        // The bad value is on line 2 of the params table as written; re-serialized with keys
        // sorted it is on line 1, which the error then cites.
        let bad: toml::Table = toml::from_str("zeta = 1\nlevels = \"five\"").unwrap();
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            levels: u32,
            zeta: u32,
        }
        let e = setup_of(&bad).params::<P>().unwrap_err().to_string();
        assert!(
            !e.contains("at line 1,"),
            "cites a line of a text the user never wrote: {e}"
        );
        assert!(e.contains("params.levels"), "{e}");
    }

    /// A missing field is not an error *of* the key on the text's first line:
    /// `params.zeta: missing field `levels`` blames `zeta`, which is present and right.
    #[test]
    fn a_missing_field_does_not_name_another_key() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            levels: u32,
            zeta: u32,
        }
        let t: toml::Table = toml::from_str("zeta = 1").unwrap();
        let e = setup_of(&t).params::<P>().unwrap_err().to_string();
        assert!(!e.contains("params.zeta"), "blames a key that is fine: {e}");
        assert!(e.contains("`levels`"), "{e}");
    }

    /// A line of a multi-line string that starts with `[` is not a table
    /// header: the error on the root key `zeta` must not be put in a table `fake`.
    #[test]
    fn a_line_of_a_multiline_string_is_not_a_table_header() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            note: String,
            zeta: u32,
        }
        let t: toml::Table = toml::from_str("note = \"a\\n[fake]\\nb\"\nzeta = \"x\"").unwrap();
        let e = setup_of(&t).params::<P>().unwrap_err().to_string();
        assert!(e.contains("params.zeta:"), "wrong key path: {e}");
    }

    /// A quoted key with `=` in it is named whole, not cut at its `=`.
    #[test]
    fn a_quoted_key_with_an_equals_sign_is_named_whole() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            #[serde(rename = "a=b")]
            ab: u32,
        }
        let t: toml::Table = toml::from_str("\"a=b\" = \"x\"").unwrap();
        let e = setup_of(&t).params::<P>().unwrap_err().to_string();
        assert!(e.contains("params.\"a=b\":"), "key cut at its `=`: {e}");
    }
}

#[cfg(test)]
mod params_error_paths {
    use super::*;

    fn err_of<P: serde::de::DeserializeOwned + std::fmt::Debug>(src: &str) -> (String, String) {
        let t: toml::Table = toml::from_str(src).unwrap();
        let text = toml::to_string(&t).unwrap();
        let setup = StrategySetup {
            name: "s",
            symbols: &[],
            params: &t,
        };
        (setup.params::<P>().unwrap_err().to_string(), text)
    }

    /// A field missing at the root, when the text's first line is a sub-table's header, is
    /// not missing from that sub-table.
    #[test]
    fn missing_root_field_is_not_put_in_the_first_subtable() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            a: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            inner: Inner,
            zeta: u32,
        }
        let (e, text) = err_of::<P>("inner = { a = 1 }");
        assert!(!e.contains("params.inner"), "text {text:?}: {e}");
    }

    /// A string value holding `"""` on one line does not open a multi-line string: the
    /// header after it still names the table of a later error.
    #[test]
    fn a_one_line_string_holding_triple_quotes_does_not_hide_later_headers() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            alpha: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            note: String,
            inner: Inner,
        }
        let (e, text) = err_of::<P>("note = 'x\"\"\"y'\ninner = { alpha = \"no\" }");
        assert!(e.contains("params.inner.alpha:"), "text {text:?}: {e}");
    }

    /// A missing field of a nested table names that table.
    #[test]
    fn missing_field_of_a_nested_table_names_it() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Inner {
            a: u32,
            b: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            zeta: u32,
            inner: Inner,
        }
        let (e, text) = err_of::<P>("zeta = 1\ninner = { a = 1 }");
        assert!(e.contains("params.inner:"), "text {text:?}: {e}");
    }
}
