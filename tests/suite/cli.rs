//! Bad input: a clear one-line error and a non-zero exit, never a panic.

use crate::util::run_ftr;

#[test]
fn usage_errors_exit_2_without_panicking() {
    for args in [
        &["nosuchtool"][..],
        &["tp"],
        &["list", "--nope"],
        &["tp", "a:b", "-d", "x"],
    ] {
        let out = run_ftr(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = run_ftr(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("EXAMPLES"));
}

#[test]
fn missing_tracing_dir_is_a_one_line_error() {
    let out = run_ftr(&["--tracing-dir", "/nonexistent/ftr", "list", "-e"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ftr: "), "{err}");
}
