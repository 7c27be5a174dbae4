//! State transfer and split replies: what a replica sends when what it must
//! say grows with history.
//!
//! A replica that fell further behind than the others keep their logs for
//! ([`crate::ReplicaConfig::release_lag`]) cannot catch up from decisions:
//! they are gone. It gets the executed state instead — the store and the
//! session table, so exactly-once still holds — as an image cut into parts
//! of at most [`PART_BYTES`] ([`crate::session::StateMachine::chunks`]),
//! each one message well under the frame cap, then catches up on the log
//! tail as usual. [`IncomingImage`] puts the parts back together (they may
//! arrive twice, out of order, or not at all: the receiver asks again),
//! [`ImageSender`] keeps a donor from sending a whole image on every retry.
//!
//! Replies that report a log (a phase-1 promise, a SwiftPaxos report to
//! a new leader) are split the same way: [`split_by_size`] cuts them, and
//! [`PartedReplies`] puts each back together before it counts.

use crate::ids::ReplicaId;
use crate::log::SlotLog;
use crate::protocol::Outbox;
use crate::session::{StateChunk, StateMachine};
use crate::time::Time;
use std::time::Duration;

/// Bytes of state, or of reported log, per part: well under the frame cap
/// (`net::frame::MAX_PAYLOAD`, 16 MiB), so a part always fits one frame.
pub const PART_BYTES: usize = 1 << 20;

/// The most parts one image or reply may announce; more is a malformed
/// message (it would be 64 GiB of state), dropped without allocating.
pub const MAX_PARTS: u32 = 1 << 16;

/// The image being received: the parts of the newest one offered.
#[derive(Debug, Default)]
pub struct IncomingImage {
    assembly: Option<Assembly>,
}

#[derive(Debug)]
struct Assembly {
    /// The donor's execution frontier the image stands for.
    frontier: u64,
    parts: Vec<Option<StateChunk>>,
    missing: usize,
    last_part: Time,
}

impl IncomingImage {
    /// Nothing received.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds part `part` of `parts` of the image at `frontier`; answers the
    /// whole image once its last missing part arrived. A part of an older
    /// image than the one being assembled is dropped; a newer image
    /// replaces it. Malformed announcements (`part >= parts`, too many
    /// parts) are dropped.
    pub fn add(
        &mut self,
        frontier: u64,
        part: u32,
        parts: u32,
        chunk: StateChunk,
        now: Time,
    ) -> Option<Vec<StateChunk>> {
        if part >= parts || parts > MAX_PARTS {
            return None;
        }
        let stale = self
            .assembly
            .as_ref()
            .is_some_and(|a| a.frontier > frontier || (a.frontier == frontier && a.parts.len() != parts as usize));
        if stale {
            return None;
        }
        let assembly = match &mut self.assembly {
            Some(a) if a.frontier == frontier => a,
            _ => self.assembly.insert(Assembly {
                frontier,
                parts: vec![None; parts as usize],
                missing: parts as usize,
                last_part: now,
            }),
        };
        assembly.last_part = now;
        let slot = &mut assembly.parts[part as usize];
        if slot.is_none() {
            *slot = Some(chunk);
            assembly.missing -= 1;
        }
        if assembly.missing > 0 {
            return None;
        }
        let done = self.assembly.take()?;
        Some(done.parts.into_iter().flatten().collect())
    }

    /// [`IncomingImage::add`] at a replica whose execution frontier is
    /// `frontier`: an image no newer is ignored; a whole one is recorded
    /// part by part through `record(index, count, chunk)` (persist, then
    /// install) and handed back for the protocol to install.
    #[allow(clippy::too_many_arguments)]
    pub fn receive<M>(
        &mut self,
        frontier: u64,
        (executed, part, parts): (u64, u32, u32),
        chunk: StateChunk,
        now: Time,
        out: &mut Outbox<M>,
        record: impl Fn(u32, u32, StateChunk) -> M,
    ) -> Option<Vec<StateChunk>> {
        if executed <= frontier {
            return None;
        }
        let image = self.add(executed, part, parts, chunk, now)?;
        let count = image.len() as u32;
        for (i, chunk) in image.iter().enumerate() {
            out.persist_with(|| record(i as u32, count, chunk.clone()));
        }
        Some(image)
    }

    /// Whether an image is arriving: a part came within `patience`. The
    /// receiver does not ask again meanwhile.
    pub fn is_arriving(&self, now: Time, patience: Duration) -> bool {
        self.assembly
            .as_ref()
            .is_some_and(|a| now.since(a.last_part) < patience)
    }

    /// Drops a partial image, once the receiver got past its frontier otherwise.
    pub fn forget_below(&mut self, frontier: u64) {
        if self.assembly.as_ref().is_some_and(|a| a.frontier <= frontier) {
            self.assembly = None;
        }
    }
}

