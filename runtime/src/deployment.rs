//! The original tool's deployment config (`-config FILE`), as in
//! `shared/reference/aws.conf`: sections of `alias address` lines for
//! replicas, clients and the master, `key: value` settings (global, or for
//! one alias under `-- Apply to ALIAS --`), and the `-- Proxy --` section
//! that gives each client the replica it talks to. `//` starts a comment.
//!
//! Every error names the file, the line and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The port of a config address that names none (the original's).
pub const DEFAULT_PORT: u16 = 7070;

/// An address from the config: `ip` (port 7070) or `ip:port`.
pub fn address(text: &str) -> Result<SocketAddr, String> {
    let with_port = if text.contains(':') {
        text.to_string()
    } else {
        format!("{text}:{DEFAULT_PORT}")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`{text}` is not an address"))
}

/// The replicas' addresses from the config (errors name file, line, alias).
pub fn replica_addresses(d: &Deployment) -> Result<Vec<SocketAddr>, String> {
    d.replicas
        .iter()
        .map(|r| address(&r.address).map_err(|e| format!("{}:{}: {}: {e}", d.file, r.line, r.alias)))
        .collect()
}

/// The replicas' addresses for shard `s`: each port plus `s` (a replica
/// runs one protocol instance per shard, each on its own port).
pub fn shard_addresses(base: &[SocketAddr], s: u16) -> Vec<SocketAddr> {
    base.iter().map(|a| SocketAddr::new(a.ip(), a.port() + s)).collect()
}

/// A config error: where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as named on the command line.
    pub file: String,
    /// 1-based line number (0: the file as a whole).
    pub line: usize,
    /// The field or section concerned.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.field, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A setting's value and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The raw value.
    pub value: String,
    /// Where it was set.
    pub line: usize,
}

/// A node named in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its alias (a region name in the reference file).
    pub alias: String,
    /// Its address: an IP (the original's fixed port applies) or `ip:port`.
    pub address: String,
    /// Where it was declared.
    pub line: usize,
}

/// The parsed config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deployment {
    /// The file's name, for later errors.
    pub file: String,
    /// Replicas in id order (the order of the file).
    pub replicas: Vec<Node>,
    /// Client machines.
    pub clients: Vec<Node>,
    /// The master, if declared.
    pub master: Option<Node>,
    /// Global `key: value` settings.
    pub settings: BTreeMap<String, Setting>,
    /// Settings that apply to one alias only.
    pub per_alias: BTreeMap<String, BTreeMap<String, Setting>>,
    /// Client alias → the replica alias it uses (`-- Proxy --`).
    pub proxy: BTreeMap<String, String>,
}

/// Every field the original knows; anything else is a typo and an error.
const KNOWN: [&str; 17] = [
    "masterPort",
    "protocol",
    "noop",
    "thrifty",
    "optread",
    "leaderless",
    "fast",
    "reqs",
    "runTime",
    "writes",
    "conflicts",
    "commandSize",
    "clones",
    "key",
    "pipeline",
    "pendings",
    "waitClosest",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Global,
    Replicas,
    Clients,
    Master,
    Apply,
    Proxy,
}

