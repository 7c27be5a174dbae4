//! Per-command state keyed by ids that come in numbered streams (a client's
//! commands, a replica's row of instances; see [`Sequenced`]).
//!
//! A replica finds a command's state several times per command (its
//! proposal, each vote, the commit, execution, release), and releases
//! commands a stream's prefix at a time. A hash map over every id in flight
//! makes each of those finds a random probe into a table as large as
//! everything in flight, which the replica's other tables keep evicting
//! from cache (the index probe was three quarters of `get_index_of`, the
//! top symbol of a SwiftPaxos leader). Here each stream keeps its
//! positions in a window, in order: finding a command is a probe into a
//! table with one entry per stream (a few hundred clients, which stays in
//! cache) and an index into the window, and releasing a prefix pops the
//! window's front, without a single hash.

use crate::depgraph::Sequenced;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};

/// How far from its stream's window a value may land and still join it;
/// one further out (a stale id far below the window, an id far ahead) is
/// kept apart, so that one stray does not stretch a window over a long run
/// of empty slots.
const MAX_GAP: u64 = 1024;

/// One stream's values, by position: `slots[i]` is position `first + i`.
/// Trimmed so that the first and the last slot hold a value.
#[derive(Clone, Debug)]
struct Window<V> {
    first: u64,
    slots: VecDeque<Option<V>>,
}

impl<V> Window<V> {
    fn slot(&self, position: u64) -> Option<&Option<V>> {
        self.slots.get(usize::try_from(position.checked_sub(self.first)?).ok()?)
    }

    fn slot_mut(&mut self, position: u64) -> Option<&mut Option<V>> {
        self.slots
            .get_mut(usize::try_from(position.checked_sub(self.first)?).ok()?)
    }

    /// Whether `position` is in the window or close enough to join it.
    fn reaches(&self, position: u64) -> bool {
        let end = self.first + self.slots.len() as u64;
        position.saturating_add(MAX_GAP) >= self.first && position < end.saturating_add(MAX_GAP)
    }

    /// The slot of `position`, the window grown to hold it (`reaches` it).
    fn grow_to(&mut self, position: u64) -> &mut Option<V> {
        if self.slots.is_empty() {
            self.first = position;
        }
        while position < self.first {
            self.slots.push_front(None);
            self.first -= 1;
        }
        let at = (position - self.first) as usize;
        while self.slots.len() <= at {
            self.slots.push_back(None);
        }
        &mut self.slots[at]
    }

    /// Drops empty slots at both ends.
    fn trim(&mut self) {
        while self.slots.front().is_some_and(Option::is_none) {
            self.slots.pop_front();
            self.first += 1;
        }
        while self.slots.back().is_some_and(Option::is_none) {
            self.slots.pop_back();
        }
    }
}

/// Values keyed by a [`Sequenced`] id, each stream's in a window of its own.
#[derive(Clone, Debug)]
pub struct StreamMap<K, V> {
    streams: FxHashMap<u64, Window<V>>,
    /// Values too far from their stream's window to join it (see
    /// [`MAX_GAP`]), by stream and position (so a release finds its own).
    strays: BTreeMap<(u64, u64), V>,
    len: usize,
    _ids: std::marker::PhantomData<K>,
}

impl<K, V> Default for StreamMap<K, V> {
    fn default() -> Self {
        StreamMap {
            streams: FxHashMap::default(),
            strays: BTreeMap::new(),
            len: 0,
            _ids: std::marker::PhantomData,
        }
    }
}

