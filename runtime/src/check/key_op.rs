//! One key's view of an operation: what the linearizability checker hands
//! each per-key decider ([`super::register`], [`super::wgl`]), in a module
//! of its own so that the deciders do not import their caller.

use bytes::Bytes;
use protocols::CommandId;

/// What an operation did to one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Write(Bytes),
    Read(Option<Bytes>),
}

/// One operation on one key, as the checkers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyOp {
    pub(crate) id: CommandId,
    pub(crate) invoked: u64,
    /// `u64::MAX` for a write that never completed (it may or may not have happened).
    pub(crate) responded: u64,
    pub(crate) access: Access,
}
