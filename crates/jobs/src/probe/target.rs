//! `HOST:PORT` targets: parsing them from the command line and from a targets file.

use std::fmt;
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};

/// A TCP endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    /// A host name, an IPv4 address or an IPv6 address (without brackets).
    pub host: String,
    /// The TCP port, never 0.
    pub port: u16,
}

impl fmt::Display for Target {
    /// `host:port`, or `[v6]:port` for an IPv6 address, so the text parses back to the same
    /// target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a target's text is not `HOST:PORT`. Each message quotes the text concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Nothing was given.
    #[error("empty target (expected HOST:PORT)")]
    Empty,
    /// Whitespace inside a target, e.g. two targets on one line.
    #[error("invalid target {0:?}: contains whitespace")]
    Whitespace(String),
    /// No `:PORT` part.
    #[error("missing port in {0:?} (expected HOST:PORT)")]
    MissingPort(String),
    /// The port is not a number from 1 to 65535.
    #[error("invalid port {port:?} in {text:?} (expected 1-65535)")]
    InvalidPort {
        /// The whole target text.
        text: String,
        /// The port part.
        port: String,
    },
    /// Nothing before the `:PORT`.
    #[error("empty host in {0:?}")]
    EmptyHost(String),
    /// The host has characters no host name or address has.
    #[error("invalid host in {0:?}")]
    InvalidHost(String),
    /// An IPv6 address without brackets, whose port cannot be told from its last group.
    #[error("IPv6 address in {0:?} needs brackets, e.g. [::1]:22")]
    Ipv6NeedsBrackets(String),
    /// Brackets around something that is not an IPv6 address.
    #[error("invalid IPv6 address in {0:?}")]
    InvalidIpv6(String),
    /// `[` without `]`.
    #[error("missing ']' in {0:?}")]
    UnclosedBracket(String),
}

/// Parses `HOST:PORT`: `example.com:443`, `1.2.3.4:80`, `[::1]:22`, `localhost:8080`.
///
/// Only the syntax is checked; whether the host resolves is the probe's business (an
/// `error` result), not a usage error.
pub fn parse_target(text: &str) -> Result<Target, TargetError> {
    let owned = || text.to_owned();
    if text.is_empty() {
        return Err(TargetError::Empty);
    }
    if text.chars().any(char::is_whitespace) {
        return Err(TargetError::Whitespace(owned()));
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| TargetError::UnclosedBracket(owned()))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(TargetError::InvalidIpv6(owned()));
        }
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| TargetError::MissingPort(owned()))?;
        (host, port)
    } else {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| TargetError::MissingPort(owned()))?;
        if host.is_empty() {
            return Err(TargetError::EmptyHost(owned()));
        }
        if host.contains(':') && host.parse::<Ipv6Addr>().is_ok() {
            return Err(TargetError::Ipv6NeedsBrackets(owned()));
        }
        // Letters, digits, '-', '.' and '_' (seen in real internal names) cover host names
        // and IPv4 addresses; anything else (a URL's "//", a '/' or '@') is a typo.
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if !host.chars().all(valid) {
            return Err(TargetError::InvalidHost(owned()));
        }
        (host, port)
    };
    if port.is_empty() {
        return Err(TargetError::MissingPort(owned()));
    }
    // u16's parser accepts a leading '+', which no one means in a port.
    let number = port
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| port.parse::<u16>().ok())
        .flatten()
        .filter(|&p| p != 0);
    let port = number.ok_or_else(|| TargetError::InvalidPort {
        text: owned(),
        port: port.to_owned(),
    })?;
    Ok(Target {
        host: host.to_owned(),
        port,
    })
}

/// A line of a targets file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLineError {
    /// 1-based line number.
    pub line: usize,
    /// The line as written (without its newline), comment included.
    pub raw: String,
    /// What is wrong with it.
    pub error: TargetError,
}

impl fmt::Display for TargetLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

impl std::error::Error for TargetLineError {}

/// Parses a targets file: one `HOST:PORT` per line, `#` starting a comment (a whole line or
/// the rest of one), blank lines ignored. Results are in file order, one per target line.
pub fn parse_targets_file(text: &str) -> Vec<Result<Target, TargetLineError>> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| {
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                return None;
            }
            Some(parse_target(content).map_err(|error| TargetLineError {
                line: index + 1,
                raw: raw.to_owned(),
                error,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16) -> Target {
        Target {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn good_targets_parse_and_display_back() {
        for (text, expected) in [
            ("example.com:443", target("example.com", 443)),
            ("1.2.3.4:80", target("1.2.3.4", 80)),
            ("[::1]:22", target("::1", 22)),
            ("[2001:db8::8]:65535", target("2001:db8::8", 65535)),
            ("localhost:8080", target("localhost", 8080)),
            ("db_1.internal-net:5432", target("db_1.internal-net", 5432)),
        ] {
            let parsed = parse_target(text).unwrap();
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn bad_targets_name_the_problem_and_the_text() {
        let cases = [
            ("", "empty target (expected HOST:PORT)"),
            (
                "example.com",
                r#"missing port in "example.com" (expected HOST:PORT)"#,
            ),
            (
                "example.com:",
                r#"missing port in "example.com:" (expected HOST:PORT)"#,
            ),
            ("[::1]", r#"missing port in "[::1]" (expected HOST:PORT)"#),
            (
                "h:http",
                r#"invalid port "http" in "h:http" (expected 1-65535)"#,
            ),
            ("h:0", r#"invalid port "0" in "h:0" (expected 1-65535)"#),
            (
                "h:65536",
                r#"invalid port "65536" in "h:65536" (expected 1-65535)"#,
            ),
            (
                "h:+80",
                r#"invalid port "+80" in "h:+80" (expected 1-65535)"#,
            ),
            (":80", r#"empty host in ":80""#),
            (
                "::1:22",
                r#"IPv6 address in "::1:22" needs brackets, e.g. [::1]:22"#,
            ),
            ("[::1:22", r#"missing ']' in "[::1:22""#),
            ("[host]:22", r#"invalid IPv6 address in "[host]:22""#),
            ("http://h:80", r#"invalid host in "http://h:80""#),
            (
                "a:1 b:2",
                r#"invalid target "a:1 b:2": contains whitespace"#,
            ),
        ];
        for (text, message) in cases {
            let err = parse_target(text).unwrap_err();
            assert_eq!(err.to_string(), message, "{text:?}");
        }
    }

    #[test]
    fn targets_file_with_comments_and_blanks() {
        let text =
            "# servers\n\nexample.com:443  # web\n  [::1]:22\r\nbad\n#x:1\n127.0.0.1:3306#db\n";
        let parsed = parse_targets_file(text);
        assert_eq!(
            parsed,
            [
                Ok(target("example.com", 443)),
                Ok(target("::1", 22)),
                Err(TargetLineError {
                    line: 5,
                    raw: "bad".into(),
                    error: TargetError::MissingPort("bad".into()),
                }),
                Ok(target("127.0.0.1", 3306)),
            ]
        );
        let err = parsed[2].clone().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"line 5: missing port in "bad" (expected HOST:PORT)"#
        );
        assert!(parse_targets_file("").is_empty());
    }
}
