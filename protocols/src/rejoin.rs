//! Volatile restarts: how a replica that lost everything rejoins without
//! voting against what it voted before the crash.
//!
//! A replica restarted without its disk has forgotten its promises and
//! votes, yet those may still count: a vote in flight, or one a counter
//! already holds. Written once here and in the hosts, the rule is:
//!
//! 1. **A new life.** The restarted replica takes a life number above every
//!    earlier one and says `Hello` to every other replica. Hosts stamp each
//!    message with the sender's [`Lives`] (what it knows of every replica's
//!    life); a receiver merges them and drops any message from an earlier
//!    life of its sender. Knowledge spreads with ordinary traffic, so a
//!    client learns of the new life from the leader's answer, before that
//!    answer counts, and forgets the answers it held
//!    ([`crate::protocol::ClientProtocol::forget_answers`]).
//! 2. **Every other replica acknowledges**, with its [`RejoinPoint`]: the
//!    highest ballot and the log positions it knows of. From then on it
//!    drops the old life's messages, so whatever of them counted was
//!    counted before it answered, and lies below the point it reported.
//!    Waiting for *every* other replica (a crashed one answers once it is
//!    back; a rejoining one answers with nothing, knowing nothing) means no
//!    replica that could still count an old vote is left out.
//! 3. **A donor that covers the merged point** — a ballot at least as high,
//!    every position below it decided — sends its snapshot
//!    ([`crate::protocol::ReplicaProtocol::snapshot`]); the replica
//!    rebuilds itself from it with `restore`, as from its own log, and only
//!    then acts. Its state is then the donor's: a state some replica
//!    reached, holding every decision its old votes could have helped make,
//!    and a ballot at least as high as any it promised.
//!
//! Until then it neither votes nor answers: messages to it are dropped.
//! Safe while at most `f` replicas lose their state at once; it rejoins
//! once every other replica has answered, and a majority decides.

use crate::ids::ReplicaId;
use crate::quorum::ReplicaSet;
use crate::time::Time;
use std::time::Duration;

/// What each replica's life is, as far as one node knows (0: none heard
/// of), and the life each had before that.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lives {
    latest: Vec<u64>,
    before: Vec<u64>,
}

impl Lives {
    /// Nothing heard of any of `n` replicas.
    pub fn new(n: usize) -> Self {
        Lives {
            latest: vec![0; n],
            before: vec![0; n],
        }
    }

    /// Replica `r`'s life as known here.
    pub fn of(&self, r: ReplicaId) -> u64 {
        self.latest.get(r).copied().unwrap_or(0)
    }

    /// Whether a life of `r` before its latest was known here: a replica
    /// rejoining in a life whose predecessor nobody knew is in its first
    /// life, with no earlier votes to protect.
    pub fn knew_earlier(&self, r: ReplicaId) -> bool {
        self.before.get(r).is_some_and(|&b| b != 0)
    }

    /// Learns that `r` is in life `life` (or a later one); whether that was news.
    pub fn learn(&mut self, r: ReplicaId, life: u64) -> bool {
        match self.latest.get_mut(r) {
            Some(known) if *known < life => {
                self.before[r] = *known;
                *known = life;
                true
            }
            _ => false,
        }
    }

    /// Merges what a message's sender knew; returns the replicas whose life
    /// was news here (their earlier lives' answers must no longer count).
    pub fn merge(&mut self, other: &Lives) -> ReplicaSet {
        let mut news = ReplicaSet::EMPTY;
        for r in 0..other.latest.len().min(self.latest.len()) {
            let (theirs, mine) = (other.latest[r], self.latest[r]);
            // The highest life below the latest that either side heard of.
            let below = |latest: u64| {
                [other.before[r], self.before[r], theirs, mine]
                    .into_iter()
                    .filter(|&l| l < latest)
                    .max()
                    .unwrap_or(0)
            };
            if theirs > mine {
                self.before[r] = below(theirs);
                self.latest[r] = theirs;
                news.insert(r);
            } else {
                self.before[r] = below(mine);
            }
        }
        news
    }

    /// Whether a message from `from`'s life `life` comes from a life known
    /// to have ended.
    pub fn is_stale(&self, from: ReplicaId, life: u64) -> bool {
        life < self.of(from)
    }

    /// The latest lives, by replica.
    pub fn latest(&self) -> &[u64] {
        &self.latest
    }
}

/// What a replica has seen, as a rejoining replica must wait for it: the
/// highest ballot it knows, and per log (one for slot protocols, one per
/// row in EPaxos, one per client in SwiftPaxos) the position below which
/// lies everything it knows of. Each protocol gives its marks their meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RejoinPoint {
    /// The highest ballot (as its number) promised or seen.
    pub ballot: u64,
    /// `(log, position)` pairs, sorted by log, each log once.
    pub marks: Vec<(u64, u64)>,
}

