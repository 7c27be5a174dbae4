//! `flint --tui`: pick replica and client regions from the table and watch
//! every protocol's estimates, with the chosen leader and fast quorum,
//! update as you go; export the placement with one key.
//!
//! The state ([`App`]) and the key handling are plain data and functions,
//! and [`draw`] paints any terminal size from them, so tests drive the view
//! with ratatui's `TestBackend`; [`run`] is the only part that touches the
//! real terminal. Everything fits 80×24, the smallest terminal one meets
//! over ssh; larger terminals show more regions and clients.

use super::choose::{mean, Criteria, LeaderRule, Objective};
use super::report::{display_name, ACCORD_NOTE};
use super::table::LoadedTable;
use super::{estimate, export, report, resolve, Estimates, FlintArgs, Selection};
use crate::protocol_name::ProtocolName;
use net::LatencyTable;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use std::path::PathBuf;

/// The rows of the estimates panel: our six protocols, then Accord.
const ROWS: usize = ProtocolName::ALL.len() + 1;

/// The directory `e` offers to export into.
pub const DEFAULT_EXPORT_DIR: &str = "flint-export";

/// What the keyboard is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Browsing regions.
    Browse,
    /// Typing the directory to export into.
    Export { dir: String },
}

/// Everything the view shows.
pub struct App {
    table: LatencyTable,
    source: String,
    regions: Vec<String>,
    replica: Vec<bool>,
    client: Vec<bool>,
    cursor: usize,
    scroll: usize,
    detail: usize,
    criteria: Criteria,
    /// The keyboard's mode.
    pub mode: Mode,
    /// The last thing that happened (an export, an error), for the status line.
    pub status: String,
    /// Set when the user asked to leave.
    pub quit: bool,
}

impl App {
    /// A view of `loaded`, with the regions of `replicas` and `clients`
    /// preselected (unknown names are an error, as on the command line).
    pub fn new(
        loaded: LoadedTable,
        replicas: &[String],
        clients: &[String],
        criteria: Criteria,
    ) -> Result<App, String> {
        let regions = loaded.table.names().to_vec();
        let pick = |names: &[String]| -> Result<Vec<bool>, String> {
            for name in names {
                if !regions.contains(name) {
                    return Err(format!(
                        "unknown region `{name}` (the table knows: {})",
                        regions.join(", ")
                    ));
                }
            }
            Ok(regions.iter().map(|r| names.contains(r)).collect())
        };
        Ok(App {
            replica: pick(replicas)?,
            client: pick(clients)?,
            table: loaded.table,
            source: loaded.source,
            regions,
            cursor: 0,
            scroll: 0,
            detail: 0,
            criteria,
            mode: Mode::Browse,
            status: String::new(),
            quit: false,
        })
    }

    /// The selected replica regions, in table order.
    pub fn replicas(&self) -> Vec<String> {
        self.selected(&self.replica)
    }

    /// The selected client regions, in table order.
    pub fn clients(&self) -> Vec<String> {
        self.selected(&self.client)
    }

