//! N2Paxos in the simulator: learning from everyone's votes, and faults.

mod common;

use common::{assert_random_faults_pass, uniform_10ms};
use net::LatencyMatrix;
use protocols::n2paxos::N2Paxos;
use protocols::paxos::Paxos;
use runtime::sim::{run, Placement, SimConfig};
use std::time::Duration;

/// Every replica 10 ms from every other; all clients at replica 2's site.
fn clients_next_to_replica_2(replicas: usize, clients: usize, seed: u64) -> SimConfig {
    let placement = Placement {
        matrix: LatencyMatrix::uniform(replicas, Duration::from_millis(10)),
        replica_sites: (0..replicas).collect(),
        client_sites: vec![2; clients],
    };
    SimConfig {
        placement,
        ..uniform_10ms(replicas, clients, 300, 0, seed)
    }
}

fn latencies<P: protocols::protocol::Protocol>(config: &SimConfig) -> Vec<Duration>
where
    P::Message: runtime::wire::Wire,
{
    let outcome = run::<P>(config);
    assert_eq!(outcome.violations(), Vec::<String>::new());
    outcome.samples.iter().map(|s| s.latency).collect()
}

#[test]
fn a_client_next_to_a_follower_hears_the_decision_from_it() {
    // 3 replicas: client → leader (10 ms), leader → acceptors (10 ms); replica 2
    // then holds its own vote and the leader's, a majority, and answers the
    // client beside it (0 ms): 2 one-way delays. Multi-Paxos needs the votes
    // back at the leader and the leader's reply: 4.
    let config = clients_next_to_replica_2(3, 5, 1);
    assert!(latencies::<N2Paxos>(&config)
        .iter()
        .all(|l| *l == Duration::from_millis(20)));
    assert!(latencies::<Paxos>(&config)
        .iter()
        .all(|l| *l == Duration::from_millis(40)));
    // 5 replicas: the third vote comes from another acceptor, one delay later: 3 delays.
    let config = clients_next_to_replica_2(5, 5, 2);
    assert!(latencies::<N2Paxos>(&config)
        .iter()
        .all(|l| *l == Duration::from_millis(30)));
}

#[test]
fn with_every_node_apart_it_takes_four_delays_like_paxos() {
    // Each client is its own site; its closest replica (ties: the lowest id)
    // is the leader: client → leader → acceptors → leader → client.
    let outcome = run::<N2Paxos>(&uniform_10ms(5, 10, 500, 0, 3));
    assert_eq!(outcome.violations(), Vec::<String>::new());
    assert!(outcome.samples.iter().all(|s| s.latency == Duration::from_millis(40)));
}

#[test]
fn random_faults_pass() {
    assert_random_faults_pass::<N2Paxos>(25);
}
