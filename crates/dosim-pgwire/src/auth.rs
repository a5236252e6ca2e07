//! Password authentication at startup: SCRAM-SHA-256 or a clear-text password, checked against the cluster's users.

use std::io;

use dosim_pg::PgError;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::codec::{malformed, Body, Io, ReadError};
use crate::{scram, PgCluster};

/// A `PasswordMessage`-family message (password, SASL initial response, SASL response); `Ok(Err)` ends the connection with that error, `None` means the client left.
async fn auth_message<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
) -> io::Result<Option<Result<Vec<u8>, PgError>>> {
    match io.read_message(10_000).await {
        Ok(Some((b'p', body))) => Ok(Some(Ok(body))),
        Ok(Some((tag, _))) => Ok(Some(Err(PgError::new(
            "08P01",
            format!("expected password response, got message type {tag}"),
        )))),
        Ok(None) => Ok(None),
        Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(ReadError::Io(e)) => Err(e),
        Err(ReadError::Protocol(m)) => Ok(Some(Err(PgError::new("08P01", m)))),
    }
}

fn auth_failed(user: &str) -> PgError {
    PgError::new(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

/// The outcome of authentication: `Ok(Ok(()))` to go on, `Ok(Err(e))` to close with `e`; a client that left is an `UnexpectedEof`.
type AuthResult = io::Result<Result<(), PgError>>;

fn left() -> io::Error {
    io::ErrorKind::UnexpectedEof.into()
}

pub(crate) async fn cleartext<S: AsyncRead + AsyncWrite + Unpin>(
    cluster: &PgCluster,
    io: &mut Io<S>,
    user: &str,
) -> AuthResult {
    io.auth_request(3);
    io.flush().await?;
    let body = match auth_message(io).await?.ok_or_else(left)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let password = match Body::new(&body).cstr() {
        Ok(p) => p.to_string(),
        Err(_) => return Ok(Err(malformed())),
    };
    if cluster.password(user).is_some_and(|p| p == password) {
        Ok(Ok(()))
    } else {
        Ok(Err(auth_failed(user)))
    }
}

/// SCRAM-SHA-256 as PostgreSQL runs it; an unknown user goes through the whole exchange and fails at the end, as there.
pub(crate) async fn scram<S: AsyncRead + AsyncWrite + Unpin>(
    cluster: &PgCluster,
    io: &mut Io<S>,
    user: &str,
) -> AuthResult {
    io.msg(b'R', |b| {
        b.extend_from_slice(&10i32.to_be_bytes());
        crate::codec::cstr(b, "SCRAM-SHA-256");
        b.push(0);
    });
    io.flush().await?;
    let body = match auth_message(io).await?.ok_or_else(left)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let mut b = Body::new(&body);
    let (mechanism, client_first) = match (b.cstr(), b.i32()) {
        (Ok(m), Ok(len)) if len >= 0 => match b.bytes(len as usize).map(std::str::from_utf8) {
            Ok(Ok(first)) => (m.to_string(), first.to_string()),
            _ => return Ok(Err(malformed())),
        },
        _ => return Ok(Err(malformed())),
    };
    if mechanism != "SCRAM-SHA-256" {
        return Ok(Err(PgError::new(
            "08P01",
            "client selected an invalid SASL authentication mechanism",
        )));
    }
    let nonce = scram::server_nonce(cluster.next_nonce());
    let exchange = match cluster.scram_first(&client_first, &nonce, user) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    io.msg(b'R', |b| {
        b.extend_from_slice(&11i32.to_be_bytes());
        b.extend_from_slice(exchange.server_first_message().as_bytes());
    });
    io.flush().await?;
    let body = match auth_message(io).await?.ok_or_else(left)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let Ok(client_final) = std::str::from_utf8(&body) else {
        return Ok(Err(malformed()));
    };
    let password = cluster.password(user);
    match exchange.server_final(client_final, password.as_deref().unwrap_or("")) {
        Ok(Some(server_final)) if password.is_some() => {
            io.msg(b'R', |b| {
                b.extend_from_slice(&12i32.to_be_bytes());
                b.extend_from_slice(server_final.as_bytes());
            });
            Ok(Ok(()))
        }
        Ok(_) => Ok(Err(auth_failed(user))),
        Err(e) => Ok(Err(e)),
    }
}
