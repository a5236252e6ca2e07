//! godo, DigitalOcean's Go client as Debian packages it, against the `dosim` binary: tags, SSH
//! keys, VPCs, projects, domains and records, firewalls and load balancers
//! (`tests/go/godo_resources.go`).

use std::process::Command;

use dosim_tests::Serve;

/// Where Debian installs godo's source; Go builds against it in GOPATH mode, with no network.
const GOPATH: &str = "/usr/share/gocode";

/// Whether Go and Debian's godo are here; where they are not, the test says so and passes,
/// unless `DOSIM_REQUIRE_GO` is set, as `scripts/test.sh` sets it.
fn go_available() -> bool {
    let have_go = Command::new("go").arg("version").output().is_ok()
        && std::path::Path::new(GOPATH)
            .join("src/github.com/digitalocean/godo")
            .is_dir();
    if !have_go {
        assert!(
            std::env::var_os("DOSIM_REQUIRE_GO").is_none(),
            "Go or godo is missing: scripts/test.sh installs Debian's golang-go and \
             golang-github-digitalocean-godo-dev"
        );
        eprintln!("skipped: no Go with godo (scripts/test.sh installs them)");
    }
    have_go
}

#[test]
fn godo_drives_the_resources_provisioning_code_touches() {
    if !go_available() {
        return;
    }
    let serve = Serve::start(&["--seed", "3", "--time-scale", "100"]);
    let root = dosim_tests::root();
    let output = Command::new("go")
        .current_dir(root.join("tests/go"))
        .args(["run", "godo_resources.go"])
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .env("DIGITALOCEAN_API_URL", &serve.url)
        .env("DIGITALOCEAN_TOKEN", &serve.token)
        .output()
        .expect("go runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim() == "ok",
        "godo against dosim serve failed:\n{stdout}\n{stderr}"
    );
}

/// `dosim test` over a Go program: two goroutines with godo "ensuring" one volume
/// (`tests/anylang/ensure_volume.go`) race, and the fix is clean.
#[test]
fn dosim_test_finds_two_godo_goroutines_ensuring_one_volume() {
    if !go_available() {
        return;
    }
    let root = dosim_tests::root();
    let dir = std::env::temp_dir().join(format!("dosim-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = dir.join("ensure_volume");
    let built = Command::new("go")
        .current_dir(root.join("tests/anylang"))
        .args(["build", "-o"])
        .arg(&binary)
        .arg("ensure_volume.go")
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .output()
        .expect("go runs");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = |extra: &[&str]| {
        Command::new(dosim_tests::dosim_binary())
            .args(["test", "--seeds", "0..30", "--reproduce", "2", "--"])
            .arg(&binary)
            .args(extra)
            .output()
            .expect("dosim runs")
    };
    let buggy = run(&[]);
    let report = String::from_utf8_lossy(&buggy.stdout);
    assert_eq!(buggy.status.code(), Some(1), "{report}");
    assert!(
        report.contains("a volume with that name already exists"),
        "{report}"
    );
    assert!(
        report.contains("worker-1") && report.contains("worker-2"),
        "{report}"
    );
    let fixed = run(&["-fixed"]);
    let text = String::from_utf8_lossy(&fixed.stdout);
    assert_eq!(fixed.status.code(), Some(0), "{text}");
    assert!(text.contains("30 seeds"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
