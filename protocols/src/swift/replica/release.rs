//! Releasing commands executed everywhere ([`crate::gc`]). Commands are
//! numbered per client, so "executed everywhere" is one number per client:
//! followers report, every heartbeat interval, how far each client's
//! commands executed at them without a gap; the leader takes the minimum
//! over all replicas (itself included) and its heartbeat carries what
//! moved; every replica then drops those commands' entries, votes and
//! conflict-table records, and its dependency graph keeps only the number.

use super::*;

impl SwiftReplica {
    /// A follower's periodic report of its executed prefixes.
    pub(super) fn report_prefixes(&mut self, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_prefix_report) < self.timing.heartbeat {
            return;
        }
        self.last_prefix_report = now;
        let prefixes = self.state.executed_prefixes();
        if !prefixes.is_empty() {
            out.send_replica(self.leader_id(), Message::ExecutedPrefixes { prefixes });
        }
    }

    /// The leader records a replica's report.
    pub(super) fn on_executed_prefixes(&mut self, from: ReplicaId, prefixes: Vec<(ClientId, u64)>) {
        let reported = self.prefix_reports.entry(from).or_default();
        for (client, below) in prefixes {
            let p = reported.entry(client).or_insert(below);
            *p = (*p).max(below);
        }
    }

    /// The leader: per client, the prefix every replica executed, where it
    /// moved past what was released already.
    pub(super) fn newly_stable(&self) -> Vec<(ClientId, u64)> {
        let mut moved = Vec::new();
        for (client, own) in self.state.executed_prefixes() {
            let mut stable = own;
            for r in (0..self.n()).filter(|&r| r != self.id) {
                match self.prefix_reports.get(&r).and_then(|p| p.get(&client)) {
                    Some(&p) => stable = stable.min(p),
                    None => stable = 0,
                }
            }
            if stable > self.graph.released_below(client).max(1) {
                moved.push((client, stable));
            }
        }
        moved
    }

    /// Forgets every command below the given prefixes (executed here and
    /// everywhere): entries, votes, conflict records, commit-order slots.
    pub(super) fn release(&mut self, release: &[(ClientId, u64)]) {
        // The newly released ids, client by client: found by id, without
        // looking at the entries that stay.
        let mut gone: Vec<CommandId> = Vec::new();
        for &(client, below) in release {
            let own = self.state.executed_prefixes_of(client);
            let below = below.min(own);
            let from = self.graph.released_below(client).max(1);
            if below > from {
                self.graph.release_below(client, below);
                gone.extend((from..below).map(|seq| CommandId::new(client, seq)));
            }
        }
        if gone.is_empty() {
            return;
        }
        for id in gone {
            if let Some(entry) = self.records.remove(&id).and_then(|r| r.entry) {
                self.conflicts.remove(id, &entry.command);
            }
        }
        while self.commit_order.front().is_some_and(|id| self.graph.is_released(*id)) {
            self.commit_order.pop_front();
            self.commit_base += 1;
        }
    }
}
