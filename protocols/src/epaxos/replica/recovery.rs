//! Recovery of an instance whose coordinator went quiet: explicit prepare,
//! then, when the instance may have committed on the fast path,
//! `TryPreAccept` to find out whether that is still possible.
//!
//! The reasoning, for an instance `C` of leader `L` and recovery replies from
//! a majority `Q`:
//!
//! 1. A committed report wins. 2. Otherwise the reports of the highest
//!    `vbal` count; an accepted one is accepted again (Paxos).
//! 3. If `C` committed on the fast path with attributes `A`, its fast quorum
//!    `FQ` (leader included) pre-accepted `A` unchanged in the default ballot,
//!    and at least `|FQ| − 1 + |Q∖L| − (n − 1)` of `Q∖L` say so (the set `U`).
//!    With fewer, or with `L` itself answering (it did not commit, and now
//!    cannot), `C` did not commit fast: phase 1 again, in the new ballot,
//!    whose result goes through the slow path.
//! 4. With enough, `A` is safe to choose exactly when no conflicting
//!    instance `C'` that neither is in `A` nor depends on `C` commits. The
//!    recoverer asks the others to pre-accept `A` tentatively; a replica
//!    refuses when it holds such a `C'`. Once a majority holds `A`, every
//!    future quorum meets one of them, so no such `C'` can commit: accept `A`.
//!    A refusal naming a `C'` that is accepted or committed proves `C` did
//!    not commit fast (its fast quorum would have made `C'` depend on `C`):
//!    phase 1. A refusal naming a `C'` only pre-accepted shows that neither
//!    the refusing replica nor `C'`'s leader was in `FQ`; if too few replicas
//!    remain that could have been, phase 1 again; otherwise the recovery is
//!    retried later, when `C'` has moved on.
//!
//! Ballots follow Sutra's correction: `bal` (promised) and `vbal` (last
//! pre-accepted or accepted in) are kept apart, and a tentative pre-accept
//! keeps `vbal` at the default ballot, so a later recovery still sees the
//! fast-path evidence.

use super::{Coordination, EPaxosReplica};
use crate::ballot::Ballot;
use crate::epaxos::instance::{command_of, Attributes, InstanceId, Report, Status, Value};
use crate::epaxos::messages::{Message, TryOutcome};
use crate::ids::ReplicaId;
use crate::protocol::Outbox;
use crate::quorum::{ReplicaSet, Votes};
use crate::time::Time;

impl EPaxosReplica {
    /// Retransmits what the coordinator of `instance` waits for, and starts
    /// recovering it when nobody has driven it to a decision for a while.
    pub(super) fn tick_instance(&mut self, instance: InstanceId, now: Time, out: &mut Outbox<Message>) {
        let (retry, grace) = (self.timing.retry, self.timing.heartbeat);
        let majority = self.quorums.majority();
        // Another replica released it: it is committed at every replica
        // that was not silent then, so fetching it is enough (or the image
        // this one installs covers it); a recovery would only cost a record
        // with its value per retry (tens of thousands at once after a long
        // absence) and find no majority to answer.
        let recover = !self.is_released_elsewhere(instance);
        let Some(s) = self.instances.get_mut(&instance) else {
            return;
        };
        if !recover
            && matches!(
                s.coordinating,
                Some(Coordination::Preparing { .. } | Coordination::Trying { .. })
            )
        {
            s.coordinating = None; // fetched instead, below
        }
        match &mut s.coordinating {
            Some(Coordination::PreAccepting {
                ballot,
                merged,
                replies,
                sent,
                ..
            }) => {
                // The fast quorum is overdue: go the slow path with a majority.
                if replies.reached(majority) && now.since(*sent) >= grace {
                    let (ballot, attrs, value) = (*ballot, merged.clone(), s.value.clone());
                    return self.start_accept(instance, ballot, value, attrs, now, out);
                }
                if now.since(*sent) >= retry {
                    *sent = now;
                    let (ballot, value, attrs) = (*ballot, s.value.clone(), s.attrs.clone().expect("pre-accepted"));
                    out.broadcast(Message::PreAccept {
                        instance,
                        ballot,
                        value,
                        attrs,
                    });
                }
            }
            Some(Coordination::Accepting { ballot, sent, .. }) => {
                if now.since(*sent) >= retry {
                    *sent = now;
                    let (ballot, value, attrs) = (*ballot, s.value.clone(), s.attrs.clone().expect("accepted"));
                    out.broadcast(Message::Accept {
                        instance,
                        ballot,
                        value,
                        attrs,
                    });
                }
            }
            Some(Coordination::Preparing { sent, .. }) | Some(Coordination::Trying { sent, .. }) => {
                if now.since(*sent) >= retry {
                    self.start_recovery(instance, now, out);
                }
            }
            None => {
                // First ask whether anyone knows it committed (a lost
                // Commit), then recover it.
                if s.fetched.is_none_or(|t| now.since(t) >= retry) {
                    s.fetched = Some(now);
                    out.broadcast(Message::Fetch { instance });
                }
                if recover && now.since(s.since) >= self.recovery_delay(instance) {
                    self.start_recovery(instance, now, out);
                }
            }
        }
    }

