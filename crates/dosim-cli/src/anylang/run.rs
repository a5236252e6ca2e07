//! One seed: a fresh server, the command against it, the checks, the report.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use dosim::faults::FaultId;
use dosim_api::{Server, ServerConfig};

use super::checks::{self, Violation};
use super::gate::{Timing, WindowGate};
use super::report::{self, Report};
use super::Config;

/// How long a process group has after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal,
    /// It ran past `--timeout` and its process group was killed.
    Timeout,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with status {code}"),
            Exit::Signal => f.write_str("was killed by a signal"),
            Exit::Timeout => f.write_str("timed out; its process group was killed"),
        }
    }
}

/// Runs the command once against a fresh server with `seed`, in the working folder `dir`
/// (created; the command's output, the state and the history are written there), firing only
/// the server faults in `allowed` when it is given.
pub async fn run_seed(
    config: &Config,
    seed: u64,
    dir: &Path,
    allowed: Option<&BTreeSet<FaultId>>,
) -> anyhow::Result<Report> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (server, fired, gate) = start_server(config, seed, allowed);
    let hosted = host(config, &server, &gate, seed).await?;

    let started = tokio::time::Instant::now();
    let exit = run_command(
        &config.command,
        &hosted.env,
        &[],
        config.timeout,
        &dir.join("stdout.txt"),
        &dir.join("stderr.txt"),
    )
    .await?;
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    gate.stop();

    let history = server.history();
    let (state, invariants, attached_once) = final_state(&server, &hosted.token);
    let state_path = dir.join("state.json");
    let history_path = dir.join("history.json");
    std::fs::write(
        &state_path,
        serde_json::to_vec_pretty(&server.state_dump())?,
    )?;
    std::fs::write(&history_path, serde_json::to_vec_pretty(&history)?)?;

    let mut violations: Vec<Violation> = checks::run(
        &config.checks,
        checks::Facts {
            exit: &exit,
            state: &state,
            invariants,
            history: &history,
            attached_once,
            required: &config.required,
        },
    );
    if let Some(check_command) = &config.check_command {
        let outputs = [
            ("DOSIM_STATE", state_path.display().to_string()),
            ("DOSIM_HISTORY", history_path.display().to_string()),
        ];
        violations
            .extend(run_check_command(config, check_command, &hosted.env, &outputs, dir).await?);
    }
    drop(hosted.listening);
    drop(hosted.spaces_listening);
    drop(hosted.planes);
    let (decisions, admitted) = gate.decisions();
    let fired = dosim::faults::describe_fired(
        &fired.lock(),
        &history,
        Some(&hosted.spaces),
        &config.faults,
    )
    .into_iter()
    .map(|fired| (fired.id, fired.sentence))
    .collect();
    Ok(Report::new(report::Parts {
        command: config.command.join(" "),
        seed,
        strategy: config.strategy,
        exit,
        violations,
        history: &history,
        state: &state,
        sim_ms: server.now().0,
        wall_ms,
        decisions: &decisions,
        admitted,
        stderr_tail: tail(&dir.join("stderr.txt"), 20),
        replay: config.replay_line(seed, allowed),
        fired,
    }))
}

/// A fresh server for `seed`, its fault decider recording what fires, and the gate in front of
/// its commits.
fn start_server(
    config: &Config,
    seed: u64,
    allowed: Option<&BTreeSet<FaultId>>,
) -> (Server, dosim::faults::FiredDecisions, WindowGate) {
    let server = Server::new(ServerConfig {
        seed,
        faults: config.faults.clone(),
        time_scale: config.time_scale,
        body_timeout: Some(Duration::from_secs(30)),
        ..ServerConfig::default()
    });
    let _ = server.now();
    let (decider, fired) = dosim::faults::recording_decider(seed, allowed.cloned());
    server.set_fault_decider(decider);
    let gate = WindowGate::start(
        config.strategy,
        seed,
        config.pct_depth,
        Timing {
            window: config.window,
            hold_max: config.hold_max,
        },
    );
    server.set_gate(gate.handle());
    (server, fired, gate)
}