    fn selected(&self, marks: &[bool]) -> Vec<String> {
        self.regions
            .iter()
            .zip(marks)
            .filter(|(_, &m)| m)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Every estimate of the current placement, or why there is none.
    pub fn estimates(&self) -> Result<(super::sites::Sites, Estimates), String> {
        let (replicas, clients) = (self.replicas(), self.clients());
        if replicas.is_empty() || clients.is_empty() {
            return Err("pick replicas (r) and clients (c)".into());
        }
        let sites = resolve(&self.table, &replicas, &clients)?;
        let all = Selection {
            protocols: ProtocolName::ALL.to_vec(),
            accord: true,
        };
        let estimates = estimate(&sites, &all, self.criteria);
        Ok((sites, estimates))
    }

    /// Handles one key press.
    pub fn key(&mut self, key: KeyEvent) {
        if key.kind != KeyEventKind::Press {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        match &mut self.mode {
            Mode::Export { dir } => match key.code {
                KeyCode::Enter => {
                    let dir = PathBuf::from(dir.trim());
                    self.mode = Mode::Browse;
                    self.status = self.export(dir);
                }
                KeyCode::Esc => {
                    self.mode = Mode::Browse;
                    self.status = "export cancelled".into();
                }
                KeyCode::Backspace => {
                    dir.pop();
                }
                KeyCode::Char(ch) => dir.push(ch),
                _ => {}
            },
            Mode::Browse => self.browse(key.code),
        }
    }

    fn browse(&mut self, code: KeyCode) {
        let last = self.regions.len().saturating_sub(1);
        match code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Up | KeyCode::Char('k') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.cursor = (self.cursor + 1).min(last),
            KeyCode::PageUp => self.cursor = self.cursor.saturating_sub(10),
            KeyCode::PageDown => self.cursor = (self.cursor + 10).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.cursor = 0,
            KeyCode::End | KeyCode::Char('G') => self.cursor = last,
            KeyCode::Char('r') | KeyCode::Char(' ') => toggle(&mut self.replica, self.cursor),
            KeyCode::Char('c') => toggle(&mut self.client, self.cursor),
            KeyCode::Char('p') | KeyCode::Tab => self.detail = (self.detail + 1) % ROWS,
            KeyCode::Char('P') | KeyCode::BackTab => self.detail = (self.detail + ROWS - 1) % ROWS,
            KeyCode::Char('l') => {
                self.criteria.rule = match self.criteria.rule {
                    LeaderRule::SlowPath => LeaderRule::FastPath,
                    LeaderRule::FastPath => LeaderRule::SlowPath,
                }
            }
            KeyCode::Char('w') => {
                self.criteria.minimize = match self.criteria.minimize {
                    Objective::Average => Objective::Worst,
                    Objective::Worst => Objective::Average,
                }
            }
            KeyCode::Char('e') => match self.estimates() {
                Ok(_) => {
                    self.mode = Mode::Export {
                        dir: DEFAULT_EXPORT_DIR.into(),
                    }
                }
                Err(why) => self.status = format!("nothing to export: {why}"),
            },
            _ => {}
        }
    }

    /// Writes the placement as `flint --export` does; returns the status.
    fn export(&self, dir: PathBuf) -> String {
        let result = self.estimates().and_then(|(sites, estimates)| {
            let text = report::text(&sites, &estimates, self.criteria, &self.source);
            export::write(&dir, &self.table, &sites, &estimates, &text)
        });
        match result {
            Ok(files) => format!("exported to {}: {}", dir.display(), files.join(", ")),
            Err(e) => format!("export failed: {e}"),
        }
    }

    /// Keeps the cursor inside the `visible` rows of the region list.
    fn follow_cursor(&mut self, visible: usize) {
        if visible == 0 {
            return;
        }
        if self.cursor < self.scroll {
            self.scroll = self.cursor;
        } else if self.cursor >= self.scroll + visible {
            self.scroll = self.cursor + 1 - visible;
        }
    }
}

fn toggle(marks: &mut [bool], i: usize) {
    if let Some(m) = marks.get_mut(i) {
        *m = !*m;
    }
}

/// The key help on the last line (at most 80 columns).
pub const HELP: &str = "↑↓ move  r replica  c client  p protocol  l rule  w worst/mean  e export  q quit";

/// Paints the whole view.
pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    if area.width < 60 || area.height < 16 {
        frame.render_widget(
            Paragraph::new("flint needs a terminal of at least 60×16; q quits"),
            area,
        );
        return;
    }
    let [title, body, status, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let title_text = format!("flint · table: {} · {}", app.source, rule_text(app.criteria));
    frame.render_widget(Paragraph::new(title_text).bold(), title);
    let [left, right] = Layout::horizontal([Constraint::Length(30), Constraint::Min(0)]).areas(body);
    draw_regions(frame, app, left);
    let estimates = app.estimates();
    let [summary, detail] = Layout::vertical([Constraint::Length(ROWS as u16 + 3), Constraint::Min(0)]).areas(right);
    draw_summary(frame, app, &estimates, summary);
    draw_detail(frame, app, &estimates, detail);
    let status_text = match &app.mode {
        Mode::Export { dir } => format!("export into: {dir}▏ (Enter writes, Esc cancels)"),
        Mode::Browse => app.status.clone(),
    };
    frame.render_widget(Paragraph::new(status_text), status);
    frame.render_widget(Paragraph::new(HELP).dim(), help);
}

fn rule_text(criteria: Criteria) -> String {
    let rule = match criteria.rule {
        LeaderRule::SlowPath => "slow-path",
        LeaderRule::FastPath => "fast-path",
    };
    let over = match criteria.minimize {
        Objective::Average => "mean",
        Objective::Worst => "worst",
    };
    format!("rule {rule}, {over}")
}

fn draw_regions(frame: &mut Frame, app: &mut App, area: Rect) {
    let block = Block::bordered().title(format!(" Regions ({}) ", app.regions.len()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let visible = (inner.height as usize).saturating_sub(1);
    app.follow_cursor(visible);
    let mut lines = vec![Line::from(" R C region").underlined()];
    for i in app.scroll..(app.scroll + visible).min(app.regions.len()) {
        let mark = |on: bool| if on { "●" } else { "·" };
        let text = format!(" {} {} {}", mark(app.replica[i]), mark(app.client[i]), app.regions[i]);
        let line = Line::from(text);
        lines.push(if i == app.cursor { line.reversed() } else { line });
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn protocol_row(i: usize) -> (&'static str, Option<ProtocolName>) {
    match ProtocolName::ALL.get(i) {
        Some(&p) => (display_name(p), Some(p)),
        None => ("Accord", None),
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

type Estimated = Result<(super::sites::Sites, Estimates), String>;

fn draw_summary(frame: &mut Frame, app: &App, estimates: &Estimated, area: Rect) {
    let block = Block::bordered().title(" Estimates: mean over clients, ms ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (sites, estimates) = match estimates {
        Ok(e) => e,
        Err(why) => return frame.render_widget(Paragraph::new(why.as_str()), inner),
    };
    let mut lines = vec![Line::from(format!(
        " {:<11} {:<16} {:>7} {:>7}",
        "protocol", "leader", "fast", "slow"
    ))
    .underlined()];
    for i in 0..ROWS {
        let (name, protocol) = protocol_row(i);
        let (leader, fast, slow) = match protocol {
            Some(p) => {
                let plan = &estimates.plans[ProtocolName::ALL.iter().position(|&q| q == p).unwrap_or(0)];
                let leader = plan
                    .leader
                    .map_or("leaderless".to_string(), |l| sites.replicas[l].clone());
                (leader, plan.average_fast(), plan.average_slow())
            }
            None => {
                let accord = estimates.accord.as_deref().unwrap_or(&[]);
                let fast: Option<Vec<f64>> = accord.iter().map(|e| e.fast).collect();
                (
                    "estimate only".to_string(),
                    fast.map(|f| mean(f.into_iter())),
                    mean(accord.iter().map(|e| e.slow)),
                )
            }
        };
        let line = Line::from(format!(" {name:<11} {leader:<16.16} {:>7} {:>7.1}", ms(fast), slow));
        lines.push(if i == app.detail { line.bold() } else { line });
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_detail(frame: &mut Frame, app: &App, estimates: &Estimated, area: Rect) {
    let (name, protocol) = protocol_row(app.detail);
    let block = Block::bordered().title(format!(" {name} per client (p: next) "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (sites, estimates) = match estimates {
        Ok(e) => e,
        Err(_) => return,
    };
    let mut lines = Vec::new();
    let per_client = match protocol {
        Some(p) => {
            let plan = &estimates.plans[ProtocolName::ALL.iter().position(|&q| q == p).unwrap_or(0)];
            lines.push(Line::from(match plan.leader {
                Some(l) => format!(" leader {}", sites.replicas[l]),
                None => " leaderless: each client's closest replica leads".to_string(),
            }));
            if let Some(q) = &plan.fast_quorum {
                let members: Vec<&str> = q.iter().map(|&r| sites.replicas[r].as_str()).collect();
                lines.push(Line::from(format!(" fast quorum {}", members.join(" "))));
            }
            plan.estimates.clone()
        }
        None => {
            lines.push(Line::from(format!(" {ACCORD_NOTE}")).italic());
            estimates.accord.clone().unwrap_or_default()
        }
    };
    lines.push(
        Line::from(format!(
            " {:<14} {:>6} {:>6}  {}",
            "client", "fast", "slow", "closest replica"
        ))
        .underlined(),
    );
    for (c, e) in per_client.iter().enumerate() {
        lines.push(Line::from(format!(
            " {:<14.14} {:>6} {:>6.1}  {}",
            sites.clients[c],
            ms(e.fast),
            e.slow,
            sites.replicas[sites.closest(c)]
        )));
    }
    frame.render_widget(Paragraph::new(lines).style(Style::new()), inner);
}

/// Runs the view in the terminal until the user quits.
pub fn run(args: &FlintArgs, loaded: LoadedTable) -> Result<(), String> {
    let mut app = App::new(loaded, &args.replicas, &args.clients, args.criteria())?;
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot open the terminal: {e}"))?;
    let result = (|| -> std::io::Result<()> {
        while !app.quit {
            terminal.draw(|frame| draw(frame, &mut app))?;
            if let Event::Key(key) = event::read()? {
                app.key(key);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result.map_err(|e| format!("terminal: {e}"))
}
