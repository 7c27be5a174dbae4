//! The write-ahead log of one replica shard: the records its protocol asks
//! to persist ([`protocols::protocol::Action::Persist`]), on stable storage
//! before any message that depends on them leaves.
//!
//! Group commit: the host appends every record of one loop iteration (all
//! it handled since the last flush) as one entry and syncs once, so a busy
//! replica pays one `fdatasync` per batch, never one per command.
//!
//! An entry is `crc32 (4 bytes, little-endian)` followed by one frame of
//! the wire format ([`net::frame`]: checked header with its length, then
//! the rkyv archive of the records). The checksum covers the frame, so a
//! torn tail after a crash (a length that runs past the end, or bytes that
//! do not match) is found on start, logged and cut off: what was synced
//! before it is intact, and nothing after it was ever acknowledged.
//!
//! File I/O goes through glommio's `BufferedFile` (io_uring, the executor
//! that runs the replica); see ARCHITECTURE.md for why not a DMA file.

use super::wire::{encode_within_cap, Envelope, Wire};
use glommio::io::{BufferedFile, OpenOptions};
use net::frame::{FrameReader, HEADER_LEN};
use std::io;
use std::path::{Path, PathBuf};

/// Records per entry at most; a larger group is split (each entry must fit
/// a frame, see [`net::frame::MAX_PAYLOAD`]).
const RECORDS_PER_ENTRY: usize = 1024;

/// Bytes handed to one write at most, and what a compaction buffers
/// before writing: large batches (a state image, a snapshot) never sit in
/// memory twice.
const WRITE_PIECE: usize = 1 << 20;

/// Records encoded at a time when compacting: snapshot records are up to
/// a part (1 MiB) each, so a few at a time keep the buffer near a piece.
const COMPACTION_GROUP: usize = 4;

/// What reading a log found.
#[derive(Debug)]
pub struct Recovered {
    /// Intact records, handed over oldest first.
    pub replayed: usize,
    /// Bytes cut off the end: a torn or corrupt tail (0 after a clean stop).
    pub dropped_bytes: u64,
}

/// Parses a log's bytes: the intact entries, and where they end. An entry
/// whose checksum holds but whose records do not decode is no torn tail:
/// the log was written by another protocol (or version), and cutting it
/// would destroy it, so that is an error.
pub fn parse<M: Wire>(bytes: &[u8]) -> Result<(Vec<M>, usize), String> {
    let mut records = Vec::new();
    let end = parse_each(bytes, |record| records.push(record))?;
    Ok((records, end))
}

/// [`parse`], handing each record to `each` as its entry is decoded
/// rather than collecting them: a replay then holds one entry's records
/// at a time, not a second copy of the whole log.
pub fn parse_each<M: Wire>(bytes: &[u8], mut each: impl FnMut(M)) -> Result<usize, String> {
    let mut at = 0;
    let mut reader = FrameReader::new();
    while bytes.len() - at >= 4 + HEADER_LEN {
        let crc = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let frame_start = at + 4;
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&bytes[frame_start..frame_start + HEADER_LEN]);
        let Ok(parsed) = net::frame::Header::parse(&header) else { break };
        let frame_end = frame_start + HEADER_LEN + parsed.payload_len;
        if frame_end > bytes.len() || crc32fast::hash(&bytes[frame_start..frame_end]) != crc {
            break;
        }
        reader.push(&bytes[frame_start..frame_end]);
        match M::decode(&mut reader) {
            Ok(Some(batch)) => batch.into_iter().for_each(|(_, m)| each(m)),
            Ok(None) | Err(_) => {
                return Err(format!(
                    "the entry at byte {at} is intact but holds no records of this protocol: was the log written by another protocol or version? (start with another -data-dir)"
                ))
            }
        }
        at = frame_end;
    }
    Ok(at)
}

/// Appends `records` to `out` as entries.
/// Appends `records` to `out` as entries, each under the frame cap. A
/// record that alone exceeds it is refused: what must be durable cannot be
/// dropped (protocols keep their records smaller, snapshots in chunks).
pub fn encode_entries<M: Wire>(records: Vec<M>, out: &mut Vec<u8>) -> io::Result<()> {
    let batch: Vec<Envelope<M>> = records.into_iter().map(|m| (0, m)).collect();
    let entry = |batch: &Vec<Envelope<M>>, out: &mut Vec<u8>| {
        let crc_at = out.len();
        out.extend_from_slice(&[0; 4]);
        M::encode(batch, out)?;
        let crc = crc32fast::hash(&out[crc_at + 4..]);
        out[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    };
    let oversized = encode_within_cap(batch, RECORDS_PER_ENTRY, out, entry).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("a write-ahead log entry: {e}")))?;
    if !oversized.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "a write-ahead log record larger than a frame".to_string()));
    }
    Ok(())
}

