//! Which slow-path votes a follower sends the client.
//!
//! A client completes a command on the fast path (the leader's answer and
//! a fast quorum of fast votes agreeing with its dependencies) or on the
//! slow path (a majority, the leader included, that accepted them). A
//! follower whose own fast vote was the leader's dependencies has already
//! told the client everything its `SlowAck` would: when every follower is
//! up, either enough of them agreed for the fast path, or enough disagreed
//! for the slow path, and the disagreeing ones send their `SlowAck`s
//! ([`SwiftReplica::matching_votes_decide`]). Leaving those `SlowAck`s out
//! saves two of the five messages a client gets per command at three
//! replicas (results/README.md measures it).
//!
//! The argument needs every follower's vote. The leader, which gets every
//! follower's report of its executed prefixes each release interval, says
//! in each `FastAcks` whether it heard from all of them lately; followers
//! leave `SlowAck`s out only while it does. When it stops saying so, each
//! follower sends the `SlowAck`s it left out in the last few intervals, so
//! a client whose command a crashed follower never voted on completes on
//! the slow path a moment later rather than at its retry. (A client cut
//! off from one live follower alone still waits for its retry.)

use super::*;
use std::time::Duration;

impl SwiftReplica {
    /// How long a replica's reports may stop before the leader stops saying
    /// it heard from all: four release intervals (a follower reports each
    /// interval it is busy, and at each tick when idle, when leaving out
    /// `SlowAck`s saves nothing).
    fn silence_limit(&self) -> Duration {
        self.release_interval() * 4
    }

    /// The leader: whether every other replica reported within the limit.
    pub(super) fn heard_from_all(&self, now: Time) -> bool {
        let limit = self.silence_limit();
        (0..self.n()).all(|r| r == self.id || self.last_report_at.get(&r).is_some_and(|&at| now.since(at) < limit))
    }

    /// Whether, with every follower voting, the followers whose fast votes
    /// matched the leader's and the `SlowAck`s of the others always make
    /// a quorum: a fixed fast quorum always (followers outside it never
    /// vote fast, so they always send `SlowAck`s, and `n - maj + 1 >=
    /// maj - 1`); three-quarters quorums when `|FQ| + maj < n + 3`
    /// (otherwise `m` matching and `d` differing followers with
    /// `m <= |FQ| - 2` and `d <= maj - 2` add up to `n - 1`): 3 and 5
    /// replicas, not 7.
    pub(super) fn matching_votes_decide(&self) -> bool {
        match self.quorums.fast_quorums() {
            crate::quorum::FastQuorums::ThreeQuarters => {
                self.quorums.three_quarters() + self.quorums.majority() < self.n() + 3
            }
            crate::quorum::FastQuorums::Fixed(_) => true,
        }
    }

    /// A follower accepted the leader's dependencies for `id`; `matched`:
    /// its own fast vote to the client was those dependencies. Sends the
    /// client its `SlowAck` unless the module's argument holds.
    pub(super) fn slow_ack_to_client(&mut self, id: CommandId, matched: bool, now: Time, out: &mut Outbox<Message>) {
        let ballot = self.ballot;
        if matched && self.leader_heard_all && self.matching_votes_decide() {
            let keep = 3 * self.silence_limit();
            while self
                .skipped_slow_acks
                .front()
                .is_some_and(|(at, _)| now.since(*at) > keep)
            {
                self.skipped_slow_acks.pop_front();
            }
            self.skipped_slow_acks.push_back((now, id));
            return;
        }
        out.send_client(id.client, Message::SlowAck { ballot, id });
    }

    /// The leader, at each flush: whether its `FastAcks` say it heard from
    /// all. When that stops, it says so at once, with no votes if it has
    /// none: followers may hold back the `SlowAck`s that clients now wait
    /// for, and with every client waiting on one no new command would
    /// bring a `FastAcks`: they would wait for their retries.
    pub(super) fn all_heard_to_say(&mut self, now: Time, out: &mut Outbox<Message>) -> bool {
        let leading = self.is_leader() && matches!(self.status, Status::Normal);
        let all_heard = leading && self.heard_from_all(now);
        if leading && self.said_all_heard && !all_heard {
            out.broadcast(Message::FastAcks {
                ballot: self.ballot,
                acks: Vec::new(),
                all_heard: false,
            });
        }
        self.said_all_heard = all_heard;
        all_heard
    }

    /// The leader's word on whether it heard from every replica, with each
    /// of its `FastAcks` (a retransmitted `FastAck` says no). When it stops
    /// saying so, the `SlowAck`s left out lately go to their clients.
    pub(super) fn leader_says_all_heard(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        all_heard: bool,
        out: &mut Outbox<Message>,
    ) {
        if from != self.leader_id() || ballot != self.ballot {
            return;
        }
        self.leader_heard_all = all_heard;
        if !all_heard {
            for (_, id) in std::mem::take(&mut self.skipped_slow_acks) {
                out.send_client(id.client, Message::SlowAck { ballot, id });
            }
        }
    }
}
