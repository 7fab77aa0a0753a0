//! The command line: `--help` and `--version` as people expect them, and a command that does
//! not exist refused.

use std::process::Command;

fn switchyard(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .output()
        .expect("switchyard runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn version_and_help_answer_at_once_and_exit_0() {
    let (code, out, _) = switchyard(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        format!("switchyard {}", env!("CARGO_PKG_VERSION"))
    );

    let (code, out, _) = switchyard(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Usage: switchyard [COMMAND]"), "{out}");
    assert!(out.contains("deploy"), "{out}");
    assert!(out.contains("docs/configuration.md"), "{out}");

    let (code, out, _) = switchyard(&["deploy", "--help"]);
    assert_eq!(code, Some(0));
    for argument in ["<GIT_URL>", "[BRANCH]", "[COMMIT]", "NDEPLOY_QUEUE"] {
        assert!(out.contains(argument), "{argument}: {out}");
    }
}

#[test]
fn an_unknown_command_or_option_is_refused_with_the_usage() {
    for args in [&["serve-everything"][..], &["--port", "80"][..]] {
        let (code, out, err) = switchyard(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains("Usage: switchyard"), "{args:?}: {err}");
    }
}
