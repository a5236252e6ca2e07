//! The reference server: the one `DOSIM_PG_REFERENCE_URL` names, or a private throwaway PostgreSQL started from the installed server binaries.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wire::{now, Conn, Host, Target};

/// The variable naming a server to use instead of a private one.
pub const URL_VAR: &str = "DOSIM_PG_REFERENCE_URL";
/// The variable naming a directory holding `initdb` and `postgres`, ahead of the usual places.
pub const BINDIR_VAR: &str = "DOSIM_PG_BINDIR";

/// What to do when there is no server to compare with.
pub const HOW_TO_GET_ONE: &str = "the differential suite needs a real PostgreSQL server and found none. \
Either install PostgreSQL's server binaries (Debian: `apt-get install postgresql`; the suite then starts \
a private throwaway server from /usr/lib/postgresql/<version>/bin), or point DOSIM_PG_REFERENCE_URL at a \
server whose user may create databases, e.g. postgres://dosim:dosim@127.0.0.1:5432/postgres?sslmode=disable";

/// The user a private server runs as when the suite runs as root, since PostgreSQL refuses to run as root.
const UNPRIVILEGED_USER: &str = "postgres";
/// How long a private server may take to accept connections.
const START_MAX: Duration = Duration::from_secs(60);

/// The server the suite compares against; a private one is stopped and deleted when this is dropped.
pub struct Reference {
    pub target: Target,
    /// Where the server comes from, for the report.
    pub description: String,
    private: Option<PrivateServer>,
}

impl Reference {
    /// The server `DOSIM_PG_REFERENCE_URL` names, or else a private one; an error says how to get one.
    pub fn start() -> Result<Reference, String> {
        if let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.trim().is_empty()) {
            let target = Target::from_url(&url).map_err(|e| format!("{URL_VAR}: {e}"))?;
            return Ok(Reference {
                description: format!("{URL_VAR} ({:?} port {})", target.host, target.port),
                target,
                private: None,
            });
        }
        let bindir = find_bindir().ok_or_else(|| HOW_TO_GET_ONE.to_string())?;
        let server = PrivateServer::start(&bindir)?;
        Ok(Reference {
            description: format!("a private server from {}", bindir.display()),
            target: server.target.clone(),
            private: Some(server),
        })
    }

    /// Whether this is a private server the suite started.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "postgres", "pg_ctl"]
        .iter()
        .all(|p| dir.join(p).is_file())
}

/// The newest directory holding `initdb`, `postgres` and `pg_ctl`.
fn find_bindir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var(BINDIR_VAR) {
        return Some(PathBuf::from(dir)).filter(|d| has_server(d));
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Some(dir);
        }
    }
    // Debian's layout: /usr/lib/postgresql/<major>/bin; the highest major wins.
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn running_as_root() -> bool {
    // /proc/self belongs to the process's effective user.
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command run as the unprivileged user when the suite runs as root.
/// Runs in `dir`, since the unprivileged user may not be able to reach the caller's directory.
fn command(program: &Path, as_root: bool, dir: &Path) -> Command {
    let mut c = command_as(program, as_root);
    c.current_dir(dir);
    c
}

fn command_as(program: &Path, as_root: bool) -> Command {
    if as_root {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={UNPRIVILEGED_USER}"),
            &format!("--regid={UNPRIVILEGED_USER}"),
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A throwaway cluster in a temporary directory, listening only on a Unix socket in that directory.
struct PrivateServer {
    child: Child,
    dir: PathBuf,
    bindir: PathBuf,
    as_root: bool,
    target: Target,
}

impl PrivateServer {
    fn start(bindir: &Path) -> Result<PrivateServer, String> {
        let as_root = running_as_root();
        // As root, the unprivileged server must be able to reach its directory, which a private
        // TMPDIR (under /root, say) would not let it do; /tmp lets everyone through.
        let tmp = if as_root {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tmp.join(format!("dosim-pg-diff-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let data = dir.join("data");
        let socket = dir.join("socket");
        for d in [&dir, &socket] {
            fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
        }
        // The server trusts whoever reaches its socket, so only its owner may enter the directory.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        if as_root {
            let status = Command::new("chown")
                .args(["-R", &format!("{UNPRIVILEGED_USER}:")])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                let _ = fs::remove_dir_all(&dir);
                return Err(format!(
                    "running as root, the private PostgreSQL must run as the user {UNPRIVILEGED_USER:?}, \
                     and chown to it failed (Debian's postgresql package creates that user). {HOW_TO_GET_ONE}"
                ));
            }
        }
        let initdb = command(&bindir.join("initdb"), as_root, &dir)
            .arg("-D")
            .arg(&data)
            .args([
                "--username=dosim",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .output()
            .map_err(|e| {
                let _ = fs::remove_dir_all(&dir);
                if as_root {
                    format!("run initdb as {UNPRIVILEGED_USER} through setpriv (util-linux): {e}")
                } else {
                    format!("run initdb: {e}")
                }
            })?;
        if !initdb.status.success() {
            let _ = fs::remove_dir_all(&dir);
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&initdb.stdout),
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        let log_path = dir.join("postgres.log");
        let log = fs::File::create(&log_path).map_err(|e| format!("create the log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        // Durability settings are off because the cluster is thrown away; autovacuum is off so that
        // it never holds a lock a step could be seen waiting for.
        let child = command(&bindir.join("postgres"), as_root, &dir)
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(&socket)
            .args([
                "-p",
                "5432",
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "autovacuum=off",
            ])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("start postgres: {e}"))?;
        let mut server = PrivateServer {
            child,
            dir,
            bindir: bindir.to_path_buf(),
            as_root,
            target: Target {
                host: Host::Unix(socket),
                port: 5432,
                user: "dosim".into(),
                password: None,
                database: "postgres".into(),
            },
        };
        let deadline = now() + START_MAX;
        loop {
            match Conn::connect(&server.target, "postgres") {
                Ok(conn) => {
                    conn.terminate();
                    return Ok(server);
                }
                Err(e) => {
                    let exited = server.child.try_wait().ok().flatten();
                    if exited.is_some() || now() >= deadline {
                        let log = fs::read_to_string(&log_path).unwrap_or_default();
                        return Err(format!(
                            "the private PostgreSQL did not start ({e}); its log:\n{log}"
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        // pg_ctl's fast shutdown ends the sessions and waits for the server to exit; it needs nothing
        // beyond the server's own binaries (procps's kill is not always installed).
        let _ = command(&self.bindir.join("pg_ctl"), self.as_root, &self.dir)
            .args(["stop", "-m", "fast", "-w", "-t", "30", "-D"])
            .arg(self.dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = now() + Duration::from_secs(5);
        while now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
