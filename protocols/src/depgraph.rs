//! Execution of committed commands in dependency order, for the
//! dependency-based protocols (SwiftPaxos, EPaxos).
//!
//! A command executes once every command it depends on has executed. In the
//! normal case the graph is acyclic; recovery can create cycles, so execution
//! goes by strongly connected components (Tarjan's algorithm): all components
//! a command reaches execute first, and the members of one component execute
//! in (priority, id) order, the same everywhere: SwiftPaxos gives every
//! command priority 0 (id order), EPaxos its sequence number. A command whose
//! dependency is not committed yet waits until it is.
//!
//! The graph is generic over what identifies a node (a command id for
//! SwiftPaxos, an instance for EPaxos) and what it carries.

use crate::command::Command;
use crate::ids::CommandId;
use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;
use std::collections::BTreeSet;
use std::hash::Hash;

/// Ids that come in numbered streams (a client's commands, a replica's row
/// of instances), so that "everything of this stream below n is done" can
/// replace remembering each id: what lets a replica release executed ones.
pub trait Sequenced: Copy {
    /// The stream.
    fn stream(&self) -> u64;
    /// The position in it.
    fn position(&self) -> u64;
    /// The id at `position` of `stream`.
    fn at(stream: u64, position: u64) -> Self;
}

impl Sequenced for CommandId {
    fn stream(&self) -> u64 {
        self.client
    }
    fn position(&self) -> u64 {
        self.seq
    }
    fn at(stream: u64, position: u64) -> Self {
        CommandId::new(stream, position)
    }
}

/// Per stream: everything below `released` is done and forgotten; from
/// there to `floor` (the first position not done, where a prefix
/// dependency's search starts) everything is done too, and above `floor`
/// the done positions are remembered one by one. Streams mostly finish in
/// order (a client's commands, a replica's row), so marking one done
/// mostly just moves the floor: no set to insert into and remove from.
/// (A client numbers from 1, so its floor waits at 0 until the first
/// release lifts it.)
#[derive(Clone, Debug, Default)]
struct DoneStream {
    released: u64,
    floor: u64,
    done_above_floor: BTreeSet<u64>,
}

impl DoneStream {
    fn is_done(&self, position: u64) -> bool {
        position < self.floor || self.done_above_floor.contains(&position)
    }

    fn mark_done(&mut self, position: u64) {
        if position == self.floor {
            self.floor += 1;
            self.advance_floor();
        } else if position > self.floor {
            self.done_above_floor.insert(position);
        }
    }

    /// Moves the floor over the done positions right above it.
    fn advance_floor(&mut self) {
        while self.done_above_floor.first() == Some(&self.floor) {
            self.done_above_floor.pop_first();
            self.floor += 1;
        }
    }

    /// Everything below `below` is done everywhere and forgotten.
    fn release_below(&mut self, below: u64) {
        if below > self.released {
            self.released = below;
            if below > self.floor {
                self.floor = below;
                self.done_above_floor = self.done_above_floor.split_off(&below);
                self.advance_floor();
            }
        }
    }

    /// `position` is no longer done (recovery voided it, and it commits
    /// afresh); whether it was. A released position stays released.
    fn undo(&mut self, position: u64) -> bool {
        if position < self.released {
            return false;
        }
        if position < self.floor {
            self.done_above_floor.extend(position + 1..self.floor);
            self.floor = position;
            return true;
        }
        self.done_above_floor.remove(&position)
    }

    /// The done positions above the released prefix.
    fn done_above_released(&self) -> impl Iterator<Item = u64> + '_ {
        (self.released..self.floor).chain(self.done_above_floor.iter().copied())
    }

    fn done_len(&self) -> usize {
        (self.floor - self.released) as usize + self.done_above_floor.len()
    }
}

/// A list of dependencies, inline up to two: most commands have none or
/// one, so building, copying and sending one allocates nothing (a shared
/// `Arc` cost an allocation each, and rkyv's pointer sharing on the wire).
pub type DepList<K> = SmallVec<[K; 2]>;

/// A command's dependencies: sorted, without duplicates, so that two replicas'
/// sets compare equal exactly when they hold the same commands.
pub type Deps = DepList<CommandId>;

