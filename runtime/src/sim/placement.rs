//! Where the nodes of a simulated run are, and so how far apart.

use net::{LatencyError, LatencyMatrix, LatencyTable};
use protocols::ReplicaId;
use std::fmt;
use std::time::Duration;

/// Sites for every replica and client, and the delays between sites.
#[derive(Clone, Debug)]
pub struct Placement {
    /// One-way delays between sites.
    pub matrix: LatencyMatrix,
    /// The site of each replica.
    pub replica_sites: Vec<usize>,
    /// The site of each client.
    pub client_sites: Vec<usize>,
}

/// A placement that cannot be built.
#[derive(Debug)]
pub enum PlacementError {
    /// A site missing from the latency table.
    Latency(LatencyError),
    /// Fewer sites named than needed.
    NoSites(&'static str),
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::Latency(e) => write!(f, "{e}"),
            PlacementError::NoSites(what) => write!(f, "no sites for the {what}"),
        }
    }
}

impl std::error::Error for PlacementError {}

impl Placement {
    /// Every replica and client on a site of its own, each pair of distinct
    /// sites `one_way` apart: the `--delay` of the simulator.
    pub fn uniform(replicas: usize, clients: usize, one_way: Duration) -> Placement {
        let matrix = LatencyMatrix::uniform(replicas + clients, one_way);
        Placement {
            matrix,
            replica_sites: (0..replicas).collect(),
            client_sites: (replicas..replicas + clients).collect(),
        }
    }

    /// Replicas on `replica_sites` (one each, in order) and `clients`
    /// clients spread round-robin over `client_sites`, delays from `table`.
    pub fn from_table(
        table: &LatencyTable,
        replica_sites: &[String],
        client_sites: &[String],
        clients: usize,
    ) -> Result<Placement, PlacementError> {
        if replica_sites.is_empty() {
            return Err(PlacementError::NoSites("replicas"));
        }
        if client_sites.is_empty() {
            return Err(PlacementError::NoSites("clients"));
        }
        let mut sites: Vec<String> = Vec::new();
        let mut index = |name: &String| match sites.iter().position(|s| s == name) {
            Some(i) => i,
            None => {
                sites.push(name.clone());
                sites.len() - 1
            }
        };
        let replica_idx: Vec<usize> = replica_sites.iter().map(&mut index).collect();
        let client_pool: Vec<usize> = client_sites.iter().map(&mut index).collect();
        let matrix = LatencyMatrix::from_table(table, &sites).map_err(PlacementError::Latency)?;
        Ok(Placement {
            matrix,
            replica_sites: replica_idx,
            client_sites: (0..clients).map(|c| client_pool[c % client_pool.len()]).collect(),
        })
    }

    /// The replica nearest to `client`. Clients equally near several
    /// replicas spread over them by client id, as a deployment would spread
    /// its clients (a leaderless protocol would otherwise see one leader).
    pub fn closest_replica(&self, client: usize) -> ReplicaId {
        let site = self.client_sites[client];
        let delay = |r: usize| self.matrix.one_way(site, self.replica_sites[r]);
        let Some(best) = (0..self.replica_sites.len()).map(delay).min() else {
            return 0;
        };
        let nearest: Vec<ReplicaId> = (0..self.replica_sites.len()).filter(|&r| delay(r) == best).collect();
        nearest[client % nearest.len()]
    }

    /// The name of `client`'s site.
    pub fn client_site_name(&self, client: usize) -> &str {
        &self.matrix.sites()[self.client_sites[client]]
    }
}
