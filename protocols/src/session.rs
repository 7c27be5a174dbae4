//! Exactly-once execution: the KV store plus, per client, the results of its
//! recent commands.
//!
//! Clients retry after timeouts and leaders change, so one command can reach
//! the log (or the dependency graph) more than once. Every replica applies
//! commands through [`StateMachine::apply`], which executes a command the first
//! time and afterwards hands back the stored result, so a retry is answered
//! without being applied twice.

use crate::command::{Command, CommandResult, Key};
use crate::ids::{ClientId, CommandId};
use crate::kv::KvStore;
use bytes::Bytes;
use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;

/// How many commands a client has in flight at most: one. Every host's
/// logical client waits for a command's answer before it sends the next,
/// and numbers its commands 1, 2, 3… without gaps (per shard). So once a
/// replica executed command `s`, the client finished everything before
/// `s + 1 - CLIENT_WINDOW` and will never retry it: its result can go.
pub const CLIENT_WINDOW: u64 = 1;

/// The most results a replica holds for one client, however it numbers its
/// commands: a client that breaks the contract above (gaps, several in
/// flight) loses its oldest results past this, not the replica its memory.
pub const SESSION_LIMIT: usize = 1024;

/// The outcome of [`StateMachine::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// First execution of the command: its result, which changed the store.
    Fresh(CommandResult),
    /// A duplicate whose result is still remembered; the store is unchanged.
    Duplicate(CommandResult),
    /// A duplicate too old to remember; the client stopped waiting long ago.
    Forgotten,
}

impl Applied {
    /// The result to send the client, if there is one to send.
    pub fn result(&self) -> Option<&CommandResult> {
        match self {
            Applied::Fresh(r) | Applied::Duplicate(r) => Some(r),
            Applied::Forgotten => None,
        }
    }
}

/// A part of a state machine's image: some keys of the store and some
/// client sessions. A snapshot is a sequence of these, each small enough
/// for one frame, so it can be logged and sent however large the state.
#[derive(Clone, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct StateChunk {
    /// Keys and their values.
    pub store: Vec<(Key, Bytes)>,
    /// Client sessions, whole.
    pub sessions: Vec<SessionImage>,
    /// How many commands the state machine had applied, in its whole life,
    /// when the image was taken (the same in every chunk): a simulator
    /// knows from it which of the donor's executions a state transfer
    /// stands for.
    pub applied: u64,
}

/// One client's session in a [`StateChunk`].
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SessionImage {
    /// The client.
    pub client: ClientId,
    /// Results below this sequence number are forgotten.
    pub forgotten_below: u64,
    /// Every command numbered below this executed.
    pub executed_below: u64,
    /// The remembered results.
    pub results: Vec<(u64, CommandResult)>,
}

/// One client's session: the results it may still ask for.
#[derive(Debug, Clone)]
struct ClientSession {
    /// Results by sequence number, ascending: usually one or two (the
    /// client's command in flight, and one that executed out of order).
    /// Inline up to one: each command looks its client's session up two
    /// or three times at every replica, and a separate buffer per client
    /// made each of those a second cache miss.
    results: SmallVec<[(u64, CommandResult); 1]>,
    /// Every command numbered below this executed here and its result is
    /// gone; a retry of one is [`Applied::Forgotten`].
    forgotten_below: u64,
    /// Every command of the client numbered below this executed here
    /// (sequence numbers start at 1).
    executed_below: u64,
}

impl Default for ClientSession {
    fn default() -> Self {
        ClientSession {
            results: SmallVec::new(),
            forgotten_below: 0,
            executed_below: 1,
        }
    }
}

impl ClientSession {
    fn result(&self, seq: u64) -> Option<&CommandResult> {
        // Newest first: a retry asks for the latest command.
        self.results.iter().rev().find(|(s, _)| *s == seq).map(|(_, r)| r)
    }

    fn executed(&self, seq: u64) -> bool {
        seq < self.executed_below || seq < self.forgotten_below || self.result(seq).is_some()
    }

    /// Records `seq`'s result. What the client finished and this replica
    /// executed is forgotten before the result goes in, so that a client's
    /// one result stays inline: inserting first made two for a moment and
    /// spilled every session to the heap, and each apply then touched a
    /// separate buffer (a `memmove` in it was 2% of the main job).
    fn insert(&mut self, seq: u64, result: CommandResult) {
        while self.executed_below == seq || self.results.iter().any(|(s, _)| *s == self.executed_below) {
            self.executed_below += 1;
        }
        let newest = self.results.last().map_or(seq, |(s, _)| (*s).max(seq));
        let finished_below = (newest + 1).saturating_sub(CLIENT_WINDOW);
        self.forget_below(finished_below.min(self.executed_below));
        if seq < self.forgotten_below {
            return;
        }
        let at = self.results.iter().rposition(|(s, _)| *s < seq).map_or(0, |i| i + 1);
        self.results.insert(at, (seq, result));
        while self.results.len() > SESSION_LIMIT {
            let (oldest, _) = self.results.remove(0);
            self.forgotten_below = self.forgotten_below.max(oldest + 1);
        }
    }

