//! A replica on the live runtime: one protocol instance on one glommio
//! executor, its peers and clients over TCP.
//!
//! The protocol task waits for input or its next tick, handles everything
//! that queued up meanwhile, ticks if due, flushes (the protocols batch
//! there), and hands each outgoing message to its link's queue. Each link's
//! writer sends whatever queued as one frame. Nothing is shared with other
//! executors: a shard is a separate instance with its own connections.

use super::cut::{CutSwitch, Cuts};
use super::dial::reconnect;
use super::link::{read_loop_paced, write_loop, Delays};
use super::mailbox::Mailbox;
use super::memory::return_freed_memory;
use super::rejoin::{answer, life_now, rejoin, serve_rejoin, HostRequest};
use super::wal::{Opened, Recovered, Wal};
use crate::wire::{Envelope, Hello, Wire};
use futures_lite::future;
use futures_lite::io::split;
use futures_lite::AsyncReadExt;
use glommio::net::{TcpListener, TcpStream};
use glommio::timer::sleep;
use protocols::protocol::{Action, Protocol, ReplicaProtocol};
use protocols::rejoin::Lives;
use protocols::{ClientId, NodeId, Outbox, ReplicaConfig, ReplicaId, Time};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a replica needs to run.
#[derive(Clone, Debug)]
pub struct ReplicaSpec {
    /// The protocol's view of this replica.
    pub config: ReplicaConfig,
    /// Every replica's address (this shard's), indexed by replica id.
    pub addresses: Vec<SocketAddr>,
    /// Emulated one-way delays from this replica (to peers and clients).
    pub delays: Delays,
    /// Durable mode (`-data-dir`): this shard's write-ahead log. Records are
    /// synced (one `fdatasync` per loop iteration) before the messages that
    /// follow them leave, and a restarted replica replays them. `None`:
    /// volatile mode, nothing is written.
    pub wal: Option<std::path::PathBuf>,
    /// Once the log holds this many bytes (and at least twice what the last
    /// compaction left), it is replaced by the replica's snapshot of itself
    /// ([`protocols::protocol::ReplicaProtocol::snapshot`]), for the
    /// protocols that can take one.
    pub compact_log_after: u64,
    /// A harness's handle to freeze this replica for a while (`bench
    /// --fault stall:…`): a garbage-collection pause, a stalled disk.
    pub stall: Option<Arc<StallSwitch>>,
    /// A harness's handle to cut this replica's links for a while (`bench
    /// --fault cut:…`, `isolate:…`).
    pub cut: Option<Arc<CutSwitch>>,
}

/// Freezes a running replica: the next time its loop comes round, its
/// whole executor sleeps for the requested time, so nothing is read,
/// handled or sent meanwhile, as when a process is paused.
#[derive(Debug, Default)]
pub struct StallSwitch {
    requested_us: std::sync::atomic::AtomicU64,
}

impl StallSwitch {
    /// Asks the replica to stall for `pause`.
    pub fn stall_for(&self, pause: Duration) {
        self.requested_us.store(pause.as_micros() as u64, Ordering::Relaxed);
    }

    fn take(&self) -> Option<Duration> {
        let us = self.requested_us.swap(0, Ordering::Relaxed);
        (us > 0).then(|| Duration::from_micros(us))
    }
}

/// The default for [`ReplicaSpec::compact_log_after`].
pub const COMPACT_LOG_AFTER: u64 = 64 << 20;

/// Envelopes kept for a peer that is unreachable, or too slow to take
/// them (its readers pause, TCP pushes back); beyond this they are
/// dropped, as a lossy network would (the protocols retransmit what
/// matters and lagging replicas catch up), so memory stays bounded.
const MAX_QUEUED_FOR_ABSENT_PEER: usize = 100_000;

/// Queues `envelope` for a peer or client connection, dropping what is
/// queued when the connection cannot keep up.
fn push_bounded<M>(queue: &Mailbox<Envelope<M>>, envelope: Envelope<M>, dropped: &mut u64) {
    if queue.len() >= MAX_QUEUED_FOR_ABSENT_PEER {
        let lost = queue.drain().len() as u64;
        if *dropped == 0 {
            tracing::warn!(
                lost,
                "a connection cannot keep up: dropping its queued messages (the protocols retransmit)"
            );
        }
        *dropped += lost;
    }
    queue.push(envelope);
}