impl RejoinPoint {
    /// A point from a ballot and marks in any order (the highest per log kept).
    pub fn new(ballot: u64, marks: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut point = RejoinPoint {
            ballot,
            marks: Vec::new(),
        };
        point.raise(marks);
        point
    }

    /// The point past both: the higher ballot, the higher mark per log.
    pub fn merge(&mut self, other: &RejoinPoint) {
        self.ballot = self.ballot.max(other.ballot);
        self.raise(other.marks.iter().copied());
    }

    fn raise(&mut self, marks: impl IntoIterator<Item = (u64, u64)>) {
        for (log, position) in marks {
            match self.marks.binary_search_by_key(&log, |&(l, _)| l) {
                Ok(i) => self.marks[i].1 = self.marks[i].1.max(position),
                Err(i) => self.marks.insert(i, (log, position)),
            }
        }
    }

    /// The mark of `log`, 0 if none.
    pub fn mark(&self, log: u64) -> u64 {
        self.marks
            .binary_search_by_key(&log, |&(l, _)| l)
            .map_or(0, |i| self.marks[i].1)
    }
}

/// What the rejoining replica's host does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejoinStep {
    /// Say hello (again) to these replicas.
    Hello(ReplicaSet),
    /// Ask this replica for a snapshot covering the point.
    AskImage(ReplicaId, RejoinPoint),
    /// Every other replica answered and none knew an earlier life of this
    /// one: its first life (a cluster starting), nothing to protect.
    StartFresh,
    /// Nothing to do now.
    Wait,
}

/// The rejoining side, for its host: which replicas answered, the merged
/// point, which donor to ask. Sans-IO: the host carries the steps out.
#[derive(Debug)]
pub struct Rejoin {
    me: ReplicaId,
    n: usize,
    life: u64,
    answered: ReplicaSet,
    point: RejoinPoint,
    /// Some replica knew an earlier life of this one.
    had_earlier_life: bool,
    /// The donor asked last and when, once every replica answered.
    asked: Option<(ReplicaId, Time)>,
    last_hello: Time,
    retry: Duration,
}

impl Rejoin {
    /// Replica `me` of `n` starts life `life` with nothing; the first step
    /// is [`Rejoin::start`].
    pub fn new(me: ReplicaId, n: usize, life: u64, retry: Duration) -> Self {
        Rejoin {
            me,
            n,
            life,
            answered: ReplicaSet::EMPTY,
            point: RejoinPoint::default(),
            had_earlier_life: false,
            asked: None,
            last_hello: Time::ZERO,
            retry,
        }
    }

    /// The replica knows it held a state before (a durable log that could
    /// not be believed): it rebuilds from a donor even when no replica knew
    /// an earlier life of it, as after a whole-cluster restart, which
    /// forgets lives.
    pub fn with_earlier_state(mut self) -> Self {
        self.had_earlier_life = true;
        self
    }

    /// The life being started.
    pub fn life(&self) -> u64 {
        self.life
    }

    /// Hello to every other replica.
    pub fn start(&mut self, now: Time) -> RejoinStep {
        self.last_hello = now;
        RejoinStep::Hello(self.unanswered())
    }

    fn unanswered(&self) -> ReplicaSet {
        (0..self.n)
            .filter(|&r| r != self.me && !self.answered.contains(r))
            .collect()
    }

    /// Replica `from` acknowledged life `life` with its point, saying
    /// whether it knew an earlier life of this replica
    /// ([`Lives::knew_earlier`]).
    pub fn on_ack(
        &mut self,
        from: ReplicaId,
        life: u64,
        point: &RejoinPoint,
        knew_earlier: bool,
        now: Time,
    ) -> RejoinStep {
        if life != self.life || from == self.me || from >= self.n || self.answered.contains(from) {
            return RejoinStep::Wait;
        }
        self.answered.insert(from);
        self.point.merge(point);
        self.had_earlier_life |= knew_earlier;
        if !self.unanswered().is_empty() {
            return RejoinStep::Wait;
        }
        if !self.had_earlier_life {
            return RejoinStep::StartFresh;
        }
        self.ask(self.me, now)
    }

    /// Asks the next replica after `after` for its image.
    fn ask(&mut self, after: ReplicaId, now: Time) -> RejoinStep {
        let donor = (1..self.n)
            .map(|k| (after + k) % self.n)
            .find(|&r| r != self.me)
            .unwrap_or(after);
        self.asked = Some((donor, now));
        RejoinStep::AskImage(donor, self.point.clone())
    }

