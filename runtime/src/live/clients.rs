//! A host of logical clients, the load generator of `bench` and of the
//! CLI's client: each logical client runs the protocol's client side and
//! keeps one command in flight. Closed loop, it submits the next as soon
//! as one completes; open loop ([`Load::Open`]), commands start on a clock
//! and wait for an idle client.

use super::dial::{connect, reconnect};
use super::link::{read_loop_paced, write_loop, Delays};
use super::mailbox::Mailbox;
use crate::wire::{Envelope, Hello, Wire};
use bytes::Bytes;
use futures_lite::future;
use futures_lite::io::split;
use glommio::timer::sleep;
use hdrhistogram::Histogram;
use protocols::protocol::{Action, ClientProtocol, Protocol};
use protocols::quorum::QuorumSystem;
use protocols::{ClientConfig, Command, CommandId, NodeId, Outbox, ReplicaId, Time, Timing};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::timeline::Timeline;
use super::workload::ArrivalClock;
pub use super::workload::{exact_share, Arrivals, Keys, Workload, CONFLICT_KEY};
use std::collections::VecDeque;

/// How a host paces its commands.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Each logical client sends its next command as soon as one completes.
    Closed,
    /// Commands start at `rate` per second (this host's share) whatever is
    /// outstanding, each on an idle logical client or, when none is idle,
    /// as soon as one is; latency counts from the intended start, so a
    /// stall shows in the percentiles (no coordinated omission).
    Open {
        /// Commands per second this host starts.
        rate: f64,
        /// How starts are spaced.
        arrivals: Arrivals,
        /// Seeds the Poisson gaps.
        seed: u64,
    },
}

/// What one client host runs.
#[derive(Clone, Debug)]
pub struct ClientHostSpec {
    /// The logical clients' numbers (below 2^32): what their workload and
    /// their logs are keyed by.
    pub clients: std::ops::Range<u64>,
    /// Tells this run's clients from an earlier run's with the same
    /// numbers (below 2^24): replicas keep exactly-once sessions per client
    /// id, and would take a rerun's first commands for ones long answered
    /// and never answer them. 0 when the replicas are this run's own.
    pub session: u64,
    /// Per shard, every replica's address for that shard.
    pub shards: Vec<Vec<SocketAddr>>,
    /// The deployment's quorums.
    pub quorums: QuorumSystem,
    /// Timeouts.
    pub timing: Timing,
    /// The replica each client treats as closest (by client index).
    pub closest: Vec<ReplicaId>,
    /// The commands.
    pub workload: Workload,
    /// Per logical client (by index), how many commands it runs before it
    /// stops (`None`: every client runs until the measurement ends); the
    /// host ends when all have stopped. Lets a deployment's clone run
    /// exactly its `reqs` over several outstanding slots.
    pub commands_per_client: Option<Vec<u64>>,
    /// Completions in this first stretch are not measured.
    pub warmup: Duration,
    /// How long to measure after the warm-up.
    pub measure: Duration,
    /// Emulated one-way delays from these clients to the replicas.
    pub delays: Delays,
    /// The address these clients stand for in the latency table, told to
    /// replicas in the greeting (`None`: the socket's own address).
    pub host: Option<std::net::Ipv4Addr>,
    /// Closed or open loop.
    pub load: Load,
    /// When the host's clock starts (warm-up, measurement, timeline): a
    /// harness that acts at given times (`bench --fault`) shares it with
    /// its hosts. `None`: once the host has connected.
    pub epoch: Option<Instant>,
}

