//! Volatile restarts on the live runtime: the host side of
//! [`protocols::rejoin`].
//!
//! A server without `-data-dir` starts every life this way. It dials each
//! other replica on a connection of its own (greeting [`Hello::Rejoin`]
//! with its id and new life), asks for its rejoin point, and waits until
//! every one has answered; then it asks them in turn for a snapshot that
//! covers the merged point, and rebuilds itself from it (the snapshot
//! brings the executed state too). When no replica knew an earlier life of
//! it (a cluster starting, or a replica joining late), it never voted, and
//! starts fresh, catching up as a late replica does. Meanwhile it answers
//! the same questions from others with "nothing": it knows nothing.
//!
//! The other side: greeting a replica's new life is enough for a server to
//! drop whatever that replica's earlier lives still had in flight (links
//! carry their dialler's life in [`Hello::Replica`]); its replica loop
//! answers the questions between steps, after handling what arrived
//! before them. Client hosts forget the answers they held when a link to
//! a replica ends ([`protocols::protocol::ClientProtocol::forget_answers`]).

use super::dial::connect;
use super::link::encode_frames;
use super::mailbox::Mailbox;
use crate::wire::{Envelope, Hello, Wire};
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::sleep;
use net::frame::{self, FrameReader};
use protocols::protocol::ReplicaProtocol;
use protocols::rejoin::{Lives, Rejoin, RejoinPoint, RejoinStep};
use protocols::{Outbox, ReplicaConfig, ReplicaId, Time};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A new life's number: milliseconds since the Unix epoch, so that a
/// restarted process's life is above its earlier ones without anything
/// kept on disk (restarts are more than a millisecond apart).
pub fn life_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_millis() as u64)
        .max(1)
}

/// What a rejoining replica asks.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum RejoinRequest {
    /// The receiver's rejoin point.
    Point,
    /// The receiver's snapshot, if it covers this point.
    Image {
        /// [`RejoinPoint::ballot`].
        ballot: u64,
        /// [`RejoinPoint::marks`].
        marks: Vec<(u64, u64)>,
    },
}

