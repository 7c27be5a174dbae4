//! Releasing commands executed everywhere ([`crate::gc`]). Commands are
//! numbered per client, so "executed everywhere" is one number per client:
//! followers report, every heartbeat interval, how far each client's
//! commands executed at them without a gap; the leader takes the minimum
//! over all replicas (itself included) and its heartbeat carries what
//! moved; every replica then drops those commands' entries, votes and
//! conflict-table records, and its dependency graph keeps only the number.
//!
//! A replica more than the release lag behind (down, or slow) is not waited
//! for, so memory stays bounded; when it reports again the leader tells it
//! what was released past it (`Released`), and it rejoins by state transfer.

use super::*;
use std::time::Duration;

/// The most commands the leader releases in one step (see `newly_stable`).
const RELEASE_STEP: usize = 16_384;

impl SwiftReplica {
    /// How often followers report and the leader releases (its heartbeat
    /// carries the release): a 32nd of the heartbeat interval, at least a
    /// millisecond; checked at every flush as well as every tick, so not
    /// held to the tick (12.5 ms in `bench`). Until a command is
    /// released, its entry, votes, conflict-table record and graph node
    /// stay, and every table the hot path touches holds that many
    /// commands: at a heartbeat's pace under load 100-200 ms of them, and
    /// the tables' random-key lookups missed cache (results/README.md
    /// measures a quarter, an eighth, and a 32nd checked at flush). The
    /// price: a follower's report lists every client (16 bytes each) and
    /// the leader takes the minimum per client, each interval.
    pub(super) fn release_interval(&self) -> Duration {
        (self.timing.heartbeat / 32).max(Duration::from_millis(1))
    }

    /// In the normal case, once a release interval passed: a follower
    /// reports its executed prefixes; the leader releases what every
    /// replica executed and sends its heartbeat, which carries the release.
    pub(super) fn release_when_due(&mut self, now: Time, out: &mut Outbox<Message>) {
        if !matches!(self.status, Status::Normal) {
            return;
        }
        if !self.is_leader() {
            return self.report_prefixes(now, out);
        }
        if now.since(self.last_heartbeat) >= self.release_interval() {
            self.last_heartbeat = now;
            let release = self.newly_stable(now);
            self.release(&release);
            let committed = self.commit_base + self.commit_order.len();
            out.broadcast(Message::Heartbeat {
                ballot: self.ballot,
                committed,
                release,
            });
        }
    }

