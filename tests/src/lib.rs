//! Helpers shared by the end-to-end tests in `tests/e2e/`: finding and starting the `dosim` binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// The `dosim` binary of the profile these tests were built with, built first if cargo is at hand.
///
/// `cargo test --workspace` does not always build other packages' binaries, so the first call in a
/// test process builds it; that is a no-op when it is already up to date.
pub fn dosim_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(build_dosim).clone()
}

fn build_dosim() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/e2e-<hash> → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let binary = profile_dir.join("dosim");
    if let Ok(cargo) = std::env::var("CARGO") {
        let mut build = Command::new(cargo);
        build
            .current_dir(root())
            .args(["build", "--quiet", "-p", "dosim-cli", "--bin", "dosim"]);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p dosim-cli failed");
    }
    assert!(
        binary.exists(),
        "no dosim binary at {}: run `cargo build -p dosim-cli`",
        binary.display()
    );
    binary
}

/// A running `dosim serve`, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub url: String,
    pub token: String,
}

impl Serve {
    /// Starts `dosim serve --addr 127.0.0.1:0` with extra arguments and waits for its URL and token.
    pub fn start(extra: &[&str]) -> Serve {
        Serve::start_at("127.0.0.1:0", extra)
    }

    /// Starts `dosim serve --addr <addr>` with extra arguments and waits for its URL and token.
    pub fn start_at(addr: &str, extra: &[&str]) -> Serve {
        let mut command = Command::new(dosim_binary());
        command
            .args(["serve", "--addr", addr])
            .args(extra)
            .stderr(Stdio::inherit());
        Serve::spawn(command)
    }

    /// Starts `command`, which runs `dosim serve` (perhaps through a shell), with its standard
    /// output piped, and waits for its URL and token.
    pub fn spawn(mut command: Command) -> Serve {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("dosim serve starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let (mut url, mut token) = (None, None);
        let mut seen = Vec::new();
        while url.is_none() || token.is_none() {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!(
                    "dosim serve exited before printing its URL and token:\n{}",
                    seen.join("\n")
                );
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                url = Some(rest.trim().trim_end_matches('/').to_string());
            }
            if let Some(rest) = line.split("token: ").nth(1) {
                token = Some(rest.trim().to_string());
            }
            seen.push(line);
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Serve {
            child,
            url: url.expect("checked above"),
            token: token.expect("checked above"),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
