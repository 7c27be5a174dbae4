//! The write-ahead log of one replica shard: the records its protocol asks
//! to persist ([`protocols::protocol::Action::Persist`]), on stable storage
//! before any message that depends on them leaves.
//!
//! Group commit: the host appends every record of one loop iteration (all
//! it handled since the last flush) as one batch and syncs once, so a busy
//! replica pays one `fdatasync` per batch, never one per command.
//!
//! The bytes are [`crate::storage::format`]'s: a checked header, then
//! numbered, checksummed entries that each carry the synced frontier. On
//! start the log is read whole and judged before anything is replayed: a
//! torn tail (what a crash leaves) is cut and logged, and a storage fault
//! (a damaged entry that was synced, one out of sequence, a bad snapshot
//! entry or header) is handed to the host, which must not vote on what is
//! left ([`Opened::Fault`]).
//!
//! A failed write or `fdatasync` is an error the host stops on: the kernel
//! may already have dropped the dirty pages, so a retried sync could report
//! success for data that never reached the disk.
//!
//! File I/O goes through glommio's `BufferedFile` (io_uring, the executor
//! that runs the replica); see docs/storage.md for why not a DMA file.

use crate::storage::format::{self, FileHeader, LogWriter, StorageFault, FILE_HEADER_LEN};
use crate::wire::Wire;
use glommio::io::{BufferedFile, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

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
    /// Bytes cut off the end: a torn tail (0 after a clean stop).
    pub dropped_bytes: u64,
}

/// What opening a log gave.
#[derive(Debug)]
pub enum Opened {
    /// The log was believed: its records were replayed (a torn tail cut).
    Ready(Wal, Recovered),
    /// The log cannot be believed; nothing was replayed and the file is as
    /// it was. The host rejoins from the others, then
    /// [`Wal::replace_after_fault`].
    Fault(StorageFault),
}

fn located(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

/// Syncs the directory holding `path`, so that a file created or renamed
/// there survives a crash.
fn sync_directory_of(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| located(dir, format!("syncing the directory: {e}"))),
        None => Ok(()),
    }
}

/// One replica shard's log, open for appending.
#[derive(Debug)]
pub struct Wal {
    file: BufferedFile,
    path: PathBuf,
    end: u64,
    pending: Vec<u8>,
    writer: LogWriter,
}