/// Parses `text`, read from `file`.
pub fn parse(text: &str, file: &str) -> Result<Deployment, ConfigError> {
    let err = |line: usize, field: &str, message: String| ConfigError {
        file: file.to_string(),
        line,
        field: field.to_string(),
        message,
    };
    let mut d = Deployment {
        file: file.to_string(),
        ..Deployment::default()
    };
    let mut section = Section::Global;
    let mut apply_to = String::new();
    let mut proxy_server: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split("//").next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        if content == "---" {
            section = Section::Global;
            continue;
        }
        if let Some(title) = content
            .strip_prefix("--")
            .and_then(|t| t.strip_suffix("--"))
            .map(str::trim)
        {
            section = match title {
                "Replicas" => Section::Replicas,
                "Clients" => Section::Clients,
                "Master" => Section::Master,
                "Proxy" => Section::Proxy,
                t if t.starts_with("Apply to ") => {
                    apply_to = t["Apply to ".len()..].trim().to_string();
                    Section::Apply
                }
                other => return Err(err(line, "section", format!("unknown section `-- {other} --`"))),
            };
            proxy_server = None;
            continue;
        }
        // `field: value` (one word before the colon); `alias ip:port` is a node.
        if let Some((key, value)) = content
            .split_once(':')
            .filter(|(k, _)| !k.trim().contains(char::is_whitespace))
        {
            let (key, value) = (key.trim(), value.trim());
            if !KNOWN.contains(&key) {
                return Err(err(line, key, format!("unknown field (known: {})", KNOWN.join(", "))));
            }
            let setting = Setting {
                value: value.to_string(),
                line,
            };
            match section {
                Section::Apply => {
                    d.per_alias
                        .entry(apply_to.clone())
                        .or_default()
                        .insert(key.to_string(), setting);
                }
                _ => {
                    d.settings.insert(key.to_string(), setting);
                }
            }
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        match section {
            Section::Replicas | Section::Clients | Section::Master => {
                let [alias, address] = words.as_slice() else {
                    return Err(err(
                        line,
                        "node",
                        format!("expected `alias address`, found `{content}`"),
                    ));
                };
                let node = Node {
                    alias: alias.to_string(),
                    address: address.to_string(),
                    line,
                };
                match section {
                    Section::Replicas => {
                        if d.replicas.iter().any(|n| n.alias == node.alias) {
                            return Err(err(line, &node.alias, "replica alias declared twice".into()));
                        }
                        d.replicas.push(node)
                    }
                    Section::Clients => d.clients.push(node),
                    _ => d.master = Some(node),
                }
            }
            Section::Proxy => match words.as_slice() {
                ["server_alias", server] => proxy_server = Some(server.to_string()),
                [client] | [client, "(local)"] => {
                    let Some(server) = &proxy_server else {
                        return Err(err(line, "proxy", format!("`{client}` before any `server_alias` line")));
                    };
                    d.proxy.insert(client.to_string(), server.clone());
                }
                _ => {
                    return Err(err(
                        line,
                        "proxy",
                        format!("expected `server_alias NAME` or a client alias, found `{content}`"),
                    ))
                }
            },
            Section::Global | Section::Apply => {
                return Err(err(
                    line,
                    "setting",
                    format!("expected `field: value`, found `{content}`"),
                ))
            }
        }
    }
    if d.replicas.is_empty() {
        return Err(err(0, "-- Replicas --", "no replica declared".into()));
    }
    for (client, server) in &d.proxy {
        if !d.replicas.iter().any(|r| &r.alias == server) {
            let line = text
                .lines()
                .position(|l| l.contains("server_alias") && l.contains(server.as_str()))
                .map_or(0, |p| p + 1);
            return Err(err(
                line,
                "server_alias",
                format!("`{server}` (proxy of `{client}`) is not a replica"),
            ));
        }
    }
    Ok(d)
}

impl Deployment {
    /// The setting `key` for `alias` (its `-- Apply to --` section first, then the global one).
    pub fn setting(&self, alias: Option<&str>, key: &str) -> Option<&Setting> {
        alias
            .and_then(|a| self.per_alias.get(a))
            .and_then(|m| m.get(key))
            .or_else(|| self.settings.get(key))
    }

