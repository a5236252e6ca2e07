//! A connection's startup: the TLS and GSSAPI requests, the startup packet, the password
//! check, the engine session (or a pool's client), and the greeting that ends it.

use std::collections::BTreeMap;
use std::io;

use dosim_pg::{PgError, SessionId};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Pooled;
use crate::codec::{Body, Io, ReadError};
use crate::{PasswordAuth, PgCluster};

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;
const PROTOCOL_3_0: i32 = 196_608;

/// A session that startup opened.
pub(super) struct Login {
    pub(super) session: Option<SessionId>,
    pub(super) pooled: Option<Pooled>,
    pub(super) database: String,
    pub(super) user: String,
    pub(super) backend_pid: u32,
}

/// How the startup phase ended.
pub(super) enum Started {
    /// Authenticated, with an engine session.
    Session(Login),
    /// The client asked for TLS and the server will answer `S`.
    Upgrade,
    /// The connection ends: the client left, was refused, or only wanted a cancel.
    End,
}

pub(super) async fn fatal<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    e: PgError,
) -> io::Result<Started> {
    io.error(&e, true);
    io.flush().await?;
    Ok(Started::End)
}

/// The startup phase: SSL requests answered `S` when `tls` allows and `N` otherwise, GSSAPI requests `N`, the startup packet, the password check, the engine session.
///
/// `plain_refused` names the peer when a connection that did not encrypt is to be refused.
pub(super) async fn startup<S: AsyncRead + AsyncWrite + Unpin>(
    cluster: &PgCluster,
    io: &mut Io<S>,
    tls: bool,
    plain_refused: Option<&str>,
    pooled: bool,
) -> io::Result<Started> {
    let packet = loop {
        let packet = match io.read_startup().await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(Started::End),
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(Started::End)
            }
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Protocol(m)) => return fatal(io, PgError::new("08P01", m)).await,
        };
        let code = i32::from_be_bytes(packet[0..4].try_into().expect("length checked"));
        match code {
            SSL_REQUEST if tls => return Ok(Started::Upgrade),
            // `N` tells the client to go on in plain text, which `sslmode=prefer` accepts.
            SSL_REQUEST | GSSENC_REQUEST => {
                io.write_raw(b"N");
                io.flush().await?;
            }
            // Cancelling a running statement is not supported; PostgreSQL too closes the cancel connection without a reply.
            CANCEL_REQUEST => return Ok(Started::End),
            PROTOCOL_3_0 => break packet,
            other => {
                return fatal(
                    io,
                    PgError::new(
                        "0A000",
                        format!(
                            "unsupported frontend protocol {}.{}: server supports 3.0 to 3.0",
                            (other >> 16) & 0xffff,
                            other & 0xffff
                        ),
                    ),
                )
                .await
            }
        }
    };
    let Some(params) = startup_params(&packet[4..]) else {
        return fatal(io, PgError::new("08P01", "invalid startup packet layout")).await;
    };
    let Some(user) = params.get("user").cloned() else {
        return fatal(
            io,
            PgError::new(
                "28000",
                "no PostgreSQL user name specified in startup packet",
            ),
        )
        .await;
    };
    let database = params
        .get("database")
        .cloned()
        .unwrap_or_else(|| user.clone());
    if let Some(peer) = plain_refused {
        // PostgreSQL checks pg_hba.conf before authenticating; its message names the peer's address.
        let host = peer
            .parse::<std::net::SocketAddr>()
            .map_or_else(|_| peer.to_string(), |a| a.ip().to_string());
        return fatal(
            io,
            PgError::new(
                "28000",
                format!(
                    "no pg_hba.conf entry for host \"{host}\", user \"{user}\", database \"{database}\", no encryption"
                ),
            ),
        )
        .await;
    }
    // PgBouncer looks the pool up before it authenticates.
    let pool = match pooled.then(|| cluster.pool_config(&database)).transpose() {
        Ok(pool) => pool,
        Err(e) => return fatal(io, e).await,
    };
    let authenticated = match cluster.config().password_auth {
        PasswordAuth::Cleartext => crate::auth::cleartext(cluster, io, &user).await?,
        PasswordAuth::ScramSha256 => crate::auth::scram(cluster, io, &user).await?,
    };
    if let Err(e) = authenticated {
        return fatal(io, e).await;
    }
    let connected = match &pool {
        // A pool's client gets a server connection when it sends a statement; PgBouncer's key data is its own.
        Some(_) => Ok((None, 0)),
        None => cluster.with_engine_mut(|e, _| {
            e.connect(&database)
                .map(|s| (Some(s), e.backend_pid(s).unwrap_or(0)))
        }),
    };
    let (session, pid) = match connected {
        Ok(c) => c,
        Err(e) => return fatal(io, e).await,
    };
    greet(cluster, io, &params, &user, pid).await?;
    Ok(Started::Session(Login {
        session,
        // A pool's client works in the pool's database, which its statements are described in.
        database: pool
            .as_ref()
            .map_or(database.clone(), |config| config.db.clone()),
        pooled: pool.map(|config| Pooled {
            name: database,
            mode: config.mode,
        }),
        user,
        backend_pid: pid,
    }))
}

/// The startup packet's parameters (after its protocol code), or `None` if they are not
/// null-terminated pairs ending in an empty name.
fn startup_params(packet: &[u8]) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    let mut body = Body::new(packet);
    loop {
        let key = body.cstr().ok()?;
        if key.is_empty() {
            return Some(params);
        }
        let value = body.cstr().ok()?;
        params.insert(key.to_string(), value.to_string());
    }
}

/// The parameters PostgreSQL reports to a client after it logs in (`ParameterStatus`), as the
/// clusters report them.
pub fn reported_parameters<'a>(
    application_name: &'a str,
    server_version: &'a str,
    user: &'a str,
) -> [(&'static str, &'a str); 13] {
    [
        ("application_name", application_name),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "off"),
        ("server_encoding", "UTF8"),
        ("server_version", server_version),
        ("session_authorization", user),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "UTC"),
    ]
}

/// After authentication: `AuthenticationOk`, the parameters PostgreSQL reports, the backend key
/// and the first `ReadyForQuery`.
async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    cluster: &PgCluster,
    io: &mut Io<S>,
    params: &BTreeMap<String, String>,
    user: &str,
    pid: u32,
) -> io::Result<()> {
    io.auth_request(0);
    let application_name = params.get("application_name").cloned().unwrap_or_default();
    let server_version = cluster.config().server_version.clone();
    for (name, value) in reported_parameters(&application_name, &server_version, user) {
        io.parameter_status(name, value);
    }
    // The secret key only matters for cancel requests, which are not served; the pid makes it deterministic.
    io.msg(b'K', |b| {
        b.extend_from_slice(&(pid as i32).to_be_bytes());
        b.extend_from_slice(&(pid.wrapping_mul(2_654_435_761) as i32).to_be_bytes());
    });
    io.ready_for_query(b'I');
    io.flush().await
}
