//! Endpoint grammar errors reach the user as one line.

use crate::util::ipcx;

#[test]
fn unknown_scheme_is_one_line_and_non_zero() {
    let out = ipcx()
        .args(["send", "pigeon:coop", "--message", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown scheme \"pigeon\""), "{err}");
}