/// The shard that owns `key`: every replica routes a key the same way.
pub fn shard_of(command: &Command, shards: usize) -> usize {
    let key = match command {
        Command::Put { key, .. } | Command::Get { key } | Command::Scan { key, .. } => *key,
        Command::Noop => 0,
    };
    ((key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize % shards.max(1)
}

/// What one client host measured.
#[derive(Debug)]
pub struct ClientHostReport {
    /// Latencies in microseconds of the commands completed while measuring.
    pub latency_us: Histogram<u64>,
    /// Completions on the fast path, on the slow path, and of protocols with one path.
    pub fast: u64,
    /// See `fast`.
    pub slow: u64,
    /// See `fast`.
    pub single_path: u64,
    /// With `Workload::verify`: keys read back and found holding their last
    /// acknowledged write.
    pub verified: u64,
    /// With `Workload::verify`: keys that did not, described.
    pub lost: Vec<String>,
    /// Completions and latencies over the measurement, slot by slot.
    pub timeline: Timeline,
    /// Open loop: commands whose intended start fell in the measurement.
    pub offered: u64,
    /// Open loop: commands due by the end that had not completed (waiting
    /// for an idle client, or in flight).
    pub pending_at_end: u64,
}

/// One measured command that completed, as a host hands it to its
/// observer (the CLI writes the original's per-clone latency logs from these).
#[derive(Clone, Copy, Debug)]
pub struct Completed {
    /// The logical client, by index in the host's range.
    pub client: usize,
    /// When the command was sent, from the host's start.
    pub sent: Duration,
    /// How long it took.
    pub latency: Duration,
    /// The path it took, for protocols with two.
    pub fast_path: Option<bool>,
}

/// A logical client: one protocol client per shard, one command in flight.
struct Logical<C> {
    id: u64,
    /// How many commands it runs (`u64::MAX`: until the end).
    limit: u64,
    /// Per shard; shard `s` speaks as client `id × shards + s`, so each
    /// shard's sessions see their own client.
    protocol: Vec<C>,
    next: u64,
    /// The command in flight: its id and when it was sent.
    in_flight: (CommandId, Time),
    /// Per shard, the next sequence number: each shard sees its own
    /// gap-free numbering from 1, which replicas rely on to release
    /// executed commands ([`protocols::gc`]).
    shard_seq: Vec<u64>,
    /// The command in flight itself (kept only for the read-back check).
    command: Command,
    /// With `verify`: the last acknowledged value of each key this client
    /// alone writes; after the last command, the keys still to read back.
    acked: HashMap<i64, Bytes>,
    to_read: Vec<i64>,
    /// Its last command (read-backs included) completed: nothing to retry.
    finished: bool,
    /// A command of its own is in flight.
    busy: bool,
}

/// Runs the clients until the warm-up and measurement are over; counts each
/// completion in `progress`. Call inside a glommio executor.
pub async fn run_clients<P: Protocol>(
    spec: ClientHostSpec,
    progress: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<ClientHostReport>
where
    P::Message: Wire,
{
    run_clients_observed::<P>(spec, progress, stop, |_| {}).await
}

/// What a client host's links hand its loop: the shard and replica a
/// message came from, and the message (`None`: that link ended, so the
/// answers it delivered no longer count).
type Arrival<M> = (usize, ReplicaId, Option<Envelope<M>>);

/// [`run_clients`], handing every measured completion to `on_completion`
/// as it happens (read-backs are not measured, and not handed over).
pub async fn run_clients_observed<P: Protocol>(
    spec: ClientHostSpec,
    progress: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    mut on_completion: impl FnMut(Completed),
) -> std::io::Result<ClientHostReport>
where
    P::Message: Wire,
{
    let shards = spec.shards.len().max(1);
    let inbox: Mailbox<Arrival<P::Message>> = Mailbox::new();
    let mut links: Vec<Vec<Mailbox<Envelope<P::Message>>>> = Vec::new();
    for (s, replicas) in spec.shards.iter().enumerate() {
        let mut shard_links = Vec::new();
        for (r, addr) in replicas.iter().enumerate() {
            // The shard's first replica must come up within 10 s (none that
            // does is an error: a wrong address, a cluster not started);
            // the others are tried once and otherwise joined in the
            // background, as after a restart, so a client host starts while
            // a replica is down.
            let stream = if r == 0 {
                Some(connect_retrying(*addr, spec.host).await?)
            } else {
                connect(*addr, Hello::Clients { host: spec.host }).await.ok()
            };
            let queue: Mailbox<Envelope<P::Message>> = Mailbox::new();
            let link = ClientLink {
                shard: s,
                replica: r,
                address: *addr,
                host: spec.host,
                delay: spec.delays.to(&addr.ip().to_string()),
            };
            glommio::spawn_local(keep_link::<P::Message>(link, stream, queue.clone(), inbox.clone())).detach();
            shard_links.push(queue);
        }
        links.push(shard_links);
    }

    let start = spec.epoch.unwrap_or_else(Instant::now);
    let now = || Time(start.elapsed().as_nanos() as u64);
    let first = spec.clients.start;
    let session = spec.session << 32;
    let wire_id = |id: u64, shard: usize| (session | id) * shards as u64 + shard as u64;
    let mut clients: Vec<Logical<P::Client>> = spec
        .clients
        .clone()
        .enumerate()
        .map(|(i, id)| Logical {
            id,
            limit: spec
                .commands_per_client
                .as_ref()
                .map_or(u64::MAX, |limits| limits.get(i).copied().unwrap_or(0)),
            protocol: (0..shards)
                .map(|s| {
                    P::Client::new(ClientConfig {
                        id: wire_id(id, s),
                        quorums: spec.quorums.clone(),
                        closest: spec.closest[i],
                        timing: spec.timing,
                        wait_closest: false,
                    })
                })
                .collect(),
            next: 1,
            in_flight: (CommandId::new(0, 0), Time::ZERO),
            shard_seq: vec![1; shards],
            command: Command::Noop,
            acked: HashMap::new(),
            to_read: Vec::new(),
            finished: false,
            busy: false,
        })
        .collect();
    let mut out: Outbox<P::Message> = Outbox::new();
    let route = |from: u64, shard: usize, out: &mut Outbox<P::Message>| {
        for action in out.drain() {
            if let Action::Send {
                to: NodeId::Replica(r),
                msg,
            } = action
            {
                links[shard][r].push((from, msg));
            }
        }
    };
    // `intended` is when the command should have started (open loop: its
    // arrival; closed loop: now), from which its latency counts.
    let submit = |c: &mut Logical<P::Client>, intended: Time, t: Time, out: &mut Outbox<P::Message>| {
        let command = match c.to_read.pop() {
            Some(key) if c.next > c.limit => Command::Get { key },
            _ => spec.workload.command(c.id, c.next),
        };
        if spec.workload.verify {
            c.command = command.clone();
        }
        let shard = shard_of(&command, shards);
        let from = wire_id(c.id, shard);
        let id = CommandId::new(from, c.shard_seq[shard]);
        c.shard_seq[shard] += 1;
        c.protocol[shard].submit(id, command, t, out);
        c.next += 1;
        c.in_flight = (id, intended);
        c.busy = true;
        route(from, shard, out);
    };
    let mut running = 0;
    let mut idle: Vec<usize> = Vec::new();
    let mut backlog: VecDeque<Time> = VecDeque::new();
    let mut arrived = VecDeque::new();
    let mut clock = match spec.load {
        Load::Closed => None,
        Load::Open { rate, arrivals, seed } => Some(ArrivalClock::new(arrivals, rate, seed)),
    };
    let mut next_arrival = now();
    for (i, c) in clients.iter_mut().enumerate().filter(|(_, c)| c.limit > 0) {
        running += 1;
        if clock.is_some() {
            idle.push(i);
        } else {
            let t = now();
            submit(c, t, t, &mut out);
        }
    }

    let mut report = ClientHostReport {
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
        fast: 0,
        slow: 0,
        single_path: 0,
        verified: 0,
        lost: Vec::new(),
        timeline: Timeline::new(spec.measure),
        offered: 0,
        pending_at_end: 0,
    };
    let (warm_end, end) = (Time::ZERO + spec.warmup, Time::ZERO + spec.warmup + spec.measure);
    let mut next_tick = now() + spec.timing.tick;
    let mut done_since_report = 0u64;
    while now() < end && !stop.load(Ordering::Relaxed) && running > 0 {
        let wake = if clock.is_some() {
            next_tick.min(next_arrival)
        } else {
            next_tick
        };
        future::or(inbox.ready(), sleep(wake.since(now()))).await;
        let t = now();
        if let Some(clock) = clock.as_mut() {
            // Open loop: every start due by now joins the backlog, and idle
            // clients take them in order.
            while next_arrival <= t && next_arrival < end {
                backlog.push_back(next_arrival);
                report.offered += u64::from(next_arrival >= warm_end);
                next_arrival = next_arrival + Duration::from_nanos(clock.next_gap_ns().max(1));
            }
            while !backlog.is_empty() {
                let Some(i) = idle.pop() else { break };
                let Some(intended) = backlog.pop_front() else { break };
                submit(&mut clients[i], intended, t, &mut out);
            }
        }
        inbox.take_into(&mut arrived);
        while let Some((shard, r, envelope)) = arrived.pop_front() {
            let Some((to, msg)) = envelope else {
                // The link to replica `r` ended: it may have restarted
                // without its state, so answers held from it must not
                // count ([`protocols::rejoin`]); and a client that asks
                // it first asks another until it answers again
                // ([`protocols::preferred`]).
                for c in clients.iter_mut() {
                    c.protocol[shard].forget_answers();
                    c.protocol[shard].unreachable(r, t);
                }
                continue;
            };
            let id = to / shards as u64;
            if id & !0xFFFF_FFFF != session {
                continue;
            }
            let Some(index) = (id & 0xFFFF_FFFF).checked_sub(first).map(|i| i as usize) else {
                continue;
            };
            let Some(c) = clients.get_mut(index) else { continue };
            let completion = c.protocol[shard].handle(r, msg, t, &mut out);
            route(to, shard, &mut out);
            let Some(done) = completion else { continue };
            if done.id != c.in_flight.0 {
                continue;
            }
            // Read-backs (with `verify`) are not part of the measured load.
            let measured = c.next - 1 <= c.limit;
            c.busy = false;
            if t >= warm_end && measured {
                let latency = t.since(c.in_flight.1);
                let _ = report.latency_us.record((latency.as_micros() as u64).max(1));
                report.timeline.record(t.since(warm_end), latency);
                on_completion(Completed {
                    client: index,
                    sent: c.in_flight.1.since(Time::ZERO),
                    latency,
                    fast_path: done.fast_path,
                });
                match done.fast_path {
                    Some(true) => report.fast += 1,
                    Some(false) => report.slow += 1,
                    None => report.single_path += 1,
                }
            }
            done_since_report += u64::from(measured);
            if spec.workload.verify {
                check_read_back(c, &done.result, spec.workload.key, &mut report);
            }
            if c.next > c.limit && c.to_read.is_empty() {
                c.finished = true;
                running -= 1;
                continue;
            }
            if clock.is_none() {
                submit(c, t, t, &mut out);
            } else if let Some(intended) = backlog.pop_front() {
                submit(c, intended, t, &mut out);
            } else {
                idle.push(index);
            }
        }
        if t >= next_tick {
            // Every client with a command in flight retries it, read-backs
            // included (a replica that restarts may have lost one).
            for c in clients.iter_mut().filter(|c| !c.finished && c.limit > 0) {
                for (s, protocol) in c.protocol.iter_mut().enumerate() {
                    protocol.tick(t, &mut out);
                    route(wire_id(c.id, s), s, &mut out);
                }
            }
            next_tick = t + spec.timing.tick;
            progress.fetch_add(done_since_report, Ordering::Relaxed);
            done_since_report = 0;
        }
    }
    progress.fetch_add(done_since_report, Ordering::Relaxed);
    if clock.is_some() {
        report.pending_at_end = backlog.len() as u64 + clients.iter().filter(|c| c.busy).count() as u64;
    }
    for q in links.iter().flatten() {
        q.close();
    }
    Ok(report)
}

/// Read-back bookkeeping after `c`'s command completed with `result`:
/// remember an acknowledged write to a key of its own; check a read-back
/// against the remembered value; after the last command, list the keys to
/// read back.
fn check_read_back<C>(
    c: &mut Logical<C>,
    result: &protocols::CommandResult,
    shared_key: i64,
    report: &mut ClientHostReport,
) {
    let limit = c.limit;
    let was_read_back = c.next > limit + 1;
    match (&c.command, result) {
        (Command::Put { key, value }, _) if *key != shared_key && !was_read_back => {
            c.acked.insert(*key, value.clone());
        }
        (Command::Get { key }, protocols::CommandResult::Value(found)) if was_read_back => match c.acked.get(key) {
            Some(expected) if found.as_ref() == Some(expected) => report.verified += 1,
            Some(expected) => report.lost.push(format!(
                "client {} key {key}: acknowledged {:?}, read {:?}",
                c.id,
                String::from_utf8_lossy(&expected[..expected.len().min(24)]),
                found
                    .as_ref()
                    .map(|f| String::from_utf8_lossy(&f[..f.len().min(24)]).into_owned())
            )),
            None => {}
        },
        _ => {}
    }
    if c.next == limit + 1 && !was_read_back {
        c.to_read = c.acked.keys().copied().collect();
    }
}

/// One client host's link to one replica shard.
struct ClientLink {
    shard: usize,
    replica: ReplicaId,
    address: SocketAddr,
    host: Option<std::net::Ipv4Addr>,
    delay: Duration,
}

/// Carries `queue` to the replica and its answers to `inbox` over
/// `stream`; when the connection ends (the replica crashed or restarted),
/// connects again with backoff and carries on, until the host closes the
/// queue. Messages queued while the replica is away are dropped (clients
/// retry what matters). Without a first `stream`, it starts by connecting.
/// After each connection ends, `None` goes to `inbox`, behind what it
/// delivered: the host then forgets the answers its clients held.
async fn keep_link<M: Wire>(
    link: ClientLink,
    stream: Option<glommio::net::TcpStream>,
    queue: Mailbox<Envelope<M>>,
    inbox: Mailbox<Arrival<M>>,
) {
    let (s, r) = (link.shard, link.replica);
    let mut stream = match stream {
        Some(stream) => Some(stream),
        None => reconnect(link.address, Hello::Clients { host: link.host }, &queue, &|| false).await,
    };
    while let Some(connected) = stream {
        let (reader, writer) = split(connected);
        let deliver = inbox.clone();
        let backlog = inbox.clone();
        let reading = read_loop_paced::<M, _>(
            reader,
            move |env| deliver.push((s, r, Some(env))),
            move || backlog.len(),
        );
        let writing = write_loop::<M, _>(writer, queue.clone(), link.delay);
        if let Err(e) = future::or(reading, writing).await {
            tracing::warn!(replica = r, shard = s, "client link closed: {e}");
        }
        inbox.push((s, r, None));
        stream = reconnect(link.address, Hello::Clients { host: link.host }, &queue, &|| false).await;
    }
}

/// Connects to a replica that may still be starting: retries for 10 s.
async fn connect_retrying(
    addr: SocketAddr,
    host: Option<std::net::Ipv4Addr>,
) -> std::io::Result<glommio::net::TcpStream> {
    let mut last = None;
    for _ in 0..200 {
        match connect(addr, Hello::Clients { host }).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        sleep(Duration::from_millis(50)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no attempt")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_shards_and_always_land_on_the_same_one() {
        let shards = 4;
        let mut hits = [0usize; 4];
        for key in 0..4000i64 {
            let s = shard_of(&Command::Get { key }, shards);
            assert_eq!(
                s,
                shard_of(
                    &Command::Put {
                        key,
                        value: Bytes::new()
                    },
                    shards
                )
            );
            hits[s] += 1;
        }
        assert!(hits.iter().all(|h| *h > 800), "{hits:?}");
        assert_eq!(shard_of(&Command::Get { key: 42 }, 1), 0);
    }
}