impl<K: Sequenced, V> StreamMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `id`.
    pub fn get(&self, id: &K) -> Option<&V> {
        let in_window = self
            .streams
            .get(&id.stream())
            .and_then(|w| w.slot(id.position()))
            .and_then(Option::as_ref);
        match in_window {
            Some(v) => Some(v),
            None if self.strays.is_empty() => None,
            None => self.strays.get(&(id.stream(), id.position())),
        }
    }

    /// The same, to change.
    pub fn get_mut(&mut self, id: &K) -> Option<&mut V> {
        let has_strays = !self.strays.is_empty();
        let in_window = self
            .streams
            .get_mut(&id.stream())
            .and_then(|w| w.slot_mut(id.position()))
            .and_then(Option::as_mut);
        match in_window {
            Some(v) => Some(v),
            None if !has_strays => None,
            None => self.strays.get_mut(&(id.stream(), id.position())),
        }
    }

    /// The value of `id`, made with `make` if it has none.
    pub fn get_or_insert_with(&mut self, id: K, make: impl FnOnce() -> V) -> &mut V {
        let key = (id.stream(), id.position());
        if !self.strays.is_empty() && self.strays.contains_key(&key) {
            return self.strays.get_mut(&key).expect("just checked");
        }
        let window = self.streams.entry(id.stream()).or_insert_with(|| Window {
            first: id.position(),
            slots: VecDeque::new(),
        });
        if !window.slots.is_empty() && !window.reaches(id.position()) {
            self.len += 1;
            return self.strays.entry(key).or_insert_with(make);
        }
        let slot = window.grow_to(id.position());
        if slot.is_none() {
            self.len += 1;
        }
        slot.get_or_insert_with(make)
    }

    /// The value of `id`, a default one if it has none.
    pub fn get_or_default(&mut self, id: K) -> &mut V
    where
        V: Default,
    {
        self.get_or_insert_with(id, V::default)
    }

    /// Sets the value of `id`; returns the one it replaces.
    pub fn insert(&mut self, id: K, value: V) -> Option<V> {
        let mut value = Some(value);
        let slot = self.get_or_insert_with(id, || value.take().expect("taken once"));
        value.map(|v| std::mem::replace(slot, v))
    }

    /// Removes the value of `id`.
    pub fn remove(&mut self, id: &K) -> Option<V> {
        let stream = id.stream();
        let from_window = self
            .streams
            .get_mut(&stream)
            .and_then(|w| w.slot_mut(id.position()))
            .and_then(Option::take);
        let removed = match from_window {
            Some(v) => {
                self.tidy(stream);
                Some(v)
            }
            None if self.strays.is_empty() => None,
            None => self.strays.remove(&(stream, id.position())),
        };
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Removes every value of `stream` below position `below`, passing each
    /// to `gone` in position order (strays last): a released prefix.
    pub fn release_below(&mut self, stream: u64, below: u64, mut gone: impl FnMut(K, V)) {
        if let Some(window) = self.streams.get_mut(&stream) {
            while window.first < below {
                let Some(slot) = window.slots.pop_front() else { break };
                let position = window.first;
                window.first += 1;
                if let Some(v) = slot {
                    self.len -= 1;
                    gone(K::at(stream, position), v);
                }
            }
            self.tidy(stream);
        }
        if !self.strays.is_empty() {
            let stale: Vec<(u64, u64)> = self
                .strays
                .range((stream, 0)..(stream, below))
                .map(|(k, _)| *k)
                .collect();
            for key in stale {
                if let Some(v) = self.strays.remove(&key) {
                    self.len -= 1;
                    gone(K::at(key.0, key.1), v);
                }
            }
        }
    }

    /// Keeps the values for which `keep` says so.
    pub fn retain(&mut self, mut keep: impl FnMut(K, &mut V) -> bool) {
        let mut removed = 0;
        for (&stream, window) in self.streams.iter_mut() {
            let first = window.first;
            for (i, slot) in window.slots.iter_mut().enumerate() {
                if let Some(v) = slot {
                    if !keep(K::at(stream, first + i as u64), v) {
                        *slot = None;
                        removed += 1;
                    }
                }
            }
            window.trim();
        }
        self.streams.retain(|_, w| !w.slots.is_empty());
        self.strays.retain(|&(stream, position), v| {
            let kept = keep(K::at(stream, position), v);
            removed += usize::from(!kept);
            kept
        });
        self.len -= removed;
    }

    /// Every id and value, stream by stream in position order (strays last).
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        let windows = self.streams.iter().flat_map(|(&stream, w)| {
            w.slots
                .iter()
                .enumerate()
                .filter_map(move |(i, slot)| slot.as_ref().map(|v| (K::at(stream, w.first + i as u64), v)))
        });
        windows.chain(
            self.strays
                .iter()
                .map(|(&(stream, position), v)| (K::at(stream, position), v)),
        )
    }

    /// Every id.
    pub fn keys(&self) -> impl Iterator<Item = K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Takes every value out, leaving the map empty.
    pub fn drain(&mut self) -> Vec<(K, V)> {
        let mut all = Vec::with_capacity(self.len);
        for (stream, window) in std::mem::take(&mut self.streams) {
            let first = window.first;
            all.extend(
                window
                    .slots
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, slot)| slot.map(|v| (K::at(stream, first + i as u64), v))),
            );
        }
        all.extend(
            std::mem::take(&mut self.strays)
                .into_iter()
                .map(|((stream, position), v)| (K::at(stream, position), v)),
        );
        self.len = 0;
        all
    }

    /// Trims `stream`'s window, and forgets it once empty (clients come and go).
    fn tidy(&mut self, stream: u64) {
        if let Some(window) = self.streams.get_mut(&stream) {
            window.trim();
            if window.slots.is_empty() {
                self.streams.remove(&stream);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CommandId;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_stream_lives_in_a_window_and_leaves_it_by_its_prefix() {
        let mut m: StreamMap<CommandId, u32> = StreamMap::new();
        for seq in 1..=5 {
            *m.get_or_insert_with(CommandId::new(7, seq), || 0) += seq as u32;
        }
        assert_eq!(m.len(), 5);
        assert_eq!(m.get(&CommandId::new(7, 3)), Some(&3));
        assert_eq!(m.get(&CommandId::new(7, 6)), None);
        assert_eq!(m.get(&CommandId::new(8, 3)), None);
        let mut gone = Vec::new();
        m.release_below(7, 4, |id, v| gone.push((id.seq, v)));
        assert_eq!(gone, vec![(1, 1), (2, 2), (3, 3)]);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            vec![CommandId::new(7, 4), CommandId::new(7, 5)]
        );
    }

    #[test]
    fn a_stray_far_from_its_window_does_not_stretch_it() {
        let mut m: StreamMap<CommandId, u32> = StreamMap::new();
        m.insert(CommandId::new(1, 1_000_000), 1);
        m.insert(CommandId::new(1, 3), 2);
        assert_eq!(m.streams[&1].slots.len(), 1, "the old id is kept apart");
        assert_eq!(m.get(&CommandId::new(1, 3)), Some(&2));
        let mut gone = Vec::new();
        m.release_below(1, 1_000_001, |id, _| gone.push(id.seq));
        assert_eq!(gone, vec![1_000_000, 3]);
        assert!(m.is_empty());
        assert!(m.streams.is_empty(), "an empty stream is forgotten");
    }

    #[derive(Clone, Debug)]
    enum Op {
        Upsert(u64, u64, u32),
        Remove(u64, u64),
        Release(u64, u64),
        RetainEven,
    }

    fn op() -> impl Strategy<Value = Op> {
        // Positions cluster (as a stream's do) with an occasional far one.
        let position = prop_oneof![8 => 1u64..40, 1 => 0u64..5000];
        prop_oneof![
            6 => (0u64..3, position.clone(), any::<u32>()).prop_map(|(s, p, v)| Op::Upsert(s, p, v)),
            2 => (0u64..3, position.clone()).prop_map(|(s, p)| Op::Remove(s, p)),
            1 => (0u64..3, position).prop_map(|(s, p)| Op::Release(s, p)),
            1 => Just(Op::RetainEven),
        ]
    }

    proptest! {
        /// Whatever the order of operations, the map holds what an ordered
        /// map given the same operations holds.
        #[test]
        fn behaves_as_an_ordered_map(ops in proptest::collection::vec(op(), 1..200)) {
            let mut m: StreamMap<CommandId, u32> = StreamMap::new();
            let mut model: BTreeMap<CommandId, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Upsert(s, p, v) => {
                        let id = CommandId::new(s, p);
                        *m.get_or_insert_with(id, || 0) ^= v;
                        *model.entry(id).or_insert(0) ^= v;
                    }
                    Op::Remove(s, p) => {
                        let id = CommandId::new(s, p);
                        prop_assert_eq!(m.remove(&id), model.remove(&id));
                    }
                    Op::Release(s, below) => {
                        let mut gone = Vec::new();
                        m.release_below(s, below, |id, v| gone.push((id, v)));
                        gone.sort();
                        let expected: Vec<(CommandId, u32)> =
                            model.iter().filter(|(id, _)| id.client == s && id.seq < below).map(|(id, v)| (*id, *v)).collect();
                        model.retain(|id, _| !(id.client == s && id.seq < below));
                        prop_assert_eq!(gone, expected);
                    }
                    Op::RetainEven => {
                        m.retain(|_, v| *v % 2 == 0);
                        model.retain(|_, v| *v % 2 == 0);
                    }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            let mut all: Vec<(CommandId, u32)> = m.iter().map(|(k, v)| (k, *v)).collect();
            all.sort();
            prop_assert_eq!(all, model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
            for (id, v) in &model {
                prop_assert_eq!(m.get(id), Some(v));
            }
            let mut drained = m.drain();
            drained.sort();
            prop_assert_eq!(drained, model.into_iter().collect::<Vec<_>>());
            prop_assert!(m.is_empty());
        }
    }
}
