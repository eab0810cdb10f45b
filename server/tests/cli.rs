//! The `gatehouse` binary's first five minutes: what an operator sees when
//! the port is busy, the database is wrong or the listen address is a name,
//! and what its logs look like when they go to a file or a collector.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "cli-test-secret-0123456789-abcdefghijklmnop";

/// `gatehouse serve` in `dir` with a clean environment plus `vars`.
fn gatehouse(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_BACKTRACE", "1")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let mut child = cmd.spawn().expect("gatehouse starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "gatehouse did not exit: {:?}",
                child.wait_with_output().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `/api/auth/ok` on 127.0.0.1:`port`, retrying until it answers.
fn wait_ok(port: u16, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                return out;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("gatehouse exited early: {status}");
        }
        assert!(Instant::now() < deadline, "no answer on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops a running server and returns its stderr.
fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_one_clear_line(out: &Output, needle: &str) {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    assert!(errors[0].contains(needle), "{stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Caused by"),
        "{stderr}"
    );
}

#[test]
fn a_busy_port_is_named_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&mut gatehouse(
        dir.path(),
        &[
            ("GATEHOUSE_LISTEN", &addr),
            ("DATABASE_URL", "sqlite://busy.db"),
        ],
        &["serve"],
    ));
    assert_one_clear_line(&out, &format!("cannot listen on {addr}"));
    assert!(!dir.path().join("busy.db").exists());
    assert!(!dir.path().join("busy.db.secret").exists());
}

#[test]
fn a_bad_database_url_leaves_no_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let out = run(&mut gatehouse(
        dir.path(),
        &[
            ("GATEHOUSE_LISTEN", &format!("127.0.0.1:{port}")),
            (
                "DATABASE_URL",
                "postgres://nobody:hunter2@127.0.0.1:1/nothing",
            ),
        ],
        &["serve"],
    ));
    assert_one_clear_line(
        &out,
        "database postgres://nobody:redacted@127.0.0.1:1/nothing",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[test]
fn a_host_name_listens_and_logs_have_no_colours_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = gatehouse(
        dir.path(),
        &[
            ("GATEHOUSE_LISTEN", &format!("localhost:{port}")),
            ("GATEHOUSE_SECRET", SECRET),
            ("DATABASE_URL", "sqlite://names.db"),
        ],
        &["serve"],
    )
    .spawn()
    .unwrap();
    let answer = wait_ok(port, &mut child);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let stderr = stop(child);
    assert!(stderr.contains("gatehouse listening"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escapes in a pipe: {stderr:?}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = gatehouse(
        dir.path(),
        &[
            ("GATEHOUSE_LISTEN", &format!("127.0.0.1:{port}")),
            ("GATEHOUSE_SECRET", SECRET),
            ("DATABASE_URL", "sqlite://json.db"),
        ],
        &["--log-format", "json", "serve"],
    )
    .spawn()
    .unwrap();
    wait_ok(port, &mut child);
    let stderr = stop(child);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("gatehouse listening")));
}

/// `gatehouse info` runs the start-up validation and prints the effective
/// configuration as TOML, secrets redacted; `serve` refuses the same
/// mistakes with the same message.
#[test]
fn info_prints_the_effective_configuration_and_refuses_what_serve_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(
        &file,
        "plugins = [\"two-factor\"]\n\
         database_url = \"postgres://app:hunter2@db.internal/auth\"\n\
         [two_factor]\nissuer = \"Acme\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let out = run(&mut gatehouse(
        dir.path(),
        &[("GATEHOUSE_SECRET", SECRET)],
        &["--config", config, "info"],
    ));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains(SECRET) && !text.contains("hunter2"),
        "{text}"
    );
    assert!(
        text.contains("two-factor") && text.contains("TOTP"),
        "{text}"
    );
    let parsed: toml::Table = toml::from_str(&text).expect("the output is TOML");
    assert_eq!(parsed["two_factor"]["issuer"].as_str(), Some("Acme"));
    assert_eq!(
        parsed["two_factor"]["backup_code_count"].as_integer(),
        Some(10)
    );
    assert_eq!(parsed["session"]["expires_in"].as_integer(), Some(604800));

    // A typo in a plugin's key, and a section of a plugin that is off.
    for (body, expected) in [
        (
            "plugins = [\"two-factor\"]\n[two_factor]\nisuer = \"Acme\"\n",
            ["isuer", "issuer"],
        ),
        (
            "[two_factor]\nissuer = \"Acme\"\n",
            ["[two_factor]", "not enabled"],
        ),
    ] {
        std::fs::write(&file, body).unwrap();
        for command in ["info", "serve"] {
            let out = run(&mut gatehouse(
                dir.path(),
                &[
                    ("GATEHOUSE_SECRET", SECRET),
                    ("GATEHOUSE_LISTEN", "127.0.0.1:0"),
                ],
                &["--config", config, command],
            ));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command}: {out:?}");
            for word in expected {
                assert!(err.contains(word), "{command}: {err}");
            }
            assert!(err.lines().count() <= 2, "{command}: one-line error: {err}");
        }
    }
}

#[test]
fn the_bootstrap_admin_needs_both_variables_and_its_password_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let password = "bootstrap-password-never-printed";
    let base = [
        ("GATEHOUSE_SECRET", SECRET),
        ("GATEHOUSE_PLUGINS", "admin"),
        ("DATABASE_URL", "sqlite://admin.db"),
    ];
    let mut half = base.to_vec();
    half.push(("GATEHOUSE_ADMIN_EMAIL", "ops@example.com"));
    let out = run(&mut gatehouse(dir.path(), &half, &["serve"]));
    assert_one_clear_line(&out, "GATEHOUSE_ADMIN_PASSWORD");

    let mut both = half.clone();
    both.push(("GATEHOUSE_ADMIN_PASSWORD", password));
    let info = run(&mut gatehouse(dir.path(), &both, &["info"]));
    let printed = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{info:?}");
    assert!(
        printed.contains("bootstrap_email = \"ops@example.com\""),
        "{printed}"
    );
    assert!(!printed.contains(password), "{printed}");

    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    both.push(("GATEHOUSE_LISTEN", &listen));
    let mut child = gatehouse(dir.path(), &both, &["serve"]).spawn().unwrap();
    wait_ok(port.parse().unwrap(), &mut child);
    let log = stop(child);
    assert!(log.contains("bootstrap admin account created"), "{log}");
    assert!(!log.contains(password), "{log}");
    // The next start finds it and leaves it alone.
    let mut child = gatehouse(dir.path(), &both, &["serve"]).spawn().unwrap();
    wait_ok(port.parse().unwrap(), &mut child);
    let log = stop(child);
    assert!(log.contains("bootstrap admin account exists"), "{log}");
}
