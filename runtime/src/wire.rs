//! What the live runtime sends: frames ([`net::frame`]) of envelopes
//! `(node, message)`. From a client host, `node` names the logical client
//! that sent the message; towards it, the client it is for. Between
//! replicas it is the sending replica.

use net::frame::{self, FrameError, FrameReader, PayloadWriter};
use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Error as RkyvError;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::{Archive, Deserialize, Serialize};

/// A message with the node it is from or for.
pub type Envelope<M> = (u64, M);

/// Messages the live runtime can carry: every protocol's message type is
/// one (rkyv derives), through this blanket implementation.
pub trait Wire: Sized + Clone + std::fmt::Debug + 'static {
    /// Appends a frame holding `batch` to `out`.
    #[allow(clippy::ptr_arg)] // rkyv archives a Vec, not a slice
    fn encode(batch: &Vec<Envelope<Self>>, out: &mut Vec<u8>) -> Result<(), FrameError>;
    /// The next whole frame from `reader`, if any.
    fn decode(reader: &mut FrameReader) -> Result<Option<Vec<Envelope<Self>>>, FrameError>;
}

impl<M> Wire for M
where
    M: Sized + Clone + std::fmt::Debug + 'static,
    Vec<Envelope<M>>: for<'a, 'b> Serialize<HighSerializer<PayloadWriter<'b>, ArenaHandle<'a>, RkyvError>> + Archive,
    <Vec<Envelope<M>> as Archive>::Archived:
        for<'a> CheckBytes<HighValidator<'a, RkyvError>> + Deserialize<Vec<Envelope<M>>, HighDeserializer<RkyvError>>,
{
    #[allow(clippy::ptr_arg)]
    fn encode(batch: &Vec<Envelope<M>>, out: &mut Vec<u8>) -> Result<(), FrameError> {
        frame::encode(batch, out)
    }

    fn decode(reader: &mut FrameReader) -> Result<Option<Vec<Envelope<M>>>, FrameError> {
        reader.next_frame()
    }
}

/// Appends `batch` to `out` as frames that each fit the frame cap, through
/// `frame` (which appends one frame, or fails with the encoder's error):
/// groups of at most `max_messages`, halved while a group's frame would be
/// too large. Returns the messages that alone exceed the cap, for the
/// caller to drop or refuse.
#[allow(clippy::ptr_arg)] // frames archive a Vec
pub fn encode_within_cap<M>(
    batch: Vec<Envelope<M>>,
    max_messages: usize,
    out: &mut Vec<u8>,
    mut frame: impl FnMut(&Vec<Envelope<M>>, &mut Vec<u8>) -> Result<(), FrameError>,
) -> Result<Vec<Envelope<M>>, FrameError> {
    let mut groups: Vec<Vec<Envelope<M>>> = Vec::new();
    let mut rest = batch;
    while rest.len() > max_messages {
        let tail = rest.split_off(max_messages);
        groups.push(rest);
        rest = tail;
    }
    groups.push(rest);
    groups.reverse();
    let mut oversized = Vec::new();
    while let Some(mut group) = groups.pop() {
        let mark = out.len();
        match frame(&group, out) {
            Ok(()) => {}
            Err(FrameError::TooLarge(_)) => {
                out.truncate(mark);
                if group.len() == 1 {
                    oversized.extend(group);
                    continue;
                }
                let second = group.split_off(group.len() / 2);
                groups.push(second);
                groups.push(group);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(oversized)
}

/// The first bytes a dialer sends: who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hello {
    /// A replica's link for protocol messages: its id, and the life of the
    /// process that dialled ([`protocols::rejoin::Lives`]), so that a
    /// receiver drops what an ended life still had in flight.
    Replica {
        /// The replica's id.
        id: u64,
        /// Its life ([`super::rejoin::life_now`] when it started).
        life: u64,
    },
    /// A host of logical clients; `host` is the address it stands for when
    /// latency is emulated (bench puts every site's clients on 127.0.0.1,
    /// so the replica cannot tell them apart by their socket's address).
    Clients {
        /// The emulated site's address, if not the socket's own.
        host: Option<std::net::Ipv4Addr>,
    },
    /// A replica rejoining after losing its state ([`super::rejoin`]):
    /// asks for the receiver's rejoin point, or its snapshot.
    Rejoin {
        /// The rejoining replica's id.
        id: u64,
        /// The life it starts.
        life: u64,
    },
}

/// Replica ids take the low 16 bits of a greeting's number, lives the rest.
const ID_BITS: u32 = 16;

impl Hello {
    /// The 9 bytes on the wire: a kind, then a number, little-endian: a
    /// replica's id and life (`id | life << 16`), or a client host's IPv4
    /// address (0 for none).
    pub fn to_bytes(self) -> [u8; 9] {
        let pack = |id: u64, life: u64| id | (life << ID_BITS);
        let (kind, number) = match self {
            Hello::Replica { id, life } => (0u8, pack(id, life)),
            Hello::Clients { host } => (1u8, host.map_or(0, |ip| u64::from(u32::from(ip)))),
            Hello::Rejoin { id, life } => (2u8, pack(id, life)),
        };
        let mut b = [0u8; 9];
        b[0] = kind;
        b[1..].copy_from_slice(&number.to_le_bytes());
        b
    }

    /// Reads a greeting; `None` for an unknown kind or an address that does
    /// not fit IPv4.
    pub fn from_bytes(b: &[u8; 9]) -> Option<Hello> {
        let number = u64::from_le_bytes(b[1..].try_into().ok()?);
        let (id, life) = (number & ((1 << ID_BITS) - 1), number >> ID_BITS);
        match b[0] {
            0 => Some(Hello::Replica { id, life }),
            1 => {
                let ip = u32::try_from(number).ok()?;
                Some(Hello::Clients {
                    host: (ip != 0).then(|| std::net::Ipv4Addr::from(ip)),
                })
            }
            2 => Some(Hello::Rejoin { id, life }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_round_trip() {
        for hello in [
            Hello::Replica {
                id: 4,
                life: 1_764_000_000_000,
            },
            Hello::Rejoin { id: 0, life: 7 },
            Hello::Clients {
                host: Some(std::net::Ipv4Addr::new(127, 0, 0, 3)),
            },
            Hello::Clients { host: None },
        ] {
            assert_eq!(Hello::from_bytes(&hello.to_bytes()), Some(hello));
        }
        assert_eq!(Hello::from_bytes(&[9; 9]), None);
    }
}
