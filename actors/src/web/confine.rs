//! Paths that cannot leave a root: what hfiler and hrender read is only ever found here.

use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

/// A request path's components under a root (`/static/app.css` → `static/app.css`), or `None`
/// when it could leave it: percent-decoded once, then as [`relative`].
pub fn request_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    relative(decoded.strip_prefix('/')?)
}

/// `name` as a relative path of plain components, or `None`: `..`, `.` and empty components,
/// backslashes and NULs are refused, as is anything a platform would read as a root or a drive.
pub fn relative(name: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(['\0', '\\']) {
            return None;
        }
        relative.push(part);
    }
    // A component such as `C:` or a root would make `push` replace what came before.
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(relative)
}

/// The file at `relative` under `root` (canonical), symbolic links resolved, or `None` when
/// it is not there, not a file, or resolves to somewhere outside the root.
pub fn file_under(root: &Path, relative: &Path) -> Option<PathBuf> {
    let path = root.join(relative).canonicalize().ok()?;
    (path.starts_with(root) && path.is_file()).then_some(path)
}

/// The `Content-Type` for a file, by its extension.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_that_stay_under_the_root_are_confined() {
        assert_eq!(
            request_path("/static/app.css"),
            Some(PathBuf::from("static/app.css"))
        );
        assert_eq!(
            request_path("/static/a%20b.txt"),
            Some(PathBuf::from("static/a b.txt"))
        );
        for escaping in [
            "/static/../secret",
            "/static/%2e%2e/secret",
            "/%2E%2E/secret",
            "//etc/passwd",
            "/static//x",
            "/./x",
            "static/x",
            "/a\\..\\b",
            "/x%00",
            "/%FF",
        ] {
            assert_eq!(request_path(escaping), None, "{escaping}");
        }
        for escaping in ["../x", "/etc/passwd", "a/../../b", "a//b", ""] {
            assert_eq!(relative(escaping), None, "{escaping}");
        }
    }
}