/// The answers.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum RejoinReply {
    /// The rejoin point (empty from a replica that is itself rejoining),
    /// and what the answering replica knows of lives.
    Point {
        /// [`RejoinPoint::ballot`].
        ballot: u64,
        /// [`RejoinPoint::marks`].
        marks: Vec<(u64, u64)>,
        /// It knew an earlier life of the asking replica ([`Lives::knew_earlier`]).
        knew_earlier: bool,
        /// Every replica's latest life as it knows it.
        lives: Vec<u64>,
    },
    /// The receiver does not cover the point yet (or is rejoining).
    NotYet,
    /// Part `part` of `parts` of the snapshot: its records, framed as the
    /// links frame messages, cut into pieces of at most [`IMAGE_PIECE`].
    ImagePart {
        /// Which part.
        part: u32,
        /// How many.
        parts: u32,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// Bytes of framed snapshot per [`RejoinReply::ImagePart`]: well under the
/// frame cap.
pub const IMAGE_PIECE: usize = 4 << 20;

/// A question from a rejoining replica, for the replica loop to answer
/// between steps (see [`answer`]).
pub(super) struct HostRequest {
    pub(super) from: ReplicaId,
    pub(super) request: RejoinRequest,
    pub(super) reply: Mailbox<RejoinReply>,
}

/// What replica `me`, knowing `lives`, answers replica `from`: `replica`
/// is `None` while it is rejoining itself.
pub(super) fn answer<R: ReplicaProtocol>(
    replica: Option<&R>,
    me: ReplicaId,
    from: ReplicaId,
    lives: &Lives,
    request: RejoinRequest,
) -> Vec<RejoinReply>
where
    R::Message: Wire,
{
    let point = |RejoinPoint { ballot, marks }| RejoinReply::Point {
        ballot,
        marks,
        knew_earlier: lives.knew_earlier(from),
        lives: lives.latest().to_vec(),
    };
    let Some(replica) = replica else {
        return vec![match request {
            RejoinRequest::Point => point(RejoinPoint::default()),
            RejoinRequest::Image { .. } => RejoinReply::NotYet,
        }];
    };
    match request {
        RejoinRequest::Point => vec![point(replica.rejoin_point())],
        RejoinRequest::Image { ballot, marks } => {
            if !replica.covers(&RejoinPoint { ballot, marks }) {
                return vec![RejoinReply::NotYet];
            }
            let records: Vec<Envelope<R::Message>> = replica
                .snapshot()
                .into_iter()
                .map(|record| (me as u64, record))
                .collect();
            let mut bytes = Vec::new();
            if let Err(e) = encode_frames(records, &mut bytes) {
                tracing::error!(replica = me, "could not frame a snapshot for a rejoining replica: {e}");
                return vec![RejoinReply::NotYet];
            }
            let pieces: Vec<&[u8]> = bytes.chunks(IMAGE_PIECE).collect();
            let parts = pieces.len() as u32;
            tracing::info!(
                replica = me,
                bytes = bytes.len(),
                "sending a snapshot to a rejoining replica"
            );
            pieces
                .into_iter()
                .enumerate()
                .map(|(part, piece)| RejoinReply::ImagePart {
                    part: part as u32,
                    parts,
                    bytes: piece.to_vec(),
                })
                .collect()
        }
    }
}

/// The server side of a [`Hello::Rejoin`] connection: each request frame
/// goes to the replica loop through `requests`, and its answers back.
pub(super) async fn serve_rejoin(
    mut stream: TcpStream,
    from: ReplicaId,
    requests: Mailbox<HostRequest>,
) -> Result<(), super::link::LinkError> {
    let mut reader = FrameReader::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(reader.finish()?);
        }
        reader.push(&buf[..n]);
        while let Some(batch) = reader.next_frame::<RejoinRequest>()? {
            for request in batch {
                let reply = Mailbox::new();
                requests.push(HostRequest {
                    from,
                    request,
                    reply: reply.clone(),
                });
                reply.ready().await;
                let mut out = Vec::new();
                for answer in reply.drain() {
                    frame::encode(&vec![answer], &mut out)?;
                }
                stream.write_all(&out).await?;
                stream.flush().await?;
            }
        }
    }
}

/// How long one question may take before the next try.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between rounds of questions.
const ROUND_PAUSE: Duration = Duration::from_millis(100);

/// Asks `to` one question on a fresh connection; the answers, in order.
async fn ask(to: SocketAddr, me: ReplicaId, life: u64, request: RejoinRequest) -> std::io::Result<Vec<RejoinReply>> {
    let asking = async {
        let mut stream = connect(to, Hello::Rejoin { id: me as u64, life }).await?;
        let mut out = Vec::new();
        frame::encode(&vec![request.clone()], &mut out).map_err(std::io::Error::other)?;
        stream.write_all(&out).await?;
        stream.flush().await?;
        let mut reader = FrameReader::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut replies = Vec::new();
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::other("closed before answering"));
            }
            reader.push(&buf[..n]);
            while let Some(batch) = reader.next_frame::<RejoinReply>().map_err(std::io::Error::other)? {
                for reply in batch {
                    let last = match &reply {
                        RejoinReply::ImagePart { part, parts, .. } => part + 1 == *parts,
                        _ => true,
                    };
                    replies.push(reply);
                    if last {
                        return Ok(replies);
                    }
                }
            }
        }
    };
    future::or(asking, async {
        sleep(ASK_TIMEOUT).await;
        Err(std::io::Error::other("no answer in time"))
    })
    .await
}