/// Listens on `address` at once, even when connections of an earlier
/// server on it linger in TIME-WAIT: a restarted replica must come back on
/// its own address. glommio's `TcpListener::bind` sets only SO_REUSEPORT,
/// which does not cover sockets that were not opened with it (the original
/// Go server's), so the socket is made here with SO_REUSEADDR as servers
/// do. Call inside a glommio executor.
pub fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::{FromRawFd, IntoRawFd};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    // SAFETY: the descriptor is a bound, listening TCP socket that nothing
    // else owns: `into_raw_fd` gave up socket2's ownership of it.
    Ok(unsafe { TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

/// The tasks a replica spawned (links, listener, connections), so that
/// they end with it: glommio leaves detached tasks, and the sockets they
/// hold, behind when an executor's main future returns, so a replica
/// stopped inside a process that goes on (a `bench` fault) would keep its
/// listener and connections open. Dropping a task cancels it.
#[derive(Clone, Default)]
struct Tasks(Rc<RefCell<Vec<Spawned>>>);

/// A spawned task and whether it has finished.
type Spawned = (Rc<std::cell::Cell<bool>>, glommio::Task<()>);

/// Where a replica's answers to each client go.
type ClientQueues<M> = Rc<RefCell<HashMap<ClientId, Mailbox<Envelope<M>>>>>;

impl Tasks {
    /// Spawns `future` as one of the replica's tasks, forgetting those
    /// that have finished.
    fn spawn(&self, future: impl std::future::Future<Output = ()> + 'static) {
        let done = Rc::new(std::cell::Cell::new(false));
        let flag = done.clone();
        let task = glommio::spawn_local(async move {
            future.await;
            flag.set(true);
        });
        let mut tasks = self.0.borrow_mut();
        tasks.retain(|(done, _)| !done.get());
        tasks.push((done, task));
    }

    /// Cancels every task still running.
    fn cancel_all(&self) {
        let tasks = std::mem::take(&mut *self.0.borrow_mut());
        drop(tasks);
    }
}

/// Runs the replica until `stop` is set. Call inside a glommio executor.
pub async fn run_replica<P: Protocol>(spec: ReplicaSpec, stop: Arc<AtomicBool>) -> std::io::Result<()>
where
    P::Message: Wire,
{
    let id = spec.config.id;
    let n = spec.addresses.len();
    let life = life_now();
    let lives = Rc::new(RefCell::new(Lives::new(n)));
    lives.borrow_mut().learn(id, life);
    let listener = listen(spec.addresses[id])?;
    let inbox: Mailbox<(NodeId, P::Message)> = Mailbox::new();
    let requests: Mailbox<HostRequest> = Mailbox::new();
    let clients: ClientQueues<P::Message> = Rc::default();
    let tasks = Tasks::default();
    let connections = Connections {
        inbox: inbox.clone(),
        clients: clients.clone(),
        lives: lives.clone(),
        requests: requests.clone(),
        delays: spec.delays.clone(),
        tasks: tasks.clone(),
    };
    tasks.spawn(accept_loop::<P::Message>(listener, connections, stop.clone()));

    let started = match &spec.wal {
        None => rejoin::<P::Replica>(&spec.config, &spec.addresses, life, &lives, &requests, &stop, false)
            .await
            .map(|r| r.map(|r| (r, None))),
        Some(path) => open_durable::<P>(&spec, path, life, &lives, &requests, &stop).await,
    };
    let (replica, wal) = match started {
        Ok(Some(started)) => started,
        Ok(None) => {
            tasks.cancel_all();
            return Ok(());
        }
        Err(e) => {
            tasks.cancel_all();
            return Err(e);
        }
    };
    // What reached the replica while it rejoined is handled now, with its
    // state: as if it had been delayed (stale lives were dropped on arrival).
    let mut replica = replica;

    let peers: Vec<Option<Mailbox<Envelope<P::Message>>>> = (0..n)
        .map(|r| {
            (r != id).then(|| {
                let queue = Mailbox::new();
                let delay = spec.delays.to(&spec.addresses[r].ip().to_string());
                tasks.spawn(dial_peer::<P::Message>(
                    Hello::Replica { id: id as u64, life },
                    spec.addresses[r],
                    queue.clone(),
                    delay,
                    stop.clone(),
                ));
                queue
            })
        })
        .collect();

    let result = serve::<P>(
        &spec,
        &mut replica,
        wal,
        &inbox,
        (&requests, &lives),
        &peers,
        &clients,
        &stop,
    )
    .await;
    for q in peers.iter().flatten() {
        q.close();
    }
    tasks.cancel_all();
    result
}

/// A durable replica: rebuilt from its log if the log may be believed;
/// after a storage fault, rejoined from the others like a volatile
/// restart (it never votes on what is left) and its log rewritten from
/// the snapshot it received before it acts. `None` if `stop` came first.
async fn open_durable<P: Protocol>(
    spec: &ReplicaSpec,
    path: &std::path::Path,
    life: u64,
    lives: &Rc<RefCell<Lives>>,
    requests: &Mailbox<HostRequest>,
    stop: &AtomicBool,
) -> std::io::Result<Option<(P::Replica, Option<Wal>)>>
where
    P::Message: Wire,
{
    let id = spec.config.id;
    if !<P::Replica as ReplicaProtocol>::DURABLE {
        return Err(std::io::Error::other(format!(
            "{} does not record its state: it cannot run with a data directory",
            P::NAME
        )));
    }
    let mut replica = P::Replica::new(spec.config.clone());
    let mut scratch = Outbox::new();
    let replay = |record| {
        replica.restore(record, &mut scratch);
        scratch.drain().for_each(drop);
        scratch.trim();
    };
    let fault = match Wal::open::<P::Message>(path, replay).await? {
        Opened::Ready(
            wal,
            Recovered {
                replayed,
                dropped_bytes,
            },
        ) => {
            tracing::info!(replica = id, path = %path.display(), replayed, dropped_bytes, "write-ahead log replayed");
            return Ok(Some((replica, Some(wal))));
        }
        Opened::Fault(fault) => fault,
    };
    tracing::error!(
        replica = id,
        path = %path.display(),
        offset = fault.offset,
        "write-ahead log: storage fault at byte {}: {}; not voting on what is left: rejoining from the other replicas",
        fault.offset,
        fault.what
    );
    let Some(replica) = rejoin::<P::Replica>(&spec.config, &spec.addresses, life, lives, requests, stop, true).await?
    else {
        return Ok(None);
    };
    let wal = Wal::replace_after_fault(path, replica.snapshot()).await?;
    tracing::info!(replica = id, path = %path.display(), bytes = wal.len(), "write-ahead log rewritten from the rejoin snapshot (the damaged one kept as .wal.corrupt)");
    Ok(Some((replica, Some(wal))))
}

/// The replica's loop: input, tick, flush, persist, send, until `stop`.
#[allow(clippy::too_many_arguments)]
async fn serve<P: Protocol>(
    spec: &ReplicaSpec,
    replica: &mut P::Replica,
    mut wal: Option<Wal>,
    inbox: &Mailbox<(NodeId, P::Message)>,
    (requests, lives): (&Mailbox<HostRequest>, &RefCell<Lives>),
    peers: &[Option<Mailbox<Envelope<P::Message>>>],
    clients: &RefCell<HashMap<ClientId, Mailbox<Envelope<P::Message>>>>,
    stop: &AtomicBool,
) -> std::io::Result<()>
where
    P::Message: Wire,
{
    let id = spec.config.id;
    let timing = spec.config.timing;

    // Without a log, records would be built only to be dropped.
    let mut out: Outbox<P::Message> = if wal.is_some() {
        Outbox::new()
    } else {
        Outbox::without_records()
    };
    let mut ready: Vec<Action<P::Message>> = Vec::new();
    let mut records: Vec<P::Message> = Vec::new();
    let mut arrived = VecDeque::new();
    let start = Instant::now();
    let now = || Time(start.elapsed().as_nanos() as u64);
    let mut next_tick = now() + timing.tick;
    let mut next_state_log = Time::ZERO;
    let mut compact_at = spec.compact_log_after.max(wal.as_ref().map_or(0, |w| 2 * w.len()));
    let mut dropped = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick.since(now());
        future::or(inbox.ready(), sleep(wait)).await;
        if let Some(pause) = spec.stall.as_ref().and_then(|s| s.take()) {
            tracing::info!(replica = id, ?pause, "stalling on request");
            // Blocks the executor on purpose: its links freeze too.
            std::thread::sleep(pause);
        }
        let t = now();
        inbox.take_into(&mut arrived);
        let cuts = spec.cut.as_ref().map_or(Cuts::default(), |c| c.now());
        if !cuts.is_empty() {
            arrived.retain(|(from, _)| !cuts.blocks(*from));
        }
        replica.warm(arrived.iter().map(|(_, msg)| msg));
        while let Some((from, msg)) = arrived.pop_front() {
            replica.handle(from, msg, t, &mut out);
        }
        // After what arrived before them: a rejoining replica's point must
        // cover whatever of its earlier life counted here.
        for HostRequest { from, request, reply } in requests.drain() {
            answer(Some(&*replica), id, from, &lives.borrow(), request)
                .into_iter()
                .for_each(|a| reply.push(a));
        }
        if t >= next_tick {
            replica.tick(t, &mut out);
            next_tick = t + timing.tick;
            if t >= next_state_log {
                tracing::debug!(replica = id, state = %replica.describe(), "replica state");
                next_state_log = t + Duration::from_secs(1);
            }
        }
        replica.flush(t, &mut out);
        let Some(wal) = wal.as_mut() else {
            // Volatile: nothing to write, every message leaves at once.
            for action in out.drain() {
                route(action, id, (peers, clients), cuts, &mut dropped);
            }
            out.trim();
            continue;
        };
        // Persist, then send: the iteration's records go out in one group
        // sync before any of its messages.
        for action in out.drain() {
            match action {
                Action::Persist(record) => records.push(record),
                Action::Executed(_) => {}
                Action::Installed { donor, applied } => log_installed(id, donor, applied),
                message => ready.push(message),
            }
        }
        if !records.is_empty() {
            wal.append(std::mem::take(&mut records))?;
            if let Err(e) = wal.sync().await {
                // Never retried: after a failed fdatasync the kernel may
                // have dropped the dirty pages and a second sync would
                // report them durable.
                tracing::error!(replica = id, "write-ahead log: a write or sync failed: {e}; stopping this replica rather than answer without its records");
                return Err(e);
            }
            // Everything done so far is synced: a snapshot may replace it.
            if wal.len() >= compact_at {
                let snapshot = replica.snapshot();
                if !snapshot.is_empty() {
                    let before = wal.len();
                    if let Err(e) = wal.compact(snapshot).await {
                        tracing::error!(replica = id, "write-ahead log: {e}; stopping");
                        return Err(e);
                    }
                    tracing::info!(replica = id, before, after = wal.len(), "write-ahead log compacted");
                    return_freed_memory();
                }
                compact_at = spec.compact_log_after.max(2 * wal.len());
            }
        }
        let sent = ready.len();
        for action in ready.drain(..) {
            route(action, id, (peers, clients), cuts, &mut dropped);
        }
        out.trim();
        // Drained each step: a catch-up's burst gives its room back.
        // (`records` goes to the log whole, room and all.)
        protocols::shrink::give_back_for(&mut ready, sent);
    }
    Ok(())
}

/// A replica's outgoing queues: per peer (none for itself), and per client.
type Links<'a, M> = (
    &'a [Option<Mailbox<Envelope<M>>>],
    &'a RefCell<HashMap<ClientId, Mailbox<Envelope<M>>>>,
);