    /// Replicas further from the instance's leader wait longer, so that one
    /// recovers it at a time.
    fn recovery_delay(&self, instance: InstanceId) -> std::time::Duration {
        let n = self.n();
        let rank = (self.id + n - instance.leader - 1) % n;
        self.timing.leader_timeout + self.timing.retry * rank as u32
    }

    /// Dependencies this replica waits for and does not know committed:
    /// ask the others once, and recover them if that does not help.
    pub(super) fn notice_missing_dependencies(&mut self, now: Time, _out: &mut Outbox<Message>) {
        for instance in self.graph.missing() {
            self.notice(instance, now);
        }
    }

    /// `instance` exists and is not committed here: fetch it, then recover it.
    pub(super) fn notice(&mut self, instance: InstanceId, now: Time) {
        let committed = self
            .instances
            .get(&instance)
            .is_some_and(|s| s.status == Status::Committed);
        if !committed && self.undecided.insert(instance, ()).is_none() {
            self.instance(instance, now).since = now;
        }
    }

    /// Replicas tell each other how many instances of each row they have
    /// heard of, so that one that missed some (cut off, its messages lost,
    /// the row's leader gone) fetches or recovers them.
    pub(super) fn on_row_lengths(&mut self, lengths: &[u64], now: Time) {
        for (row, &length) in lengths.iter().enumerate().take(self.n()) {
            self.extend_row(row, length, now);
        }
    }

    /// Row `row` has at least `length` instances: any this replica had not
    /// heard of are noticed (fetched, then recovered).
    pub(super) fn extend_row(&mut self, row: ReplicaId, length: u64, now: Time) {
        for slot in self.row_known[row]..length {
            self.notice(InstanceId { leader: row, slot }, now);
        }
        self.row_known[row] = self.row_known[row].max(length);
    }

    /// Explicit prepare in a ballot of this replica's above any seen.
    pub(super) fn start_recovery(&mut self, instance: InstanceId, now: Time, out: &mut Outbox<Message>) {
        let (id, n) = (self.id, self.n());
        let s = self.instance(instance, now);
        if s.status == Status::Committed {
            return;
        }
        let ballot = s.bal.next_owned_by(id, n);
        s.bal = ballot;
        s.since = now;
        let own = s.report();
        s.coordinating = Some(Coordination::Preparing {
            ballot,
            replies: vec![(id, own)],
            sent: now,
        });
        // Its own promise counts toward the majority.
        self.record(instance, out);
        out.broadcast(Message::Prepare { instance, ballot });
        self.check_prepare(instance, now, out);
    }

    pub(super) fn on_prepare(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let s = self.instance(instance, now);
        if ballot < s.bal {
            return out.send_replica(
                from,
                Message::Nack {
                    instance,
                    ballot: s.bal,
                },
            );
        }
        s.bal = ballot;
        s.since = now;
        if s.coordinating.as_ref().is_some_and(|c| c.ballot() < ballot) {
            s.coordinating = None;
        }
        let report = s.report();
        self.record(instance, out);
        out.send_replica(
            from,
            Message::PrepareOk {
                instance,
                ballot,
                report,
            },
        );
    }

    pub(super) fn on_prepare_ok(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        report: Option<Report>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let Some(s) = self.instances.get_mut(&instance) else {
            return;
        };
        let Some(Coordination::Preparing { ballot: b, replies, .. }) = &mut s.coordinating else {
            return;
        };
        if *b != ballot || s.bal != ballot || replies.iter().any(|(r, _)| *r == from) {
            return;
        }
        replies.push((from, report));
        self.check_prepare(instance, now, out);
    }

