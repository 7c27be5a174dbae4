//! The normal case: a command leader pre-accepts its command at every
//! replica; a fast quorum of unchanged replies commits it (fast path,
//! client → leader → fast quorum → leader → client), otherwise the merged
//! attributes go through a Paxos accept at a majority (slow path).

use super::{Coordination, EPaxosReplica};
use crate::ballot::Ballot;
use crate::command::Command;
use crate::epaxos::instance::{command_of, Attributes, InstanceId, Status, Value};
use crate::epaxos::messages::{Message, Step};
use crate::ids::{CommandId, ReplicaId};
use crate::protocol::Outbox;
use crate::quorum::Votes;
use crate::time::Time;

impl EPaxosReplica {
    /// A client's command: this replica leads it in the next instance of its row.
    pub(super) fn on_request(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        if let Some(result) = self.state.result_of(id) {
            return out.send_client(
                id.client,
                Message::Reply {
                    id,
                    result: result.clone(),
                    fast: false,
                },
            );
        }
        if self.state.has_executed(id) {
            return; // finished long ago: its client has the answer and its result is gone
        }
        self.reply_to.insert(id);
        if self.leading.contains_key(&id) {
            return;
        }
        let instance = InstanceId {
            leader: self.id,
            slot: self.next_slot,
        };
        self.next_slot += 1;
        self.leading.insert(id, instance);
        let attrs = self.conflicts.attributes(&command);
        self.start_pre_accept(
            instance,
            instance.default_ballot(),
            Some((id, command)),
            attrs,
            now,
            out,
        );
    }

    /// Phase 1 in `ballot`: the command leader's first attempt (default
    /// ballot, fast path possible) or a recovery's (slow path only).
    pub(super) fn start_pre_accept(
        &mut self,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let fast_possible = ballot == instance.default_ballot();
        self.hold(
            instance,
            Status::PreAccepted,
            ballot,
            value.clone(),
            attrs.clone(),
            fast_possible,
            now,
        );
        let mut replies = Votes::new();
        replies.add(self.id);
        let mut unchanged = Votes::new();
        if fast_possible {
            unchanged.add(self.id);
        }
        let s = self.instance(instance, now);
        s.bal = ballot;
        s.coordinating = Some(Coordination::PreAccepting {
            ballot,
            original: attrs.clone(),
            merged: attrs.clone(),
            replies,
            unchanged,
            sent: now,
        });
        self.record(instance, out);
        self.steps.broadcast(Step::PreAccept {
            instance,
            ballot,
            value,
            attrs,
        });
        self.check_pre_accepts(instance, now, out);
    }

    /// An acceptor's first step on a coordinator's message in `ballot`:
    /// refuse an old ballot, answer a decided instance with its commit,
    /// otherwise promise `ballot` and go on.
    fn admit(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        now: Time,
        out: &mut Outbox<Message>,
    ) -> bool {
        let s = self.instance(instance, now);
        if ballot < s.bal {
            out.send_replica(
                from,
                Message::Nack {
                    instance,
                    ballot: s.bal,
                },
            );
            return false;
        }
        s.bal = ballot;
        if s.status == Status::Committed {
            self.on_fetch(from, instance, out);
            return false;
        }
        true
    }

    pub(super) fn on_pre_accept(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if !self.admit(from, instance, ballot, now, out) {
            return;
        }
        let s = self.instance(instance, now);
        if s.status >= Status::PreAccepted && s.vbal == ballot && s.value == value {
            // A retransmission: the same answer again.
            if let Some(held) = s.attrs.clone() {
                let unchanged = s.unchanged;
                return self.steps.send(
                    from,
                    Step::PreAcceptOk {
                        instance,
                        ballot,
                        attrs: held,
                        unchanged,
                    },
                );
            }
        }
        let local = self.conflicts.attributes(command_of(&value));
        let merged = attrs.merge(&local);
        let unchanged = ballot == instance.default_ballot() && merged == attrs;
        self.hold(
            instance,
            Status::PreAccepted,
            ballot,
            value,
            merged.clone(),
            unchanged,
            now,
        );
        self.record(instance, out);
        self.steps.send(
            from,
            Step::PreAcceptOk {
                instance,
                ballot,
                attrs: merged,
                unchanged,
            },
        );
    }