/// Hands one action's message to the link it goes out on.
fn route<M: Clone>(action: Action<M>, id: ReplicaId, (peers, clients): Links<'_, M>, cuts: Cuts, dropped: &mut u64) {
    match &action {
        Action::Send { to, .. } if cuts.blocks(*to) => return,
        Action::Broadcast(msg) if !cuts.is_empty() => {
            for (r, q) in peers.iter().enumerate() {
                if let Some(q) = q.as_ref().filter(|_| !cuts.blocks(NodeId::Replica(r))) {
                    push_bounded(q, (id as u64, msg.clone()), dropped);
                }
            }
            return;
        }
        _ => {}
    }
    match action {
        Action::Send {
            to: NodeId::Replica(r),
            msg,
        } => {
            if let Some(Some(q)) = peers.get(r) {
                push_bounded(q, (id as u64, msg), dropped);
            }
        }
        Action::Send {
            to: NodeId::Client(c),
            msg,
        } => {
            if let Some(q) = clients.borrow().get(&c) {
                push_bounded(q, (c, msg), dropped);
            }
        }
        Action::Broadcast(msg) => {
            for q in peers.iter().flatten() {
                push_bounded(q, (id as u64, msg.clone()), dropped);
            }
        }
        Action::Installed { donor, applied } => log_installed(id, donor, applied),
        Action::Executed(_) | Action::Persist(_) => {}
    }
}