    fn check_prepare(&mut self, instance: InstanceId, now: Time, out: &mut Outbox<Message>) {
        let (n, majority, fast_quorum) = (self.n(), self.quorums.majority(), self.fast_quorum);
        let Some(s) = self.instances.get(&instance) else { return };
        let Some(Coordination::Preparing { ballot, replies, .. }) = &s.coordinating else {
            return;
        };
        if replies.len() < majority {
            return;
        }
        let (ballot, replies) = (*ballot, replies.clone());
        let reports: Vec<(ReplicaId, Report)> = replies
            .iter()
            .filter_map(|(r, rep)| rep.clone().map(|rep| (*r, rep)))
            .collect();
        // 1. Committed somewhere.
        if let Some((_, c)) = reports.iter().find(|(_, r)| r.status == Status::Committed) {
            self.recoveries.found_committed += 1;
            return self.send_all_commit(instance, c.value.clone(), c.attrs.clone(), false, now, out);
        }
        let highest = reports.iter().map(|(_, r)| r.vbal).max();
        // 2. Accepted in the highest ballot.
        if let Some((_, a)) = reports
            .iter()
            .find(|(_, r)| Some(r.vbal) == highest && r.status == Status::Accepted)
        {
            self.recoveries.found_accepted += 1;
            return self.start_accept(instance, ballot, a.value.clone(), a.attrs.clone(), now, out);
        }
        // 3. Possibly committed on the fast path.
        let default = instance.default_ballot();
        let leader_replied = replies.iter().any(|(r, _)| *r == instance.leader);
        let unchanged: Vec<&(ReplicaId, Report)> = reports
            .iter()
            .filter(|(r, rep)| {
                *r != instance.leader && rep.status == Status::PreAccepted && rep.vbal == default && rep.unchanged
            })
            .collect();
        let others = replies.iter().filter(|(r, _)| *r != instance.leader).count();
        let threshold = (fast_quorum - 1 + others).saturating_sub(n - 1).max(1);
        if highest == Some(default) && !leader_replied && unchanged.len() >= threshold {
            let (value, attrs) = (unchanged[0].1.value.clone(), unchanged[0].1.attrs.clone());
            let holders: Votes = {
                let mut v = Votes::new();
                unchanged.iter().for_each(|(r, _)| {
                    v.add(*r);
                });
                v
            };
            let repliers: ReplicaSet = replies.iter().map(|(r, _)| *r).collect();
            let mut possible: ReplicaSet = (0..n).filter(|r| !repliers.contains(*r)).collect();
            possible.insert(instance.leader);
            holders.voters().iter().for_each(|r| {
                possible.insert(r);
            });
            self.recoveries.tried += 1;
            return self.start_try_pre_accept(instance, ballot, value, attrs, holders, possible, now, out);
        }
        // 4. Not committed on the fast path: phase 1 again with what is known.
        let value = reports
            .iter()
            .filter(|(_, r)| Some(r.vbal) == highest)
            .find_map(|(_, r)| r.value.clone());
        self.restart_phase1(instance, ballot, value, now, out);
    }

