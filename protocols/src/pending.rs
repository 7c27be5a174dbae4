//! What every protocol's client keeps about its commands in flight: when to
//! retry them ([`PendingCommands`]), which replicas answered what
//! ([`ReplyCollector`]), and per-ballot tallies ([`BallotTallies`]).

use crate::ballot::Ballot;
use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use crate::quorum::ReplicaSet;
use crate::time::Time;
use smallvec::SmallVec;
use std::time::Duration;

/// The longest a client waits between two retries of one command.
const MAX_BACKOFF_FACTOR: u32 = 8;

#[derive(Clone, Debug)]
struct InFlight<X> {
    command: Command,
    deadline: Time,
    attempts: u32,
    /// What the client counts for it besides the retry (see [`BallotTallies`]).
    extra: X,
}

/// Commands submitted and not yet answered, with their retry deadlines.
///
/// Retries back off (doubling up to 8x the base timeout) so that a leaderless
/// interval does not fill the network with copies.
///
/// `X` is whatever else a client keeps per command in flight, stored in the
/// same entry so that an answer costs one lookup: a client host runs hundreds
/// of clients and handles several answers per command, and a second map per
/// client (its own allocation, hashed separately) was a tenth of a
/// SwiftPaxos client host's profile. The entries sit inline, in a small
/// vector searched by id: a client has one command in flight (closed loop,
/// and an open loop's starts wait for an idle client) or a handful, and
/// with hundreds of clients per host a hash map's separate allocation was
/// a cache miss at every answer (`BallotTallies::in_ballot` was the top
/// symbol of a SwiftPaxos client host, 15% of it);
/// [`PendingCommands::due`] sorts the few it returns.
#[derive(Clone, Debug)]
pub struct PendingCommands<X = ()> {
    retry: Duration,
    in_flight: SmallVec<[(CommandId, InFlight<X>); 1]>,
}

impl<X: Default> PendingCommands<X> {
    /// Tracks commands, retrying each after `retry` without an answer.
    pub fn new(retry: Duration) -> Self {
        PendingCommands {
            retry,
            in_flight: SmallVec::new(),
        }
    }

    /// Starts tracking `id`.
    pub fn insert(&mut self, id: CommandId, command: Command, now: Time) {
        let fresh = InFlight {
            command,
            deadline: now + self.retry,
            attempts: 1,
            extra: X::default(),
        };
        match self.find_mut(id) {
            Some(f) => *f = fresh,
            None => self.in_flight.push((id, fresh)),
        }
    }
}

impl<X> PendingCommands<X> {
    fn find(&self, id: CommandId) -> Option<&InFlight<X>> {
        self.in_flight.iter().find(|(i, _)| *i == id).map(|(_, f)| f)
    }

    fn find_mut(&mut self, id: CommandId) -> Option<&mut InFlight<X>> {
        self.in_flight.iter_mut().find(|(i, _)| *i == id).map(|(_, f)| f)
    }

    /// Whether `id` still awaits its answer.
    pub fn contains(&self, id: CommandId) -> bool {
        self.find(id).is_some()
    }

    /// The command behind `id`, if it is in flight.
    pub fn get(&self, id: CommandId) -> Option<&Command> {
        self.find(id).map(|f| &f.command)
    }

    /// What is kept besides the command for `id`, if it is in flight.
    pub fn extra(&self, id: CommandId) -> Option<&X> {
        self.find(id).map(|f| &f.extra)
    }

    /// The same, to change.
    pub fn extra_mut(&mut self, id: CommandId) -> Option<&mut X> {
        self.find_mut(id).map(|f| &mut f.extra)
    }

    /// Every command's extra, to change (for example to forget answers).
    pub fn extras_mut(&mut self) -> impl Iterator<Item = &mut X> {
        self.in_flight.iter_mut().map(|(_, f)| &mut f.extra)
    }

    /// Makes every command due at the next `due`, without counting it as
    /// a retry (its backoff stays as it was).
    pub fn make_all_due(&mut self) {
        for (_, f) in self.in_flight.iter_mut() {
            f.deadline = Time::ZERO;
            f.attempts = f.attempts.saturating_sub(1);
        }
    }

    /// Stops tracking `id`; returns its command if it was in flight.
    pub fn complete(&mut self, id: CommandId) -> Option<Command> {
        let at = self.in_flight.iter().position(|(i, _)| *i == id)?;
        Some(self.in_flight.swap_remove(at).1.command)
    }

    /// The commands whose deadline passed, in id order; each gets a new,
    /// later deadline, so the caller sends them again now.
    pub fn due(&mut self, now: Time) -> Vec<(CommandId, Command)> {
        let mut due = Vec::new();
        for (id, f) in self.in_flight.iter_mut() {
            if f.deadline <= now {
                f.attempts += 1;
                let factor = 1u32 << (f.attempts - 1).min(MAX_BACKOFF_FACTOR.trailing_zeros());
                f.deadline = now + self.retry * factor;
                due.push((*id, f.command.clone()));
            }
        }
        due.sort_unstable_by_key(|(id, _)| *id);
        due
    }

    /// How many commands are in flight.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }
}