/// A state transfer is rare and worth an operator's attention: the replica
/// fell further behind than the others keep their logs for.
fn log_installed(id: ReplicaId, donor: ReplicaId, applied: u64) {
    tracing::info!(
        replica = id,
        donor,
        applied,
        "fell behind what the others released; installed their state (state transfer)"
    );
    return_freed_memory();
}

/// Keeps a connection to peer `to` for this replica's outgoing messages,
/// reconnecting with backoff when it drops.
async fn dial_peer<M: Wire>(
    hello: Hello,
    to: SocketAddr,
    queue: Mailbox<Envelope<M>>,
    delay: Duration,
    stop: Arc<AtomicBool>,
) {
    let stopped = || stop.load(Ordering::Relaxed);
    while let Some(stream) = reconnect(to, hello, &queue, &stopped).await {
        if let Err(e) = write_loop(stream, queue.clone(), delay).await {
            tracing::warn!(peer = %to, "link to peer lost: {e}");
        }
    }
}

/// What every inbound connection of a replica hands its input to.
struct Connections<M> {
    inbox: Mailbox<(NodeId, M)>,
    clients: ClientQueues<M>,
    /// The lives of the replicas, as far as this one knows.
    lives: Rc<RefCell<Lives>>,
    /// Rejoining replicas' questions, for the replica loop.
    requests: Mailbox<HostRequest>,
    delays: Delays,
    tasks: Tasks,
}