    fn error(&self, s: &Setting, key: &str, message: String) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: s.line,
            field: key.to_string(),
            message,
        }
    }

    /// A whole-number setting, `default` when absent.
    pub fn number(&self, alias: Option<&str>, key: &str, default: u64) -> Result<u64, ConfigError> {
        match self.setting(alias, key) {
            None => Ok(default),
            Some(s) => s
                .value
                .parse()
                .map_err(|_| self.error(s, key, format!("`{}` is not a whole number", s.value))),
        }
    }

    /// A percentage setting (0 to 100).
    pub fn percent(&self, alias: Option<&str>, key: &str, default: u32) -> Result<u32, ConfigError> {
        let v = self.number(alias, key, u64::from(default))?;
        match self.setting(alias, key) {
            Some(s) if v > 100 => Err(self.error(s, key, format!("{v} is not a percentage (0 to 100)"))),
            _ => Ok(v as u32),
        }
    }

    /// A `true`/`false` setting.
    pub fn flag(&self, alias: Option<&str>, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.setting(alias, key) {
            None => Ok(default),
            Some(s) => match s.value.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(self.error(s, key, format!("`{other}` is neither true nor false"))),
            },
        }
    }

    /// A duration setting in Go syntax; `none` means no limit.
    pub fn duration(&self, alias: Option<&str>, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.setting(alias, key) {
            None => Ok(None),
            Some(s) if s.value == "none" => Ok(None),
            Some(s) => net::duration::parse_go_duration(&s.value)
                .map(Some)
                .map_err(|e| self.error(s, key, e)),
        }
    }

    /// The id of the replica called `alias`.
    pub fn replica_id(&self, alias: &str) -> Option<usize> {
        self.replicas.iter().position(|r| r.alias == alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Option<String> {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/reference/aws.conf")).ok()
    }

    #[test]
    fn the_reference_config_parses() {
        let Some(text) = reference() else { return };
        let d = parse(&text, "aws.conf").unwrap();
        assert_eq!(d.replicas.len(), 5);
        assert_eq!(d.replicas[3].alias, "us-west-1");
        assert_eq!(d.clients.len(), 10);
        assert_eq!(d.master.as_ref().map(|m| m.address.as_str()), Some("0.0.2.1"));
        assert_eq!(d.setting(None, "protocol").unwrap().value, "SwiftPaxos");
        assert_eq!(d.number(None, "masterPort", 0).unwrap(), 7087);
        assert_eq!(d.percent(None, "conflicts", 0).unwrap(), 2);
        assert_eq!(d.duration(None, "runTime").unwrap(), None);
        assert!(d.flag(Some("us-west-1"), "waitClosest", false).unwrap());
        assert!(!d.flag(Some("eu-west-1"), "waitClosest", false).unwrap());
        assert_eq!(d.proxy.get("ca-central-1").map(String::as_str), Some("us-west-1"));
        assert_eq!(
            d.proxy.get("ap-northeast-1").map(String::as_str),
            Some("ap-northeast-1")
        );
        assert_eq!(d.replica_id("af-south-1"), Some(4));
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = parse("-- Replicas --\na 127.0.0.1\nwrites: lots\n", "x.conf")
            .unwrap()
            .percent(None, "writes", 0)
            .unwrap_err();
        assert_eq!(e.to_string(), "x.conf:3: writes: `lots` is not a whole number");
        let e = parse("-- Replicas --\na 127.0.0.1\nconflcts: 2\n", "x.conf").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "conflcts"));
        let e = parse("-- Replicas --\na 127.0.0.1 extra\n", "x.conf").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "node"));
        let e = parse("-- Replicas --\na 127.0.0.1\n-- Proxy --\nclient\n", "x.conf").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "proxy"));
        let e = parse(
            "-- Replicas --\na 127.0.0.1\n-- Proxy --\nserver_alias b\nc\n",
            "x.conf",
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "server_alias"));
        let e = parse("-- Replicas --\na 1\nwrites: 150\n", "x.conf")
            .unwrap()
            .percent(None, "writes", 0)
            .unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("-- Clients --\nc 1\n", "x.conf").unwrap_err();
        assert_eq!(e.field, "-- Replicas --");
        let d = parse("-- Replicas --\na 127.0.0.1:7000\nb 127.0.0.2\n", "x.conf").unwrap();
        assert_eq!(d.replicas[0].address, "127.0.0.1:7000");
        let e = parse("-- Replicas --\na 1\n-- Nope --\n", "x.conf").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "section"));
    }

    #[test]
    fn addresses_default_to_the_original_port() {
        assert_eq!(
            address("127.0.0.3").unwrap(),
            "127.0.0.3:7070".parse::<std::net::SocketAddr>().unwrap()
        );
        assert_eq!(
            address("127.0.0.1:9000").unwrap(),
            "127.0.0.1:9000".parse::<std::net::SocketAddr>().unwrap()
        );
        assert!(address("not an address").is_err());
    }
}
