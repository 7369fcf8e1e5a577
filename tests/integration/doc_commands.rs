//! `supervisor` command lines in the documentation: the lines of the README's code blocks,
//! its inline code, and the example lines at the end of `--help` texts.
//!
//! Shared by the binary's unit test, which parses each with the real clap definition, and
//! the integration test that runs those that can run on a temporary tree.

/// One documented command line.
#[derive(Debug, Clone)]
pub struct DocCommand {
    /// Where it is written: `README.md:23`, `supervisor run --help`.
    pub source: String,
    /// The arguments after the program name.
    pub args: Vec<String>,
    /// `> FILE` (stdout) and `< FILE` (stdin) of the line, if any.
    pub stdout: Option<String>,
    pub stdin: Option<String>,
    /// Written in running text (inline code), where a bare `supervisor run` may name the
    /// command rather than be a command line.
    pub inline: bool,
}

impl DocCommand {
    /// A synopsis (`supervisor ps [PID] [--watch]`, `supervisor run [RUN OPTIONS] <JOB>`)
    /// or the worker entry that `main` routes before parsing: not a command line to parse.
    pub fn is_synopsis(&self) -> bool {
        self.args
            .first()
            .is_some_and(|a| a == "__supervisor_worker")
            || self.args.iter().any(|word| {
                word.contains("...")
                    || (word.starts_with('[')
                        && word[1..]
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_uppercase() || c == '-'))
            })
    }
}

/// The command lines of a Markdown text.
pub fn from_markdown(name: &str, text: &str) -> Vec<DocCommand> {
    let mut commands = Vec::new();
    let mut in_block = false;
    for (number, line) in text.lines().enumerate() {
        let source = format!("{name}:{}", number + 1);
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            commands.extend(command(&source, line, false));
        } else {
            // Inline code: the odd pieces between backticks.
            for span in line.split('`').skip(1).step_by(2) {
                commands.extend(command(&source, span, true));
            }
        }
    }
    commands
}

/// The example command lines of a `--help` text (indented lines starting with `supervisor`).
pub fn from_help(source: &str, text: &str) -> Vec<DocCommand> {
    text.lines()
        .filter_map(|line| command(source, line, false))
        .collect()
}

/// `line` as a command line, if it runs `supervisor` (by name, by path, or as `cargo run
/// --release -- ARGS`).
fn command(source: &str, line: &str, inline: bool) -> Option<DocCommand> {
    let (words, stdout, stdin) = shell_words(line.trim().trim_start_matches("$ "));
    let first = words.first()?;
    let args: Vec<String> = if first == "supervisor" || first.ends_with("/supervisor") {
        words[1..].to_vec()
    } else if words.len() > 2
        && words[..2] == ["cargo", "run"]
        && !words.iter().any(|w| w == "--example")
    {
        let split = words.iter().position(|w| w == "--")?;
        words[split + 1..].to_vec()
    } else {
        return None;
    };
    Some(DocCommand {
        source: source.to_string(),
        args,
        stdout,
        stdin,
        inline,
    })
}

/// The words of the first command of a shell line: quotes and backslashes as the shell
/// takes them, up to a comment, `|`, `;` or `&`; redirections taken out.
fn shell_words(line: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let mut words = Vec::new();
    let (mut stdout, mut stdin) = (None, None);
    let mut redirect: Option<char> = None;
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        match c {
            '#' | '|' | ';' | '&' => break,
            '>' | '<' => {
                chars.next();
                redirect = Some(c);
                continue;
            }
            _ => {}
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            match c {
                c if c.is_whitespace() => break,
                '|' | ';' | '&' | '>' | '<' => break,
                '\'' => {
                    chars.next();
                    word.extend(chars.by_ref().take_while(|&c| c != '\''));
                }
                '"' => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => word.extend(chars.next()),
                            c => word.push(c),
                        }
                    }
                }
                '\\' => {
                    chars.next();
                    word.extend(chars.next());
                }
                c => {
                    chars.next();
                    word.push(c);
                }
            }
        }
        match redirect.take() {
            Some('>') => stdout = Some(word),
            Some(_) => stdin = Some(word),
            None => words.push(word),
        }
    }
    (words, stdout, stdin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_code_block_lines_inline_code_and_cargo_run() {
        let text = "```sh\nsupervisor run hash /srv > SUMS   # comment\ncargo run --release -- run cpu\ncargo run --example x -- y\n```\nSee `supervisor man` and `other`.\n";
        let found = from_markdown("R", text);
        let args: Vec<Vec<String>> = found.iter().map(|c| c.args.clone()).collect();
        assert_eq!(
            args,
            [vec!["run", "hash", "/srv"], vec!["run", "cpu"], vec!["man"]]
        );
        assert_eq!(found[0].stdout.as_deref(), Some("SUMS"));
        assert!(found[2].inline);
    }

    #[test]
    fn quotes_and_synopses() {
        let (words, _, stdin) = shell_words("supervisor run logs --glob '*.log' \"a b\" - < F");
        assert_eq!(
            words,
            ["supervisor", "run", "logs", "--glob", "*.log", "a b", "-"]
        );
        assert_eq!(stdin.as_deref(), Some("F"));
        let synopsis = command("s", "supervisor ps [PID] [--watch]", false).unwrap();
        assert!(synopsis.is_synopsis());
        let probe = command("s", "supervisor run probe [::1]:22", false).unwrap();
        assert!(!probe.is_synopsis());
    }
}
