//! The sites of one Flint question: replicas and clients named by region,
//! with the one-way delays between them in milliseconds.

use net::LatencyTable;

/// Replica and client sites and the one-way delay between any two.
///
/// Replicas are numbered `0..replicas.len()` in the order given, clients
/// `0..clients.len()`; formulas index by those numbers.
#[derive(Clone, Debug)]
pub struct Sites {
    /// Replica regions, in the order given.
    pub replicas: Vec<String>,
    /// Client regions, in the order given.
    pub clients: Vec<String>,
    /// `replica_to_replica[a][b]`: one-way ms.
    replica_to_replica: Vec<Vec<f64>>,
    /// `client_to_replica[c][r]`: one-way ms (the table's links are symmetric
    /// after averaging both directions, so one matrix serves both ways).
    client_to_replica: Vec<Vec<f64>>,
}

impl Sites {
    /// Looks every pair up in `table`; a region the table does not know is
    /// an error naming it and the regions it does know.
    pub fn from_table(table: &LatencyTable, replicas: &[String], clients: &[String]) -> Result<Sites, String> {
        if replicas.is_empty() {
            return Err("no replica regions given (--replicas a,b,c)".into());
        }
        if clients.is_empty() {
            return Err("no client regions given (--clients x,y)".into());
        }
        for name in replicas.iter().chain(clients) {
            if !table.names().iter().any(|n| n == name) {
                return Err(format!(
                    "unknown region `{name}` (the table knows: {})",
                    table.names().join(", ")
                ));
            }
        }
        let one_way = |a: &str, b: &str| -> Result<f64, String> {
            table
                .one_way(a, b)
                .map(|d| d.as_secs_f64() * 1e3)
                .ok_or_else(|| format!("the table gives no latency between `{a}` and `{b}`"))
        };
        let matrix = |from: &[String]| -> Result<Vec<Vec<f64>>, String> {
            from.iter()
                .map(|a| replicas.iter().map(|r| one_way(a, r)).collect())
                .collect()
        };
        Ok(Sites {
            replicas: replicas.to_vec(),
            clients: clients.to_vec(),
            replica_to_replica: matrix(replicas)?,
            client_to_replica: matrix(clients)?,
        })
    }

    /// Builds sites straight from one-way delays (tests, hand examples).
    pub fn from_delays(
        replicas: Vec<String>,
        clients: Vec<String>,
        replica_to_replica: Vec<Vec<f64>>,
        client_to_replica: Vec<Vec<f64>>,
    ) -> Sites {
        Sites {
            replicas,
            clients,
            replica_to_replica,
            client_to_replica,
        }
    }

    /// How many replicas.
    pub fn n(&self) -> usize {
        self.replicas.len()
    }

    /// One-way delay between replicas `a` and `b`.
    pub fn rr(&self, a: usize, b: usize) -> f64 {
        self.replica_to_replica[a][b]
    }

    /// One-way delay between client `c` and replica `r`.
    pub fn cr(&self, c: usize, r: usize) -> f64 {
        self.client_to_replica[c][r]
    }

    /// The replica nearest to client `c`, the lowest-numbered one on ties
    /// (the simulator's rule for a single client per site).
    pub fn closest(&self, c: usize) -> usize {
        let mut best = 0;
        for r in 1..self.n() {
            if self.cr(c, r) < self.cr(c, best) {
                best = r;
            }
        }
        best
    }
}

/// The `k`-th smallest (1-based) of `values`; infinite when there are fewer.
pub fn kth_smallest(mut values: Vec<f64>, k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values.get(k - 1).copied().unwrap_or(f64::INFINITY)
}
