//! How a server process keeps its memory to what it holds.
//!
//! Two things made a replica's resident memory say more about its
//! allocator than about its state: free pages mimalloc keeps after a
//! one-off peak (an install, a compaction), and transparent huge pages,
//! which back a heap in 2 MiB steps. With huge pages on, three replicas
//! holding the same state differed by up to 15% in RSS, and the CLI's
//! SwiftPaxos runs showed 220-240 ms latency spikes that went away
//! without them (results/restarts.md, "Huge pages").

/// Turns transparent huge pages off for this process (and the processes
/// it starts): `prctl(PR_SET_THP_DISABLE)`, which covers mappings already
/// made too. Servers and `bench` call it at start unless asked to keep
/// them (`-thp`, `--thp`). Fails only on kernels without THP
/// or the call, where there is nothing to turn off.
pub fn without_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integers only and changes no memory.
    let status = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if status != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "transparent huge pages stay as the system sets them");
    }
}

/// Hands the allocator's free pages back to the system. An install holds
/// the image and the state it builds at once, and a compaction a snapshot
/// as large as the state: mimalloc (the binaries' allocator) otherwise
/// keeps part of such a one-off peak for reuse, and a replica that caught
/// up by state transfer would hold more than the others for good.
pub fn return_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers; with another global
    // allocator it only tidies mimalloc's own (empty) heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
}
