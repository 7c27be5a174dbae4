//! One connection's two halves: a writer that turns queued envelopes into
//! frames, and a reader that turns frames back into envelopes.

use super::mailbox::Mailbox;
use super::wire::{Envelope, Wire};
use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::timer::sleep;
use net::frame::{FrameError, FrameReader};
use net::LatencyTable;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Emulated one-way delays from this node to others, so that one machine
/// can play a geo-distributed deployment: none, the same for every link, or
/// per host pair from a latency file (the original's `-latency`).
#[derive(Clone, Debug, Default)]
pub enum Delays {
    /// Real loopback only.
    #[default]
    None,
    /// Every link this long one way.
    Uniform(Duration),
    /// Per host pair, from a latency table; `from` is this node's host.
    Table { table: LatencyTable, from: String },
}

impl Delays {
    /// The one-way delay to `host` (an IP as written in the config).
    pub fn to(&self, host: &str) -> Duration {
        match self {
            Delays::None => Duration::ZERO,
            Delays::Uniform(d) => *d,
            Delays::Table { table, from } => table.one_way(from, host).unwrap_or(Duration::ZERO),
        }
    }
}

/// At most this many messages go into one frame.
const MAX_FRAME_MESSAGES: usize = 4096;

/// Why a connection ended.
#[derive(Debug, Error)]
pub enum LinkError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The peer sent a bad frame.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
}

/// Writes what is pushed to `queue` to `stream`: waits for the first
/// envelope, then takes everything queued meanwhile into one frame — a
/// batch when busy, no added delay when idle. With a `delay`, each batch
/// is held that long first (the link's emulated one-way latency; order is
/// kept). Ends when the queue closes or the connection fails.
pub async fn write_loop<M: Wire, W: AsyncWrite + Unpin>(mut stream: W, queue: Mailbox<Envelope<M>>, delay: Duration) -> Result<(), LinkError> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut held: VecDeque<(Instant, Vec<Envelope<M>>)> = VecDeque::new();
    loop {
        match held.front() {
            None => queue.ready().await,
            Some((due, _)) => {
                let wait = due.saturating_duration_since(Instant::now());
                if queue.is_closed() {
                    sleep(wait).await;
                } else if !wait.is_zero() {
                    future::or(sleep(wait), queue.ready()).await;
                }
            }
        }
        let fresh = queue.drain();
        if fresh.is_empty() && queue.is_closed() && held.is_empty() {
            return Ok(());
        }
        if !fresh.is_empty() {
            held.push_back((Instant::now() + delay, fresh));
        }
        let now = Instant::now();
        let mut batch = Vec::new();
        while held.front().is_some_and(|(due, _)| *due <= now) {
            batch.extend(held.pop_front().expect("checked").1);
        }
        if batch.is_empty() {
            continue;
        }
        buf.clear();
        while !batch.is_empty() {
            let rest = if batch.len() > MAX_FRAME_MESSAGES { batch.split_off(MAX_FRAME_MESSAGES) } else { Vec::new() };
            M::encode(&batch, &mut buf)?;
            batch = rest;
        }
        stream.write_all(&buf).await?;
        stream.flush().await?;
    }
}

/// Reads frames from `stream` until it ends, handing every envelope to
/// `deliver`. A clean end between frames is `Ok`; anything else says why.
pub async fn read_loop<M: Wire, R: AsyncRead + Unpin>(stream: R, deliver: impl FnMut(Envelope<M>)) -> Result<(), LinkError> {
    read_loop_paced(stream, deliver, || 0).await
}

/// While the receiver has more than this many envelopes waiting, readers
/// stop reading: TCP's flow control then slows the sender, instead of a
/// replica that cannot keep up buffering without bound.
pub const BACKLOG_LIMIT: usize = 65_536;

/// [`read_loop`] that pauses while `backlog()` (the receiver's queue
/// length) exceeds [`BACKLOG_LIMIT`].
pub async fn read_loop_paced<M: Wire, R: AsyncRead + Unpin>(
    mut stream: R,
    mut deliver: impl FnMut(Envelope<M>),
    backlog: impl Fn() -> usize,
) -> Result<(), LinkError> {
    let mut reader = FrameReader::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while backlog() > BACKLOG_LIMIT {
            sleep(Duration::from_micros(200)).await;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(reader.finish()?);
        }
        reader.push(&buf[..n]);
        while let Some(batch) = M::decode(&mut reader)? {
            batch.into_iter().for_each(&mut deliver);
        }
    }
}
