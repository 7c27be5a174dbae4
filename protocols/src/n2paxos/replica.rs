//! The N2Paxos replica: Multi-Paxos's, with acceptors answering everyone.

use crate::ids::{NodeId, ReplicaId};
use crate::paxos::{Message, PaxosReplica};
use crate::protocol::{Outbox, ReplicaConfig, ReplicaProtocol};
use crate::rejoin::RejoinPoint;
use crate::time::Time;

/// A Multi-Paxos replica in all-to-all mode.
#[derive(Debug)]
pub struct N2PaxosReplica(PaxosReplica);

impl ReplicaProtocol for N2PaxosReplica {
    type Message = Message;

    const DURABLE: bool = <PaxosReplica as ReplicaProtocol>::DURABLE;

    fn new(config: ReplicaConfig) -> Self {
        N2PaxosReplica(PaxosReplica::with_learning(config, true))
    }
    fn restore(&mut self, record: Message, out: &mut Outbox<Message>) {
        self.0.restore(record, out)
    }
    fn snapshot(&self) -> Vec<Message> {
        self.0.snapshot()
    }
    const REJOINS: bool = true;
    fn rejoin_point(&self) -> RejoinPoint {
        self.0.rejoin_point()
    }
    fn covers(&self, point: &RejoinPoint) -> bool {
        self.0.covers(point)
    }
    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        self.0.handle(from, msg, now, out)
    }
    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.0.tick(now, out)
    }
    fn flush(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.0.flush(now, out)
    }
    fn leader(&self) -> Option<ReplicaId> {
        self.0.leader()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}