impl Wal {
    /// Opens (or creates) the log at `path` and judges it: if it may be
    /// believed, hands every intact record to `replay`, oldest first, and
    /// cuts off a torn tail. Call inside a glommio executor.
    pub async fn open<M: Wire>(path: &Path, replay: impl FnMut(M)) -> io::Result<Opened> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        };
        let scan = match format::scan(&bytes) {
            Ok(scan) => scan,
            Err(fault) => return Ok(Opened::Fault(fault)),
        };
        let replayed = format::decode_records::<M>(&bytes, &scan.frames, replay)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
        let dropped_bytes = (bytes.len() - scan.intact_end) as u64;
        drop(bytes);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .buffered_open(path)
            .await
            .map_err(|e| located(path, e))?;
        let mut end = scan.intact_end as u64;
        if scan.header.is_none() {
            // New (or its creation was cut short): the header goes down,
            // synced with the file's name, before any entry.
            file.truncate(0).await.map_err(|e| located(path, e))?;
            end = write_all(&file, &FileHeader::default().to_bytes(), 0)
                .await
                .map_err(|e| located(path, e))?;
            file.fdatasync().await.map_err(|e| located(path, e))?;
            sync_directory_of(path)?;
        } else if dropped_bytes > 0 {
            tracing::warn!(path = %path.display(), at = scan.intact_end, dropped_bytes, "write-ahead log: cut a torn tail (a write the crash interrupted)");
            file.truncate(end).await.map_err(|e| located(path, e))?;
            file.fdatasync().await.map_err(|e| located(path, e))?;
        }
        let wal = Wal {
            file,
            path: path.to_path_buf(),
            end,
            pending: Vec::new(),
            writer: LogWriter::new(scan.next_seq),
        };
        Ok(Opened::Ready(
            wal,
            Recovered {
                replayed,
                dropped_bytes,
            },
        ))
    }

    /// After a storage fault and a rejoin: keeps the bad log beside the new
    /// one (`…wal.corrupt`, for the operator) and replaces it with
    /// `records`, the replica's snapshot of its rebuilt self, atomically.
    /// Until this returns a restart finds the bad log and rejoins again.
    pub async fn replace_after_fault<M: Wire>(path: &Path, records: Vec<M>) -> io::Result<Wal> {
        let kept = path.with_extension("wal.corrupt");
        let _ = std::fs::remove_file(&kept);
        if path.exists() {
            std::fs::hard_link(path, &kept).map_err(|e| located(&kept, e))?;
        }
        let (end, writer) = write_snapshot_file(path, 0, records).await?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .buffered_open(path)
            .await
            .map_err(|e| located(path, format!("reopening: {e}")))?;
        Ok(Wal {
            file,
            path: path.to_path_buf(),
            end,
            pending: Vec::new(),
            writer,
        })
    }

    /// Queues `records` for the next [`Wal::sync`].
    pub fn append<M: Wire>(&mut self, records: Vec<M>) -> io::Result<()> {
        self.writer
            .append(records, &mut self.pending)
            .map(drop)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Whether records wait for a sync.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Bytes in the log file.
    pub fn len(&self) -> u64 {
        self.end
    }

    /// Whether the log holds no entry.
    pub fn is_empty(&self) -> bool {
        self.end <= FILE_HEADER_LEN as u64
    }

    /// Replaces the whole log with `records` (the replica's snapshot of
    /// itself, taken right after a sync): written to a temporary file,
    /// synced, renamed over the log and the directory synced, so a crash at
    /// any point leaves either the old log or the new one whole.
    pub async fn compact<M: Wire>(&mut self, records: Vec<M>) -> io::Result<()> {
        let (end, writer) = write_snapshot_file(&self.path, self.writer.next_seq(), records).await?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .buffered_open(&self.path)
            .await
            .map_err(|e| located(&self.path, format!("reopening: {e}")))?;
        self.end = end;
        self.writer = writer;
        Ok(())
    }

    /// Writes what was appended and makes it durable with one `fdatasync`.
    /// An error leaves the log in no state to go on from: stop.
    pub async fn sync(&mut self) -> io::Result<()> {
        self.end = write_all(&self.file, &self.pending, self.end)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        if self.pending.capacity() > WRITE_PIECE {
            self.pending = Vec::new();
        } else {
            self.pending.clear();
        }
        self.file
            .fdatasync()
            .await
            .map_err(|e| located(&self.path, format!("fdatasync: {e}")))?;
        self.writer.synced();
        Ok(())
    }
}

/// Writes `records` as a snapshot log (entries from `first_seq` on) to a
/// temporary file beside `path`, syncs it, renames it over `path` and syncs
/// the directory; the file's length and the writer that appends after it.
async fn write_snapshot_file<M: Wire>(path: &Path, first_seq: u64, records: Vec<M>) -> io::Result<(u64, LogWriter)> {
    let fail = |what: &str, e: &dyn std::fmt::Display| io::Error::other(format!("{}: {what}: {e}", path.display()));
    let temporary = path.with_extension("wal.compacting");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .buffered_open(&temporary)
        .await
        .map_err(|e| fail("compacting", &e))?;
    // Encoded a few records at a time and written as it goes: a snapshot
    // is as large as the state, and a second copy of it in memory would
    // stay with the allocator after the compaction. The header, which
    // counts the entries, goes in last.
    let mut writer = LogWriter::new(first_seq);
    let mut end = FILE_HEADER_LEN as u64;
    let mut bytes = Vec::new();
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        writer
            .append(records.by_ref().take(COMPACTION_GROUP).collect(), &mut bytes)
            .map_err(|e| fail("compacting", &e))?;
        if bytes.len() >= WRITE_PIECE || records.peek().is_none() {
            end = write_all(&file, &bytes, end)
                .await
                .map_err(|e| fail("compacting", &e))?;
            bytes.clear();
        }
    }
    let header = FileHeader {
        first_seq,
        snapshot_entries: writer.next_seq() - first_seq,
    };
    write_all(&file, &header.to_bytes(), 0)
        .await
        .map_err(|e| fail("compacting", &e))?;
    file.fdatasync().await.map_err(|e| fail("compacting: fdatasync", &e))?;
    file.close().await.map_err(|e| fail("compacting", &e))?;
    std::fs::rename(&temporary, path).map_err(|e| fail("renaming the compacted log", &e))?;
    sync_directory_of(path)?;
    writer.synced();
    Ok((end, writer))
}