/// Builds [`Deps`] from any collection of ids, leaving out `own`.
pub fn deps_of(ids: impl IntoIterator<Item = CommandId>, own: CommandId) -> Deps {
    let mut v: Deps = ids.into_iter().filter(|d| *d != own).collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[derive(Clone, Debug)]
struct Node<K, V> {
    value: V,
    deps: DepList<K>,
    /// Whether each of `deps` stands for its whole stream up to it
    /// ([`DependencyGraph::commit_prefixes`]).
    prefixes: bool,
    priority: u64,
    /// The dependencies before this point are done: searches start there,
    /// so a long dependency list is read once, not again at every retry.
    done_prefix: Cursor,
}

/// A point in a node's dependencies: the entry `index` of its list and,
/// for a prefix dependency, the `position` in that entry's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cursor {
    index: usize,
    position: u64,
}

/// The commands a commit made executable, in execution order: mostly the
/// committed one alone, so inline (a vector allocated per commit was most
/// of a SwiftPaxos replica's allocations).
pub type Ready<K, V> = SmallVec<[(K, V); 1]>;

/// Committed commands waiting to execute, and which ones already did.
#[derive(Clone, Debug)]
pub struct DependencyGraph<K = CommandId, V = Command> {
    pending: HashMap<K, Node<K, V>>,
    /// Executed, or declared void by recovery (never to execute under this id's
    /// old instance): either way, no longer a reason to wait. Per stream,
    /// so that a released prefix costs nothing.
    done: HashMap<u64, DoneStream>,
    /// A missing dependency and the commands whose execution waits for it.
    waiting: HashMap<K, Vec<K>>,
    /// For a committed command a search stopped below, the commands above
    /// it on that search's path: they are searched again once it executes.
    resume: HashMap<K, Vec<K>>,
    /// Pending commands a search found to depend, through the path it
    /// took, on a dependency that was missing: a later search that reaches
    /// one stops there instead of walking the same blocked graph again.
    /// Without it, each commit behind one missing command re-walked every
    /// pending command it reaches, quadratic in the backlog (an overloaded
    /// EPaxos replica spent minutes on it). Valid while the dependency
    /// stays missing: cleared when it commits or is done.
    blocked: HashMap<K, K>,
    /// The reverse of `blocked`: for a missing dependency, whom it blocks.
    blocked_by: HashMap<K, Vec<K>>,
    /// Commands visited by searches so far: the work execution costs.
    searched: u64,
}

impl<K, V> Default for DependencyGraph<K, V> {
    fn default() -> Self {
        DependencyGraph {
            pending: HashMap::default(),
            done: HashMap::default(),
            waiting: HashMap::default(),
            resume: HashMap::default(),
            blocked: HashMap::default(),
            blocked_by: HashMap::default(),
            searched: 0,
        }
    }
}

impl<K: Sequenced + Ord + Hash, V: Clone> DependencyGraph<K, V> {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `id` is committed here (pending or executed).
    pub fn is_committed(&self, id: K) -> bool {
        self.pending.contains_key(&id) || self.is_done(id)
    }

    /// Whether `id` executed (or was voided) here.
    pub fn is_done(&self, id: K) -> bool {
        self.done.get(&id.stream()).is_some_and(|s| s.is_done(id.position()))
    }

    /// Whether `id` lies in a released prefix: executed everywhere and
    /// forgotten, so any message about it is stale.
    pub fn is_released(&self, id: K) -> bool {
        self.done.get(&id.stream()).is_some_and(|s| id.position() < s.released)
    }

    /// Below which position `stream` is released (0: nothing yet).
    pub fn released_below(&self, stream: u64) -> u64 {
        self.done.get(&stream).map_or(0, |s| s.released)
    }

    /// Forgets, for `stream`, every done position below `below` (the
    /// caller knows everything there executed everywhere). Never moves back.
    pub fn release_below(&mut self, stream: u64, below: u64) {
        self.stream_mut(stream).release_below(below);
    }

    fn stream_mut(&mut self, stream: u64) -> &mut DoneStream {
        self.done.entry(stream).or_default()
    }

