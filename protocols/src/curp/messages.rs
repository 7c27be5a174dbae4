//! CURP's messages: N2Paxos's for ordering, plus witness and master answers.

use crate::ballot::Ballot;
use crate::command::{Command, CommandResult};
use crate::ids::CommandId;
use crate::paxos;

/// Every message of CURP.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// N2Paxos, which orders commands; clients send `Request` to every
    /// replica and get the master's final `Reply` after execution.
    Paxos(paxos::Message),
    /// Witness → client: `id` is recorded here; `ballot` is the witness's.
    Recorded { ballot: Ballot, id: CommandId },
    /// Master → client: the speculative result of `id`, proposed in `ballot`.
    /// `commutes`: the master held nothing unsynced that `id` conflicts
    /// with, so witness records alone make it durable (the fast path);
    /// otherwise its result depends on commands sharing its slot, and only a
    /// majority that accepted that slot completes it.
    SpecReply {
        ballot: Ballot,
        id: CommandId,
        result: CommandResult,
        commutes: bool,
    },
    /// Acceptor → client: it accepted the slot holding `id` in `ballot`.
    Ordered { ballot: Ballot, id: CommandId },
    /// New master → witnesses: what do you hold unsynced?
    WitnessQuery { ballot: Ballot },
    /// Witness → new master: the commands it holds, sent only once it has
    /// promised `ballot`, so nothing it records later can pair with an
    /// older master's answer.
    WitnessReport {
        ballot: Ballot,
        records: Vec<(CommandId, Command)>,
    },
}
