//! One connection's two halves: a writer that turns queued envelopes into
//! frames, and a reader that turns frames back into envelopes.

use super::mailbox::Mailbox;
use crate::wire::{encode_within_cap, Envelope, Wire};
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

/// Appends `batch` to `out` as frames under the frame cap
/// ([`encode_within_cap`]). A message that alone exceeds the cap cannot be
/// sent; it is dropped with an error in the log (the protocol must split
/// what grows with history), rather than failing the link, which would
/// only meet it again after reconnecting.
pub fn encode_frames<M: Wire>(batch: Vec<Envelope<M>>, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let oversized = encode_within_cap(batch, MAX_FRAME_MESSAGES, out, M::encode)?;
    if !oversized.is_empty() {
        tracing::error!(
            dropped = oversized.len(),
            "messages larger than a frame were dropped; they must be split before they are sent"
        );
    }
    Ok(())
}

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
pub async fn write_loop<M: Wire, W: AsyncWrite + Unpin>(
    mut stream: W,
    queue: Mailbox<Envelope<M>>,
    delay: Duration,
) -> Result<(), LinkError> {
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
        let batch = if delay.is_zero() {
            // No emulated latency: what was queued leaves as it is.
            fresh
        } else {
            if !fresh.is_empty() {
                held.push_back((Instant::now() + delay, fresh));
            }
            let now = Instant::now();
            let mut batch = Vec::new();
            while held.front().is_some_and(|(due, _)| *due <= now) {
                batch.extend(held.pop_front().expect("checked").1);
            }
            batch
        };
        if batch.is_empty() {
            continue;
        }
        buf.clear();
        encode_frames(batch, &mut buf)?;
        stream.write_all(&buf).await?;
        stream.flush().await?;
        // Room for a burst goes back once writes are far smaller again.
        if buf.capacity() > net::frame::RETAINED_BUFFER && buf.len() * 8 < buf.capacity() {
            buf = Vec::with_capacity(64 * 1024);
        }
    }
}

/// Reads frames from `stream` until it ends, handing every envelope to
/// `deliver`. A clean end between frames is `Ok`; anything else says why.
pub async fn read_loop<M: Wire, R: AsyncRead + Unpin>(
    stream: R,
    deliver: impl FnMut(Envelope<M>),
) -> Result<(), LinkError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use protocols::ballot::Ballot;
    use protocols::paxos::Message;
    use protocols::{Command, CommandId};
    use std::sync::Arc;

    /// A Paxos `Accept` of `commands` PUTs of 1 KiB each.
    fn accept(slot: u64, commands: u64) -> Envelope<Message> {
        let value = Bytes::from(vec![b'v'; 1024]);
        let batch = (0..commands)
            .map(|i| {
                (
                    CommandId::new(i, slot),
                    Command::Put {
                        key: i as i64,
                        value: value.clone(),
                    },
                )
            })
            .collect::<Vec<_>>();
        (
            0,
            Message::Accept {
                ballot: Ballot(1),
                slot,
                value: Arc::from(batch),
            },
        )
    }

    fn decode_all(bytes: &[u8]) -> (usize, Vec<Envelope<Message>>) {
        let mut reader = FrameReader::new();
        reader.push(bytes);
        let (mut frames, mut messages) = (0, Vec::new());
        while let Some(batch) = Message::decode(&mut reader).unwrap() {
            frames += 1;
            messages.extend(batch);
        }
        (frames, messages)
    }

    #[test]
    fn a_batch_larger_than_a_frame_goes_out_as_several() {
        // 80 slots of 256 KiB-sized batches: ~21 MB, over the 16 MiB cap.
        let batch: Vec<_> = (0..80).map(|slot| accept(slot, 256)).collect();
        let mut out = Vec::new();
        encode_frames(batch.clone(), &mut out).unwrap();
        let (frames, messages) = decode_all(&out);
        assert!(frames >= 2, "{frames} frames");
        assert_eq!(messages, batch, "every message, in order");
    }

    #[test]
    fn a_message_larger_than_a_frame_is_dropped_alone() {
        let batch = vec![accept(1, 4), accept(2, 18_000), accept(3, 4)];
        let mut out = Vec::new();
        encode_frames(batch.clone(), &mut out).unwrap();
        let (_, messages) = decode_all(&out);
        assert_eq!(messages, vec![batch[0].clone(), batch[2].clone()]);
    }
}
