//! The wire format: every protocol's messages survive a frame, and every way
//! a peer can send a bad frame is refused with its reason, never a panic.

use bytes::Bytes;
use net::frame::{encode, FrameError, FrameReader, Header, HEADER_LEN, MAX_PAYLOAD, VERSION};
use protocols::ballot::Ballot;
use protocols::epaxos::instance::{Attributes, InstanceId};
use protocols::fastpaxos::round::{Round, Step};
use protocols::{Command, CommandId, CommandResult};
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn put(k: i64) -> Command {
    Command::Put {
        key: k,
        value: Bytes::from(vec![7u8; 100]),
    }
}

fn round_trip<M>(messages: Vec<M>)
where
    M: PartialEq + std::fmt::Debug,
    Vec<M>: for<'a, 'b> rkyv::Serialize<
        rkyv::api::high::HighSerializer<
            net::frame::PayloadWriter<'b>,
            rkyv::ser::allocator::ArenaHandle<'a>,
            rkyv::rancor::Error,
        >,
    >,
    Vec<M>: rkyv::Archive,
    <Vec<M> as rkyv::Archive>::Archived: for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rkyv::rancor::Error>>
        + rkyv::Deserialize<Vec<M>, rkyv::api::high::HighDeserializer<rkyv::rancor::Error>>,
{
    let mut wire = Vec::new();
    encode(&messages, &mut wire).unwrap();
    encode(&messages, &mut wire).unwrap();
    // Fed in awkward pieces, as a socket would.
    let mut reader = FrameReader::new();
    let mut frames = Vec::new();
    for chunk in wire.chunks(7) {
        reader.push(chunk);
        while let Some(frame) = reader.next_frame::<M>().unwrap() {
            frames.push(frame);
        }
    }
    reader.finish().unwrap();
    assert_eq!(frames.len(), 2);
    assert!(frames.iter().all(|f| *f == messages));
}

#[test]
fn every_protocols_messages_survive_a_frame() {
    let id = CommandId::new(3, 9);
    let batch: Arc<[(CommandId, Command)]> =
        Arc::from(vec![(id, put(42)), (CommandId::new(4, 1), Command::Get { key: 42 })]);
    round_trip(vec![
        protocols::paxos::Message::Request {
            id,
            command: Command::Scan { key: 1, count: 4 },
        },
        protocols::paxos::Message::Accept {
            ballot: Ballot(5),
            slot: 77,
            value: batch.clone(),
        },
        protocols::paxos::Message::Reply {
            id,
            result: CommandResult::Range(vec![(1, Bytes::from_static(b"x"))]),
        },
    ]);
    round_trip(vec![
        protocols::swift::Message::Propose {
            id,
            command: put(1),
            reply_on_execution: true,
            every_slow_ack: false,
        },
        protocols::swift::Message::Reply {
            ballot: Ballot(2),
            id,
            deps: protocols::depgraph::deps_of([CommandId::new(1, 1)], id),
            result: CommandResult::Value(None),
        },
        protocols::swift::Message::FastAcks {
            ballot: Ballot(2),
            acks: vec![
                protocols::swift::FastVote {
                    id,
                    deps: protocols::depgraph::deps_of([CommandId::new(1, 1)], id),
                },
                protocols::swift::FastVote {
                    id: CommandId::new(3, 4),
                    deps: protocols::depgraph::deps_of((1..9).map(|s| CommandId::new(1, s)), id),
                },
            ],
            all_heard: true,
        },
        protocols::swift::Message::SlowAcks {
            ballot: Ballot(2),
            ids: vec![id, CommandId::new(3, 4)],
        },
    ]);
    round_trip(vec![
        protocols::curp::Message::Paxos(protocols::paxos::Message::Commit {
            slot: 1,
            value: batch.clone(),
        }),
        protocols::curp::Message::SpecReply {
            ballot: Ballot(0),
            id,
            result: CommandResult::Done,
            commutes: true,
        },
    ]);
    round_trip(vec![
        protocols::fastpaxos::Message::Vote {
            instance: 8,
            round: Round::new(Ballot(1), Step::Recovery),
            value: batch.clone(),
            executed: 3,
        },
        protocols::fastpaxos::Message::Votes {
            votes: vec![
                protocols::fastpaxos::messages::CastVote {
                    instance: 9,
                    round: Round::new(Ballot(1), Step::Fast),
                    value: batch.clone(),
                },
                protocols::fastpaxos::messages::CastVote {
                    instance: 10,
                    round: Round::new(Ballot(1), Step::Fast),
                    value: batch.clone(),
                },
            ],
            executed: 3,
        },
    ]);
    let attrs = Attributes {
        seq: 4,
        deps: [Some(3), None, Some(0)].into_iter().collect(),
    };
    round_trip(vec![
        protocols::epaxos::Message::PreAccept {
            instance: InstanceId { leader: 2, slot: 9 },
            ballot: Ballot(2),
            value: Some((id, put(5))),
            attrs: attrs.clone(),
        },
        protocols::epaxos::Message::Fetch {
            instance: InstanceId { leader: 0, slot: 0 },
        },
        protocols::epaxos::Message::Batch {
            steps: vec![
                protocols::epaxos::messages::Step::PreAcceptOk {
                    instance: InstanceId { leader: 1, slot: 3 },
                    ballot: Ballot(2),
                    attrs: attrs.clone(),
                    unchanged: true,
                },
                protocols::epaxos::messages::Step::Commit {
                    instance: InstanceId { leader: 2, slot: 9 },
                    value: Some((id, put(5))),
                    attrs,
                },
            ],
        },
    ]);
}

