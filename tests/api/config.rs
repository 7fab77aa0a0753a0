//! A bad environment variable stops the program at once, naming the variable.

use std::process::{Command, Stdio};

fn start_with(name: &str, value: &str) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env("IP", "127.0.0.1")
        .env("PORT", "0")
        .env(name, value)
        .stdin(Stdio::null())
        .output()
        .expect("switchyard runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[test]
fn malformed_variables_stop_the_program_with_their_name() {
    let cases = [
        ("MAINIP", "10.0.0.20"),
        ("PORT", "abc"),
        ("IP", "nowhere"),
        ("SPAWN_PORTS", "3099-3001"),
        ("REDIS_URL", "localhost:6379"),
        ("RECENT_SIZE", "18446744073709551615"),
        ("RECENT_SIZE", "1001"),
        ("KVS_MAX_BYTES", "1GB"),
        ("CLIENT_TIMEOUT_MS", "0"),
    ];
    for (name, value) in cases {
        let (code, stderr) = start_with(name, value);
        assert_eq!(code, Some(2), "{name}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}=\"{value}\" is not valid")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_taken_port_stops_the_program_with_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for name in ["PORT", "PROXY_PORT"] {
        let (code, stderr) = start_with(name, &port);
        assert_eq!(code, Some(1), "{name}: {stderr}");
        let expected = format!("cannot listen on 127.0.0.1:{port}: Address already in use");
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
