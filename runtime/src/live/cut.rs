//! A harness's handle to cut a running replica's links for a while (`bench
//! --fault cut:…` and `isolate:…`), as a network fault would, without
//! closing connections: messages to and from the cut nodes are dropped, as
//! on a link whose packets vanish, so nothing tells either end at once and
//! the protocols must notice by their timeouts.

use protocols::{NodeId, ReplicaId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Which of a replica's links are cut now. Set from another thread; read
/// once per loop iteration of the replica.
#[derive(Debug, Default)]
pub struct CutSwitch {
    /// Bit `r` set: the link to and from replica `r` is cut.
    peers: AtomicU64,
    /// The links to and from every client are cut.
    clients: AtomicBool,
}

/// What a [`CutSwitch`] said at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cuts {
    peers: u64,
    clients: bool,
}

impl CutSwitch {
    /// Cuts (`true`) or heals the link with replica `peer`.
    pub fn set_peer(&self, peer: ReplicaId, cut: bool) {
        let bit = 1u64 << peer.min(63);
        if cut {
            self.peers.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.peers.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Cuts (`true`) or heals the links with every client.
    pub fn set_clients(&self, cut: bool) {
        self.clients.store(cut, Ordering::Relaxed);
    }

    /// The links cut now.
    pub fn now(&self) -> Cuts {
        Cuts {
            peers: self.peers.load(Ordering::Relaxed),
            clients: self.clients.load(Ordering::Relaxed),
        }
    }
}

impl Cuts {
    /// Whether messages to or from `node` are dropped.
    pub fn blocks(self, node: NodeId) -> bool {
        match node {
            NodeId::Replica(r) => r < 64 && self.peers & (1 << r) != 0,
            NodeId::Client(_) => self.clients,
        }
    }

    /// Whether nothing is cut.
    pub fn is_empty(self) -> bool {
        self.peers == 0 && !self.clients
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_cut_and_healed_one_by_one() {
        let switch = CutSwitch::default();
        assert!(switch.now().is_empty());
        switch.set_peer(2, true);
        switch.set_peer(0, true);
        switch.set_peer(0, false);
        let cuts = switch.now();
        assert!(cuts.blocks(NodeId::Replica(2)));
        assert!(!cuts.blocks(NodeId::Replica(0)));
        assert!(!cuts.blocks(NodeId::Client(7)));
        switch.set_clients(true);
        assert!(switch.now().blocks(NodeId::Client(7)));
    }
}
