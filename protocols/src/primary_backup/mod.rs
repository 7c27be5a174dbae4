//! Primary-backup: the guide's example protocol (`docs/adding-a-protocol.md`).
//!
//! Replica 0 is the primary. A client sends its command to it; the primary
//! gives the command the next slot and sends it to every backup (`Backup`);
//! each backup executes in slot order and acknowledges (`BackupAck`); once
//! every backup holds the command, the primary executes it and replies.
//! Four message delays, n - 1 acknowledgements, and no view change: when a
//! replica stops, so does the protocol. It exists to show the shape every
//! protocol here takes (messages, client, replica, the `Protocol` impl) and
//! runs under the name `example-primary-backup`, which `all` leaves out.

mod messages;
mod replica;

pub use messages::Message;
pub use replica::PrimaryBackupReplica;

use crate::leader_client::LeaderClient;
use crate::protocol::Protocol;

/// Primary-backup, as a [`Protocol`] the hosts can run. Its client is the
/// leader-based one: it sends to the primary and, on a timeout, to every
/// replica (backups forward to the primary).
pub struct PrimaryBackup;

impl Protocol for PrimaryBackup {
    type Message = Message;
    type Replica = PrimaryBackupReplica;
    type Client = LeaderClient<Message>;
    const NAME: &'static str = "example-primary-backup";
}
