//! `authentication_timeout`: a connection that never completes startup is closed when it runs out,
//! and never when it is unset. Tokio's clock is paused, so the hour below passes without waiting.

use std::time::Duration;

use dosim_pg::{Engine, EngineConfig};
use dosim_pgwire::{serve_connection_from, PgCluster, WireConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the client sends before going silent.
const NOTHING: &[u8] = b"";
/// A startup packet for protocol 3.0 naming a user, after which the server asks for a password.
fn startup_packet() -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    body.extend_from_slice(b"user\0doadmin\0\0");
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

/// Serves one connection that sends `sent` and then nothing; answers whether the server ended it
/// within an hour of the clock, and what it wrote.
fn ends_within_an_hour(timeout: Option<Duration>, tls: bool, sent: &[u8]) -> (bool, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cluster = PgCluster::new(
            Engine::new(EngineConfig::default()),
            WireConfig {
                tls,
                authentication_timeout: timeout,
                ..WireConfig::default()
            },
        );
        cluster.set_user("doadmin", "pw");
        let (mut client, server) = tokio::io::duplex(1 << 16);
        client.write_all(sent).await.expect("writes");
        let serving = tokio::spawn(serve_connection_from(
            cluster,
            server,
            "10.0.0.1:5000".into(),
        ));
        let ended = tokio::time::timeout(Duration::from_secs(3600), serving)
            .await
            .is_ok();
        let mut written = vec![];
        if ended {
            client.read_to_end(&mut written).await.expect("reads");
        }
        (ended, written.len())
    })
}

#[test]
fn a_connection_that_never_authenticates_is_closed_at_the_timeout() {
    let sixty = Some(Duration::from_secs(60));
    let packet = startup_packet();
    // (timeout, tls, what the client sends, ended within the hour)
    let cases: &[(Option<Duration>, bool, &[u8], bool)] = &[
        (sixty, false, NOTHING, true),
        // Waiting for the password: PostgreSQL's authentication_timeout covers this too.
        (sixty, false, &packet, true),
        (sixty, true, NOTHING, true),
        // Unset, as in simulations: held for as long as the client stays.
        (None, false, NOTHING, false),
        (None, false, &packet, false),
    ];
    for (timeout, tls, sent, ends) in cases {
        let (ended, _) = ends_within_an_hour(*timeout, *tls, sent);
        assert_eq!(
            ended,
            *ends,
            "timeout {timeout:?}, tls {tls}, sent {} bytes",
            sent.len()
        );
    }
}