    fn mark_done(&mut self, id: K) {
        self.stream_mut(id.stream()).mark_done(id.position());
        self.blocked.remove(&id);
        self.unblock(id);
    }

    /// `id` is no longer missing (it committed, or is done): what a search
    /// found blocked on it must be searched again.
    fn unblock(&mut self, id: K) {
        for node in self.blocked_by.remove(&id).unwrap_or_default() {
            if self.blocked.get(&node) == Some(&id) {
                self.blocked.remove(&node);
            }
        }
    }

    /// Per stream, below which position it is released (streams with a
    /// released prefix only): what a snapshot must keep.
    pub fn released_prefixes(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.done
            .iter()
            .filter(|(_, s)| s.released > 0)
            .map(|(stream, s)| (*stream, s.released))
    }

    /// The done positions above each stream's released prefix, as
    /// `(stream, position)`: executed or voided here, remembered one by one.
    pub fn done_above_released(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.done
            .iter()
            .flat_map(|(stream, s)| s.done_above_released().map(move |p| (*stream, p)))
    }

    /// How many done ids are remembered one by one (not released).
    pub fn done_len(&self) -> usize {
        self.done.values().map(DoneStream::done_len).sum()
    }

    /// Records that `id` committed with `deps`; returns every command that
    /// became executable, in execution order (priority 0: id order in cycles).
    pub fn commit(&mut self, id: K, value: V, deps: DepList<K>) -> Ready<K, V> {
        self.commit_with_priority(id, value, deps, 0)
    }

    /// [`DependencyGraph::commit`] for a node that executes, inside a cycle,
    /// after the members with a lower `priority` (EPaxos's sequence number).
    pub fn commit_with_priority(&mut self, id: K, value: V, deps: DepList<K>, priority: u64) -> Ready<K, V> {
        self.insert(
            id,
            Node {
                value,
                deps,
                prefixes: false,
                priority,
                done_prefix: Cursor::default(),
            },
        )
    }

    /// [`DependencyGraph::commit_with_priority`] where each of `tops` (one
    /// per stream) stands for every position of its stream up to and
    /// including it (EPaxos: an instance follows every instance of each row
    /// up to its dependency there). The graph reads such a range lazily,
    /// from the first position not done: a replica far behind would
    /// otherwise hold, for each command it commits, a list as long as its
    /// gap (gigabytes after a restart, measured).
    pub fn commit_prefixes(&mut self, id: K, value: V, tops: DepList<K>, priority: u64) -> Ready<K, V> {
        self.insert(
            id,
            Node {
                value,
                deps: tops,
                prefixes: true,
                priority,
                done_prefix: Cursor::default(),
            },
        )
    }

    fn insert(&mut self, id: K, node: Node<K, V>) -> Ready<K, V> {
        if self.is_committed(id) {
            return Ready::new();
        }
        let mut order = Ready::new();
        let mut roots = Vec::new();
        if self.all_done(id, &node) {
            // The common case: nothing to wait for, so no search either.
            self.searched += 1;
            self.mark_done(id);
            order.push((id, node.value));
            roots.extend(self.waiting.remove(&id).unwrap_or_default());
            roots.extend(self.resume.remove(&id).unwrap_or_default());
        } else {
            self.pending.insert(id, node);
            self.unblock(id);
            roots.push(id);
        }
        while let Some(root) = roots.pop() {
            let (executed, stopped) = self.try_execute(root);
            for (done, _) in &executed {
                roots.extend(self.waiting.remove(done).unwrap_or_default());
                roots.extend(self.resume.remove(done).unwrap_or_default());
            }
            order.extend(executed);
            if let Some((missing, path)) = stopped {
                // The search stopped at the end of `path`, on a dependency
                // that is missing or blocked (it waits, committed, for the
                // missing one): each node on the path waits for the next,
                // and only the last for `missing`. A command that arrives
                // later resumes from where the search stopped instead of
                // walking the path again from its root, and filling one gap
                // wakes the commands right above it, not every command
                // blocked behind it (a replica filling many gaps after a
                // restart spent seconds per step re-walking long chains).
                for pair in path.windows(2) {
                    let (above, below) = (pair[0], pair[1]);
                    if below == missing {
                        self.waiting.entry(missing).or_default().push(above);
                    } else {
                        self.resume.entry(below).or_default().push(above);
                    }
                }
            }
        }
        order
    }

