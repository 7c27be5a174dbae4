//! The wire format between nodes: length-prefixed frames, each carrying a
//! batch of messages archived with rkyv.
//!
//! ```text
//! | magic "SP" (2) | version (1) | reserved, 0 (1) | messages (u32 LE) | payload bytes (u32 LE) | payload |
//! ```
//!
//! A sender packs every message it has for one peer into one frame (one
//! write, one archive); the receiver reads the 12-byte header, checks it, and
//! only then reads that many payload bytes, which rkyv validates before
//! anything is trusted. Every way a frame can be wrong is a [`FrameError`]:
//! the transport closes that one connection with it as the logged reason.

use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::ser::{Positional, Writer};
use rkyv::util::AlignedVec;
use rkyv::{Archive, Deserialize, Serialize};
use thiserror::Error;

/// The first two bytes of every frame.
pub const MAGIC: [u8; 2] = *b"SP";
/// The wire format's version; a peer speaking another one is refused.
pub const VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 12;
/// The largest payload accepted: a frame claiming more is refused before
/// any of it is read, so a bad length cannot make a server allocate it.
pub const MAX_PAYLOAD: usize = 16 << 20;

/// The most a connection's buffers keep between frames. A burst (a state
/// transfer, a catch-up, a backlog after a reconnect) grows them up to the
/// frame cap; they shrink back afterwards, so an idle connection does not
/// hold the size of the largest burst it ever saw.
pub const RETAINED_BUFFER: usize = 1 << 20;

/// Why a frame was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The stream does not start with [`MAGIC`]: not our protocol, or out of step.
    #[error("bad magic {0:02x?} (expected \"SP\")")]
    BadMagic([u8; 2]),
    /// Another version of the wire format.
    #[error("wire format version {0}, this build speaks {VERSION}")]
    WrongVersion(u8),
    /// The reserved byte is not zero.
    #[error("reserved header byte is {0}, not 0")]
    Reserved(u8),
    /// The header announces more than [`MAX_PAYLOAD`].
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD}-byte limit")]
    Oversized(usize),
    /// The connection ended inside a frame.
    #[error("connection closed {got} bytes into a {expected}-byte frame")]
    Truncated { expected: usize, got: usize },
    /// The payload is not a valid archive of the expected messages.
    #[error("payload does not decode: {0}")]
    Malformed(String),
    /// The payload holds another number of messages than the header says.
    #[error("header announces {announced} messages, payload holds {found}")]
    CountMismatch { announced: u32, found: usize },
    /// A batch too large to send in one frame.
    #[error("a batch of {0} bytes does not fit in one frame")]
    TooLarge(usize),
}

/// A checked frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// How many messages the payload holds.
    pub messages: u32,
    /// How many payload bytes follow the header.
    pub payload_len: usize,
}

impl Header {
    /// Checks the 12 header bytes.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Header, FrameError> {
        if bytes[0..2] != MAGIC {
            return Err(FrameError::BadMagic([bytes[0], bytes[1]]));
        }
        if bytes[2] != VERSION {
            return Err(FrameError::WrongVersion(bytes[2]));
        }
        if bytes[3] != 0 {
            return Err(FrameError::Reserved(bytes[3]));
        }
        let messages = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let payload_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        if payload_len > MAX_PAYLOAD {
            return Err(FrameError::Oversized(payload_len));
        }
        Ok(Header { messages, payload_len })
    }
}

/// The archive's bytes go straight into the connection's buffer, after the
/// frame's header; positions count from the payload's first byte, so rkyv
/// aligns the layout for the receiver, which validates the payload at the
/// start of an aligned buffer.
pub struct PayloadWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl Positional for PayloadWriter<'_> {
    fn pos(&self) -> usize {
        self.out.len() - self.start
    }
}

