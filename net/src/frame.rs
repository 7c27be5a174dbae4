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

/// Appends one frame holding `messages` to `out`.
#[allow(clippy::ptr_arg)] // rkyv archives a Vec, not a slice
pub fn encode<M>(messages: &Vec<M>, out: &mut Vec<u8>) -> Result<(), FrameError>
where
    Vec<M>: for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, RkyvError>>,
{
    let payload = rkyv::to_bytes::<RkyvError>(messages).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if payload.len() > MAX_PAYLOAD {
        return Err(FrameError::TooLarge(payload.len()));
    }
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(0);
    out.extend_from_slice(&(messages.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(())
}

/// Validates and decodes a frame's payload. The bytes are copied into an
/// aligned buffer first: a socket's buffer has no alignment to promise.
pub fn decode<M>(header: Header, payload: &[u8]) -> Result<Vec<M>, FrameError>
where
    Vec<M>: Archive,
    <Vec<M> as Archive>::Archived: for<'a> CheckBytes<HighValidator<'a, RkyvError>> + Deserialize<Vec<M>, HighDeserializer<RkyvError>>,
{
    let mut aligned: AlignedVec = AlignedVec::with_capacity(payload.len());
    aligned.extend_from_slice(payload);
    let messages = rkyv::from_bytes::<Vec<M>, RkyvError>(&aligned).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if messages.len() != header.messages as usize {
        return Err(FrameError::CountMismatch { announced: header.messages, found: messages.len() });
    }
    Ok(messages)
}

/// Splits a byte stream into frames: feed it what the socket gave, take
/// out whole frames. Used by the transport and by tests that play a
/// misbehaving peer.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    header: Option<Header>,
}

impl FrameReader {
    /// Nothing read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame's messages, `None` if more bytes are needed, or
    /// the reason the stream is bad (the connection should close).
    pub fn next_frame<M>(&mut self) -> Result<Option<Vec<M>>, FrameError>
    where
        Vec<M>: Archive,
        <Vec<M> as Archive>::Archived: for<'a> CheckBytes<HighValidator<'a, RkyvError>> + Deserialize<Vec<M>, HighDeserializer<RkyvError>>,
    {
        let header = match self.header {
            Some(h) => h,
            None => {
                let Some(bytes) = self.buf.get(..HEADER_LEN) else { return Ok(None) };
                let h = Header::parse(bytes.try_into().expect("HEADER_LEN bytes"))?;
                self.header = Some(h);
                h
            }
        };
        let end = HEADER_LEN + header.payload_len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let messages = decode(header, &self.buf[HEADER_LEN..end])?;
        self.buf.drain(..end);
        self.header = None;
        Ok(Some(messages))
    }

    /// The connection closed: an error if it ended inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let expected = self.header.map_or(HEADER_LEN, |h| HEADER_LEN + h.payload_len);
        Err(FrameError::Truncated { expected, got: self.buf.len() })
    }
}