fn frame_of(messages: &Vec<protocols::paxos::Message>) -> Vec<u8> {
    let mut wire = Vec::new();
    encode(messages, &mut wire).unwrap();
    wire
}

fn read(bytes: &[u8]) -> Result<Option<Vec<protocols::paxos::Message>>, FrameError> {
    let mut reader = FrameReader::new();
    reader.push(bytes);
    reader.next_frame()
}

#[test]
fn bad_frames_are_refused_with_their_reason() {
    let good = frame_of(&vec![protocols::paxos::Message::Nack { ballot: Ballot(1) }]);

    let mut garbage = good.clone();
    garbage[0] = b'X';
    assert_eq!(read(&garbage), Err(FrameError::BadMagic([b'X', b'P'])));

    let mut wrong_version = good.clone();
    wrong_version[2] = VERSION + 1;
    assert_eq!(read(&wrong_version), Err(FrameError::WrongVersion(VERSION + 1)));

    // Refused on the header alone: nothing of the claimed size is read.
    let mut oversized = good[..HEADER_LEN].to_vec();
    oversized[8..12].copy_from_slice(&((MAX_PAYLOAD + 1) as u32).to_le_bytes());
    assert_eq!(read(&oversized), Err(FrameError::Oversized(MAX_PAYLOAD + 1)));

    let mut miscounted = good.clone();
    miscounted[4..8].copy_from_slice(&5u32.to_le_bytes());
    assert_eq!(
        read(&miscounted),
        Err(FrameError::CountMismatch { announced: 5, found: 1 })
    );

    let mut reader = FrameReader::new();
    reader.push(&good[..good.len() - 1]);
    assert_eq!(
        reader.next_frame::<protocols::paxos::Message>(),
        Ok(None),
        "waits for the rest"
    );
    assert_eq!(
        reader.finish(),
        Err(FrameError::Truncated {
            expected: good.len(),
            got: good.len() - 1
        })
    );

    let mut scrambled = good.clone();
    for b in &mut scrambled[HEADER_LEN..] {
        *b ^= 0xA5;
    }
    assert!(
        matches!(read(&scrambled), Err(FrameError::Malformed(_))),
        "{:?}",
        read(&scrambled)
    );

    let parsed = Header::parse(good[..HEADER_LEN].try_into().unwrap()).unwrap();
    assert_eq!((parsed.messages, parsed.payload_len), (1, good.len() - HEADER_LEN));
}

#[test]
fn random_payloads_never_panic() {
    // A valid header over random bytes: every outcome must be an error or a
    // well-formed batch, never a crash. Bounded: 5,000 payloads of up to 512 bytes.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let good = frame_of(&vec![protocols::paxos::Message::Accept {
        ballot: Ballot(1),
        slot: 2,
        value: Arc::from(vec![(CommandId::new(1, 1), put(3))]),
    }]);
    for _ in 0..5000 {
        let mut bytes = good.clone();
        if rng.gen_bool(0.5) {
            // Flip a few payload bytes of a real frame.
            for _ in 0..rng.gen_range(1..8) {
                let i = rng.gen_range(HEADER_LEN..bytes.len());
                bytes[i] = rng.gen();
            }
        } else {
            let len = rng.gen_range(0..512usize);
            bytes.truncate(HEADER_LEN);
            bytes[8..12].copy_from_slice(&(len as u32).to_le_bytes());
            bytes.extend((0..len).map(|_| rng.gen::<u8>()));
        }
        let _ = read(&bytes);
    }
}
