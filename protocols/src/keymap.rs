//! Maps keyed by the store's keys: the store itself, and the conflict
//! tables built on the same keys.
//!
//! The store and EPaxos's conflict map only grow (the main job touches half
//! a million keys), and a hash map that doubles moves every entry at once:
//! with EPaxos's per-key maxima one such move stalled a replica for over
//! 100 ms (p99.9 from 28 to 68 ms, results/README.md). `griddle` moves a
//! few entries per insert instead, so no insert pays for the whole map.
//! FxHash as everywhere on the hot path: keys come from our own clients.

use crate::command::Key;
use std::ops::RangeInclusive;

/// A hash map from keys, resized a few entries at a time.
pub type KeyMap<V> = griddle::HashMap<Key, V, rustc_hash::FxBuildHasher>;

/// Calls `f` on the entry of every key of `range` that `keys` holds, in no
/// particular order: by looking each key up when the range is narrower
/// than the map, else by walking the map (a SCAN may span every key).
pub fn for_each_key_in<'a, V>(keys: &'a KeyMap<V>, range: &RangeInclusive<Key>, mut f: impl FnMut(Key, &'a V)) {
    if range.is_empty() {
        return;
    }
    let width = range.end().abs_diff(*range.start());
    if width < keys.len() as u64 {
        (*range.start()..=*range.end())
            .filter_map(|k| keys.get(&k).map(|v| (k, v)))
            .for_each(|(k, v)| f(k, v));
    } else {
        keys.iter()
            .filter(|(k, _)| range.contains(k))
            .for_each(|(k, v)| f(*k, v));
    }
}
