//! A directory of the test's own under the system's temporary directory, removed when dropped.

use std::path::{Path, PathBuf};

pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Empty, named after the test process and `test`.
    pub fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("switchyard-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` at `relative`, making the directories on the way.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let file = self.path.join(relative);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }

    /// `relative` as a string, for a variable.
    pub fn string(&self, relative: &str) -> String {
        self.path.join(relative).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