    fn forget_below(&mut self, below: u64) {
        self.forgotten_below = self.forgotten_below.max(below);
        let gone = self
            .results
            .iter()
            .take_while(|(s, _)| *s < self.forgotten_below)
            .count();
        self.results.drain(..gone);
    }
}

/// The replicated state machine as replicas see it: the store and the client sessions.
#[derive(Debug, Default, Clone)]
pub struct StateMachine {
    store: KvStore,
    sessions: HashMap<ClientId, ClientSession>,
    /// Commands applied for the first time, in the life of this state
    /// (carried through snapshots).
    applied: u64,
}

impl StateMachine {
    /// A state machine with an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks up the store's slot for `command`'s key (see [`KvStore::warm`]).
    pub fn warm(&self, command: &Command) {
        self.store.warm(command);
    }

    /// Executes `command` once per `id`; see [`Applied`].
    pub fn apply(&mut self, id: CommandId, command: &Command) -> Applied {
        let session = self.sessions.entry(id.client).or_default();
        if id.seq < session.forgotten_below {
            return Applied::Forgotten;
        }
        if let Some(result) = session.result(id.seq) {
            return Applied::Duplicate(result.clone());
        }
        let result = self.store.execute(command);
        session.insert(id.seq, result.clone());
        self.applied += 1;
        Applied::Fresh(result)
    }

    /// Whether `id` was executed here and its result is still known (the
    /// client may still ask for it).
    pub fn result_of(&self, id: CommandId) -> Option<&CommandResult> {
        self.sessions.get(&id.client)?.result(id.seq)
    }

    /// Whether `id` was executed here, whether or not its result is still
    /// held: what "was this applied?" must ask, since results of finished
    /// commands are dropped at once.
    pub fn has_executed(&self, id: CommandId) -> bool {
        self.sessions.get(&id.client).is_some_and(|s| s.executed(id.seq))
    }

    /// Per client, the number below which all its commands executed here:
    /// what a replica reports so that commands executed everywhere can be
    /// released ([`crate::gc`]).
    pub fn executed_prefixes(&self) -> Vec<(ClientId, u64)> {
        let mut v: Vec<(ClientId, u64)> = self.sessions.iter().map(|(c, s)| (*c, s.executed_below)).collect();
        v.sort_unstable();
        v
    }

    /// The same for one client (1 when it executed nothing here).
    pub fn executed_prefixes_of(&self, client: ClientId) -> u64 {
        self.sessions.get(&client).map_or(1, |s| s.executed_below)
    }

    /// The state as chunks of roughly `max_bytes` each (at least one, so
    /// that an empty state is still a snapshot): the store in key order,
    /// then the sessions by client.
    pub fn chunks(&self, max_bytes: usize) -> Vec<StateChunk> {
        let mut chunks = vec![StateChunk::default()];
        let mut size = 0;
        let mut room = |chunks: &mut Vec<StateChunk>, bytes: usize| {
            if size + bytes > max_bytes && size > 0 {
                chunks.push(StateChunk::default());
                size = 0;
            }
            size += bytes;
        };
        for (key, value) in self.store.iter() {
            room(&mut chunks, 16 + value.len());
            chunks
                .last_mut()
                .expect("one at least")
                .store
                .push((key, value.clone()));
        }
        let mut clients: Vec<&ClientId> = self.sessions.keys().collect();
        clients.sort_unstable();
        for client in clients {
            let s = &self.sessions[client];
            let results: Vec<(u64, CommandResult)> = s.results.iter().map(|(q, r)| (*q, r.clone())).collect();
            room(
                &mut chunks,
                32 + results.iter().map(|(_, r)| 16 + result_size(r)).sum::<usize>(),
            );
            let image = SessionImage {
                client: *client,
                forgotten_below: s.forgotten_below,
                executed_below: s.executed_below,
                results,
            };
            chunks.last_mut().expect("one at least").sessions.push(image);
        }
        for chunk in &mut chunks {
            chunk.applied = self.applied;
        }
        chunks
    }

    /// How many commands this state applied for the first time, in its
    /// whole life (snapshots included).
    pub fn applied_count(&self) -> u64 {
        self.applied
    }

    /// Adds one chunk of a snapshot to this state machine.
    pub fn absorb(&mut self, chunk: StateChunk) {
        self.applied = self.applied.max(chunk.applied);
        for (key, value) in chunk.store {
            self.store.insert(key, value);
        }
        for image in chunk.sessions {
            let session = ClientSession {
                results: image.results.into_iter().collect(),
                forgotten_below: image.forgotten_below,
                executed_below: image.executed_below,
            };
            self.sessions.insert(image.client, session);
        }
    }

    /// Read access to the store, for tests and inspection.
    pub fn store(&self) -> &KvStore {
        &self.store
    }
}