    /// Phase 1 in a recovery ballot: fresh attributes from this replica's
    /// conflicts (and what it held), then the slow path.
    fn restart_phase1(
        &mut self,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        self.recoveries.phase1 += 1;
        let mut attrs = self.conflicts.attributes(command_of(&value));
        if let Some(held) = self
            .instances
            .get(&instance)
            .and_then(|s| s.attrs.clone())
            .filter(|_| value.is_some())
        {
            attrs = attrs.merge(&held);
        }
        self.start_pre_accept(instance, ballot, value, attrs, now, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn start_try_pre_accept(
        &mut self,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        holders: Votes,
        possible: ReplicaSet,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let s = self.instance(instance, now);
        s.coordinating = Some(Coordination::Trying {
            ballot,
            value: value.clone(),
            attrs: attrs.clone(),
            holders,
            possible,
            sent: now,
        });
        out.broadcast(Message::TryPreAccept {
            instance,
            ballot,
            value: value.clone(),
            attrs: attrs.clone(),
        });
        let id = self.id;
        self.on_try_pre_accept(id, instance, ballot, value, attrs, now, out);
    }

    pub(super) fn on_try_pre_accept(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let s = self.instance(instance, now);
        if ballot < s.bal {
            let promised = s.bal;
            return self.send(
                from,
                Message::Nack {
                    instance,
                    ballot: promised,
                },
                now,
                out,
            );
        }
        s.bal = ballot;
        let default = instance.default_ballot();
        let outcome = match s.report() {
            Some(r) if r.status >= Status::Accepted => TryOutcome::Further(r),
            Some(r) if r.vbal > default => TryOutcome::NotFast,
            Some(r) if r.attrs == attrs && r.value == value => TryOutcome::Ok,
            _ => match self.blocking_conflict(instance, &value, &attrs) {
                Some((with, decided)) => {
                    let original = self
                        .instances
                        .get(&with)
                        .is_some_and(|w| w.vbal == with.default_ballot());
                    TryOutcome::Conflict {
                        with,
                        decided,
                        original,
                    }
                }
                None => {
                    self.hold(instance, Status::PreAccepted, default, value, attrs, true, now);
                    TryOutcome::Ok
                }
            },
        };
        self.record(instance, out);
        self.send(
            from,
            Message::TryPreAcceptReply {
                instance,
                ballot,
                outcome,
            },
            now,
            out,
        );
    }

    /// An instance held here that conflicts with `value`, is not in `attrs`
    /// and does not depend on `instance`: it could commit without `instance`
    /// ordered against it. Accepted or committed ones are named first.
    fn blocking_conflict(&self, instance: InstanceId, value: &Value, attrs: &Attributes) -> Option<(InstanceId, bool)> {
        let command = command_of(value);
        let mut found: Option<(InstanceId, bool)> = None;
        for (other, s) in self.instances.iter() {
            if other == instance || s.status == crate::epaxos::instance::Status::None {
                continue;
            }
            let Some(their) = &s.attrs else { continue };
            if !command_of(&s.value).conflicts_with(command) || attrs.covers(other) || their.covers(instance) {
                continue;
            }
            // The lowest such instance, decided ones first (the instances
            // are not held in order).
            let decided = s.status >= Status::Accepted;
            let rank = |(at, decided): (InstanceId, bool)| (decided, std::cmp::Reverse(at));
            if found.is_none_or(|f| rank((other, decided)) > rank(f)) {
                found = Some((other, decided));
            }
        }
        found
    }

    pub(super) fn on_try_pre_accept_reply(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        outcome: TryOutcome,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let (majority, fast_quorum) = (self.quorums.majority(), self.fast_quorum);
        let Some(s) = self.instances.get_mut(&instance) else {
            return;
        };
        let Some(Coordination::Trying {
            ballot: b,
            value,
            attrs,
            holders,
            possible,
            ..
        }) = &mut s.coordinating
        else {
            return;
        };
        if *b != ballot || s.bal != ballot {
            return;
        }
        let (value, attrs) = (value.clone(), attrs.clone());
        match outcome {
            TryOutcome::Ok => {
                holders.add(from);
                if holders.reached(majority) {
                    self.recoveries.tried_then_accepted += 1;
                    self.start_accept(instance, ballot, value, attrs, now, out);
                }
            }
            TryOutcome::Further(report) if report.status == Status::Committed => {
                self.send_all_commit(instance, report.value, report.attrs, false, now, out);
            }
            TryOutcome::Further(report) => self.start_accept(instance, ballot, report.value, report.attrs, now, out),
            TryOutcome::NotFast => self.restart_phase1(instance, ballot, value, now, out),
            TryOutcome::Conflict { decided: true, .. } => {
                self.recoveries.conflict_decided += 1;
                self.restart_phase1(instance, ballot, value, now, out)
            }
            TryOutcome::Conflict {
                with,
                decided: false,
                original,
            } => {
                self.recoveries.conflict_pending += 1;
                possible.remove(from);
                // `with`'s leader pre-accepted it without this instance, so
                // it is not in this instance's fast quorum (it would have
                // added `with` to the attributes) — known only when what
                // the replier holds of `with` is that leader's proposal: a
                // recovery's phase 1 may have given `with` other attributes.
                if original {
                    possible.remove(with.leader);
                }
                if possible.len() < fast_quorum {
                    self.restart_phase1(instance, ballot, value, now, out);
                }
                // Otherwise wait: the retry timeout starts a new recovery,
                // by when the conflicting instance has usually moved on.
            }
        }
    }
}