/// Rebuilds replica `config.id` from the others (see the module): `None`
/// if `stop` was set first. `requests` are others' questions, answered
/// "nothing" meanwhile. `had_state`: the replica knows it held a state (a
/// durable log it could not believe), so it waits for a donor even when
/// no replica knew an earlier life of it.
pub(super) async fn rejoin<R: ReplicaProtocol>(
    config: &ReplicaConfig,
    addresses: &[SocketAddr],
    life: u64,
    lives: &Rc<RefCell<Lives>>,
    requests: &Mailbox<HostRequest>,
    stop: &AtomicBool,
    had_state: bool,
) -> std::io::Result<Option<R>>
where
    R::Message: Wire,
{
    let me = config.id;
    let answering = {
        let (requests, lives) = (requests.clone(), lives.clone());
        glommio::spawn_local(async move {
            loop {
                requests.ready().await;
                for HostRequest { from, request, reply } in requests.drain() {
                    answer::<R>(None, me, from, &lives.borrow(), request)
                        .into_iter()
                        .for_each(|a| reply.push(a));
                }
            }
        })
    };
    let start = Instant::now();
    let now = || Time(start.elapsed().as_nanos() as u64);
    let mut rejoin = Rejoin::new(me, addresses.len(), life, ROUND_PAUSE);
    if had_state {
        rejoin = rejoin.with_earlier_state();
    }
    let mut step = rejoin.start(now());
    let mut last_note = Instant::now();
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(None);
        }
        step = match step {
            RejoinStep::Hello(waiting) => {
                if last_note.elapsed() > Duration::from_secs(5) {
                    tracing::warn!(replica = me, waiting = ?waiting.iter().collect::<Vec<_>>(), "rejoining: waiting for every other replica to answer");
                    last_note = Instant::now();
                }
                let mut next = RejoinStep::Wait;
                // Every silent replica at once: one slow peer must not hold up the others' answers.
                let asking: Vec<_> = waiting
                    .iter()
                    .map(|r| {
                        (
                            r,
                            glommio::spawn_local(ask(addresses[r], me, life, RejoinRequest::Point)),
                        )
                    })
                    .collect();
                for (r, task) in asking {
                    match task.await.as_deref() {
                        Ok(
                            [RejoinReply::Point {
                                ballot,
                                marks,
                                knew_earlier,
                                lives: theirs,
                            }],
                        ) => {
                            let point = RejoinPoint {
                                ballot: *ballot,
                                marks: marks.clone(),
                            };
                            let mut known = lives.borrow_mut();
                            for (other, &their_life) in theirs.iter().enumerate() {
                                known.learn(other, their_life);
                            }
                            drop(known);
                            let step = rejoin.on_ack(r, life, &point, *knew_earlier, now());
                            if !matches!(step, RejoinStep::Wait) {
                                next = step;
                            }
                        }
                        Ok(other) => tracing::warn!(replica = me, peer = r, "rejoining: unexpected answer {other:?}"),
                        Err(e) => tracing::debug!(replica = me, peer = r, "rejoining: no point yet: {e}"),
                    }
                }
                if matches!(next, RejoinStep::Wait) {
                    sleep(ROUND_PAUSE).await;
                }
                next
            }
            RejoinStep::StartFresh => {
                tracing::info!(
                    replica = me,
                    "rejoining: no replica knew an earlier life of this one (the cluster is starting); starting fresh"
                );
                break Ok(Some(R::new(config.clone())));
            }
            RejoinStep::AskImage(donor, point) => {
                match ask(
                    addresses[donor],
                    me,
                    life,
                    RejoinRequest::Image {
                        ballot: point.ballot,
                        marks: point.marks.clone(),
                    },
                )
                .await
                {
                    Ok(replies) if matches!(replies.first(), Some(RejoinReply::ImagePart { .. })) => {
                        match rebuild::<R>(config, replies) {
                            Ok(replica) => {
                                tracing::info!(replica = me, donor, "rejoined from a snapshot");
                                break Ok(Some(replica));
                            }
                            Err(e) => tracing::warn!(replica = me, donor, "rejoining: a bad snapshot: {e}"),
                        }
                    }
                    Ok(_) => tracing::debug!(replica = me, donor, "rejoining: the donor does not cover the point yet"),
                    Err(e) => tracing::debug!(replica = me, donor, "rejoining: no snapshot: {e}"),
                }
                sleep(ROUND_PAUSE).await;
                RejoinStep::Wait
            }
            RejoinStep::Wait => {
                sleep(ROUND_PAUSE / 2).await;
                rejoin.tick(now())
            }
        };
    };
    drop(answering);
    result
}