/// Roughly how many bytes a result takes in a snapshot.
fn result_size(result: &CommandResult) -> usize {
    match result {
        CommandResult::Done => 0,
        CommandResult::Value(v) => v.as_ref().map_or(0, |v| v.len()),
        CommandResult::Range(r) => r.iter().map(|(_, v)| 8 + v.len()).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn a_state_rebuilt_from_its_chunks_answers_alike() {
        let mut sm = StateMachine::new();
        for i in 0..200u64 {
            sm.apply(
                CommandId::new(i % 7, i / 7 + 1),
                &Command::Put {
                    key: i as i64,
                    value: Bytes::from(vec![b'x'; 100]),
                },
            );
        }
        let chunks = sm.chunks(4096);
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        let mut rebuilt = StateMachine::new();
        for chunk in chunks {
            rebuilt.absorb(chunk);
        }
        assert_eq!(rebuilt.executed_prefixes(), sm.executed_prefixes());
        assert_eq!(
            rebuilt.store().iter().collect::<Vec<_>>(),
            sm.store().iter().collect::<Vec<_>>()
        );
        // A retry of a client's latest command is still answered from the
        // session, not applied again; older ones are known executed.
        let latest = (0..200u64)
            .filter(|i| i % 7 == 3)
            .map(|i| i / 7 + 1)
            .max()
            .expect("client 3 ran");
        assert_eq!(
            rebuilt.apply(CommandId::new(3, latest), &Command::Noop),
            Applied::Duplicate(CommandResult::Done)
        );
        assert_eq!(rebuilt.apply(CommandId::new(3, 2), &Command::Noop), Applied::Forgotten);
        assert_eq!(
            StateMachine::new().chunks(4096).len(),
            1,
            "an empty state is one empty chunk"
        );
    }

    #[test]
    fn a_command_is_applied_once_and_its_result_remembered() {
        let mut sm = StateMachine::new();
        let id = CommandId::new(1, 1);
        let put = Command::Put {
            key: 1,
            value: Bytes::from_static(b"a"),
        };
        assert_eq!(sm.apply(id, &put), Applied::Fresh(CommandResult::Done));
        sm.apply(
            CommandId::new(2, 1),
            &Command::Put {
                key: 1,
                value: Bytes::from_static(b"b"),
            },
        );
        // A retry of the first PUT must not overwrite the second.
        assert_eq!(sm.apply(id, &put), Applied::Duplicate(CommandResult::Done));
        assert_eq!(
            sm.apply(CommandId::new(2, 2), &Command::Get { key: 1 }),
            Applied::Fresh(CommandResult::Value(Some(Bytes::from_static(b"b"))))
        );
    }

    #[test]
    fn the_executed_prefix_waits_for_gaps() {
        let mut sm = StateMachine::new();
        sm.apply(CommandId::new(4, 1), &Command::Noop);
        sm.apply(CommandId::new(4, 3), &Command::Noop);
        assert_eq!(sm.executed_prefixes(), vec![(4, 2)]);
        sm.apply(CommandId::new(4, 2), &Command::Noop);
        assert_eq!(sm.executed_prefixes(), vec![(4, 4)]);
    }

    #[test]
    fn finished_results_are_forgotten_but_never_re_executed() {
        let mut sm = StateMachine::new();
        for seq in 1..=10 {
            sm.apply(CommandId::new(9, seq), &Command::Noop);
        }
        assert_eq!(sm.apply(CommandId::new(9, 1), &Command::Noop), Applied::Forgotten);
        assert!(sm.has_executed(CommandId::new(9, 1)));
        assert!(
            sm.result_of(CommandId::new(9, 10)).is_some(),
            "the latest command may still be retried"
        );
        assert_eq!(sm.sessions[&9].results.len(), 1, "one result held per client");
        assert!(
            !sm.sessions[&9].results.spilled(),
            "and inline, not in a buffer of its own"
        );
    }

    #[test]
    fn a_result_stays_while_an_earlier_command_has_not_executed_here() {
        // The client finished 1 elsewhere (fast path) and sent 2, which
        // executed here first: 1 must still execute here, once.
        let mut sm = StateMachine::new();
        let put = |v: &'static str| Command::Put {
            key: 1,
            value: Bytes::from_static(v.as_bytes()),
        };
        assert!(matches!(sm.apply(CommandId::new(5, 2), &put("b")), Applied::Fresh(_)));
        assert!(!sm.has_executed(CommandId::new(5, 1)));
        assert!(matches!(sm.apply(CommandId::new(5, 1), &put("a")), Applied::Fresh(_)));
        assert_eq!(sm.executed_prefixes(), vec![(5, 3)]);
        assert_eq!(sm.apply(CommandId::new(5, 1), &put("a")), Applied::Forgotten);
        assert_eq!(
            sm.apply(CommandId::new(5, 2), &put("b")),
            Applied::Duplicate(CommandResult::Done)
        );
    }

    #[test]
    fn a_client_that_breaks_the_contract_is_held_to_the_limit() {
        let mut sm = StateMachine::new();
        // Every other number: the executed prefix never moves past 2.
        for seq in (2..=(2 * SESSION_LIMIT as u64 + 40)).step_by(2) {
            sm.apply(CommandId::new(7, seq), &Command::Noop);
        }
        assert!(sm.sessions[&7].results.len() <= SESSION_LIMIT);
    }
}