/// What each replica answered about one command, for protocols where a
/// client (or a replica) waits for a quorum of matching answers. Kept as
/// the distinct answers, each with the replicas that gave it: answers
/// mostly agree, so there is one, inline, and counting a command's
/// answers allocates nothing.
#[derive(Clone, Debug)]
pub struct ReplyCollector<V> {
    answers: SmallVec<[(V, ReplicaSet); 1]>,
}

impl<V> Default for ReplyCollector<V> {
    fn default() -> Self {
        ReplyCollector {
            answers: SmallVec::new(),
        }
    }
}

impl<V: PartialEq> ReplyCollector<V> {
    /// No replies yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `from`'s answer, replacing an earlier one from the same replica.
    pub fn add(&mut self, from: ReplicaId, value: V) {
        for (_, voters) in self.answers.iter_mut() {
            voters.remove(from);
        }
        self.answers.retain(|(_, voters)| !voters.is_empty());
        match self.answers.iter_mut().find(|(v, _)| *v == value) {
            Some((_, voters)) => {
                voters.insert(from);
            }
            None => self.answers.push((value, std::iter::once(from).collect())),
        }
    }

    /// `from`'s answer, if it gave one.
    pub fn get(&self, from: ReplicaId) -> Option<&V> {
        self.answers
            .iter()
            .find(|(_, voters)| voters.contains(from))
            .map(|(v, _)| v)
    }

    /// The replicas whose answer equals `value`.
    pub fn agreeing_with(&self, value: &V) -> ReplicaSet {
        self.answers
            .iter()
            .find(|(v, _)| v == value)
            .map_or(ReplicaSet::EMPTY, |(_, voters)| *voters)
    }

    /// Every replica that answered.
    pub fn responders(&self) -> ReplicaSet {
        self.answers.iter().flat_map(|(_, voters)| voters.iter()).collect()
    }
}

/// The commands a client has in flight and, for each, what replicas
/// answered in the highest ballot seen so far. Clients whose leader answers
/// before commit (SwiftPaxos, CURP) count votes this way: answers from a
/// newer ballot restart the count, answers from an older one no longer
/// matter, and answers about a command no longer in flight are ignored.
#[derive(Debug)]
pub struct BallotTallies<T> {
    /// Per command in flight: the ballot counted so far and its tally
    /// (`None` until the first answer).
    pending: PendingCommands<Option<(Ballot, T)>>,
}

impl<T: Default> BallotTallies<T> {
    /// Nothing in flight; commands are retried after `retry` (see [`PendingCommands`]).
    pub fn new(retry: Duration) -> Self {
        BallotTallies {
            pending: PendingCommands::new(retry),
        }
    }

    /// Starts tracking `id`.
    pub fn submit(&mut self, id: CommandId, command: Command, now: Time) {
        self.pending.insert(id, command, now);
    }

    /// The tally of `id` for `ballot`, started afresh if `ballot` is newer
    /// than the one counted so far; `None` for an older ballot or a command
    /// not in flight.
    pub fn in_ballot(&mut self, id: CommandId, ballot: Ballot) -> Option<&mut T> {
        let (counted, tally) = self
            .pending
            .extra_mut(id)?
            .get_or_insert_with(|| (ballot, T::default()));
        if ballot > *counted {
            *counted = ballot;
            *tally = T::default();
        }
        (ballot == *counted).then_some(tally)
    }

    /// The ballot counted for `id` and its tally.
    pub fn get(&self, id: CommandId) -> Option<(Ballot, &T)> {
        self.pending.extra(id)?.as_ref().map(|(b, t)| (*b, t))
    }

    /// `id` completed: forgets it; returns its command if it was in flight.
    pub fn finish(&mut self, id: CommandId) -> Option<Command> {
        self.pending.complete(id)
    }

    /// Drops every answer counted so far, keeping the commands in flight:
    /// a replica restarted without its state, so its earlier answers must
    /// not count ([`crate::rejoin`]). The commands are sent again at the
    /// next tick, not at their retry: the answers dropped were most of what
    /// the clients needed (a follower's crash ends the host's link to it,
    /// and every client then waited a whole retry interval, 420 ms in
    /// `bench`, though the leader and the other followers had answered).
    pub fn forget_answers(&mut self) {
        self.pending.extras_mut().for_each(|tally| *tally = None);
        self.pending.make_all_due();
    }

