//! The N2Paxos client: the leader-based client with `waitClosest` on.

use crate::ids::ReplicaId;
use crate::leader_client::LeaderClient;
use crate::paxos::Message;
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::time::Time;
use crate::{Command, CommandId};

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