/// What serves the command during a run: the API and Spaces listeners, the data planes, and the
/// environment that tells the command where they are.
struct Hosted {
    listening: super::listen::Listening,
    spaces_listening: super::listen::Listening,
    planes: StopPlanes,
    /// Kept to the end of the run (its log names the Spaces requests faults fired on), as the
    /// data planes' write counter is.
    spaces: dosim_spaces::Spaces,
    _data_writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    token: String,
    env: Vec<(&'static str, String)>,
}

/// Puts the server, its data planes and its Spaces on loopback ports.
async fn host(
    config: &Config,
    server: &Server,
    gate: &WindowGate,
    seed: u64,
) -> anyhow::Result<Hosted> {
    // Managed PostgreSQL and Valkey clusters the program creates are served as `dosim serve`
    // serves them, on loopback ports; their statements and commands are not gated.
    let data_writes = crate::serve::attach_data_planes(
        server,
        std::net::Ipv4Addr::LOCALHOST.into(),
        "127.0.0.1",
        seed,
        crate::pg::PG_CLUSTERS_MAX,
        false,
    );
    let planes = StopPlanes(server.clone());
    let spaces = crate::spaces::build(
        server,
        dosim_spaces::SpacesConfig::default(),
        config.time_scale,
    );
    spaces.set_gate(gate.handle());
    let listening = super::listen::listen(server, gate).await?;
    let spaces_listening = super::listen::listen_spaces(&spaces, gate).await?;
    let url = format!("http://{}", listening.addr);
    let token = server.token();
    let key = spaces_key(server, &token)?;
    let mut env = environment(&url, &token, seed);
    env.extend(spaces_environment(
        &format!("http://{}", spaces_listening.addr),
        &key,
    ));
    Ok(Hosted {
        listening,
        spaces_listening,
        planes,
        spaces,
        _data_writes: data_writes,
        token,
        env,
    })
}

/// The account as the run left it, with due work completed: its state, whether it holds its
/// invariants, and the volumes an attach completed on.
fn final_state(
    server: &Server,
    token: &str,
) -> (dosim::CloudState, Result<(), String>, BTreeSet<String>) {
    server.with_account(token, |cloud| {
        let now = server.now();
        cloud.advance(now);
        let attached_once = cloud
            .actions(now)
            .into_iter()
            .filter(|a| {
                a.action_type == "attach_volume" && a.status == dosim_cloud::ActionStatus::Completed
            })
            .filter_map(|a| a.volume_id.map(|id| id.to_string()))
            .collect();
        (
            dosim::CloudState::from_cloud(cloud),
            cloud.check_invariants(),
            attached_once,
        )
    })
}

/// Runs the user's check command with the run's environment and where its outputs are; a
/// violation, with the command's last lines, when it fails.
async fn run_check_command(
    config: &Config,
    check_command: &str,
    env: &[(&'static str, String)],
    outputs: &[(&'static str, String)],
    dir: &Path,
) -> anyhow::Result<Option<Violation>> {
    let shell = vec!["sh".to_owned(), "-c".to_owned(), check_command.to_owned()];
    let check_exit = run_command(
        &shell,
        env,
        outputs,
        config.timeout,
        &dir.join("check-stdout.txt"),
        &dir.join("check-stderr.txt"),
    )
    .await?;
    if check_exit == Exit::Code(0) {
        return Ok(None);
    }
    let output = tail(&dir.join("check-stdout.txt"), 10)
        .into_iter()
        .chain(tail(&dir.join("check-stderr.txt"), 10))
        .collect::<Vec<_>>();
    let mut message = format!("`{check_command}` {check_exit}");
    for line in output {
        message.push_str(&format!("\n{line}"));
    }
    Ok(Some(Violation {
        check: "check-command".to_owned(),
        message,
    }))
}

/// The environment the command runs with: where the API is and its token, as each client reads them.
fn environment(url: &str, token: &str, seed: u64) -> Vec<(&'static str, String)> {
    vec![
        ("DIGITALOCEAN_API_URL", url.to_owned()),
        ("DIGITALOCEAN_END_POINT", format!("{url}/v2/")),
        ("DIGITALOCEAN_TOKEN", token.to_owned()),
        ("DIGITALOCEAN_ACCESS_TOKEN", token.to_owned()),
        ("TF_VAR_do_api_url", url.to_owned()),
        ("TF_VAR_do_token", token.to_owned()),
        ("DOSIM_SEED", seed.to_string()),
    ]
}

/// Stops every cluster the run's data planes serve when the run ends, however it ends (an I/O
/// error included), so that their threads and ports do not outlive it.
struct StopPlanes(Server);

impl Drop for StopPlanes {
    fn drop(&mut self) {
        if let Some(plane) = self.0.data_plane() {
            plane.reset();
        }
    }
}

/// A key pair with full access to every bucket of the account, made before the command starts,
/// so that S3 clients can sign without creating one.
fn spaces_key(server: &Server, token: &str) -> anyhow::Result<dosim_cloud::SpacesKey> {
    let now = server.now();
    server
        .with_account(token, |cloud| {
            cloud.create_spaces_key(
                now,
                dosim_cloud::SpacesKeyCreate {
                    name: Some("dosim-test".to_owned()),
                    grants: vec![(String::new(), "fullaccess".to_owned())],
                },
            )
        })
        .map_err(|error| anyhow::anyhow!("cannot create the run's Spaces key: {error}"))
}

/// Where Spaces is and the key pair, under the names S3 clients and DigitalOcean's tools read:
/// the AWS SDKs and CLIs (`AWS_ENDPOINT_URL` in current ones), Terraform's provider (`SPACES_…`).
fn spaces_environment(endpoint: &str, key: &dosim_cloud::SpacesKey) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ENDPOINT_URL_S3", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", key.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", key.secret_key.clone()),
        ("AWS_REGION", "nyc3".to_owned()),
        ("AWS_DEFAULT_REGION", "nyc3".to_owned()),
        ("SPACES_ENDPOINT_URL", endpoint.to_owned()),
        ("SPACES_ACCESS_KEY_ID", key.access_key.clone()),
        ("SPACES_SECRET_ACCESS_KEY", key.secret_key.clone()),
    ]
}

/// Runs `argv` in a process group of its own, with its output in two files, and kills the group
/// when it outlives `timeout` (and whatever it left behind when it exits).
async fn run_command(
    argv: &[String],
    env: &[(&'static str, String)],
    extra: &[(&'static str, String)],
    timeout: Duration,
    stdout: &Path,
    stderr: &Path,
) -> anyhow::Result<Exit> {
    let (program, args) = argv.split_first().context("no command to run")?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout)?)
        .stderr(std::fs::File::create(stderr)?)
        .kill_on_drop(true);
    for (name, value) in env.iter().chain(extra) {
        command.env(name, value);
    }
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let pid = child.id();
    let exit = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => {
            let status = status?;
            status.code().map_or(Exit::Signal, Exit::Code)
        }
        Err(_) => {
            signal_group(pid, "TERM");
            if tokio::time::timeout(TERM_GRACE, child.wait())
                .await
                .is_err()
            {
                signal_group(pid, "KILL");
                let _ = child.wait().await;
            }
            Exit::Timeout
        }
    };
    // Whatever the command left running in its group goes with it.
    signal_group(pid, "KILL");
    Ok(exit)
}

/// Sends `signal` to the process group `pid` leads, with kill(1): the workspace has no unsafe code.
fn signal_group(pid: Option<u32>, signal: &str) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .args([format!("-{signal}"), "--".to_owned(), format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
}

/// The last `lines` lines of a file, each cut to 300 characters.
fn tail(path: &Path, lines: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| line.chars().take(300).collect())
        .collect()
}
