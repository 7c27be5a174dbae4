//! N2Paxos: all-to-all Multi-Paxos.
//!
//! The same replica as [`crate::paxos`] with one difference: acceptors send
//! `Accepted` to every replica, not only the leader, so each replica learns
//! a decision from a majority itself instead of waiting for the leader's
//! `Commit`. Clients send to the leader and ask their closest replica to
//! answer too (the original runs N2Paxos with `waitClosest`), so a client
//! next to a replica hears the decision one message delay sooner.
//! Leader change, catch-up and everything else is Multi-Paxos's.

use crate::client::LeaderClient;
use crate::ids::{NodeId, ReplicaId};
use crate::paxos::{Message, PaxosReplica};
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox, Protocol, ReplicaConfig, ReplicaProtocol};
use crate::rejoin::RejoinPoint;
use crate::time::Time;
use crate::{Command, CommandId};

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

/// The leader-based client, always waiting for its closest replica too.
#[derive(Debug)]
pub struct N2PaxosClient(LeaderClient<Message>);

impl ClientProtocol for N2PaxosClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        N2PaxosClient(LeaderClient::new(ClientConfig {
            wait_closest: true,
            ..config
        }))
    }
    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        self.0.submit(id, command, now, out)
    }
    fn handle(&mut self, from: ReplicaId, msg: Message, now: Time, out: &mut Outbox<Message>) -> Option<Completion> {
        self.0.handle(from, msg, now, out)
    }
    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.0.tick(now, out)
    }
}

/// N2Paxos, as a [`Protocol`] the hosts can run.
pub struct N2Paxos;

impl Protocol for N2Paxos {
    type Message = Message;
    type Replica = N2PaxosReplica;
    type Client = N2PaxosClient;
    const NAME: &'static str = "n2paxos";
}