    /// The commands to send again now (see [`PendingCommands::due`]).
    pub fn due(&mut self, now: Time) -> Vec<(CommandId, Command)> {
        self.pending.due(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_due_after_the_timeout_with_backoff() {
        let retry = Duration::from_millis(100);
        let mut p: PendingCommands = PendingCommands::new(retry);
        let id = CommandId::new(1, 1);
        p.insert(id, Command::Noop, Time::ZERO);
        assert!(p.due(Time::from_millis(99)).is_empty());
        assert_eq!(p.due(Time::from_millis(100)), vec![(id, Command::Noop)]);
        // Second retry only after twice the timeout.
        assert!(p.due(Time::from_millis(299)).is_empty());
        assert_eq!(p.due(Time::from_millis(300)).len(), 1);
        assert_eq!(p.complete(id), Some(Command::Noop));
        assert!(p.is_empty());
        assert!(p.due(Time::from_millis(10_000)).is_empty());
    }

    #[test]
    fn forgotten_answers_send_every_command_again_at_the_next_tick_without_a_backoff_step() {
        let mut t: BallotTallies<u32> = BallotTallies::new(Duration::from_millis(100));
        let id = CommandId::new(1, 1);
        t.submit(id, Command::Noop, Time::ZERO);
        *t.in_ballot(id, Ballot(0)).expect("in flight") = 7;
        t.forget_answers();
        assert!(t.get(id).is_none(), "the answers are gone");
        assert_eq!(
            t.due(Time::from_millis(1)),
            vec![(id, Command::Noop)],
            "sent again now, not at 100 ms"
        );
        assert!(t.due(Time::from_millis(100)).is_empty());
        assert_eq!(
            t.due(Time::from_millis(101)).len(),
            1,
            "then the first retry interval, not twice it"
        );
    }

    #[test]
    fn due_commands_come_in_id_order() {
        let mut p: PendingCommands = PendingCommands::new(Duration::from_millis(10));
        for seq in [3, 1, 7, 2] {
            p.insert(CommandId::new(1, seq), Command::Noop, Time::ZERO);
        }
        let due: Vec<u64> = p.due(Time::from_millis(10)).into_iter().map(|(id, _)| id.seq).collect();
        assert_eq!(due, vec![1, 2, 3, 7]);
    }

    #[test]
    fn backoff_is_capped() {
        let mut p: PendingCommands = PendingCommands::new(Duration::from_millis(10));
        p.insert(CommandId::new(1, 1), Command::Noop, Time::ZERO);
        let mut now = Time::ZERO;
        for _ in 0..20 {
            now = now + Duration::from_millis(80);
            assert_eq!(p.due(now).len(), 1, "a retry at least every 8 timeouts");
        }
    }

    #[test]
    fn reply_collector_groups_equal_answers_and_replaces_a_replicas_earlier_one() {
        let mut c: ReplyCollector<u32> = ReplyCollector::new();
        assert_eq!(c.responders(), ReplicaSet::EMPTY);
        c.add(0, 7);
        c.add(2, 7);
        c.add(1, 9);
        assert_eq!(c.agreeing_with(&7), [0, 2].into_iter().collect());
        assert_eq!(c.agreeing_with(&9), [1].into_iter().collect());
        assert_eq!(c.agreeing_with(&5), ReplicaSet::EMPTY);
        assert_eq!(c.get(1), Some(&9));
        assert_eq!(c.responders(), ReplicaSet::all(3));
        // Replica 2 changes its answer: it counts for the new one only.
        c.add(2, 9);
        assert_eq!(c.agreeing_with(&7), [0].into_iter().collect());
        assert_eq!(c.agreeing_with(&9), [1, 2].into_iter().collect());
        // Replica 0 too: the answer nobody gives any more is gone.
        c.add(0, 9);
        assert_eq!(c.agreeing_with(&7), ReplicaSet::EMPTY);
        assert_eq!(c.agreeing_with(&9), ReplicaSet::all(3));
        assert_eq!(c.answers.len(), 1);
        assert_eq!(c.get(3), None);
    }

    #[test]
    fn tallies_follow_the_highest_ballot() {
        let mut t: BallotTallies<u32> = BallotTallies::new(Duration::from_millis(100));
        let id = CommandId::new(1, 1);
        assert!(t.in_ballot(id, Ballot(3)).is_none(), "not in flight yet");
        t.submit(id, Command::Noop, Time::ZERO);
        *t.in_ballot(id, Ballot(3)).unwrap() += 1;
        assert!(t.in_ballot(id, Ballot(2)).is_none(), "older ballots are ignored");
        *t.in_ballot(id, Ballot(3)).unwrap() += 1;
        assert_eq!(t.get(id), Some((Ballot(3), &2)));
        assert_eq!(*t.in_ballot(id, Ballot(8)).unwrap(), 0, "a newer ballot starts over");
        *t.in_ballot(id, Ballot(8)).unwrap() += 5;
        t.forget_answers();
        assert_eq!(t.get(id), None, "answers forgotten");
        assert_eq!(
            *t.in_ballot(id, Ballot(8)).unwrap(),
            0,
            "counting starts over, the command still in flight"
        );
        assert_eq!(t.finish(id), Some(Command::Noop));
        assert_eq!(t.get(id), None);
        assert!(
            t.in_ballot(id, Ballot(8)).is_none(),
            "answers after completion are ignored"
        );
    }

    #[test]
    fn reply_collector_groups_matching_answers() {
        let mut c = ReplyCollector::new();
        c.add(0, vec![1, 2]);
        c.add(1, vec![1, 2]);
        c.add(2, vec![3]);
        c.add(2, vec![1, 2]); // a later answer replaces the earlier one
        assert_eq!(c.agreeing_with(&vec![1, 2]), [0, 1, 2].into_iter().collect());
        assert_eq!(c.responders().len(), 3);
        assert_eq!(c.get(2), Some(&vec![1, 2]));
    }
}
