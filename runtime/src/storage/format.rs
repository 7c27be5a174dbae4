//! The log's bytes, and the verdict on them when a replica starts.
//!
//! ```text
//! file:  | header (32) | entry | entry | ...
//! header: magic "SPWAL\0\0\x02" (8) | first sequence (u64 LE) | snapshot entries (u64 LE) | 0 (4) | crc32 of the 28 bytes before (4)
//! entry:  crc32 of the rest (4) | sequence (u64 LE) | synced below (u64 LE) | one wire frame (net::frame) of records
//! ```
//!
//! Entries are numbered one after another from the header's first
//! sequence, so a missing, repeated or misplaced entry shows even when its
//! own checksum holds. *Synced below* is the writer's durable frontier when
//! the entry was written: every entry numbered below it had been synced.
//! That is what tells a torn tail from a corruption. Within a batch that
//! was never synced, the disk may have kept any subset of the pages, in
//! any order, so a bad entry followed by intact ones of the same batch is
//! still a torn write; but an intact entry whose frontier is above a bad
//! one proves the bad one had been synced — it was damaged afterwards.
//! The first `snapshot entries` of a file were written by a compaction and
//! synced whole before the file replaced the log: any bad one is a fault.

use crate::wire::{encode_within_cap, Envelope, Wire};
use net::frame::{FrameReader, Header, HEADER_LEN as FRAME_HEADER_LEN};
use std::ops::Range;

/// The first bytes of every log file: the format and its version.
pub const FILE_MAGIC: [u8; 8] = *b"SPWAL\0\0\x02";
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 32;
/// Bytes of an entry before its frame.
pub const ENTRY_HEADER_LEN: usize = 20;
/// Records per entry at most; a larger group is split (each entry must
/// fit a frame, see [`net::frame::MAX_PAYLOAD`]).
const RECORDS_PER_ENTRY: usize = 1024;

/// What a log file says of itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileHeader {
    /// The sequence number of the file's first entry (numbering goes on
    /// across compactions).
    pub first_seq: u64,
    /// How many entries at the start a compaction wrote (the snapshot).
    pub snapshot_entries: u64,
}

