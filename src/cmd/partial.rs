//! An output file written under a temporary name beside its final one and renamed over it only
//! once complete: a command that fails (an input it refuses after a look inside, a write error)
//! leaves whatever was at the output's name as it was, never a half file, never an empty
//! capture that reads as a clean one.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The temporary file of one output (see the module docs). Dropped without
/// [`PartialOutput::finish`], it is removed.
#[derive(Debug)]
pub struct PartialOutput {
    partial: PathBuf,
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
        let mut name = output.as_os_str().to_owned();
        name.push(format!(".{}.partial", std::process::id()));
        let partial = PathBuf::from(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        Ok(Self {
            partial,
            output: output.to_path_buf(),
            finished: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Renames the complete file to the output's name.
    pub fn finish(mut self) -> anyhow::Result<()> {
        std::fs::rename(&self.partial, &self.output).with_context(|| {
            format!(
                "renaming {} to {}",
                self.partial.display(),
                self.output.display()
            )
        })?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for PartialOutput {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
