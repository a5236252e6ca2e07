//! The data planes' accept loop on a tokio listener, as `dosim serve` runs them.

use std::future::Future;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// Accepts connections on `listener` until the task is aborted, each served by the future `serve`
/// makes of its stream and the client's address, with Nagle's delay off. The connections are tasks
/// of this one's own `JoinSet`, so aborting it closes them too.
///
/// A failed accept (a connection reset before it was taken, too many open files) skips that
/// connection and goes on after a millisecond, as PostgreSQL's postmaster does.
pub async fn accept<F>(listener: TcpListener, mut serve: impl FnMut(TcpStream, String) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve(stream, peer.to_string()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
