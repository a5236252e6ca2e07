//! Runs the Python suite in `tests/python/`: pydo from PyPI and the OpenAPI schema checks,
//! against the `dosim` binary over real TCP.

use std::process::Command;

#[test]
fn pydo_and_openapi_schemas_against_dosim_serve() {
    let root = dosim_tests::root();
    let python = std::env::var("DOSIM_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python environment at {}: create it with \
         `scripts/test.sh`, which runs `python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt` \
         (or point DOSIM_PYTHON at a python that has them)",
        python.display()
    );
    let binary = dosim_tests::dosim_binary();
    let status = Command::new(&python)
        .current_dir(root.join("tests/python"))
        .env("DOSIM_BIN", &binary)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .status()
        .expect("python runs");
    assert!(
        status.success(),
        "the Python end-to-end suite failed (output above)"
    );
}
