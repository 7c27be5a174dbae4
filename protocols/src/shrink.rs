//! Giving back the room a burst took.
//!
//! A replica's queues and per-command tables grow with what is in flight,
//! and a burst (a restarted replica's catch-up, a reconnect's backlog, a
//! witness filling up while a replica was behind) grows them far past the
//! usual. Rust's collections never shrink on their own, so without this a
//! replica would hold the size of its largest burst for good: a restarted
//! follower ended 10-15% above its peers with the same state (heaptrack:
//! the witness's maps, the outbox and the mailbox, each sized by its
//! catch-up). Every such collection asks [`give_back`] after it empties.
//! (Byte buffers of connections keep their own rule,
//! `net::frame::RETAINED_BUFFER`: a frame may be 16 MiB, so they keep 1 MiB.)
//!
//! The rule is in bytes, not items, so that a queue of large actions does
//! not keep megabytes while one of ids keeps kilobytes; and it keeps room
//! for eight times what is held, so that the usual ebb and flow under load
//! never reallocates.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Spare room, in bytes, any one collection may keep whatever it held once.
pub const RETAINED_BYTES: usize = 64 << 10;

/// A collection that can give back spare room.
pub trait Room {
    /// How many items it holds.
    fn held(&self) -> usize;
    /// How many items it has room for.
    fn room(&self) -> usize;
    /// Bytes one item's room takes.
    fn item_bytes(&self) -> usize;
    /// Shrinks to room for at least `items`.
    fn shrink_room_to(&mut self, items: usize);
}

/// Shrinks `collection` to twice what it holds once it holds less than an
/// eighth of its room and that room is over [`RETAINED_BYTES`]: cheap to
/// call after every removal.
pub fn give_back(collection: &mut impl Room) {
    let usual = collection.held();
    give_back_for(collection, usual);
}

/// [`give_back`] for a collection emptied each round (a queue drained, an
/// outbox taken): `usual` is what the last round held, which it keeps room
/// for twice over.
pub fn give_back_for(collection: &mut impl Room, usual: usize) {
    let (room, item_bytes) = (collection.room(), collection.item_bytes().max(1));
    if room * item_bytes > RETAINED_BYTES && usual * 8 < room {
        let keep = RETAINED_BYTES / 4 / item_bytes;
        collection.shrink_room_to((usual * 2).max(keep).max(collection.held()));
    }
}

/// `Room` for a sequence whose items are its `T`s.
macro_rules! room_of_sequence {
    ($($sequence:ident),*) => {$(
        impl<T> Room for $sequence<T> {
            fn held(&self) -> usize {
                self.len()
            }
            fn room(&self) -> usize {
                self.capacity()
            }
            fn item_bytes(&self) -> usize {
                std::mem::size_of::<T>()
            }
            fn shrink_room_to(&mut self, items: usize) {
                self.shrink_to(items);
            }
        }
    )*};
}

room_of_sequence!(Vec, VecDeque);

/// `Room` for a hash map (std's, and griddle's for [`crate::keymap`]).
macro_rules! room_of_map {
    ($($map:path),*) => {$(
        impl<K: Eq + Hash, V, S: BuildHasher> Room for $map {
            fn held(&self) -> usize {
                self.len()
            }
            fn room(&self) -> usize {
                self.capacity()
            }
            fn item_bytes(&self) -> usize {
                // A bucket holds the pair and one control byte.
                std::mem::size_of::<(K, V)>() + 1
            }
            fn shrink_room_to(&mut self, items: usize) {
                self.shrink_to(items);
            }
        }
    )*};
}

room_of_map!(HashMap<K, V, S>, griddle::HashMap<K, V, S>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_gives_its_room_back_and_the_usual_load_keeps_it() {
        let mut queue: Vec<[u64; 8]> = Vec::new();
        queue.extend((0..100_000).map(|_| [0; 8]));
        queue.clear();
        give_back(&mut queue);
        assert!(
            queue.capacity() * 64 <= RETAINED_BYTES,
            "an emptied burst keeps {} items' room",
            queue.capacity()
        );

        // The usual load (room for 2,000, holding 1,000) keeps its room.
        let mut usual: Vec<[u64; 8]> = Vec::with_capacity(2_000);
        usual.extend((0..1_000).map(|_| [0; 8]));
        let before = usual.capacity();
        give_back(&mut usual);
        assert_eq!(usual.capacity(), before);

        let mut map: HashMap<u64, [u64; 4]> = (0..50_000).map(|k| (k, [0; 4])).collect();
        map.retain(|k, _| *k < 10);
        give_back(&mut map);
        assert!(map.capacity() < 1_000, "a sparse map keeps room for {}", map.capacity());
        assert_eq!(map.len(), 10);

        // A drained queue keeps room for the round it usually takes.
        let mut drained: VecDeque<[u64; 8]> = (0..100_000).map(|_| [0; 8]).collect();
        drained.clear();
        give_back_for(&mut drained, 5_000);
        assert!(
            (10_000..20_000).contains(&drained.capacity()),
            "room for {}",
            drained.capacity()
        );
    }
}