impl<E> Writer<E> for PayloadWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), E> {
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Appends one frame holding `messages` to `out`, archiving them in place
/// (no intermediate buffer). On error `out` is as it was.
#[allow(clippy::ptr_arg)] // rkyv archives a Vec, not a slice
pub fn encode<M>(messages: &Vec<M>, out: &mut Vec<u8>) -> Result<(), FrameError>
where
    Vec<M>: for<'a, 'b> Serialize<HighSerializer<PayloadWriter<'b>, ArenaHandle<'a>, RkyvError>>,
{
    let mark = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    let start = out.len();
    if let Err(e) = rkyv::api::high::to_bytes_in::<_, RkyvError>(messages, PayloadWriter { out: &mut *out, start }) {
        out.truncate(mark);
        return Err(FrameError::Malformed(e.to_string()));
    }
    let payload_len = out.len() - start;
    if payload_len > MAX_PAYLOAD {
        out.truncate(mark);
        return Err(FrameError::TooLarge(payload_len));
    }
    let header = &mut out[mark..start];
    header[0..2].copy_from_slice(&MAGIC);
    header[2] = VERSION;
    header[3] = 0;
    header[4..8].copy_from_slice(&(messages.len() as u32).to_le_bytes());
    header[8..12].copy_from_slice(&(payload_len as u32).to_le_bytes());
    Ok(())
}

/// Validates and decodes a frame's payload. The bytes are copied into an
/// aligned buffer first: a socket's buffer has no alignment to promise.
pub fn decode<M>(header: Header, payload: &[u8]) -> Result<Vec<M>, FrameError>
where
    Vec<M>: Archive,
    <Vec<M> as Archive>::Archived:
        for<'a> CheckBytes<HighValidator<'a, RkyvError>> + Deserialize<Vec<M>, HighDeserializer<RkyvError>>,
{
    decode_with(header, payload, &mut AlignedVec::new())
}

/// [`decode`] through a caller's aligned buffer, reused frame after frame.
fn decode_with<M>(header: Header, payload: &[u8], aligned: &mut AlignedVec) -> Result<Vec<M>, FrameError>
where
    Vec<M>: Archive,
    <Vec<M> as Archive>::Archived:
        for<'a> CheckBytes<HighValidator<'a, RkyvError>> + Deserialize<Vec<M>, HighDeserializer<RkyvError>>,
{
    aligned.clear();
    aligned.extend_from_slice(payload);
    let messages = rkyv::from_bytes::<Vec<M>, RkyvError>(aligned).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if messages.len() != header.messages as usize {
        return Err(FrameError::CountMismatch {
            announced: header.messages,
            found: messages.len(),
        });
    }
    Ok(messages)
}

/// Splits a byte stream into frames: feed it what the socket gave, take
/// out whole frames. Used by the transport and by tests that play a
/// misbehaving peer.
#[derive(Debug, Default)]
pub struct FrameReader {
    /// Bytes read; those before `start` are consumed.
    buf: Vec<u8>,
    start: usize,
    header: Option<Header>,
    /// Where a payload is copied to be validated (aligned), reused.
    aligned: AlignedVec,
}

impl FrameReader {
    /// Nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        // Consumed bytes are dropped here, once per read, rather than
        // shifting the rest of the buffer after every frame.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let needed = self.buf.len() + bytes.len();
        if self.buf.capacity() > RETAINED_BUFFER && needed <= RETAINED_BUFFER / 2 {
            self.buf.shrink_to(needed.max(64 << 10));
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame's messages, `None` if more bytes are needed, or
    /// the reason the stream is bad (the connection should close).
    pub fn next_frame<M>(&mut self) -> Result<Option<Vec<M>>, FrameError>
    where
        Vec<M>: Archive,
        <Vec<M> as Archive>::Archived:
            for<'a> CheckBytes<HighValidator<'a, RkyvError>> + Deserialize<Vec<M>, HighDeserializer<RkyvError>>,
    {
        let header = match self.header {
            Some(h) => h,
            None => {
                let Some(bytes) = self.buf.get(self.start..self.start + HEADER_LEN) else {
                    return Ok(None);
                };
                let h = Header::parse(bytes.try_into().expect("HEADER_LEN bytes"))?;
                self.header = Some(h);
                h
            }
        };
        let end = self.start + HEADER_LEN + header.payload_len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let messages = decode_with(header, &self.buf[self.start + HEADER_LEN..end], &mut self.aligned)?;
        if self.aligned.capacity() > RETAINED_BUFFER {
            self.aligned = AlignedVec::new();
        }
        self.start = end;
        self.header = None;
        Ok(Some(messages))
    }

    /// The connection closed: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        let left = self.buf.len() - self.start;
        if left == 0 {
            return Ok(());
        }
        let expected = self.header.map_or(HEADER_LEN, |h| HEADER_LEN + h.payload_len);
        Err(FrameError::Truncated { expected, got: left })
    }
}
