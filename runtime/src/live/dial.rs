//! Outgoing connections: one dial that introduces this end with its
//! [`Hello`], and the backoff loop replica and client links come back
//! through when a peer is away. Shared by the replica host
//! ([`super::server`]), the client host ([`super::clients`]) and a
//! rejoining replica ([`super::rejoin`]).

use super::mailbox::Mailbox;
use crate::wire::{Envelope, Hello};
use glommio::net::TcpStream;
use glommio::timer::sleep;
use std::net::SocketAddr;
use std::time::Duration;

/// Reconnection backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Connects to `to` for the messages in `queue`, retrying with backoff
/// while it is away (a crashed or restarting replica) and dropping what
/// queues meanwhile, as a lossy network would. `None` once
/// the queue is closed or `stopped()` says so. Replica and client links
/// both come back through it.
pub async fn reconnect<M>(
    to: SocketAddr,
    hello: Hello,
    queue: &Mailbox<Envelope<M>>,
    stopped: &dyn Fn() -> bool,
) -> Option<TcpStream> {
    let mut backoff = BACKOFF_MIN;
    while !stopped() && !queue.is_closed() {
        if let Ok(stream) = connect(to, hello).await {
            return Some(stream);
        }
        // The peer is down: what queued for it is dropped, as a lossy
        // network would, rather than held (up to the queue bound, which is
        // many batches) and flooded into it when it returns. The protocols
        // retransmit, and a returning replica catches up.
        queue.drain();
        sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    None
}

/// Connects to `to` and introduces this end.
pub async fn connect(to: SocketAddr, hello: Hello) -> std::io::Result<TcpStream> {
    use futures_lite::AsyncWriteExt;
    let mut stream = TcpStream::connect(to).await?;
    stream.set_nodelay(true)?;
    stream.write_all(&hello.to_bytes()).await?;
    Ok(stream)
}
