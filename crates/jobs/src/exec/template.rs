//! The command line of a task: GNU parallel's replacement strings filled in, as an argv or as
//! a line for `sh -c`.

use super::replace;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// One of GNU parallel's replacement strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// `{}`: the item.
    Item,
    /// `{.}`: the item without its extension.
    NoExtension,
    /// `{/}`: the item without its directory.
    Basename,
    /// `{//}`: the item's directory.
    Dirname,
    /// `{/.}`: the item without directory and extension.
    BasenameNoExtension,
    /// `{#}`: the task's sequence number, from 1 in input order.
    Seq,
    /// `{%}`: the job slot, from 1: the worker running the task.
    Slot,
}

impl Placeholder {
    /// Every replacement string with its spelling.
    const ALL: [(&'static [u8], Placeholder); 7] = [
        (b"{}", Placeholder::Item),
        (b"{.}", Placeholder::NoExtension),
        (b"{/}", Placeholder::Basename),
        (b"{//}", Placeholder::Dirname),
        (b"{/.}", Placeholder::BasenameNoExtension),
        (b"{#}", Placeholder::Seq),
        (b"{%}", Placeholder::Slot),
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Text(Vec<u8>),
    Replace(Placeholder),
}

/// What a task's command line is made from.
#[derive(Clone, Debug)]
pub struct Template {
    /// The words of the command (COMMAND and its ARGs), each cut into text and replacements.
    words: Vec<Vec<Segment>>,
    /// Run through `sh -c`, with replacements quoted for the shell.
    shell: bool,
    /// Whether any word holds a replacement string; without one, the item is appended.
    has_replacements: bool,
    uses_slot: bool,
}

/// The values one task fills in.
#[derive(Clone, Copy, Debug)]
pub struct Fill<'a> {
    /// The item.
    pub item: &'a [u8],
    /// `{#}`.
    pub seq: u64,
    /// `{%}`.
    pub slot: u32,
}

impl Template {
    /// Parses COMMAND and its ARGs. `None` when there is no command.
    pub fn parse(words: &[Vec<u8>], shell: bool) -> Option<Self> {
        if words.is_empty() {
            return None;
        }
        let words: Vec<Vec<Segment>> = words.iter().map(|w| segments(w)).collect();
        let replacements = || {
            words.iter().flatten().filter_map(|s| match s {
                Segment::Replace(p) => Some(*p),
                Segment::Text(_) => None,
            })
        };
        Some(Template {
            has_replacements: replacements().next().is_some(),
            uses_slot: replacements().any(|p| p == Placeholder::Slot),
            words,
            shell,
        })
    }

    /// True when the command uses `{%}`, so the runner must know its slot.
    pub fn uses_slot(&self) -> bool {
        self.uses_slot
    }

    /// The argv of one task: the words with replacements filled in (each word stays one
    /// argument, whatever the item holds), the item as one more argument when no word has a
    /// replacement string; with `shell`, `sh -c LINE` instead.
    pub fn argv(&self, fill: Fill<'_>) -> Vec<OsString> {
        if self.shell {
            let line = self.shell_line(fill);
            return vec!["sh".into(), "-c".into(), OsString::from_vec(line)];
        }
        let mut argv: Vec<OsString> = self
            .words
            .iter()
            .map(|word| {
                let mut arg = Vec::new();
                for segment in word {
                    match segment {
                        Segment::Text(text) => arg.extend_from_slice(text),
                        Segment::Replace(p) => push_value(&mut arg, *p, fill),
                    }
                }
                OsString::from_vec(arg)
            })
            .collect();
        if !self.has_replacements {
            argv.push(OsString::from_vec(fill.item.to_vec()));
        }
        argv
    }

    /// The words joined by spaces, as GNU parallel builds its command line: the words' own
    /// text is shell syntax, each replacement is quoted so it is exactly one shell word (or
    /// part of one), whatever bytes the item holds.
    fn shell_line(&self, fill: Fill<'_>) -> Vec<u8> {
        let mut line = Vec::new();
        let mut value = Vec::new();
        for (i, word) in self.words.iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            for segment in word {
                match segment {
                    Segment::Text(text) => line.extend_from_slice(text),
                    Segment::Replace(p) => {
                        value.clear();
                        push_value(&mut value, *p, fill);
                        shell_quote(&mut line, &value);
                    }
                }
            }
        }
        if !self.has_replacements {
            line.push(b' ');
            shell_quote(&mut line, fill.item);
        }
        line
    }
}

