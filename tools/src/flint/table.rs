//! Where `flint`'s region table comes from: a file given with `--table`, in
//! the original tool's text format (`REGION REGION RTT` lines) or as CSV,
//! or the bundled model ([`super::regions`]) when none is given.
//!
//! A CSV table is either
//! - a matrix: a header row `from\to,REGION,REGION,…` (the first cell is
//!   ignored) and one row per region, `REGION,RTT,RTT,…`, round trips from
//!   the row's region to the column's, as cloudping and spreadsheets lay
//!   them out; an empty cell is a pair with no measurement; or
//! - rows of three fields `REGION,REGION,RTT`, like the text format.
//!
//! An RTT is a number of milliseconds (`80`, `80.5`) or a Go duration
//! (`80ms`). Errors name the file, the line and the field.

use net::duration::parse_go_duration;
use net::LatencyTable;
use std::path::Path;
use std::time::Duration;

/// A loaded table and a few words on where it came from, for the output.
pub struct LoadedTable {
    /// The round trips.
    pub table: LatencyTable,
    /// `FILE`, or that it is the bundled model.
    pub source: String,
}

/// What the output says of the bundled model.
pub const BUNDLED: &str = "bundled model (great-circle distance; pass --table for measurements)";

/// Loads `path`, or the bundled model when there is none.
pub fn load(path: Option<&Path>) -> Result<LoadedTable, String> {
    let Some(path) = path else {
        return Ok(LoadedTable {
            table: super::regions::bundled_table(),
            source: BUNDLED.into(),
        });
    };
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        || text
            .lines()
            .map(|l| l.split("//").next().unwrap_or("").trim())
            .find(|l| !l.is_empty())
            .is_some_and(|l| l.contains(','));
    let table = if is_csv {
        parse_csv(&text)
    } else {
        LatencyTable::parse(&text).map_err(|e| e.to_string())
    }
    .map_err(|e| format!("{shown}: {e}"))?;
    if table.is_uniform() {
        return Err(format!(
            "{shown}: a region table names regions; a `uniform` line alone gives Flint nothing to choose from"
        ));
    }
    Ok(LoadedTable { table, source: shown })
}

/// A round trip written as milliseconds or a Go duration.
fn parse_rtt(cell: &str) -> Result<Duration, String> {
    let cell = cell.trim();
    match cell.parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms >= 0.0 => Ok(Duration::from_secs_f64(ms / 1e3)),
        Ok(_) => Err(format!("`{cell}` is not a round trip (milliseconds, zero or more)")),
        Err(_) => parse_go_duration(cell).map_err(|e| format!("`{cell}`: {e}")),
    }
}

/// Parses a CSV table (see the module documentation).
pub fn parse_csv(text: &str) -> Result<LatencyTable, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("line {}: {e}", e.position().map_or(0, |p| p.line())))?;
        let line = record.position().map_or(0, |p| p.line());
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        if cells.iter().all(String::is_empty) || cells[0].starts_with('#') {
            continue;
        }
        rows.push((line, cells));
    }
    let Some((_, first)) = rows.first() else {
        return Err("the file gives no latencies".into());
    };
    let mut table = LatencyTable::default();
    let triples = first.len() == 3 && parse_rtt(&first[2]).is_ok();
    if triples {
        for (line, cells) in &rows {
            let [a, b, rtt] = cells.as_slice() else {
                return Err(format!(
                    "line {line}: expected `REGION,REGION,RTT`, found {} fields",
                    cells.len()
                ));
            };
            let rtt = parse_rtt(rtt).map_err(|e| format!("line {line}, field 3 (RTT): {e}"))?;
            table.insert_round_trip(a, b, rtt);
        }
    } else {
        let columns = &first[1..];
        if let Some(i) = columns.iter().position(String::is_empty) {
            return Err(format!(
                "line {}, field {}: the header names no region",
                rows[0].0,
                i + 2
            ));
        }
        for (line, cells) in &rows[1..] {
            if cells.len() != first.len() {
                return Err(format!(
                    "line {line}: {} fields where the header has {}",
                    cells.len(),
                    first.len()
                ));
            }
            let from = &cells[0];
            for (to, cell) in columns.iter().zip(&cells[1..]) {
                if cell.is_empty() {
                    continue;
                }
                let rtt = parse_rtt(cell).map_err(|e| format!("line {line}, field `{to}` of row `{from}`: {e}"))?;
                table.insert_round_trip(from, to, rtt);
            }
        }
    }
    if table.names().is_empty() {
        return Err("the file gives no latencies".into());
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_and_triples_give_the_same_table() {
        let matrix = parse_csv("from\\to,A,B,C\nA,0,60,80\nB,60,0,70ms\nC,80,,0\n").expect("matrix");
        let triples = parse_csv("A,B,60\nA,C,80\nB,C,70ms\n").expect("triples");
        for t in [&matrix, &triples] {
            assert_eq!(t.one_way("A", "B"), Some(Duration::from_millis(30)));
            assert_eq!(t.one_way("C", "B"), Some(Duration::from_millis(35)));
            assert_eq!(t.one_way("A", "C"), Some(Duration::from_millis(40)));
        }
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let e = parse_csv("x,A,B\nA,0,60\nB,sixty,0\n").err().unwrap_or_default();
        assert!(
            e.contains("line 3") && e.contains("field `A`") && e.contains("sixty"),
            "{e}"
        );
        let e = parse_csv("x,A,B\nA,0\n").err().unwrap_or_default();
        assert!(e.contains("line 2") && e.contains("2 fields"), "{e}");
        let e = parse_csv("A,B,10\nA,C,-3\n").err().unwrap_or_default();
        assert!(e.contains("line 2, field 3"), "{e}");
        assert!(parse_csv("\n\n").is_err());
    }
}