/// Replaces a slot-ordered replica's executed state with `image`, taken
/// after every position below `executed`: the state machine is rebuilt
/// from it and the log jumps there, keeping this replica's votes above
/// (`SlotLog::install`). Answers whether it was news (an image no newer
/// than the replica's own frontier changes nothing).
pub fn install_image(
    state: &mut StateMachine,
    log: &mut SlotLog,
    forgotten: u64,
    executed: u64,
    image: Vec<StateChunk>,
) -> bool {
    if executed <= log.execution_frontier() {
        return false;
    }
    *state = StateMachine::new();
    for chunk in image {
        state.absorb(chunk);
    }
    log.install(forgotten, executed);
    true
}

/// When each replica was last sent an image: a lagging replica asks on
/// every retry, and an image may be large, so a donor sends one per
/// `interval` at most.
#[derive(Debug, Clone)]
pub struct ImageSender {
    last_sent: Vec<Option<Time>>,
}

impl ImageSender {
    /// None sent yet to any of `n` replicas.
    pub fn new(n: usize) -> Self {
        ImageSender {
            last_sent: vec![None; n],
        }
    }

    /// Whether an image may go to `to` now; if so, notes it as sent.
    pub fn may_send(&mut self, to: ReplicaId, now: Time, interval: Duration) -> bool {
        let Some(last) = self.last_sent.get_mut(to) else {
            return false;
        };
        if last.is_some_and(|t| now.since(t) < interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// Cuts `items` into parts of at most `max_bytes` by `size` (at least one
/// item per part, and at least one part, empty if need be, so that an
/// empty report is still a reply).
pub fn split_by_size<T>(items: Vec<T>, max_bytes: usize, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut parts = vec![Vec::new()];
    let mut bytes = 0;
    for item in items {
        let s = size(&item);
        if bytes + s > max_bytes && bytes > 0 {
            parts.push(Vec::new());
            bytes = 0;
        }
        bytes += s;
        parts.last_mut().expect("one at least").push(item);
    }
    parts
}

/// Which part of a reply a message carries: part `index` of `count` of
/// the reply its sender tagged `version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Part {
    /// Tells one reply from a retransmitted one, which may be cut otherwise.
    pub version: u64,
    /// This part's position, `0..count`.
    pub index: u32,
    /// How many parts the reply has.
    pub count: u32,
}

/// Cuts a reply into parts of at most [`PART_BYTES`] by `size`, each with
/// its [`Part`] label.
pub fn parts_of<T>(items: Vec<T>, version: u64, size: impl Fn(&T) -> usize) -> impl Iterator<Item = (Part, Vec<T>)> {
    let parts = split_by_size(items, PART_BYTES, size);
    let count = parts.len() as u32;
    parts.into_iter().enumerate().map(move |(i, items)| {
        (
            Part {
                version,
                index: i as u32,
                count,
            },
            items,
        )
    })
}

/// Replies in parts, put back together per replica: a reply counts only
/// once every part of it arrived (parts may come twice or out of order).
/// A replica tags each reply it builds with a `version`; parts of
/// different versions are never mixed (a retransmitted reply may be cut
/// differently if the replica's state moved meanwhile): a new version
/// replaces what had arrived of an older one.
#[derive(Debug, Clone)]
pub struct PartedReplies<T> {
    arriving: Vec<Arriving<T>>,
}

#[derive(Debug, Clone)]
struct Arriving<T> {
    from: ReplicaId,
    version: u64,
    parts: Vec<Option<Vec<T>>>,
    missing: usize,
}

impl<T> Default for PartedReplies<T> {
    fn default() -> Self {
        PartedReplies { arriving: Vec::new() }
    }
}

impl<T> PartedReplies<T> {
    /// Nothing arrived.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds part `part` of `parts` of `from`'s reply `version`; answers the
    /// whole reply, parts in order, once its last missing part arrived.
    /// Malformed parts are dropped.
    pub fn add(&mut self, from: ReplicaId, label: Part, items: Vec<T>) -> Option<Vec<T>> {
        let Part {
            version,
            index: part,
            count: parts,
        } = label;
        if part >= parts || parts > MAX_PARTS {
            return None;
        }
        let i = match self.arriving.iter().position(|a| a.from == from) {
            Some(i) if self.arriving[i].version == version && self.arriving[i].parts.len() == parts as usize => i,
            Some(i) if self.arriving[i].version > version => return None,
            found => {
                let fresh = Arriving {
                    from,
                    version,
                    parts: (0..parts).map(|_| None).collect(),
                    missing: parts as usize,
                };
                match found {
                    Some(i) => {
                        self.arriving[i] = fresh;
                        i
                    }
                    None => {
                        self.arriving.push(fresh);
                        self.arriving.len() - 1
                    }
                }
            }
        };
        let arriving = &mut self.arriving[i];
        let slot = &mut arriving.parts[part as usize];
        if slot.is_none() {
            *slot = Some(items);
            arriving.missing -= 1;
        }
        if arriving.missing > 0 {
            return None;
        }
        let done = self.arriving.swap_remove(i);
        Some(done.parts.into_iter().flatten().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn chunk(key: i64) -> StateChunk {
        StateChunk {
            store: vec![(key, Bytes::from_static(b"v"))],
            sessions: Vec::new(),
            applied: 7,
        }
    }

    #[test]
    fn an_image_is_whole_once_every_part_arrived_in_any_order() {
        let mut incoming = IncomingImage::new();
        assert_eq!(incoming.add(10, 2, 3, chunk(2), Time(0)), None);
        assert_eq!(
            incoming.add(10, 2, 3, chunk(2), Time(1)),
            None,
            "a duplicate adds nothing"
        );
        assert!(incoming.is_arriving(Time(2), Duration::from_nanos(5)));
        assert_eq!(incoming.add(10, 0, 3, chunk(0), Time(3)), None);
        let whole = incoming.add(10, 1, 3, chunk(1), Time(4)).expect("complete");
        let keys: Vec<i64> = whole.iter().map(|c| c.store[0].0).collect();
        assert_eq!(keys, vec![0, 1, 2], "parts come back in order");
        assert!(
            !incoming.is_arriving(Time(5), Duration::from_secs(1)),
            "nothing pending after"
        );
    }

    #[test]
    fn a_newer_image_replaces_an_older_one_and_malformed_parts_are_dropped() {
        let mut incoming = IncomingImage::new();
        assert_eq!(incoming.add(10, 0, 2, chunk(0), Time(0)), None);
        assert_eq!(incoming.add(20, 0, 2, chunk(5), Time(1)), None);
        assert_eq!(
            incoming.add(10, 1, 2, chunk(1), Time(2)),
            None,
            "the older image is gone"
        );
        assert_eq!(incoming.add(20, 2, 2, chunk(9), Time(2)), None, "part out of range");
        assert_eq!(
            incoming.add(20, 0, MAX_PARTS + 1, chunk(9), Time(2)),
            None,
            "too many parts"
        );
        assert!(incoming.add(20, 1, 2, chunk(6), Time(3)).is_some());
        let mut incoming = IncomingImage::new();
        incoming.add(10, 0, 2, chunk(0), Time(0));
        incoming.forget_below(12);
        assert!(!incoming.is_arriving(Time(0), Duration::from_secs(1)));
    }

    #[test]
    fn a_donor_sends_one_image_per_interval() {
        let mut sender = ImageSender::new(3);
        let second = Duration::from_secs(1);
        assert!(sender.may_send(1, Time(0), second));
        assert!(!sender.may_send(1, Time(10), second));
        assert!(sender.may_send(2, Time(10), second), "per replica");
        assert!(sender.may_send(1, Time(1_000_000_000), second));
        assert!(!sender.may_send(9, Time(0), second), "unknown replicas get nothing");
    }

    #[test]
    fn splitting_bounds_each_part_and_keeps_at_least_one() {
        let parts = split_by_size(vec![400usize, 400, 400, 2000, 10], 1000, |s| *s);
        assert_eq!(parts, vec![vec![400, 400], vec![400], vec![2000], vec![10]]);
        let none: Vec<Vec<usize>> = split_by_size(Vec::new(), 1000, |s| *s);
        assert_eq!(none, vec![Vec::<usize>::new()]);
    }

    #[test]
    fn a_reply_is_whole_once_all_its_parts_of_one_version_arrived() {
        let mut replies = PartedReplies::new();
        assert_eq!(
            replies.add(
                1,
                Part {
                    version: 5,
                    index: 1,
                    count: 2
                },
                vec![3, 4]
            ),
            None
        );
        assert_eq!(
            replies.add(
                1,
                Part {
                    version: 5,
                    index: 1,
                    count: 2
                },
                vec![3, 4]
            ),
            None,
            "duplicate"
        );
        assert_eq!(
            replies.add(
                2,
                Part {
                    version: 9,
                    index: 3,
                    count: 2
                },
                vec![0]
            ),
            None,
            "malformed"
        );
        assert_eq!(
            replies.add(
                1,
                Part {
                    version: 5,
                    index: 0,
                    count: 2
                },
                vec![1, 2]
            ),
            Some(vec![1, 2, 3, 4])
        );
        // A newer version replaces the parts of an older one, never mixes.
        assert_eq!(
            replies.add(
                2,
                Part {
                    version: 1,
                    index: 0,
                    count: 2
                },
                vec![1]
            ),
            None
        );
        assert_eq!(
            replies.add(
                2,
                Part {
                    version: 2,
                    index: 1,
                    count: 2
                },
                vec![9]
            ),
            None
        );
        assert_eq!(
            replies.add(
                2,
                Part {
                    version: 1,
                    index: 1,
                    count: 2
                },
                vec![2]
            ),
            None,
            "older version dropped"
        );
        assert_eq!(
            replies.add(
                2,
                Part {
                    version: 2,
                    index: 0,
                    count: 2
                },
                vec![8]
            ),
            Some(vec![8, 9])
        );
        assert_eq!(
            replies.add(
                3,
                Part {
                    version: 0,
                    index: 0,
                    count: 1
                },
                Vec::<u8>::new()
            ),
            Some(vec![]),
            "an empty reply is one empty part"
        );
    }
}