    /// Whether every dependency of `node` (committing as `id`) is done.
    fn all_done(&self, id: K, node: &Node<K, V>) -> bool {
        let mut cursor = node.done_prefix;
        while let Some((dep, after)) = self.dep_at(node, cursor) {
            if dep != id && !self.is_done(dep) {
                return false;
            }
            cursor = after;
        }
        true
    }

    /// Declares that `id` will never execute as the instance recovery
    /// dropped: commands that depend on it stop waiting. Returns what became
    /// executable. A later, fresh commit of the same id starts over.
    pub fn void(&mut self, id: K) -> Ready<K, V> {
        if self.is_committed(id) {
            return Ready::new();
        }
        self.mark_done(id);
        let mut order = Ready::new();
        let waiting = self.waiting.remove(&id).unwrap_or_default();
        for root in waiting.into_iter().chain(self.resume.remove(&id).unwrap_or_default()) {
            let skip = self.is_done(root);
            if !skip {
                order.extend(self.retry(root));
            }
        }
        order
    }

    /// Forgets that `id` was voided, so that it can commit as a new instance.
    pub fn revive(&mut self, id: K) -> bool {
        let revived =
            !self.pending.contains_key(&id) && self.done.get_mut(&id.stream()).is_some_and(|s| s.undo(id.position()));
        if revived {
            // It is no longer done: dependency lists are read again in full.
            self.pending
                .values_mut()
                .for_each(|node| node.done_prefix = Cursor::default());
        }
        revived
    }

    fn retry(&mut self, root: K) -> Ready<K, V> {
        let Some(node) = self.pending.remove(&root) else {
            return Ready::new();
        };
        self.insert(root, node)
    }

    /// The dependency of `node` at `cursor` or, for a prefix dependency,
    /// the first position there not done, with the point after it;
    /// `None` past the last.
    fn dep_at(&self, node: &Node<K, V>, mut cursor: Cursor) -> Option<(K, Cursor)> {
        loop {
            let &dep = node.deps.get(cursor.index)?;
            if !node.prefixes {
                return Some((
                    dep,
                    Cursor {
                        index: cursor.index + 1,
                        position: 0,
                    },
                ));
            }
            let position = cursor.position.max(self.done.get(&dep.stream()).map_or(0, |s| s.floor));
            if position > dep.position() {
                cursor = Cursor {
                    index: cursor.index + 1,
                    position: 0,
                };
                continue;
            }
            return Some((
                K::at(dep.stream(), position),
                Cursor {
                    index: cursor.index,
                    position: position + 1,
                },
            ));
        }
    }

    /// The dependencies some committed command waits for that are not
    /// committed here: what a lagging replica should ask others about.
    pub fn missing(&self) -> Vec<K> {
        let mut v: Vec<K> = self
            .waiting
            .keys()
            .copied()
            .filter(|id| !self.is_committed(*id))
            .collect();
        v.sort_unstable();
        v
    }

    /// How many commands searches for executable ones have visited in all
    /// (what execution costs, for tests and diagnostics).
    pub fn nodes_searched(&self) -> u64 {
        self.searched
    }

