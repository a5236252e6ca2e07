//! godo, DigitalOcean's Go client as Debian packages it, against the `dosim` binary: tags, SSH
//! keys, VPCs, projects, domains and records, firewalls and load balancers
//! (`tests/go/godo_resources.go`).

use std::process::Command;

use dosim_tests::Serve;

/// Where Debian installs godo's source; Go builds against it in GOPATH mode, with no network.
const GOPATH: &str = "/usr/share/gocode";

#[test]
fn godo_drives_the_resources_provisioning_code_touches() {
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