/// A replica rebuilt from a donor's snapshot: the parts put together,
/// their frames read back into records, each restored in order.
fn rebuild<R: ReplicaProtocol>(config: &ReplicaConfig, replies: Vec<RejoinReply>) -> Result<R, String>
where
    R::Message: Wire,
{
    let mut reader = FrameReader::new();
    let count = replies.len();
    for (i, reply) in replies.into_iter().enumerate() {
        match reply {
            RejoinReply::ImagePart { part, parts, bytes } if part as usize == i && parts as usize == count => {
                reader.push(&bytes)
            }
            _ => return Err("parts missing or out of order".into()),
        }
    }
    let mut replica = R::new(config.clone());
    let mut scratch = Outbox::without_records();
    while let Some(batch) = R::Message::decode(&mut reader).map_err(|e| e.to_string())? {
        for (_, record) in batch {
            replica.restore(record, &mut scratch);
            scratch.drain().for_each(drop);
        }
    }
    reader.finish().map_err(|e| e.to_string())?;
    Ok(replica)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::paxos::PaxosReplica;
    use protocols::quorum::QuorumSystem;
    use protocols::{DeliberateBugs, Timing, DEFAULT_RELEASE_LAG};

    fn config(id: ReplicaId) -> ReplicaConfig {
        ReplicaConfig {
            id,
            quorums: QuorumSystem::new(3),
            timing: Timing::for_max_delay(Duration::from_millis(1)),
            bugs: DeliberateBugs::default(),
            release_lag: DEFAULT_RELEASE_LAG,
        }
    }

    #[test]
    fn a_rejoining_replica_answers_nothing_and_says_what_it_knew() {
        let mut lives = Lives::new(3);
        lives.learn(0, 5);
        let point = answer::<PaxosReplica>(None, 1, 0, &lives, RejoinRequest::Point);
        assert_eq!(
            point,
            vec![RejoinReply::Point {
                ballot: 0,
                marks: Vec::new(),
                knew_earlier: false,
                lives: vec![5, 0, 0]
            }]
        );
        lives.learn(0, 6);
        assert!(matches!(
            answer::<PaxosReplica>(None, 1, 0, &lives, RejoinRequest::Point)[0],
            RejoinReply::Point { knew_earlier: true, .. }
        ));
        assert_eq!(
            answer::<PaxosReplica>(
                None,
                1,
                0,
                &lives,
                RejoinRequest::Image {
                    ballot: 0,
                    marks: Vec::new()
                }
            ),
            vec![RejoinReply::NotYet]
        );
        let fresh = PaxosReplica::new(config(0));
        let RejoinReply::Point { ballot, marks, .. } =
            answer(Some(&fresh), 0, 2, &lives, RejoinRequest::Point).remove(0)
        else {
            panic!("a point")
        };
        assert!(
            PaxosReplica::new(config(2)).covers(&RejoinPoint { ballot, marks }),
            "a fresh replica covers a fresh one's point"
        );
    }

    #[test]
    fn a_snapshot_survives_its_parts_and_rebuilds_a_replica() {
        let donor = PaxosReplica::new(config(0));
        let lives = Lives::new(3);
        let replies = answer(
            Some(&donor),
            0,
            1,
            &lives,
            RejoinRequest::Image {
                ballot: 0,
                marks: Vec::new(),
            },
        );
        assert!(matches!(replies[0], RejoinReply::ImagePart { part: 0, .. }));
        let rebuilt: PaxosReplica = rebuild(&config(1), replies).expect("rebuilds");
        assert_eq!(rebuilt.rejoin_point(), donor.rejoin_point());
        let mut shuffled = answer(
            Some(&donor),
            0,
            1,
            &lives,
            RejoinRequest::Image {
                ballot: 0,
                marks: Vec::new(),
            },
        );
        if let RejoinReply::ImagePart { part, .. } = &mut shuffled[0] {
            *part = 7;
        }
        assert!(
            rebuild::<PaxosReplica>(&config(1), shuffled).is_err(),
            "a part out of place is refused"
        );
    }
}