/// One replica shard's log, open for appending.
pub struct Wal {
    file: BufferedFile,
    path: PathBuf,
    end: u64,
    pending: Vec<u8>,
}

impl Wal {
    /// Opens (or creates) the log at `path`, hands every intact record to
    /// `replay`, oldest first, and cuts off a torn tail. Call inside a
    /// glommio executor.
    pub async fn open<M: Wire>(path: &Path, mut replay: impl FnMut(M)) -> io::Result<(Wal, Recovered)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        };
        let mut replayed = 0;
        let counted = |record| {
            replayed += 1;
            replay(record)
        };
        let intact = parse_each::<M>(&bytes, counted).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
        let dropped_bytes = (bytes.len() - intact) as u64;
        drop(bytes);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .buffered_open(path)
            .await
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        if dropped_bytes > 0 {
            tracing::warn!(path = %path.display(), dropped_bytes, "write-ahead log: cut a torn or corrupt tail");
            file.truncate(intact as u64).await.map_err(|e| io::Error::other(e.to_string()))?;
            file.fdatasync().await.map_err(|e| io::Error::other(e.to_string()))?;
        }
        let wal = Wal { file, path: path.to_path_buf(), end: intact as u64, pending: Vec::new() };
        Ok((wal, Recovered { replayed, dropped_bytes }))
    }

    /// Queues `records` for the next [`Wal::sync`].
    pub fn append<M: Wire>(&mut self, records: Vec<M>) -> io::Result<()> {
        encode_entries(records, &mut self.pending)
    }

    /// Whether records wait for a sync.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes in the log file.
    pub fn len(&self) -> u64 {
        self.end
    }

    /// Whether the log file is empty.
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// Replaces the whole log with `records` (the replica's snapshot of
    /// itself, taken right after a sync): written to a temporary file,
    /// synced, renamed over the log and the directory synced, so a crash at
    /// any point leaves either the old log or the new one whole.
    pub async fn compact<M: Wire>(&mut self, records: Vec<M>) -> io::Result<()> {
        let fail = |what: &str, e: &dyn std::fmt::Display| io::Error::other(format!("{}: {what}: {e}", self.path.display()));
        let temporary = self.path.with_extension("wal.compacting");
        let file = OpenOptions::new().write(true).create(true).truncate(true).buffered_open(&temporary).await.map_err(|e| fail("compacting", &e))?;
        // Encoded a few records at a time and written as it goes: a
        // snapshot is as large as the state, and a second copy of it in
        // memory would stay with the allocator after the compaction.
        let mut end = 0;
        let mut bytes = Vec::new();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            encode_entries(records.by_ref().take(COMPACTION_GROUP).collect(), &mut bytes)?;
            if bytes.len() >= WRITE_PIECE || records.peek().is_none() {
                end = write_all(&file, &bytes, end).await.map_err(|e| fail("compacting", &e))?;
                bytes.clear();
            }
        }
        file.fdatasync().await.map_err(|e| fail("compacting", &e))?;
        file.close().await.map_err(|e| fail("compacting", &e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| fail("renaming the compacted log", &e))?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| fail("syncing its directory", &e))?;
        }
        self.file = OpenOptions::new().read(true).write(true).buffered_open(&self.path).await.map_err(|e| fail("reopening", &e))?;
        self.end = end;
        Ok(())
    }

    /// Writes what was appended and makes it durable with one `fdatasync`.
    pub async fn sync(&mut self) -> io::Result<()> {
        self.end = write_all(&self.file, &self.pending, self.end).await.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        if self.pending.capacity() > WRITE_PIECE {
            self.pending = Vec::new();
        } else {
            self.pending.clear();
        }
        self.file.fdatasync().await.map_err(|e| io::Error::other(format!("{}: {e}", self.path.display())))
    }
}