    /// A follower's periodic report of its executed prefixes.
    pub(super) fn report_prefixes(&mut self, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_prefix_report) < self.release_interval() {
            return;
        }
        self.last_prefix_report = now;
        // Sent even when empty: a replica the leader released past before it
        // executed anything learns it is behind (`Released`) only in
        // answer to a report, and the leader refuses it catch-up; silent,
        // it waited forever (and, with another replica down, so did every
        // command needing its vote: simulator seed 206 at five replicas,
        // once the wait below was cut to one retry interval).
        let prefixes = self.state.executed_prefixes();
        out.send_replica(self.leader_id(), Message::ExecutedPrefixes { prefixes });
    }

    /// The leader records a replica's report, and tells a replica behind
    /// what was released past it.
    pub(super) fn on_executed_prefixes(
        &mut self,
        from: ReplicaId,
        prefixes: Vec<(ClientId, u64)>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        self.last_report_at.insert(from, now);
        let reported = self.prefix_reports.entry(from).or_default();
        for (client, below) in prefixes {
            let p = reported.entry(client).or_insert(below);
            *p = (*p).max(below);
        }
        if !self.is_leader() || !matches!(self.status, Status::Normal) {
            return;
        }
        let reported = &self.prefix_reports[&from];
        let behind: Vec<(ClientId, u64)> = self
            .state
            .executed_prefixes()
            .into_iter()
            .map(|(client, _)| (client, self.graph.released_below(client)))
            .filter(|&(client, released)| released > reported.get(&client).copied().unwrap_or(1))
            .take(MAX_BEHIND)
            .collect();
        if behind.is_empty() {
            self.excluded.remove(&from);
        } else {
            self.excluded.insert(from);
            out.send_replica(from, Message::Released { behind });
        }
    }

    /// A follower told it is behind what was released: if it is (the
    /// message may be older than its own progress), those commands are
    /// gone everywhere else and it rejoins by state transfer.
    pub(super) fn on_released(
        &mut self,
        from: ReplicaId,
        behind: &[(ClientId, u64)],
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if self.is_behind(behind) {
            self.ask_image(from, now, out);
        }
    }

    /// Whether another replica released, per client, below figures this
    /// replica has not executed up to.
    pub(super) fn is_behind(&self, released: &[(ClientId, u64)]) -> bool {
        released
            .iter()
            .any(|&(client, below)| self.state.executed_prefixes_of(client) < below)
    }

    /// Per client, below what this replica released (where it released anything).
    pub(super) fn released_figures(&self) -> Vec<(ClientId, u64)> {
        self.state
            .executed_prefixes()
            .into_iter()
            .map(|(client, _)| (client, self.graph.released_below(client)))
            .filter(|&(_, below)| below > 1)
            .collect()
    }

    /// How many commands replica `r` executed fewer than this leader, by
    /// its last report (everything executed here, without one).
    fn lag_of(&self, r: ReplicaId, own: &[(ClientId, u64)]) -> u64 {
        let reported = self.prefix_reports.get(&r);
        own.iter()
            .map(|&(client, below)| below.saturating_sub(reported.and_then(|p| p.get(&client)).copied().unwrap_or(1)))
            .sum()
    }

    /// Whether releases wait for replica `r`: unless it has been silent
    /// for a while (no report for four retry intervals since this leader's
    /// ballot began: down or cut off) and lags more than the release lag.
    /// A replica that reports is waited for however far behind it is: its
    /// reports are a heartbeat old, and under load that alone is more
    /// commands than a small release lag.
    fn waits_for(&self, r: ReplicaId, own: &[(ClientId, u64)], now: Time) -> bool {
        let heard = self
            .last_report_at
            .get(&r)
            .copied()
            .unwrap_or(Time::ZERO)
            .max(self.reports_since);
        now.since(heard) < 4 * self.timing.retry || self.lag_of(r, own) <= self.release_lag
    }

    /// The leader: per client, the prefix every replica it waits for
    /// executed (itself included), where it moved past what was released.
    /// Replicas not waited for that the release passes are `excluded`.
    pub(super) fn newly_stable(&mut self, now: Time) -> Vec<(ClientId, u64)> {
        let own = self.state.executed_prefixes();
        let waited: Vec<ReplicaId> = (0..self.n())
            .filter(|&r| r != self.id && self.waits_for(r, &own, now))
            .collect();
        let mut moved = Vec::new();
        for &(client, mine) in &own {
            let mut stable = mine;
            for &r in &waited {
                match self.prefix_reports.get(&r).and_then(|p| p.get(&client)) {
                    Some(&p) => stable = stable.min(p),
                    None => stable = 0,
                }
            }
            if stable > self.graph.released_below(client).max(1) {
                moved.push((client, stable));
            }
        }
        // At most RELEASE_STEP commands per step (per client an even share,
        // at least one): after the leader stops waiting for a replica that
        // went silent four retry intervals ago, everything executed since
        // became releasable at once, and freeing it in one step stalled
        // every replica for 150-200 ms (`bench --fault kill:r2@2s`). Under
        // load a step frees about a thousand; the rest follows at the next
        // steps, a release interval apart.
        let share = (RELEASE_STEP / moved.len().max(1)) as u64;
        for (client, stable) in &mut moved {
            *stable = (*stable).min(self.graph.released_below(*client).max(1) + share.max(1));
        }
        for r in (0..self.n()).filter(|&r| r != self.id && !waited.contains(&r)) {
            let reported = self.prefix_reports.get(&r);
            let passed = moved
                .iter()
                .any(|&(client, stable)| stable > reported.and_then(|p| p.get(&client)).copied().unwrap_or(1));
            if passed {
                self.excluded.insert(r);
            }
        }
        moved
    }

    /// Forgets every command below the given prefixes (executed here and
    /// everywhere): entries, votes, conflict records, commit-order slots.
    pub(super) fn release(&mut self, release: &[(ClientId, u64)]) {
        // Each client's released records leave the front of its window in
        // order (`StreamMap::release_below`): no record is found by id.
        let mut gone: Vec<(CommandId, Entry)> = Vec::new();
        for &(client, below) in release {
            let own = self.state.executed_prefixes_of(client);
            let below = below.min(own);
            let from = self.graph.released_below(client).max(1);
            if below > from {
                self.graph.release_below(client, below);
                self.records
                    .release_below(client, below, |id, record| gone.extend(record.entry.map(|e| (id, e))));
            }
        }
        if gone.is_empty() {
            return;
        }
        // The conflict table's keys warmed first, then removed: the
        // lookups are cache misses independent of each other, which the
        // processor overlaps, where removing one at a time waited for each
        // miss in turn.
        self.conflicts.warm(gone.iter().map(|(_, e)| &e.command));
        for (id, entry) in gone {
            self.conflicts.remove(id, &entry.command);
        }
        while self.commit_order.front().is_some_and(|id| self.graph.is_released(*id)) {
            self.commit_order.pop_front();
            self.commit_base += 1;
        }
    }
}
