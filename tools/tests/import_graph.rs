//! The modules of each crate import each other without circles: a circle
//! makes two files one unit (neither can be read, tested or moved alone),
//! and they crept in unnoticed before this test (issue 33 found three).
//!
//! A file's edges are the modules its non-test code names through
//! `crate::…` or `super::…` paths (comments and `#[cfg(test)]` code left
//! out); a path names the deepest module file it reaches. A module naming
//! its own ancestor (`super::Thing` defined in the parent) is not an edge:
//! a parent owns its children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = ["protocols", "net", "runtime", "bench", "tools"];

/// A module's path inside its crate (`["live", "server"]`).
type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/live/server.rs` → `live::server`; `src/live/mod.rs` → `live`.
fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Module = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code a reader of the module's logic sees: comments and everything
/// from the first `#[cfg(test)]` on (test modules close each file) dropped.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `use` groups written out: `use super::{a::X, b::{c, d}};` becomes
/// `super::a::X`, `super::b::c` and `super::b::d`, one per line.
fn expand_use_groups(code: &str) -> String {
    fn expand(item: &str) -> Vec<String> {
        let item = item.trim();
        let Some(open) = item.find('{') else {
            return vec![item.to_string()];
        };
        let close = item.rfind('}').unwrap_or(item.len());
        let (prefix, inner) = (&item[..open], &item[open + 1..close]);
        let mut items = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[start..]);
        items
            .into_iter()
            .filter(|i| !i.trim().is_empty())
            .flat_map(|i| expand(i).into_iter().map(move |e| format!("{prefix}{e}")))
            .collect()
    }
    code.split(';')
        .filter_map(|statement| statement.trim().rsplit_once("use ").map(|(_, path)| path))
        .filter(|path| path.contains('{'))
        .flat_map(expand)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` or `super::…::a` path in `code`, as segments
/// resolved against `module` (`super` is its parent, whether its file is
/// `name.rs` or `name/mod.rs`).
fn paths(code: &str, module: &Module) -> Vec<Module> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if (i == 0 || !ident(bytes[i - 1])) && ident(bytes[i]) {
            let start = i;
            while i < bytes.len() && (ident(bytes[i]) || bytes[i..].starts_with(b"::")) {
                i += if bytes[i] == b':' { 2 } else { 1 };
            }
            let path: Vec<&str> = code[start..i].split("::").filter(|s| !s.is_empty()).collect();
            let mut base: Module = match path.first() {
                Some(&"crate") => Vec::new(),
                Some(&"super") => module[..module.len().saturating_sub(1)].to_vec(),
                _ => continue,
            };
            let mut rest = &path[1..];
            while rest.first() == Some(&"super") {
                base.truncate(base.len().saturating_sub(1));
                rest = &rest[1..];
            }
            base.extend(rest.iter().map(|s| s.to_string()));
            found.push(base);
        } else {
            i += 1;
        }
    }
    found
}

/// The module-to-module edges of one crate.
fn edges(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files.iter().map(|f| (module_of(src, f), f.clone())).collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut to = BTreeSet::new();
        let code = code(&text);
        let groups = expand_use_groups(&code);
        for path in paths(&code, module).into_iter().chain(paths(&groups, module)) {
            // The deepest module file the path reaches.
            let target = (1..=path.len())
                .rev()
                .map(|k| path[..k].to_vec())
                .find(|m| modules.contains_key(m));
            if let Some(target) = target {
                let is_ancestor = target.len() <= module.len() && module[..target.len()] == target[..];
                if !is_ancestor {
                    to.insert(target);
                }
            }
        }
        graph.insert(module.clone(), to);
    }
    graph
}

/// The circles of `graph`: its strongly connected components of more than
/// one module (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Search<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !search.index.contains_key(v) {
            search.visit(v);
        }
    }
    search.found
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut all = Vec::new();
    for krate in CRATES {
        for circle in circles(&edges(&root.join(krate).join("src"))) {
            let names: Vec<String> = circle.iter().map(|m| format!("{krate}::{}", m.join("::"))).collect();
            all.push(names.join(" <-> "));
        }
    }
    assert!(all.is_empty(), "import circles:\n{}", all.join("\n"));
}

#[test]
fn a_circle_is_found() {
    // The checker itself: two modules naming each other form one circle,
    // a child naming its parent does not.
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Module>();
    assert_eq!(
        paths("use super::dial::connect; use crate::check::wgl;", &m("live::server")),
        vec![m("live::dial::connect"), m("check::wgl")]
    );
    assert_eq!(paths("use super::super::x;", &m("a::b::c")), vec![m("a::x")]);
    assert_eq!(
        expand_use_groups("use super::{a::X, b::{c, d}};\nfn f() {}"),
        "super::a::X\nsuper::b::c\nsuper::b::d"
    );
    let graph: BTreeMap<Module, BTreeSet<Module>> = [
        (m("a"), [m("b")].into()),
        (m("b"), [m("a")].into()),
        (m("c"), [m("a")].into()),
    ]
    .into();
    assert_eq!(circles(&graph).len(), 1);
}