    /// How many committed commands wait to execute.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Tarjan's algorithm from `root` over pending commands: the components
    /// it closes execute (in reverse topological order, each sorted by
    /// priority and id). If it meets a dependency that is not committed, it
    /// stops there and also names it with the search path that reached it
    /// (root first); the components closed before that still execute (all
    /// they reach is done or closed before them), and every command left
    /// open on the way reaches the missing one, so it is marked blocked.
    #[allow(clippy::type_complexity)]
    fn try_execute(&mut self, root: K) -> (Vec<(K, V)>, Option<(K, Vec<K>)>) {
        if !self.pending.contains_key(&root) {
            return (Vec::new(), None);
        }
        struct Mark {
            index: usize,
            low: usize,
            on_stack: bool,
        }
        let mut marks: HashMap<K, Mark> = HashMap::default();
        let mut stack: Vec<K> = Vec::new();
        let mut calls: Vec<(K, Cursor)> = Vec::new();
        let mut components: Vec<Vec<K>> = Vec::new();
        let mut next_index = 0;

        let mut visit =
            |v: K, from: Cursor, marks: &mut HashMap<K, Mark>, stack: &mut Vec<K>, calls: &mut Vec<(K, Cursor)>| {
                marks.insert(
                    v,
                    Mark {
                        index: next_index,
                        low: next_index,
                        on_stack: true,
                    },
                );
                next_index += 1;
                stack.push(v);
                calls.push((v, from));
            };
        visit(
            root,
            self.pending[&root].done_prefix,
            &mut marks,
            &mut stack,
            &mut calls,
        );
        let mut visited = 1u64;

        while let Some(&mut (v, ref mut cursor)) = calls.last_mut() {
            if let Some((w, after)) = self.dep_at(&self.pending[&v], *cursor) {
                let before = std::mem::replace(cursor, after);
                if w == v || self.is_done(w) {
                    let node = self.pending.get_mut(&v).expect("pending");
                    if node.done_prefix == before {
                        node.done_prefix = after;
                    }
                    continue;
                }
                let missing = if !self.pending.contains_key(&w) {
                    Some(w)
                } else {
                    self.blocked.get(&w).copied().filter(|m| !self.is_committed(*m))
                };
                if let Some(m) = missing {
                    // Every command on the search path, and every one still
                    // on Tarjan's stack (its component reaches the path),
                    // reaches `m`.
                    let mut path: Vec<K> = calls.iter().map(|(node, _)| *node).collect();
                    for &node in path.iter().chain(stack.iter()) {
                        if self.blocked.insert(node, m) != Some(m) {
                            self.blocked_by.entry(m).or_default().push(node);
                        }
                    }
                    self.searched += visited;
                    // The search waits on `w`: missing itself, or blocked.
                    path.push(w);
                    return (self.execute_components(components), Some((m, path)));
                }
                match marks.get(&w) {
                    None => {
                        visit(w, self.pending[&w].done_prefix, &mut marks, &mut stack, &mut calls);
                        visited += 1;
                    }
                    Some(m) if m.on_stack => {
                        let wi = m.index;
                        let mv = marks.get_mut(&v).expect("visited");
                        mv.low = mv.low.min(wi);
                    }
                    Some(_) => {}
                }
            } else {
                calls.pop();
                let (low, index) = {
                    let m = &marks[&v];
                    (m.low, m.index)
                };
                if let Some(&(parent, _)) = calls.last() {
                    let mp = marks.get_mut(&parent).expect("visited");
                    mp.low = mp.low.min(low);
                }
                if low == index {
                    let mut component = Vec::new();
                    while let Some(w) = stack.pop() {
                        marks.get_mut(&w).expect("visited").on_stack = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    component.sort_unstable_by_key(|w| (self.pending[w].priority, *w));
                    components.push(component);
                }
            }
        }
        self.searched += visited;
        (self.execute_components(components), None)
    }

    /// Executes closed components, in the order they closed.
    fn execute_components(&mut self, components: Vec<Vec<K>>) -> Vec<(K, V)> {
        let mut order = Vec::new();
        for id in components.into_iter().flatten() {
            let node = self.pending.remove(&id).expect("pending");
            self.mark_done(id);
            order.push((id, node.value));
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> CommandId {
        CommandId::new(n, 1)
    }
    fn deps(ids: &[u64]) -> Deps {
        deps_of(ids.iter().map(|&n| id(n)), id(0))
    }
    fn order(v: Ready<CommandId, Command>) -> Vec<u64> {
        v.into_iter().map(|(i, _)| i.client).collect()
    }

    #[test]
    fn a_command_waits_for_its_dependencies() {
        let mut g = DependencyGraph::new();
        assert!(order(g.commit(id(2), Command::Noop, deps(&[1]))).is_empty());
        assert_eq!(g.missing(), vec![id(1)]);
        assert_eq!(order(g.commit(id(1), Command::Noop, deps(&[]))), vec![1, 2]);
        assert!(g.missing().is_empty());
        assert_eq!(g.pending_len(), 0);
    }

    #[test]
    fn chains_execute_deepest_first() {
        let mut g = DependencyGraph::new();
        g.commit(id(3), Command::Noop, deps(&[2]));
        g.commit(id(2), Command::Noop, deps(&[1]));
        assert_eq!(order(g.commit(id(1), Command::Noop, deps(&[]))), vec![1, 2, 3]);
    }

    #[test]
    fn cycles_execute_together_in_id_order_after_what_they_reach() {
        let mut g = DependencyGraph::new();
        g.commit(id(5), Command::Noop, deps(&[4, 1]));
        g.commit(id(4), Command::Noop, deps(&[5]));
        assert_eq!(order(g.commit(id(1), Command::Noop, deps(&[]))), vec![1, 4, 5]);
    }

    #[test]
    fn the_same_graph_gives_the_same_order_whatever_the_commit_order() {
        let edges: [(u64, &[u64]); 6] = [(1, &[]), (2, &[1, 3]), (3, &[2]), (4, &[3]), (5, &[4, 6]), (6, &[5, 1])];
        let mut reference = None;
        for rotation in 0..edges.len() {
            let mut g = DependencyGraph::new();
            let mut all = Vec::new();
            for k in 0..edges.len() {
                let (n, d) = edges[(k + rotation) % edges.len()];
                all.extend(order(g.commit(id(n), Command::Noop, deps(d))));
            }
            assert_eq!(all.len(), 6);
            // Conflicting order is what matters: compare the order of each component.
            let pos = |x: u64| all.iter().position(|&y| y == x).unwrap();
            let relation: Vec<bool> = (1..=6)
                .flat_map(|a| (1..=6).map(move |b| (a, b)))
                .map(|(a, b)| pos(a) < pos(b))
                .collect();
            match &reference {
                None => reference = Some(relation),
                Some(r) => assert_eq!(r, &relation, "rotation {rotation}"),
            }
        }
    }

    #[test]
    fn a_search_that_met_a_missing_dependency_leaves_nothing_behind() {
        // efficient/epaxos#26: a Tarjan search that stops at an uncommitted
        // dependency must not leave marks that stall later searches. A cycle
        // 1 ↔ 2 waits for 3; another command (4) on the cycle commits before
        // 3 arrives; when 3 commits, everything executes, 3 first.
        let mut g = DependencyGraph::new();
        assert!(g.commit(id(1), Command::Noop, deps(&[2])).is_empty());
        assert!(g.commit(id(2), Command::Noop, deps(&[1, 3])).is_empty());
        assert!(g.commit(id(4), Command::Noop, deps(&[1])).is_empty());
        assert_eq!(g.missing(), vec![id(3)]);
        assert_eq!(order(g.commit(id(3), Command::Noop, deps(&[]))), vec![3, 1, 2, 4]);
        assert_eq!(g.pending_len(), 0);
        assert!(g.missing().is_empty());
        // And the graph keeps working afterwards.
        assert_eq!(order(g.commit(id(5), Command::Noop, deps(&[4]))), vec![5]);
    }

    #[test]
    fn inside_a_cycle_a_lower_priority_goes_first() {
        let mut g: DependencyGraph = DependencyGraph::new();
        g.commit_with_priority(id(1), Command::Noop, deps(&[2]), 7);
        assert_eq!(
            order(g.commit_with_priority(id(2), Command::Noop, deps(&[1]), 3)),
            vec![2, 1]
        );
    }

    /// 2,000 commands committed one by one, each depending on the one
    /// before, the first on a command not committed yet. Each commit's
    /// search stops at the first command already known blocked, so the
    /// backlog costs a few visits per commit instead of a walk of the whole
    /// chain each time (about 2,000,000 visits); once the missing command
    /// commits, everything executes in chain order.
    #[test]
    fn a_backlog_behind_one_missing_command_is_not_searched_again_and_again() {
        let mut g: DependencyGraph = DependencyGraph::new();
        let (n, missing) = (2_000u64, 9_999u64);
        for k in 1..=n {
            let before = if k == 1 { missing } else { k - 1 };
            assert!(g.commit(id(k), Command::Noop, deps(&[before])).is_empty());
        }
        assert!(g.nodes_searched() < 4 * n, "{} visits", g.nodes_searched());
        let executed = g.commit(id(missing), Command::Noop, deps(&[]));
        assert_eq!(
            order(executed),
            std::iter::once(missing).chain(1..=n).collect::<Vec<_>>()
        );
        assert_eq!(g.pending_len(), 0);
    }

    /// 2,000 commands wait behind one command that depends on 100 gaps,
    /// and the gaps fill one by one (a replica catching up after a
    /// restart). Each fill resumes the one search that stopped on it, not
    /// the 2,000 commands behind it: about 100 visits per fill (the one
    /// command's dependencies), where searching again from every waiting
    /// command took 2,000 per fill (seconds per step in a live EPaxos
    /// replica).
    #[test]
    fn filling_gaps_one_by_one_resumes_where_the_search_stopped() {
        let mut g: DependencyGraph = DependencyGraph::new();
        let (waiting, gaps) = (2_000u64, 100u64);
        let gap = |j: u64| CommandId::new(1_000_000 + j, 1);
        let hub = CommandId::new(999_999, 1);
        assert!(g
            .commit(hub, Command::Noop, deps_of((1..=gaps).map(gap), hub))
            .is_empty());
        for k in 1..=waiting {
            assert!(g.commit(id(k), Command::Noop, deps_of([hub], id(k))).is_empty());
        }
        let searched = g.nodes_searched();
        for j in 1..gaps {
            assert_eq!(
                g.commit(gap(j), Command::Noop, Deps::new()).len(),
                1,
                "gap {j} alone executes"
            );
        }
        assert!(
            g.nodes_searched() - searched < 3 * gaps * gaps,
            "{} visits",
            g.nodes_searched() - searched
        );
        let executed = g.commit(gap(gaps), Command::Noop, Deps::new());
        assert_eq!(executed.len() as u64, 1 + 1 + waiting);
        assert_eq!(g.pending_len(), 0);
    }

    /// A command found blocked on a missing one that later commits inside a
    /// cycle with it must not wait for itself.
    #[test]
    fn a_cycle_through_a_once_missing_command_executes() {
        let mut g: DependencyGraph = DependencyGraph::new();
        // 2 depends on 1 (missing): 2 is cached as blocked on 1.
        assert!(g.commit(id(2), Command::Noop, deps(&[1])).is_empty());
        // 3 depends on 2: stops at 2, waits for 1.
        assert!(g.commit(id(3), Command::Noop, deps(&[2])).is_empty());
        // 1 commits depending on 2: a cycle {1, 2}, then 3.
        let executed = g.commit(id(1), Command::Noop, deps(&[2]));
        assert_eq!(order(executed), vec![1, 2, 3]);
    }

    #[test]
    fn voided_dependencies_release_their_dependants_and_can_be_revived() {
        let mut g = DependencyGraph::new();
        g.commit(id(2), Command::Noop, deps(&[1]));
        assert_eq!(order(g.void(id(1))), vec![2]);
        assert!(g.revive(id(1)));
        assert_eq!(order(g.commit(id(1), Command::Noop, deps(&[2]))), vec![1]);
    }

    /// A stream's done positions: below the floor implicitly, above it one
    /// by one; reviving one below the floor keeps the others done.
    #[test]
    fn done_positions_survive_floor_moves_releases_and_revivals() {
        let mut s = DoneStream::default();
        for p in [0, 1, 3, 5] {
            s.mark_done(p);
        }
        assert_eq!((s.floor, s.done_above_floor.len()), (2, 2));
        s.mark_done(2);
        assert_eq!((s.floor, s.done_above_floor.len()), (4, 1));
        assert!(s.undo(1));
        assert_eq!(s.done_above_released().collect::<Vec<_>>(), vec![0, 2, 3, 5]);
        assert!(!s.is_done(1) && s.is_done(2) && !s.is_done(4));
        s.mark_done(1);
        s.release_below(3);
        assert_eq!(s.done_above_released().collect::<Vec<_>>(), vec![3, 5]);
        assert_eq!(s.done_len(), 2);
        assert!(!s.undo(2), "released positions stay released");
        s.release_below(7);
        assert_eq!((s.floor, s.done_len()), (7, 0));
        assert!(s.is_done(6) && !s.is_done(7));
    }

    /// A command whose dependencies are done executes at once, and wakes
    /// what waited for it.
    #[test]
    fn a_command_with_its_dependencies_done_wakes_its_waiters() {
        let mut g = DependencyGraph::new();
        assert!(g.commit(id(3), Command::Noop, deps(&[2])).is_empty());
        assert_eq!(order(g.commit(id(1), Command::Noop, deps(&[]))), vec![1]);
        assert_eq!(order(g.commit(id(2), Command::Noop, deps(&[1]))), vec![2, 3]);
        assert_eq!(g.pending_len(), 0);
    }

    /// Prefix dependencies execute exactly as the lists they stand for
    /// (every position of each stream up to the top), whatever the commit
    /// order, cycles included; and a node far behind holds one entry per
    /// stream, not its gap.
    #[test]
    fn prefix_dependencies_execute_as_the_lists_they_stand_for() {
        use rand::{Rng, SeedableRng};
        let (streams, per_stream) = (3u64, 40u64);
        for seed in 0..50 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let nodes: Vec<(CommandId, Vec<Option<u64>>)> = (0..streams)
                .flat_map(|s| (0..per_stream).map(move |p| CommandId::new(s, p)))
                .map(|id| {
                    (
                        id,
                        (0..streams)
                            .map(|_| rng.gen_bool(0.7).then(|| rng.gen_range(0..per_stream)))
                            .collect(),
                    )
                })
                .collect();
            let mut commit_order = nodes.clone();
            for i in (1..commit_order.len()).rev() {
                commit_order.swap(i, rng.gen_range(0..=i));
            }
            let (mut listed, mut prefixed) = (DependencyGraph::new(), DependencyGraph::new());
            let (mut by_list, mut by_prefix) = (Vec::new(), Vec::new());
            for (id, tops) in &commit_order {
                let priority = id.seq % 7;
                let list: Deps = tops
                    .iter()
                    .enumerate()
                    .flat_map(|(s, top)| {
                        top.map(|t| (0..=t).map(move |p| CommandId::new(s as u64, p)))
                            .into_iter()
                            .flatten()
                    })
                    .filter(|d| d != id)
                    .collect();
                let prefix: Deps = tops
                    .iter()
                    .enumerate()
                    .filter_map(|(s, top)| top.map(|t| CommandId::new(s as u64, t)))
                    .collect();
                by_list.extend(order_ids(listed.commit_with_priority(
                    *id,
                    Command::Noop,
                    list,
                    priority,
                )));
                by_prefix.extend(order_ids(prefixed.commit_prefixes(
                    *id,
                    Command::Noop,
                    prefix,
                    priority,
                )));
            }
            assert_eq!(by_list.len(), nodes.len(), "seed {seed}: all execute");
            assert_eq!(by_list, by_prefix, "seed {seed}");
        }
    }

    #[test]
    fn a_prefix_dependency_starts_at_the_released_prefix() {
        let mut g = DependencyGraph::new();
        g.release_below(0, 1_000_000);
        let far = CommandId::new(0, 1_000_005);
        assert!(g
            .commit_prefixes(CommandId::new(1, 0), Command::Noop, [far].into_iter().collect(), 0)
            .is_empty());
        assert_eq!(
            g.missing(),
            vec![CommandId::new(0, 1_000_000)],
            "waits for the first position not released"
        );
        for p in 1_000_000..1_000_005 {
            assert!(g.commit(CommandId::new(0, p), Command::Noop, Deps::new()).len() == 1);
        }
        assert_eq!(
            order_ids(g.commit(far, Command::Noop, Deps::new())),
            vec![far, CommandId::new(1, 0)]
        );
    }

    fn order_ids(v: Ready<CommandId, Command>) -> Vec<CommandId> {
        v.into_iter().map(|(i, _)| i).collect()
    }
}