impl FileHeader {
    /// The header's bytes.
    pub fn to_bytes(self) -> [u8; FILE_HEADER_LEN] {
        let mut b = [0u8; FILE_HEADER_LEN];
        b[0..8].copy_from_slice(&FILE_MAGIC);
        b[8..16].copy_from_slice(&self.first_seq.to_le_bytes());
        b[16..24].copy_from_slice(&self.snapshot_entries.to_le_bytes());
        let crc = crc32fast::hash(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks and reads the first [`FILE_HEADER_LEN`] bytes of a log.
    pub fn parse(bytes: &[u8]) -> Result<FileHeader, String> {
        let b = bytes.get(..FILE_HEADER_LEN).ok_or("the file header is incomplete")?;
        if b[0..8] != FILE_MAGIC {
            return Err(format!(
                "the file does not start as a log of this format ({:02x?}): corrupt, or written by another version",
                &b[0..8]
            ));
        }
        if crc32fast::hash(&b[..28]).to_le_bytes() != b[28..32] {
            return Err("the file header fails its checksum".into());
        }
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        Ok(FileHeader {
            first_seq: word(8),
            snapshot_entries: word(16),
        })
    }
}

/// Numbers the entries a host appends and remembers how far its syncs
/// have reached, so that every entry carries its frontier.
#[derive(Clone, Debug)]
pub struct LogWriter {
    next_seq: u64,
    synced_below: u64,
}

impl LogWriter {
    /// A writer whose next entry is `next_seq`, everything before it synced
    /// (a file just opened, or a snapshot just written).
    pub fn new(next_seq: u64) -> Self {
        LogWriter {
            next_seq,
            synced_below: next_seq,
        }
    }

    /// Appends `records` to `out` as entries, each under the frame cap; the
    /// number of entries. A record that alone exceeds the cap is refused:
    /// what must be durable cannot be dropped (protocols keep their records
    /// smaller, snapshots in chunks).
    pub fn append<M: Wire>(&mut self, records: Vec<M>, out: &mut Vec<u8>) -> Result<u64, String> {
        let first = self.next_seq;
        let batch: Vec<Envelope<M>> = records.into_iter().map(|m| (0, m)).collect();
        let (next_seq, synced_below) = (&mut self.next_seq, self.synced_below);
        let entry = |batch: &Vec<Envelope<M>>, out: &mut Vec<u8>| {
            let start = out.len();
            out.extend_from_slice(&[0; ENTRY_HEADER_LEN]);
            if let Err(e) = M::encode(batch, out) {
                out.truncate(start);
                return Err(e);
            }
            out[start + 4..start + 12].copy_from_slice(&next_seq.to_le_bytes());
            out[start + 12..start + 20].copy_from_slice(&synced_below.to_le_bytes());
            let crc = crc32fast::hash(&out[start + 4..]);
            out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
            *next_seq += 1;
            Ok(())
        };
        let oversized = encode_within_cap(batch, RECORDS_PER_ENTRY, out, entry)
            .map_err(|e| format!("a write-ahead log entry: {e}"))?;
        if !oversized.is_empty() {
            return Err("a write-ahead log record larger than a frame".into());
        }
        Ok(self.next_seq - first)
    }

    /// Everything appended so far is on stable storage.
    pub fn synced(&mut self) {
        self.synced_below = self.next_seq;
    }

    /// The sequence number the next entry gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

/// A whole log file holding `records` as a snapshot (what a compaction
/// writes): the header counts its entries, and the writer that appends
/// after it.
pub fn snapshot_file<M: Wire>(first_seq: u64, records: Vec<M>) -> Result<(Vec<u8>, LogWriter), String> {
    let mut bytes = vec![0; FILE_HEADER_LEN];
    let mut writer = LogWriter::new(first_seq);
    let entries = writer.append(records, &mut bytes)?;
    bytes[..FILE_HEADER_LEN].copy_from_slice(
        &FileHeader {
            first_seq,
            snapshot_entries: entries,
        }
        .to_bytes(),
    );
    writer.synced();
    Ok((bytes, writer))
}

/// A log's bytes that cannot be believed: the replica must not vote on
/// what is left (see the module).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageFault {
    /// The byte offset of the first bad entry (or of the header).
    pub offset: usize,
    /// What is wrong there.
    pub what: String,
    /// The intact entries before it: a hint at most, never votes (only a
    /// planted test bug replays them).
    pub intact_before: Vec<Range<usize>>,
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

/// A log that may be believed: its entries' frames, in order, and what to
/// cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The header, `None` for a log that never got one (new, or created
    /// by a crash before its header was synced: nothing was ever in it).
    pub header: Option<FileHeader>,
    /// Each intact entry's frame, oldest first.
    pub frames: Vec<Range<usize>>,
    /// Where the intact entries end: a torn tail starts here.
    pub intact_end: usize,
    /// The sequence number the next entry gets.
    pub next_seq: u64,
}

/// An entry that checks.
struct EntryView {
    seq: u64,
    synced_below: u64,
    frame: Range<usize>,
    end: usize,
}

/// The entry at `at`, if it is whole and its checksum holds.
fn entry_at(bytes: &[u8], at: usize) -> Option<EntryView> {
    let frame_start = at.checked_add(ENTRY_HEADER_LEN)?;
    let header: &[u8; FRAME_HEADER_LEN] = bytes
        .get(frame_start..frame_start + FRAME_HEADER_LEN)?
        .try_into()
        .ok()?;
    let parsed = Header::parse(header).ok()?;
    let end = frame_start + FRAME_HEADER_LEN + parsed.payload_len;
    let entry = bytes.get(at..end)?;
    if crc32fast::hash(&entry[4..]).to_le_bytes() != entry[..4] {
        return None;
    }
    let word = |from: usize| u64::from_le_bytes(entry[from..from + 8].try_into().expect("8 bytes"));
    Some(EntryView {
        seq: word(4),
        synced_below: word(12),
        frame: frame_start..end,
        end,
    })
}

/// The first intact entry at or after `from`, found byte by byte (the
/// frame magic rules out almost every offset before a checksum is run).
fn next_intact(bytes: &[u8], from: usize) -> Option<(usize, EntryView)> {
    let magic = net::frame::MAGIC;
    (from..bytes.len().saturating_sub(ENTRY_HEADER_LEN + 1))
        .filter(|&at| bytes[at + ENTRY_HEADER_LEN] == magic[0] && bytes[at + ENTRY_HEADER_LEN + 1] == magic[1])
        .find_map(|at| entry_at(bytes, at).map(|e| (at, e)))
}

/// Reads a log's bytes and decides whether it may be believed (see the
/// module): the intact entries up to a torn tail, or the storage fault.
pub fn scan(bytes: &[u8]) -> Result<Scan, StorageFault> {
    if bytes.len() < FILE_HEADER_LEN {
        // The header is written and synced before any entry: a shorter
        // file is one whose creation a crash cut short.
        return Ok(Scan::default());
    }
    let fault = |offset: usize, what: String, intact_before: &[Range<usize>]| StorageFault {
        offset,
        what,
        intact_before: intact_before.to_vec(),
    };
    let header = FileHeader::parse(bytes).map_err(|what| fault(0, what, &[]))?;
    let snapshot_end = header.first_seq.saturating_add(header.snapshot_entries);
    let mut frames = Vec::new();
    let (mut at, mut expected, mut frontier) = (FILE_HEADER_LEN, header.first_seq, header.first_seq);
    while at < bytes.len() {
        let Some(entry) = entry_at(bytes, at) else {
            if expected < snapshot_end {
                let what = format!("entry {expected}, part of the snapshot a compaction wrote, fails its check");
                return Err(fault(at, what, &frames));
            }
            // A torn tail, unless an intact entry written after this one
            // was synced says otherwise.
            let mut from = at + 1;
            while let Some((found, later)) = next_intact(bytes, from) {
                if later.synced_below > expected || later.seq < expected {
                    let what = format!(
                        "entry {expected} fails its check, yet entry {} at byte {found} is intact and was written after entry {expected} was synced (or is out of place)",
                        later.seq
                    );
                    return Err(fault(at, what, &frames));
                }
                from = later.end;
            }
            return Ok(Scan {
                header: Some(header),
                frames,
                intact_end: at,
                next_seq: expected,
            });
        };
        if entry.seq != expected {
            let what = format!(
                "entry {} stands where entry {expected} belongs: an entry is missing or misplaced",
                entry.seq
            );
            return Err(fault(at, what, &frames));
        }
        if entry.synced_below < frontier || entry.synced_below > entry.seq {
            let what = format!(
                "entry {} says entries below {} were synced, after an entry said {frontier}: misplaced",
                entry.seq, entry.synced_below
            );
            return Err(fault(at, what, &frames));
        }
        frontier = entry.synced_below;
        frames.push(entry.frame);
        at = entry.end;
        expected += 1;
    }
    Ok(Scan {
        header: Some(header),
        frames,
        intact_end: at,
        next_seq: expected,
    })
}

/// Decodes the records of `frames` (from [`scan`]) and hands each to
/// `each`, oldest first, one entry at a time; how many there were. An
/// entry that checks but holds no records of this protocol means the log
/// was written by another protocol or version: an error, never a cut.
pub fn decode_records<M: Wire>(
    bytes: &[u8],
    frames: &[Range<usize>],
    mut each: impl FnMut(M),
) -> Result<usize, String> {
    let mut reader = FrameReader::new();
    let mut count = 0;
    for frame in frames {
        reader.push(&bytes[frame.clone()]);
        match M::decode(&mut reader) {
            Ok(Some(batch)) => {
                count += batch.len();
                batch.into_iter().for_each(|(_, m)| each(m));
            }
            Ok(None) | Err(_) => {
                return Err(format!(
                    "the entry at byte {} is intact but holds no records of this protocol: was the log written by another protocol or version? (start with another -data-dir)",
                    frame.start - ENTRY_HEADER_LEN
                ))
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::ballot::Ballot;
    use protocols::paxos::Message;

    fn records(n: u64) -> Vec<Message> {
        (0..n)
            .map(|i| Message::Prepare {
                ballot: Ballot(i),
                from_slot: i,
            })
            .collect()
    }

    /// A log of `batches` synced batches of `per` records, one entry each,
    /// and the byte offset where each entry starts.
    fn log(batches: usize, per: u64) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = FileHeader::default().to_bytes().to_vec();
        let mut writer = LogWriter::new(0);
        let mut starts = Vec::new();
        for _ in 0..batches {
            starts.push(bytes.len());
            writer.append(records(per), &mut bytes).unwrap();
            writer.synced();
        }
        (bytes, starts)
    }

    fn replayed(bytes: &[u8]) -> Vec<Message> {
        let scan = scan(bytes).unwrap();
        let mut all = Vec::new();
        decode_records(bytes, &scan.frames, |m| all.push(m)).unwrap();
        all
    }

    #[test]
    fn an_intact_log_reads_back_whole() {
        let (bytes, _) = log(3, 4);
        let scan = scan(&bytes).unwrap();
        assert_eq!((scan.frames.len(), scan.intact_end, scan.next_seq), (3, bytes.len(), 3));
        assert_eq!(replayed(&bytes).len(), 12);
        assert_eq!(self::scan(&[]).unwrap(), Scan::default(), "a new log");
        assert_eq!(
            self::scan(&bytes[..10]).unwrap(),
            Scan::default(),
            "a header cut short by a crash"
        );
    }

    #[test]
    fn a_damaged_last_entry_is_a_torn_tail() {
        let (mut bytes, starts) = log(3, 4);
        let half = (starts[2] + bytes.len()) / 2;
        let scan_of = |b: &[u8]| scan(b).unwrap();
        assert_eq!(scan_of(&bytes[..half]).intact_end, starts[2], "cut short");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let torn = scan_of(&bytes);
        assert_eq!(
            (torn.intact_end, torn.next_seq),
            (starts[2], 2),
            "a flipped byte in the last entry"
        );
    }

    #[test]
    fn a_torn_batch_may_keep_later_entries_of_itself() {
        // One unsynced batch of three entries; the disk kept the first and
        // third but not the second: still a torn write, cut at the second.
        let mut bytes = FileHeader::default().to_bytes().to_vec();
        let mut writer = LogWriter::new(0);
        writer.append(records(2), &mut bytes).unwrap();
        writer.synced();
        let mut starts = Vec::new();
        for _ in 0..3 {
            starts.push(bytes.len());
            writer.append(records(2), &mut bytes).unwrap();
        }
        for b in &mut bytes[starts[1]..starts[2]] {
            *b = 0;
        }
        let torn = scan(&bytes).unwrap();
        assert_eq!((torn.intact_end, torn.frames.len()), (starts[1], 2));
    }

    #[test]
    fn a_damaged_entry_before_later_synced_ones_is_a_fault() {
        let (bytes, starts) = log(5, 4);
        for at in [starts[1] + 2, starts[1] + 25, starts[2] - 1, starts[1]] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            let fault = scan(&bad).unwrap_err();
            assert_eq!(fault.offset, starts[1], "flip at {at}: {fault}");
            assert_eq!(fault.intact_before.len(), 1);
        }
        // A length that runs past everything: found all the same.
        let mut bad = bytes.clone();
        bad[starts[3] + ENTRY_HEADER_LEN + 10] = 0xff;
        assert_eq!(scan(&bad).unwrap_err().offset, starts[3]);
    }

    #[test]
    fn a_missing_or_misplaced_entry_is_a_fault() {
        let (bytes, starts) = log(4, 2);
        let mut missing = bytes[..starts[1]].to_vec();
        missing.extend_from_slice(&bytes[starts[2]..]);
        let fault = scan(&missing).unwrap_err();
        assert_eq!(fault.offset, starts[1]);
        assert!(fault.what.contains("missing or misplaced"), "{fault}");

        let mut repeated = bytes.clone();
        repeated.extend_from_slice(&bytes[starts[1]..starts[2]]);
        assert_eq!(scan(&repeated).unwrap_err().offset, bytes.len());
    }

    #[test]
    fn any_bad_snapshot_entry_or_header_is_a_fault() {
        let (mut bytes, mut writer) = snapshot_file(7, records(3000)).unwrap();
        writer.append(records(1), &mut bytes).unwrap();
        let scan_ok = scan(&bytes).unwrap();
        assert_eq!(scan_ok.next_seq, 7 + scan_ok.frames.len() as u64);
        assert!(scan_ok.frames.len() >= 3, "3,000 records make several entries");
        // The snapshot's last entry: no later entry need vouch for it.
        let last_snapshot_entry = scan_ok.frames[scan_ok.frames.len() - 2].end - 1;
        let mut bad = bytes.clone();
        bad[last_snapshot_entry] ^= 0x80;
        assert!(scan(&bad).unwrap_err().what.contains("snapshot"));
        let bad = bytes[..scan_ok.frames[scan_ok.frames.len() - 2].end - 1].to_vec();
        assert!(scan(&bad).is_err(), "a snapshot cut short");
        let mut bad = bytes.clone();
        bad[9] ^= 0x01;
        assert_eq!(scan(&bad).unwrap_err().offset, 0, "the header");
    }

    #[test]
    fn another_protocols_log_is_refused_not_cut() {
        let (bytes, _) = log(2, 3);
        let scan = scan(&bytes).unwrap();
        let err = decode_records::<protocols::swift::Message>(&bytes, &scan.frames, drop).unwrap_err();
        assert!(err.contains("another protocol"), "{err}");
    }

    #[test]
    fn records_too_large_together_split_by_size() {
        // 40 Paxos commits of 256 one-KiB commands: ~10 MB per 40, so the
        // 1,024-record groups would not fit a frame.
        let value = bytes::Bytes::from(vec![b'v'; 1024]);
        let commit = |slot: u64| Message::Commit {
            slot,
            value: (0..256u64)
                .map(|i| {
                    (
                        protocols::CommandId::new(i, slot),
                        protocols::Command::Put {
                            key: i as i64,
                            value: value.clone(),
                        },
                    )
                })
                .collect::<Vec<_>>()
                .into(),
        };
        let all: Vec<Message> = (0..100).map(commit).collect();
        let (bytes, _) = snapshot_file(0, all.clone()).unwrap();
        assert_eq!(replayed(&bytes), all);
        let (bytes, _) = snapshot_file(0, records(RECORDS_PER_ENTRY as u64 * 2 + 5)).unwrap();
        assert_eq!(scan(&bytes).unwrap().frames.len(), 3);
    }
}