impl<M> Clone for Connections<M> {
    fn clone(&self) -> Self {
        Connections {
            inbox: self.inbox.clone(),
            clients: self.clients.clone(),
            lives: self.lives.clone(),
            requests: self.requests.clone(),
            delays: self.delays.clone(),
            tasks: self.tasks.clone(),
        }
    }
}

async fn accept_loop<M: Wire>(listener: TcpListener, connections: Connections<M>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        connections.tasks.spawn(serve_connection(stream, connections.clone()));
    }
}

/// One inbound connection: a peer replica (read only: we dial it for
/// sending), a client host (both ways, its clients multiplexed), or a
/// rejoining replica's questions.
async fn serve_connection<M: Wire>(mut stream: TcpStream, connections: Connections<M>) {
    let Connections {
        inbox,
        clients,
        lives,
        requests,
        delays,
        tasks,
    } = connections;
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let mut hello = [0u8; 9];
    if let Err(e) = stream.read_exact(&mut hello).await {
        return tracing::warn!(%peer, "closed before greeting: {e}");
    }
    match Hello::from_bytes(&hello) {
        Some(Hello::Replica { id: r, life }) => {
            let r = r as usize;
            if lives.borrow_mut().learn(r, life) {
                tracing::info!(%peer, replica = r, life, "a replica's new life");
            }
            // Whatever an ended life still had in flight is dropped.
            let result = read_loop_paced::<M, _>(
                stream,
                |(_, msg)| {
                    if !lives.borrow().is_stale(r, life) {
                        inbox.push((NodeId::Replica(r), msg));
                    }
                },
                || inbox.len(),
            )
            .await;
            if let Err(e) = result {
                tracing::warn!(%peer, replica = r, "closing replica connection: {e}");
            }
        }
        Some(Hello::Rejoin { id: r, life }) => {
            if lives.borrow_mut().learn(r as usize, life) {
                tracing::info!(%peer, replica = r, life, "a replica rejoins after losing its state");
            }
            if let Err(e) = serve_rejoin(stream, r as usize, requests).await {
                tracing::warn!(%peer, replica = r, "closing rejoin connection: {e}");
            }
        }
        Some(Hello::Clients { host }) => {
            let host = host
                .map(|ip| ip.to_string())
                .or_else(|| stream.peer_addr().ok().map(|a| a.ip().to_string()));
            let delay = host.map_or(Duration::ZERO, |h| delays.to(&h));
            let (reader, writer) = split(stream);
            let replies: Mailbox<Envelope<M>> = Mailbox::new();
            let writing = write_loop::<M, _>(writer, replies.clone(), delay);
            tasks.spawn(async move {
                let _ = writing.await;
            });
            let backlog = inbox.clone();
            let result = read_loop_paced::<M, _>(
                reader,
                |(client, msg)| {
                    // Answers go where the client spoke last (it may have reconnected).
                    let mut map = clients.borrow_mut();
                    if !map.get(&client).is_some_and(|q| q.same_as(&replies)) {
                        map.insert(client, replies.clone());
                    }
                    drop(map);
                    inbox.push((NodeId::Client(client), msg));
                },
                || backlog.len(),
            )
            .await;
            if let Err(e) = result {
                tracing::warn!(%peer, "closing client connection: {e}");
            }
            replies.close();
            clients.borrow_mut().retain(|_, q| !q.same_as(&replies));
        }
        None => tracing::warn!(%peer, "closing connection: unknown greeting {hello:02x?}"),
    }
}