    pub(super) fn on_pre_accept_ok(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        attrs: Attributes,
        unchanged: bool,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let Some(s) = self.instances.get_mut(&instance) else {
            return;
        };
        if s.bal != ballot {
            return;
        }
        let Some(Coordination::PreAccepting {
            ballot: b,
            original,
            merged,
            replies,
            unchanged: same,
            ..
        }) = &mut s.coordinating
        else {
            return;
        };
        if *b != ballot || !replies.add(from) {
            return;
        }
        if unchanged && attrs == *original && ballot == instance.default_ballot() {
            same.add(from);
        }
        *merged = merged.merge(&attrs);
        self.check_pre_accepts(instance, now, out);
    }

    /// Fast path: a fast quorum, leader included, with the leader's
    /// attributes unchanged, in the default ballot. Slow path: a majority
    /// once a fast quorum of unchanged replies is out of reach (or overdue,
    /// see `tick_instance`).
    pub(super) fn check_pre_accepts(&mut self, instance: InstanceId, now: Time, out: &mut Outbox<Message>) {
        let (n, fast_quorum, majority) = (self.n(), self.fast_quorum, self.quorums.majority());
        let Some(s) = self.instances.get(&instance) else { return };
        let Some(Coordination::PreAccepting {
            ballot,
            original,
            merged,
            replies,
            unchanged,
            ..
        }) = &s.coordinating
        else {
            return;
        };
        let value = s.value.clone();
        let changed = replies.count() - unchanged.count();
        if unchanged.count() >= fast_quorum {
            let attrs = original.clone();
            self.send_all_commit(instance, value, attrs, true, now, out);
        } else if replies.count() >= majority && changed > n - fast_quorum {
            let (ballot, attrs) = (*ballot, merged.clone());
            self.start_accept(instance, ballot, value, attrs, now, out);
        }
    }

    /// Phase 2 in `ballot`.
    pub(super) fn start_accept(
        &mut self,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        self.hold(
            instance,
            Status::Accepted,
            ballot,
            value.clone(),
            attrs.clone(),
            false,
            now,
        );
        let mut votes = Votes::new();
        votes.add(self.id);
        let s = self.instance(instance, now);
        s.bal = ballot;
        s.coordinating = Some(Coordination::Accepting {
            ballot,
            votes,
            sent: now,
        });
        self.record(instance, out);
        self.steps.broadcast(Step::Accept {
            instance,
            ballot,
            value,
            attrs,
        });
        self.check_accepts(instance, now, out);
    }

    pub(super) fn on_accept(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if !self.admit(from, instance, ballot, now, out) {
            return;
        }
        self.hold(instance, Status::Accepted, ballot, value, attrs, false, now);
        self.record(instance, out);
        self.steps.send(from, Step::AcceptOk { instance, ballot });
    }

    pub(super) fn on_accept_ok(
        &mut self,
        from: ReplicaId,
        instance: InstanceId,
        ballot: Ballot,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let Some(s) = self.instances.get_mut(&instance) else {
            return;
        };
        let Some(Coordination::Accepting { ballot: b, votes, .. }) = &mut s.coordinating else {
            return;
        };
        if *b != ballot || s.bal != ballot {
            return;
        }
        votes.add(from);
        self.check_accepts(instance, now, out);
    }

    fn check_accepts(&mut self, instance: InstanceId, now: Time, out: &mut Outbox<Message>) {
        let Some(s) = self.instances.get(&instance) else { return };
        let Some(Coordination::Accepting { votes, .. }) = &s.coordinating else {
            return;
        };
        if votes.reached(self.quorums.majority()) {
            let (value, attrs) = (s.value.clone(), s.attrs.clone().expect("accepted attributes"));
            self.send_all_commit(instance, value, attrs, false, now, out);
        }
    }

    /// Commits here and tells everyone.
    pub(super) fn send_all_commit(
        &mut self,
        instance: InstanceId,
        value: Value,
        attrs: Attributes,
        fast: bool,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        self.steps.broadcast(Step::Commit {
            instance,
            value: value.clone(),
            attrs: attrs.clone(),
        });
        self.commit(instance, value, attrs, fast, now, out);
    }
}
