//! The client logs of the original tool, written and read.
//!
//! With `-log NAME` the original's client writes one file per clone
//! (`NAME`, `NAME1`, `NAME2`, …), each line behind Go's standard log
//! timestamp (`2026/12/01 16:48:21 `): a `latency <ms>` line per completed
//! command, `Slow Paths: <N>` as slow-path completions add up, and
//! `Test took <Go duration>` at the end. Researchers kept scripts that read
//! exactly these lines, so our client writes them the same way
//! ([`write::CloneLogs`]), and [`read`] turns a directory of such files, from
//! either tool, into throughput and percentiles.

pub mod read;
pub mod write;

/// The file clone `clone` of a client started with `-log base` writes to:
/// `base` for the first, then `base1`, `base2`, … (the original's naming).
pub fn clone_file_name(base: &std::path::Path, clone: usize) -> std::path::PathBuf {
    if clone == 0 {
        return base.to_path_buf();
    }
    let mut name = base.as_os_str().to_owned();
    name.push(clone.to_string());
    name.into()
}

/// Go's `log.LstdFlags` prefix for a line written now, in local time.
pub fn go_log_timestamp() -> String {
    chrono::Local::now().format("%Y/%m/%d %H:%M:%S ").to_string()
}

/// A latency as the original prints it: `%v` of a float64 of milliseconds,
/// the shortest decimal that reads back to the same number (Rust's `{}`
/// prints the same digits for every latency between 100 ns and 1000 s).
pub fn go_milliseconds(latency: std::time::Duration) -> String {
    (latency.as_nanos() as f64 / 1e6).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    #[test]
    fn clones_write_to_the_originals_file_names() {
        let names: Vec<_> = (0..3).map(|c| clone_file_name(Path::new("out/client"), c)).collect();
        assert_eq!(
            names,
            [
                Path::new("out/client"),
                Path::new("out/client1"),
                Path::new("out/client2")
            ]
        );
    }

    #[test]
    fn latencies_print_like_go_floats() {
        assert_eq!(go_milliseconds(Duration::from_nanos(9_244_569)), "9.244569");
        assert_eq!(go_milliseconds(Duration::from_millis(12)), "12");
        assert_eq!(go_milliseconds(Duration::from_nanos(150_500)), "0.1505");
    }

    #[test]
    fn timestamps_have_gos_standard_shape() {
        let t = go_log_timestamp();
        let b = t.as_bytes();
        assert_eq!(t.len(), 20, "{t:?}");
        assert_eq!(
            (b[4], b[7], b[10], b[13], b[16], b[19]),
            (b'/', b'/', b' ', b':', b':', b' '),
            "{t:?}"
        );
    }
}
