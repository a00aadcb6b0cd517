//! An output file written under a temporary name beside its final one and renamed over it only
//! once complete: a command that fails (an input it refuses after a look inside, a write error)
//! leaves whatever was at the output's name as it was, never a half file, never an empty
//! capture that reads as a clean one. The file is synced to disk before the rename, and its
//! directory after.
//!
//! An output that already exists and is not a regular file (a device such as `/dev/null` or
//! `/dev/full`, a FIFO) is written through, not renamed over: the rename would replace the
//! device with a plain file (run as root, `-o /dev/full` did) and a write error behind it would
//! go unseen. An output that is a symbolic link to a regular file keeps its link: the file it
//! points to is the one replaced.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The temporary file of one output (see the module docs). Dropped without
/// [`PartialOutput::finish`], it is removed.
#[derive(Debug)]
pub struct PartialOutput {
    /// The temporary file, or `None` when the output is written through (not a regular file).
    partial: Option<PathBuf>,
    /// Where the finished file goes: the output, or the regular file its link points to.
    output: PathBuf,
    finished: bool,
}

impl PartialOutput {
    /// Reserves `OUTPUT.PID.partial` beside `output` (created new, so that no existing file is
    /// ever truncated under that name: not the input's, not anyone's). `input` must not be the
    /// output itself: the command would destroy its input when it renames.
    pub fn new(input: &Path, output: &Path) -> anyhow::Result<Self> {
        if super::record::same_file(input, output) {
            anyhow::bail!(
                "{} is both the input and the output: the output would replace the input",
                input.display()
            );
        }
        Self::create(output)
    }

    /// As [`PartialOutput::new`], for a command without an input file (`gen`).
    pub fn create(output: &Path) -> anyhow::Result<Self> {
        let output = match std::fs::metadata(output) {
            // A device or a FIFO: written through (see the module docs).
            Ok(m) if !m.is_file() => {
                return Ok(Self {
                    partial: None,
                    output: output.to_path_buf(),
                    finished: false,
                })
            }
            // A regular file, perhaps behind links: the file itself is replaced.
            Ok(_) => std::fs::canonicalize(output).unwrap_or_else(|_| output.to_path_buf()),
            Err(_) => output.to_path_buf(),
        };
        let mut name = output.as_os_str().to_owned();
        name.push(format!(".{}.partial", std::process::id()));
        let partial = PathBuf::from(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        Ok(Self {
            partial: Some(partial),
            output,
            finished: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        self.partial.as_deref().unwrap_or(&self.output)
    }

    /// Renames the complete file to the output's name (nothing to do for an output written
    /// through).
    pub fn finish(mut self) -> anyhow::Result<()> {
        if let Some(partial) = &self.partial {
            // On disk before it takes the output's name, and the name on disk after: a power
            // loss then leaves the earlier file or the whole new one, not an empty or cut
            // file under the output's name (the rename can reach the disk before the data).
            std::fs::File::open(partial)
                .and_then(|f| f.sync_all())
                .with_context(|| format!("syncing {}", partial.display()))?;
            std::fs::rename(partial, &self.output).with_context(|| {
                format!(
                    "renaming {} to {}",
                    partial.display(),
                    self.output.display()
                )
            })?;
            self.finished = true;
            let dir = match self.output.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            // Best effort: some file systems cannot sync a directory.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        self.finished = true;
        Ok(())
    }
}

impl Drop for PartialOutput {
    fn drop(&mut self) {
        if let (false, Some(partial)) = (self.finished, &self.partial) {
            let _ = std::fs::remove_file(partial);
        }
    }
}