/// Cuts a word into text and replacement strings (a `{` that starts none is text).
fn segments(word: &[u8]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut text = Vec::new();
    let mut i = 0;
    while i < word.len() {
        let found = (word[i] == b'{')
            .then(|| {
                Placeholder::ALL
                    .iter()
                    .find(|(spelling, _)| word[i..].starts_with(spelling))
            })
            .flatten();
        match found {
            Some((spelling, placeholder)) => {
                if !text.is_empty() {
                    out.push(Segment::Text(std::mem::take(&mut text)));
                }
                out.push(Segment::Replace(*placeholder));
                i += spelling.len();
            }
            None => {
                text.push(word[i]);
                i += 1;
            }
        }
    }
    if !text.is_empty() {
        out.push(Segment::Text(text));
    }
    out
}

fn push_value(out: &mut Vec<u8>, placeholder: Placeholder, fill: Fill<'_>) {
    match placeholder {
        Placeholder::Item => out.extend_from_slice(fill.item),
        Placeholder::NoExtension => out.extend_from_slice(replace::without_extension(fill.item)),
        Placeholder::Basename => out.extend_from_slice(&replace::basename(fill.item)),
        Placeholder::Dirname => out.extend_from_slice(&replace::dirname(fill.item)),
        Placeholder::BasenameNoExtension => {
            out.extend_from_slice(&replace::basename_without_extension(fill.item))
        }
        Placeholder::Seq => out.extend_from_slice(fill.seq.to_string().as_bytes()),
        Placeholder::Slot => out.extend_from_slice(fill.slot.to_string().as_bytes()),
    }
}

/// Appends `value` as one POSIX shell word: as it is when it holds only characters no shell
/// treats specially, else in single quotes (where nothing is special), each `'` written `'\''`.
pub fn shell_quote(out: &mut Vec<u8>, value: &[u8]) {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"_-+=/.,:@%".contains(b);
    if !value.is_empty() && value.iter().all(plain) {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'\'');
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn fill(item: &str) -> Fill<'_> {
        Fill {
            item: item.as_bytes(),
            seq: 7,
            slot: 2,
        }
    }

    fn argv(list: &[&str], item: &str) -> Vec<String> {
        Template::parse(&words(list), false)
            .unwrap()
            .argv(fill(item))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn every_replacement_string_is_filled_in_place() {
        assert_eq!(
            argv(
                &["cmd", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{%}"],
                "d/f.x"
            ),
            ["cmd", "d/f.x", "d/f", "f.x", "d", "f", "7", "2"]
        );
        assert_eq!(
            argv(&["echo", "pre{}mid{#}post"], "a b"),
            ["echo", "prea bmid7post"]
        );
    }

    #[test]
    fn without_a_replacement_the_item_is_appended() {
        assert_eq!(argv(&["echo", "x"], "a b"), ["echo", "x", "a b"]);
        // `{#}` and `{%}` are replacement strings too (GNU parallel appends nothing then).
        assert_eq!(argv(&["echo", "{#}"], "a"), ["echo", "7"]);
    }

    #[test]
    fn braces_that_are_no_replacement_string_stay() {
        assert_eq!(
            argv(&["echo", "{ }", "{x}", "{{}}", "{"], "ab"),
            ["echo", "{ }", "{x}", "{ab}", "{"]
        );
    }

    #[test]
    fn no_command_is_refused() {
        assert!(Template::parse(&[], false).is_none());
    }

    #[test]
    fn the_shell_line_quotes_each_replacement() {
        let t = Template::parse(&words(&["echo", "<{}>", "{#}"]), true).unwrap();
        let argv = t.argv(fill("it's a $x"));
        assert_eq!(argv[..2], ["sh", "-c"]);
        assert_eq!(argv[2], "echo <'it'\\''s a $x'> 7");
        let t = Template::parse(&words(&["gzip", "-c"]), true).unwrap();
        assert_eq!(t.argv(fill("plain/name.txt"))[2], "gzip -c plain/name.txt");
        assert_eq!(t.argv(fill(""))[2], "gzip -c ''");
    }

    #[test]
    fn the_slot_is_asked_for_only_when_used() {
        assert!(
            !Template::parse(&words(&["echo", "{}"]), false)
                .unwrap()
                .uses_slot()
        );
        assert!(
            Template::parse(&words(&["echo", "{%}"]), false)
                .unwrap()
                .uses_slot()
        );
    }
}
