//! Primary-backup messages: a request, the primary's copy to each backup,
//! the backup's acknowledgement, and the reply.

use crate::command::{Command, CommandResult};
use crate::ids::CommandId;

/// A position in the primary's order.
pub type Slot = u64;

/// Every message of the example protocol.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// Client → primary (a backup forwards it): please execute `command`.
    Request { id: CommandId, command: Command },
    /// Primary → every backup: `command` is the `slot`-th.
    Backup {
        slot: Slot,
        id: CommandId,
        command: Command,
    },
    /// Backup → primary: I hold slot `slot` and everything before it.
    BackupAck { slot: Slot },
    /// Primary → client: `id` was executed with `result`.
    Reply { id: CommandId, result: CommandResult },
}

impl crate::leader_client::LeaderMessages for Message {
    fn request(id: CommandId, command: Command) -> Self {
        Message::Request { id, command }
    }
    fn into_reply(self) -> Option<(CommandId, CommandResult)> {
        match self {
            Message::Reply { id, result } => Some((id, result)),
            _ => None,
        }
    }
}
