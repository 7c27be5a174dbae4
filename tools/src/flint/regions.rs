//! The region table `flint` uses when no `--table` is given: round trips
//! between AWS regions *modelled* from great-circle distance, so the tool
//! runs out of the box and covers every region below.
//!
//! The model is `RTT = 0.0156 ms/km × distance + 14 ms`, rounded to whole
//! milliseconds: the least-squares line through the 156 measured pairs of
//! `shared/reference/aws-latency-table.txt` (the table the original tool's
//! users measured with cloudping). Against those measurements it is off by
//! 15% at the median and 32% at the 90th percentile — routes are not great
//! circles — so it is a starting point, not a measurement: for decisions,
//! pass measured round trips with `--table` (the text format or CSV).

use net::LatencyTable;
use std::time::Duration;

/// Round-trip milliseconds per kilometre of great-circle distance.
pub const MS_PER_KM: f64 = 0.0156;
/// Round-trip milliseconds any two distinct regions pay on top.
pub const BASE_MS: f64 = 14.0;

/// AWS regions and their cities' latitude and longitude (degrees).
pub const REGIONS: &[(&str, f64, f64)] = &[
    ("af-south-1", -33.92, 18.42),
    ("ap-east-1", 22.32, 114.17),
    ("ap-northeast-1", 35.68, 139.69),
    ("ap-northeast-2", 37.57, 126.98),
    ("ap-northeast-3", 34.69, 135.50),
    ("ap-south-1", 19.08, 72.88),
    ("ap-south-2", 17.39, 78.49),
    ("ap-southeast-1", 1.35, 103.82),
    ("ap-southeast-2", -33.87, 151.21),
    ("ap-southeast-3", -6.21, 106.85),
    ("ap-southeast-4", -37.81, 144.96),
    ("ca-central-1", 45.50, -73.57),
    ("ca-west-1", 51.05, -114.07),
    ("eu-central-1", 50.11, 8.68),
    ("eu-central-2", 47.37, 8.54),
    ("eu-north-1", 59.33, 18.07),
    ("eu-south-1", 45.46, 9.19),
    ("eu-south-2", 41.65, -0.88),
    ("eu-west-1", 53.35, -6.26),
    ("eu-west-2", 51.51, -0.13),
    ("eu-west-3", 48.86, 2.35),
    ("il-central-1", 32.09, 34.78),
    ("me-central-1", 25.20, 55.27),
    ("me-south-1", 26.07, 50.56),
    ("sa-east-1", -23.55, -46.63),
    ("us-east-1", 38.95, -77.45),
    ("us-east-2", 39.96, -83.00),
    ("us-west-1", 37.35, -121.96),
    ("us-west-2", 45.84, -119.70),
];

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// The modelled round trip between two regions, whole milliseconds.
pub fn modelled_rtt_ms(a: (f64, f64), b: (f64, f64)) -> u64 {
    (MS_PER_KM * distance_km(a, b) + BASE_MS).round() as u64
}

/// The bundled table: every ordered pair of [`REGIONS`].
pub fn bundled_table() -> LatencyTable {
    let mut table = LatencyTable::default();
    for &(a, la, lo) in REGIONS {
        for &(b, lb, lob) in REGIONS {
            let rtt = if a == b {
                0
            } else {
                modelled_rtt_ms((la, lo), (lb, lob))
            };
            table.insert_round_trip(a, b, Duration::from_millis(rtt));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_symmetric_and_grows_with_distance() {
        let table = bundled_table();
        assert_eq!(table.names().len(), REGIONS.len());
        let one_way = |a: &str, b: &str| table.one_way(a, b).map(|d| d.as_millis()).unwrap_or(0);
        assert_eq!(one_way("eu-west-3", "us-east-1"), one_way("us-east-1", "eu-west-3"));
        assert!(one_way("eu-west-3", "eu-west-2") < one_way("eu-west-3", "us-east-1"));
        assert!(one_way("eu-west-3", "us-east-1") < one_way("eu-west-3", "ap-southeast-2"));
        // Paris–Virginia is about 6,200 km: 0.0156 × 6,200 + 14 ≈ 111 ms
        // round trip (measured: 80 ms), so about 55 ms one way.
        assert!(
            (50..=60).contains(&one_way("eu-west-3", "us-east-1")),
            "{}",
            one_way("eu-west-3", "us-east-1")
        );
    }
}
