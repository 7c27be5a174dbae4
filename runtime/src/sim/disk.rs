//! A replica's simulated stable storage, with [`super::Restarts::Durable`]:
//! the live write-ahead log's very bytes ([`crate::storage::format`]), so a
//! restart judges them with the code a real server runs.
//!
//! Besides losing what was not synced at a crash, a disk that lies
//! (`--disk-faults`) tears the unsynced tail instead (any prefix of it
//! reaches the platter, with pages missing), and may be damaged while its
//! replica is down: bytes flipped in synced entries or the snapshot.

use crate::storage::format::{self, FileHeader, LogWriter, StorageFault};
use crate::wire::Wire;
use protocols::{CommandId, NodeId};
use rand::Rng;

/// A page of the simulated disk: a torn write keeps or loses whole pages.
const PAGE: usize = 4096;

/// What a restart found on its disk.
pub(super) struct Replay<M> {
    /// The records to rebuild from, oldest first.
    pub records: Vec<M>,
    /// Bytes of a torn tail that were cut.
    pub torn_bytes: usize,
}

/// One replica's disk.
pub(super) struct Disk<M> {
    /// The log file as it is on the platter: synced entries, and after a
    /// crash whatever a torn write left.
    bytes: Vec<u8>,
    writer: LogWriter,
    /// Written, not yet synced.
    pub unsynced: Vec<M>,
    /// Messages queued after an unsynced record, in order: they leave when
    /// the sync completes, or never if the replica crashes first.
    pub held: Vec<(NodeId, M)>,
    /// Whether a sync is under way.
    pub syncing: bool,
    /// What the replica had applied when its records were last compacted
    /// into a snapshot: the snapshot's state holds exactly these.
    pub applied_at_snapshot: Vec<CommandId>,
    /// Records synced since the log was last compacted.
    pub records_since_compaction: usize,
    /// Below this byte every entry is vouched for (by the snapshot header
    /// or a later entry's synced frontier), so damage there is found.
    vouched_end: usize,
    /// Damaged since its replica last started: found at the next start.
    pub damaged: bool,
}

impl<M> Default for Disk<M> {
    fn default() -> Self {
        Disk {
            bytes: Vec::new(),
            writer: LogWriter::new(0),
            unsynced: Vec::new(),
            held: Vec::new(),
            syncing: false,
            applied_at_snapshot: Vec::new(),
            records_since_compaction: 0,
            vouched_end: 0,
            damaged: false,
        }
    }
}

impl<M: Wire> Disk<M> {
    /// The group sync completed: what was written is on the platter.
    pub fn sync(&mut self) {
        let records = std::mem::take(&mut self.unsynced);
        if records.is_empty() {
            return;
        }
        if self.bytes.is_empty() {
            self.bytes.extend_from_slice(&FileHeader::default().to_bytes());
        }
        // The new entries carry the frontier: they vouch for all before.
        self.vouched_end = self.bytes.len();
        self.records_since_compaction += records.len();
        self.writer
            .append(records, &mut self.bytes)
            .expect("simulated records fit a frame");
        self.writer.synced();
    }

    /// Replaces the log with `snapshot` (compaction, or a rejoined
    /// replica's new log), the whole file synced before it counts.
    pub fn replace(&mut self, snapshot: Vec<M>, applied: Vec<CommandId>) {
        let (bytes, writer) =
            format::snapshot_file(self.writer.next_seq(), snapshot).expect("simulated records fit a frame");
        self.vouched_end = bytes.len();
        self.bytes = bytes;
        self.writer = writer;
        self.records_since_compaction = 0;
        self.applied_at_snapshot = applied;
        self.damaged = false;
    }

    /// The replica crashed: held messages never leave, and what was not
    /// synced is lost — or, with `tear`, torn: a prefix of its entries
    /// reaches the platter, some of its pages missing (zeros).
    pub fn crash(&mut self, tear: Option<&mut dyn rand::RngCore>) {
        self.held.clear();
        self.syncing = false;
        let records = std::mem::take(&mut self.unsynced);
        let Some(rng) = tear else { return };
        if records.is_empty() {
            return;
        }
        if self.bytes.is_empty() {
            self.bytes.extend_from_slice(&FileHeader::default().to_bytes());
        }
        let base = self.bytes.len();
        let mut written = Vec::new();
        self.writer
            .clone()
            .append(records, &mut written)
            .expect("simulated records fit a frame");
        let kept = rng.gen_range(0..=written.len());
        written.truncate(kept);
        let mut page_start = base - base % PAGE;
        while page_start < base + kept {
            if rng.gen_bool(0.25) {
                let (from, to) = (page_start.max(base) - base, (page_start + PAGE).min(base + kept) - base);
                written[from..to].fill(0);
            }
            page_start += PAGE;
        }
        self.bytes.extend_from_slice(&written);
    }

    /// Flips `flips` bytes of what is vouched for (synced entries a later
    /// entry vouches for, the snapshot, the header): damage a restart must
    /// find. Whether there was anything to damage.
    pub fn damage(&mut self, rng: &mut impl Rng, flips: usize) -> bool {
        if self.vouched_end == 0 {
            return false;
        }
        for _ in 0..flips {
            let at = rng.gen_range(0..self.vouched_end);
            self.bytes[at] ^= 1 << rng.gen_range(0..8);
        }
        self.damaged = true;
        true
    }

    /// Reads the log back at a restart, as the live host does: a torn tail
    /// is cut, and a storage fault is returned (the disk left as it is).
    pub fn read(&mut self) -> Result<Replay<M>, StorageFault> {
        let scan = format::scan(&self.bytes)?;
        let mut records = Vec::new();
        format::decode_records(&self.bytes, &scan.frames, |m| records.push(m))
            .expect("a simulated log holds this protocol's records");
        let torn_bytes = self.bytes.len() - scan.intact_end;
        self.bytes.truncate(scan.intact_end);
        self.vouched_end = self.vouched_end.min(scan.intact_end);
        self.writer = LogWriter::new(scan.next_seq);
        self.damaged = false;
        Ok(Replay { records, torn_bytes })
    }

    /// What a host that believed a faulty log would replay: the intact
    /// entries before the fault, the rest cut (a planted bug's view).
    pub fn cut_at(&mut self, fault: &StorageFault) -> Vec<M> {
        let mut records = Vec::new();
        format::decode_records(&self.bytes, &fault.intact_before, |m| records.push(m))
            .expect("a simulated log holds this protocol's records");
        let next_seq =
            format::FileHeader::parse(&self.bytes).map_or(0, |h| h.first_seq) + fault.intact_before.len() as u64;
        self.bytes.truncate(fault.offset);
        self.vouched_end = self.vouched_end.min(fault.offset);
        self.writer = LogWriter::new(next_seq);
        self.damaged = false;
        records
    }
}
