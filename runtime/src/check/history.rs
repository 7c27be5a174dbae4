//! What clients saw: each command with when it was invoked and answered.

use protocols::{Command, CommandId, CommandResult, Time};
use std::collections::HashMap;

/// One client command as its client saw it.
#[derive(Clone, Debug)]
pub struct Operation {
    /// Its id.
    pub id: CommandId,
    /// What was asked.
    pub command: Command,
    /// When the client submitted it.
    pub invoked: Time,
    /// When and with what it completed; `None` if it never did.
    pub completed: Option<(Time, CommandResult)>,
}

/// The client-side history of a run.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Every submitted command, in submission order.
    pub ops: Vec<Operation>,
}

impl History {
    /// The commands by id, for checks that start from replica logs.
    pub fn by_id(&self) -> HashMap<CommandId, &Operation> {
        self.ops.iter().map(|op| (op.id, op)).collect()
    }
}