/// Writes `bytes` to `file` from `at` on, in pieces of at most
/// [`WRITE_PIECE`] (io_uring takes each piece's buffer, so each is a copy:
/// a piece bounds that copy, not the whole batch); answers the new end.
async fn write_all(file: &BufferedFile, bytes: &[u8], mut at: u64) -> io::Result<u64> {
    for piece in bytes.chunks(WRITE_PIECE) {
        let mut done = 0;
        while done < piece.len() {
            let written = file
                .write_at(piece[done..].to_vec(), at)
                .await
                .map_err(|e| io::Error::other(e.to_string()))?;
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
        (0..n)
            .map(|i| Message::Prepare {
                ballot: Ballot(i),
                from_slot: i,
            })
            .collect()
    }

    /// Runs `test` on a glommio executor of its own.
    fn on_executor<T: Send + 'static>(
        test: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
    ) -> T {
        glommio::LocalExecutorBuilder::default()
            .spawn(test)
            .unwrap()
            .join()
            .unwrap()
    }

    fn ready(opened: Opened) -> (Wal, Recovered) {
        match opened {
            Opened::Ready(wal, recovered) => (wal, recovered),
            Opened::Fault(fault) => panic!("unexpected storage fault: {fault}"),
        }
    }

    #[test]
    fn a_log_reopens_with_what_was_synced() {
        let path = std::env::temp_dir().join(format!("wal-test-{}/r0.s0.wal", std::process::id()));
        let p = path.clone();
        let found = on_executor(move || {
            Box::pin(async move {
                let (mut wal, first) = ready(
                    Wal::open::<Message>(&p, |_| panic!("a new log holds nothing"))
                        .await
                        .unwrap(),
                );
                assert_eq!(first.replayed, 0);
                wal.append(records(4)).unwrap();
                wal.sync().await.unwrap();
                wal.append(records(1)).unwrap(); // appended, never synced: lost
                drop(wal);
                // A torn tail as a crash mid-write leaves it.
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &[7, 7, 7]))
                    .unwrap();
                let mut replayed = Vec::new();
                let (_, again) = ready(Wal::open::<Message>(&p, |r| replayed.push(r)).await.unwrap());
                (replayed, again)
            })
        });
        assert_eq!(found.0, records(4));
        assert_eq!((found.1.replayed, found.1.dropped_bytes), (4, 3));

        // Compaction replaces the log whole; appends go on after it, in sequence.
        let p = path.clone();
        let after = on_executor(move || {
            Box::pin(async move {
                let (mut wal, _) = ready(Wal::open::<Message>(&p, drop).await.unwrap());
                wal.compact(records(2)).await.unwrap();
                wal.append(records(1)).unwrap();
                wal.sync().await.unwrap();
                let mut replayed = Vec::new();
                let dropped = ready(Wal::open::<Message>(&p, |r| replayed.push(r)).await.unwrap())
                    .1
                    .dropped_bytes;
                (replayed, dropped)
            })
        });
        let mut expected = records(2);
        expected.extend(records(1));
        assert_eq!(after, (expected, 0));
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn a_damaged_synced_entry_is_a_fault_and_the_log_is_kept_for_the_operator() {
        let path = std::env::temp_dir().join(format!("wal-fault-test-{}/r1.s0.wal", std::process::id()));
        let p = path.clone();
        let (fault, kept, rebuilt) = on_executor(move || {
            Box::pin(async move {
                let (mut wal, _) = ready(Wal::open::<Message>(&p, drop).await.unwrap());
                for _ in 0..3 {
                    wal.append(records(5)).unwrap();
                    wal.sync().await.unwrap();
                }
                drop(wal);
                let mut bytes = std::fs::read(&p).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x10;
                std::fs::write(&p, &bytes).unwrap();
                let Opened::Fault(fault) =
                    Wal::open::<Message>(&p, |_| panic!("nothing is replayed from a faulty log"))
                        .await
                        .unwrap()
                else {
                    panic!("a flipped byte mid-log must be a storage fault")
                };
                assert_eq!(std::fs::read(&p).unwrap(), bytes, "the faulty log is left as it was");
                let mut wal = Wal::replace_after_fault(&p, records(2)).await.unwrap();
                wal.append(records(1)).unwrap();
                wal.sync().await.unwrap();
                let kept = std::fs::read(p.with_extension("wal.corrupt")).unwrap() == bytes;
                let mut replayed = Vec::new();
                ready(Wal::open::<Message>(&p, |r| replayed.push(r)).await.unwrap());
                (fault, kept, replayed)
            })
        });
        assert!(fault.offset > FILE_HEADER_LEN, "{fault}");
        assert!(kept, "the bad log is kept beside the new one");
        assert_eq!(rebuilt.len(), 3);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }
}
