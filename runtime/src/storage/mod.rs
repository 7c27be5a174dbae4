//! What a durable replica keeps on disk, and how it decides whether to
//! believe it: written once, pure (no I/O), and used by both hosts — the
//! live write-ahead log ([`crate::live::wal`]) and the simulator's disk —
//! so the simulator's storage faults exercise the very code that reads a
//! real log back.
//!
//! A log is a [file header](format::FileHeader) and then entries, each a
//! checksum, a sequence number, the *synced frontier* at the time it was
//! written, and one wire frame of records. Reading it back
//! ([`format::scan`]) ends in one of three ways:
//!
//! * **Intact**: every entry checks and follows its predecessor.
//! * **A torn tail**: what a crash leaves. The first bad entry was not yet
//!   known synced when anything intact after it was written, so it may
//!   simply not have reached the disk: it is cut, with whatever follows.
//!   Nothing it held was ever acted on (persist, then send).
//! * **A storage fault** ([`format::StorageFault`]): a bad entry that a
//!   later intact entry proves was synced, an intact entry out of
//!   sequence (missing or misplaced), a bad header, or any bad entry of a
//!   compaction's snapshot (synced whole before it replaced the log). The
//!   replica must not vote on what is left: its host rejoins it from the
//!   others ([`protocols::rejoin`]) and rewrites its log from the snapshot
//!   it receives.
//!
//! The one case no single log can tell apart: a byte flipped in the
//! newest synced batch, before any later entry vouches for it, reads as a
//! torn tail (docs/storage.md, "Crash and restart").

pub mod format;
