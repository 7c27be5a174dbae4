//! One connection's two halves: a writer that turns queued envelopes into
//! frames, and a reader that turns frames back into envelopes.

use super::mailbox::Mailbox;
use super::wire::{Envelope, Wire};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use net::frame::{FrameError, FrameReader};
use std::io;
use thiserror::Error;

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
/// batch when busy, no added delay when idle. Ends when the queue closes
/// or the connection fails.
pub async fn write_loop<M: Wire, W: AsyncWrite + Unpin>(mut stream: W, queue: Mailbox<Envelope<M>>) -> Result<(), LinkError> {
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        queue.ready().await;
        let mut batch = queue.drain();
        if batch.is_empty() && queue.is_closed() {
            return Ok(());
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
pub async fn read_loop<M: Wire, R: AsyncRead + Unpin>(mut stream: R, mut deliver: impl FnMut(Envelope<M>)) -> Result<(), LinkError> {
    let mut reader = FrameReader::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
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