    /// Retries: hello again to the silent, or the next donor when the last
    /// one did not send its image (it did not cover the point yet, or the
    /// messages were lost).
    pub fn tick(&mut self, now: Time) -> RejoinStep {
        match self.asked {
            Some((donor, at)) if now.since(at) >= self.retry => self.ask(donor, now),
            Some(_) => RejoinStep::Wait,
            None if now.since(self.last_hello) >= self.retry => self.start(now),
            None => RejoinStep::Wait,
        }
    }

    /// Whether an image for life `life` is the one asked for:
    /// every replica answered, and it is for this life.
    pub fn accepts_image(&self, life: u64) -> bool {
        life == self.life && self.asked.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_merge_to_the_highest_ballot_and_marks() {
        let mut a = RejoinPoint::new(3, [(2, 10), (0, 5)]);
        a.merge(&RejoinPoint::new(2, [(0, 7), (1, 1)]));
        assert_eq!(
            a,
            RejoinPoint {
                ballot: 3,
                marks: vec![(0, 7), (1, 1), (2, 10)]
            }
        );
        assert_eq!(a.mark(1), 1);
        assert_eq!(a.mark(9), 0);
    }

    #[test]
    fn lives_report_news_and_stale_senders() {
        let mut theirs = Lives::new(3);
        theirs.learn(1, 2);
        let mut mine = Lives::new(3);
        assert_eq!(mine.merge(&theirs), [1].into_iter().collect());
        let mut older = Lives::new(3);
        older.learn(1, 1);
        assert!(mine.merge(&older).is_empty(), "older news is none");
        assert!(mine.is_stale(1, 1));
        assert!(!mine.is_stale(1, 2));
        assert!(!mine.is_stale(0, 0));
    }

    #[test]
    fn an_earlier_life_is_remembered_and_passed_on() {
        let mut lives = Lives::new(2);
        lives.learn(1, 10);
        assert!(!lives.knew_earlier(1), "its first life");
        lives.learn(1, 20);
        assert!(lives.knew_earlier(1));
        let mut other = Lives::new(2);
        other.merge(&lives);
        assert!(other.knew_earlier(1), "what one knew, the other learns");
        assert_eq!(other.of(1), 20);
    }

    #[test]
    fn a_donor_is_asked_only_once_every_other_replica_answered() {
        let retry = Duration::from_millis(100);
        let mut rejoin = Rejoin::new(1, 3, 4, retry);
        assert_eq!(
            rejoin.start(Time::ZERO),
            RejoinStep::Hello([0, 2].into_iter().collect())
        );
        let now = Time::from_millis(10);
        assert_eq!(
            rejoin.on_ack(0, 3, &RejoinPoint::new(9, []), true, now),
            RejoinStep::Wait,
            "an ack for another life"
        );
        assert_eq!(
            rejoin.on_ack(0, 4, &RejoinPoint::new(5, [(0, 40)]), true, now),
            RejoinStep::Wait
        );
        assert!(!rejoin.accepts_image(4), "not everyone answered");
        assert_eq!(
            rejoin.tick(Time::from_millis(150)),
            RejoinStep::Hello([2].into_iter().collect())
        );
        let step = rejoin.on_ack(2, 4, &RejoinPoint::new(6, [(0, 30)]), false, Time::from_millis(150));
        assert_eq!(step, RejoinStep::AskImage(2, RejoinPoint::new(6, [(0, 40)])));
        assert!(rejoin.accepts_image(4));
        assert_eq!(rejoin.tick(Time::from_millis(200)), RejoinStep::Wait);
        assert_eq!(
            rejoin.tick(Time::from_millis(250)),
            RejoinStep::AskImage(0, RejoinPoint::new(6, [(0, 40)])),
            "the next donor"
        );
    }

    #[test]
    fn a_replica_that_held_a_state_never_starts_fresh() {
        let mut rejoin = Rejoin::new(0, 3, 1, Duration::from_millis(100)).with_earlier_state();
        rejoin.start(Time::ZERO);
        assert_eq!(
            rejoin.on_ack(1, 1, &RejoinPoint::new(2, [(0, 9)]), false, Time::ZERO),
            RejoinStep::Wait
        );
        assert_eq!(
            rejoin.on_ack(2, 1, &RejoinPoint::default(), false, Time::ZERO),
            RejoinStep::AskImage(1, RejoinPoint::new(2, [(0, 9)]))
        );
    }

    #[test]
    fn a_first_life_starts_fresh_once_everyone_answered() {
        let mut rejoin = Rejoin::new(0, 3, 1, Duration::from_millis(100));
        rejoin.start(Time::ZERO);
        assert_eq!(
            rejoin.on_ack(1, 1, &RejoinPoint::new(2, [(0, 9)]), false, Time::ZERO),
            RejoinStep::Wait
        );
        assert_eq!(
            rejoin.on_ack(2, 1, &RejoinPoint::default(), false, Time::ZERO),
            RejoinStep::StartFresh
        );
    }
}