/// Writes `bytes` to `file` from `at` on, in pieces of at most
/// [`WRITE_PIECE`] (io_uring takes each piece's buffer, so each is a copy:
/// a piece bounds that copy, not the whole batch); answers the new end.
async fn write_all(file: &BufferedFile, bytes: &[u8], mut at: u64) -> io::Result<u64> {
    for piece in bytes.chunks(WRITE_PIECE) {
        let mut done = 0;
        while done < piece.len() {
            let written = file.write_at(piece[done..].to_vec(), at).await.map_err(|e| io::Error::other(e.to_string()))?;
            if written == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"));
            }
            done += written;
            at += written as u64;
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::ballot::Ballot;
    use protocols::paxos::Message;

    fn records(n: u64) -> Vec<Message> {
        (0..n).map(|i| Message::Prepare { ballot: Ballot(i), from_slot: i }).collect()
    }

    #[test]
    fn entries_read_back_and_a_torn_or_corrupt_tail_is_cut() {
        let mut log = Vec::new();
        encode_entries(records(3), &mut log).unwrap();
        let first_entry = log.len();
        encode_entries(records(2), &mut log).unwrap();
        let (all, end) = parse::<Message>(&log).unwrap();
        assert_eq!((all.len(), end), (5, log.len()));

        // Torn: the last entry only half written.
        let torn = &log[..first_entry + (log.len() - first_entry) / 2];
        let (kept, end) = parse::<Message>(torn).unwrap();
        assert_eq!((kept, end), (records(3), first_entry));

        // Corrupt: a flipped byte in the last entry's payload.
        let mut corrupt = log.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        let (kept, end) = parse::<Message>(&corrupt).unwrap();
        assert_eq!((kept.len(), end), (3, first_entry));

        // Garbage from the start: nothing.
        assert_eq!(parse::<Message>(b"not a log at all, just bytes").unwrap().1, 0);
    }

    #[test]
    fn another_protocols_log_is_refused_not_cut() {
        let mut log = Vec::new();
        encode_entries(records(3), &mut log).unwrap();
        let err = parse::<protocols::swift::Message>(&log).unwrap_err();
        assert!(err.contains("another protocol"), "{err}");
    }

    #[test]
    fn records_too_large_together_split_by_size() {
        // 40 Paxos commits of 256 one-KiB commands: ~10 MB per 40, so the
        // 1,024-record groups would not fit a frame.
        let value = bytes::Bytes::from(vec![b'v'; 1024]);
        let commit = |slot: u64| Message::Commit {
            slot,
            value: (0..256u64).map(|i| (protocols::CommandId::new(i, slot), protocols::Command::Put { key: i as i64, value: value.clone() })).collect::<Vec<_>>().into(),
        };
        let records: Vec<Message> = (0..100).map(commit).collect();
        let mut log = Vec::new();
        encode_entries(records.clone(), &mut log).unwrap();
        assert_eq!(parse::<Message>(&log).unwrap(), (records, log.len()));
    }

    #[test]
    fn large_groups_split_into_several_entries() {
        let mut log = Vec::new();
        encode_entries(records(RECORDS_PER_ENTRY as u64 * 2 + 5), &mut log).unwrap();
        let (all, end) = parse::<Message>(&log).unwrap();
        assert_eq!((all.len(), end), (RECORDS_PER_ENTRY * 2 + 5, log.len()));
    }

    #[test]
    fn a_log_reopens_with_what_was_synced() {
        let path = std::env::temp_dir().join(format!("wal-test-{}/r0.s0.wal", std::process::id()));
        let p = path.clone();
        let found = glommio::LocalExecutorBuilder::default()
            .spawn(move || async move {
                let (mut wal, first) = Wal::open::<Message>(&p, |_| panic!("a new log holds nothing")).await.unwrap();
                assert_eq!(first.replayed, 0);
                wal.append(records(4)).unwrap();
                wal.sync().await.unwrap();
                wal.append(records(1)).unwrap(); // appended, never synced: lost
                drop(wal);
                // A torn tail as a crash mid-write leaves it.
                std::fs::OpenOptions::new().append(true).open(&p).and_then(|mut f| std::io::Write::write_all(&mut f, &[7, 7, 7])).unwrap();
                let mut replayed = Vec::new();
                let (_, again) = Wal::open::<Message>(&p, |r| replayed.push(r)).await.unwrap();
                (replayed, again)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(found.0, records(4));
        assert_eq!((found.1.replayed, found.1.dropped_bytes), (4, 3));

        // Compaction replaces the log whole; appends go on after it.
        let p = path.clone();
        let after = glommio::LocalExecutorBuilder::default()
            .spawn(move || async move {
                let (mut wal, _) = Wal::open::<Message>(&p, drop).await.unwrap();
                wal.compact(records(2)).await.unwrap();
                wal.append(records(1)).unwrap();
                wal.sync().await.unwrap();
                let mut replayed = Vec::new();
                let dropped = Wal::open::<Message>(&p, |r| replayed.push(r)).await.unwrap().1.dropped_bytes;
                (replayed, dropped)
            })
            .unwrap()
            .join()
            .unwrap();
        let mut expected = records(2);
        expected.extend(records(1));
        assert_eq!(after, (expected, 0));
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
