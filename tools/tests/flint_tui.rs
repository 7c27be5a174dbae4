//! `flint --tui` driven by scripted key presses on ratatui's `TestBackend`
//! at 80×24, the smallest terminal one meets over ssh; each screen is a
//! snapshot (tests/snapshots/), reviewed when it changes.

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use tools::flint::choose::Criteria;
use tools::flint::table;
use tools::flint::tui::{draw, App, Mode};

fn reference_table() -> table::LoadedTable {
    let path = format!("{}/tests/data/reference-placement.txt", env!("CARGO_MANIFEST_DIR"));
    let mut loaded = table::load(Some(std::path::Path::new(&path))).expect("the reference table loads");
    loaded.source = "reference-placement.txt".into();
    loaded
}

fn screen(app: &mut App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
    terminal.draw(|frame| draw(frame, app)).expect("draws");
    terminal.backend().to_string()
}

fn press(app: &mut App, keys: &str) {
    for ch in keys.chars() {
        let code = match ch {
            '↓' => KeyCode::Down,
            '↑' => KeyCode::Up,
            '⏎' => KeyCode::Enter,
            '⌫' => KeyCode::Backspace,
            '⎋' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        app.key(KeyEvent::from(code));
    }
}

/// The table lists regions in its order: ap-south-1, ap-northeast-1,
/// eu-west-3, us-west-1, af-south-1, ap-east-1, eu-west-1, us-east-1.
/// Picking the first five as replicas and the last three as clients gives
/// the reference placement, and the estimates the CLI test works out.
fn pick_reference_placement(app: &mut App) {
    press(app, "r↓r↓r↓r↓r↓c↓c↓c");
}

#[test]
fn an_empty_selection_asks_for_regions() {
    let mut app = App::new(reference_table(), &[], &[], Criteria::default()).expect("app");
    let screen = screen(&mut app);
    assert!(screen.contains("pick replicas (r) and clients (c)"), "{screen}");
    insta::assert_snapshot!("empty", screen);
}

#[test]
fn picking_the_reference_placement_shows_every_estimate() {
    let mut app = App::new(reference_table(), &[], &[], Criteria::default()).expect("app");
    pick_reference_placement(&mut app);
    assert_eq!(
        app.replicas(),
        ["ap-south-1", "ap-northeast-1", "eu-west-3", "us-west-1", "af-south-1"]
    );
    assert_eq!(app.clients(), ["ap-east-1", "eu-west-1", "us-east-1"]);
    let shown = screen(&mut app);
    // SwiftPaxos: leader eu-west-3, mean fast 164.8 and slow 191.2; its
    // quorum and per-client rows in the detail panel.
    assert!(
        shown.contains("SwiftPaxos  eu-west-3          164.8   191.2"),
        "{shown}"
    );
    assert!(
        shown.contains("fast quorum ap-northeast-1 eu-west-3 us-west-1"),
        "{shown}"
    );
    assert!(
        shown.contains("ap-east-1       201.0  236.0  ap-northeast-1"),
        "{shown}"
    );
    assert!(
        shown.contains("Accord      estimate only      144.3   514.3"),
        "{shown}"
    );
    insta::assert_snapshot!("reference_swiftpaxos", shown);
    // p cycles the detail panel to Accord, the seventh row.
    press(&mut app, "pppppp");
    let shown = screen(&mut app);
    assert!(
        shown.contains("Accord per client") && shown.contains("estimate only, not implemented here"),
        "{shown}"
    );
    assert!(shown.contains("ap-east-1       156.0  539.0"), "{shown}");
    insta::assert_snapshot!("reference_accord", shown);
}

#[test]
fn the_leader_rule_key_switches_to_the_fast_path_rule() {
    let mut app = App::new(reference_table(), &[], &[], Criteria::default()).expect("app");
    pick_reference_placement(&mut app);
    press(&mut app, "l");
    let shown = screen(&mut app);
    assert!(shown.contains("rule fast-path, mean"), "{shown}");
    assert!(shown.contains("SwiftPaxos  us-west-1          163.8"), "{shown}");
    press(&mut app, "lw");
    assert!(screen(&mut app).contains("rule slow-path, worst"));
}

#[test]
fn export_writes_the_placement_and_the_cli_reads_it() {
    let dir = std::env::temp_dir().join(format!("flint-tui-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut app = App::new(reference_table(), &[], &[], Criteria::default()).expect("app");
    press(&mut app, "e");
    assert_eq!(app.mode, Mode::Browse, "nothing to export before a placement");
    assert!(app.status.contains("nothing to export"), "{}", app.status);
    pick_reference_placement(&mut app);
    press(&mut app, "e");
    assert_eq!(
        app.mode,
        Mode::Export {
            dir: "flint-export".into()
        }
    );
    let shown = screen(&mut app);
    assert!(shown.contains("export into: flint-export"), "{shown}");
    // Replace the offered directory with ours, then Enter.
    press(&mut app, &"⌫".repeat("flint-export".len()));
    press(&mut app, &dir.display().to_string());
    press(&mut app, "⏎");
    assert!(app.status.starts_with("exported to"), "{}", app.status);
    let deployment = std::fs::read_to_string(dir.join("deployment.conf")).expect("deployment.conf");
    let parsed = tools::deployment::parse(&deployment, "deployment.conf").expect("the exported config parses");
    assert_eq!(parsed.replicas.len(), 5);
    let quorum = std::fs::read_to_string(dir.join("quorum.conf")).expect("quorum.conf");
    assert!(quorum.contains("l eu-west-3"), "{quorum}");
    let _ = std::fs::remove_dir_all(&dir);
    press(&mut app, "q");
    assert!(app.quit);
}

#[test]
fn a_long_table_scrolls_with_the_cursor() {
    // The bundled model has 29 regions; 80×24 shows 18 of them.
    let loaded = table::load(None).expect("the bundled table");
    let mut app = App::new(loaded, &[], &[], Criteria::default()).expect("app");
    press(&mut app, &"↓".repeat(28));
    let shown = screen(&mut app);
    assert!(shown.contains("us-west-2") && !shown.contains("af-south-1"), "{shown}");
    press(&mut app, &"↑".repeat(28));
    assert!(screen(&mut app).contains("af-south-1"));
}

#[test]
fn preselected_regions_and_unknown_names() {
    let replicas = ["ap-south-1", "eu-west-3", "us-west-1"].map(String::from);
    let mut app = App::new(
        reference_table(),
        &replicas,
        &["eu-west-1".to_string()],
        Criteria::default(),
    )
    .expect("app");
    assert!(screen(&mut app).contains("Paxos       eu-west-3"));
    let err = App::new(reference_table(), &["mars-1".to_string()], &[], Criteria::default())
        .err()
        .unwrap_or_default();
    assert!(err.contains("unknown region `mars-1`"), "{err}");
}
