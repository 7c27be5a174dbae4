//! The linearizability checker on one hot key: 10,000 operations from 50
//! concurrent clients, half PUTs (unique values) and half GETs, every read
//! returning what a real register would at a linearization point drawn
//! inside its interval. The polynomial check (zones of read-mapped
//! histories) must decide it quickly whatever the contention.
//!
//! `cargo bench -p bench --bench checker`

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use protocols::{Command, CommandId, CommandResult, Time};
use runtime::check::{check_linearizability, History, Operation};

/// A valid history of `clients` closed-loop clients on key 42, `total`
/// operations, each lasting 1 to 50 ms (a deterministic LCG, no crates).
pub fn hot_key_history(total: usize, clients: u64) -> History {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |bound: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % bound
    };
    let mut clock = vec![0u64; clients as usize];
    // (linearization point, history index)
    let mut points = Vec::with_capacity(total);
    let mut ops = Vec::with_capacity(total);
    for i in 0..total {
        let c = (i as u64) % clients;
        let start = clock[c as usize] + next(1_000_000);
        let end = start + 1_000_000 + next(49_000_000);
        clock[c as usize] = end;
        points.push((start + next(end - start), i));
        let id = CommandId::new(c, i as u64 / clients + 1);
        let command = if next(2) == 0 {
            Command::Put {
                key: 42,
                value: Bytes::from(format!("c{c}i{i}")),
            }
        } else {
            Command::Get { key: 42 }
        };
        ops.push(Operation {
            id,
            command,
            invoked: Time(start),
            completed: Some((Time(end), CommandResult::Done)),
        });
    }
    points.sort();
    let mut register: Option<Bytes> = None;
    for (_, i) in points {
        let op = &mut ops[i];
        match &op.command {
            Command::Put { value, .. } => register = Some(value.clone()),
            _ => op.completed.as_mut().expect("completed").1 = CommandResult::Value(register.clone()),
        }
    }
    History { ops }
}

fn checker(c: &mut Criterion) {
    let history = hot_key_history(10_000, 50);
    assert!(
        check_linearizability(&history).is_empty(),
        "the generated history is linearizable"
    );
    let mut g = c.benchmark_group("linearizability");
    g.sample_size(20);
    g.bench_function("10,000 ops on one key, 50 clients", |b| {
        b.iter(|| check_linearizability(black_box(&history)))
    });
    g.finish();
}

criterion_group!(benches, checker);
criterion_main!(benches);
