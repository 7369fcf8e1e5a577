//! The cases: what GNU coreutils' own tests of the checksum tools check (tests/cksum/ in
//! coreutils: md5sum.pl, sha1sum.pl, sha224/256/384/512sum.pl, md5sum-newline.pl,
//! md5sum-bsd.sh, md5sum-parallel.sh, cksum-c.sh, b2sum.sh), written anew as inputs and
//! command lines, plus cases of our own for what those tests leave out. No case states an
//! expected output: the installed tool's output is the expectation.
//!
//! A case names its reference tool, the files to create (`files`, then the `setup` shell
//! script, run with the real tools where it needs them), and the tool's arguments as shell
//! words. The same words are given to `supervisor run hash` (`ours` where they must differ):
//! with `--check`, as `supervisor run hash --algo ALGO ARGS` (and, where the checksum files
//! are the tool's own kind, again without `--algo`, the algorithm guessed); without, as
//! `supervisor run --format sums -q hash --algo ALGO ARGS`.
//!
//! cksum-c.sh tests `cksum --check`, which verifies files of mixed algorithms; its cases are
//! ported to the tool of one algorithm (mostly `sha384sum`, whose lines that test uses), as
//! that tool is what `hash --check` imitates. Where coreutils reads `/dev/null`, an empty
//! regular file stands in: `hash --check` refuses devices and FIFOs (a FIFO would hang a
//! worker), and the point of those tests is the line format, not the device.

/// One comparison: the reference tool and `supervisor` on the same inputs.
#[derive(Clone, Copy)]
pub struct Case {
    /// Where the case comes from: coreutils' test file and test name, or `ours`.
    pub id: &'static str,
    /// The reference program (`md5sum`, `sha256sum`, `b2sum`, ...).
    pub tool: &'static str,
    /// Files to create first: name, contents.
    pub files: &'static [(&'static str, &'static str)],
    /// A shell script (`sh -c`, C locale) run next in the case's directory.
    pub setup: &'static str,
    /// The tool's arguments, as shell words (a `< FILE` redirection is allowed).
    pub args: &'static str,
    /// Our arguments when they must differ (the tool lists files, we walk a directory).
    pub ours: Option<&'static str>,
    /// Run both in a UTF-8 locale (`C.UTF-8`) instead of the C locale.
    pub utf8: bool,
    /// A usage error: coreutils exits 1 and adds "Try 'TOOL --help' ...", we exit 2 (the
    /// project's code for usage errors) with the same message line.
    pub usage: bool,
    /// Also run without `--algo`: the checksum files are the tool's own kind.
    pub guess: bool,
}

const fn case(id: &'static str, tool: &'static str, args: &'static str) -> Case {
    Case {
        id,
        tool,
        files: &[],
        setup: "",
        args,
        ours: None,
        utf8: false,
        usage: false,
        guess: true,
    }
}

impl Case {
    const fn files(mut self, files: &'static [(&'static str, &'static str)]) -> Self {
        self.files = files;
        self
    }
    const fn setup(mut self, script: &'static str) -> Self {
        self.setup = script;
        self
    }
    const fn ours(mut self, args: &'static str) -> Self {
        self.ours = Some(args);
        self
    }
    const fn utf8(mut self) -> Self {
        self.utf8 = true;
        self
    }
    const fn usage(mut self) -> Self {
        self.usage = true;
        self
    }
    const fn no_guess(mut self) -> Self {
        self.guess = false;
        self
    }
}

const ABC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS80: &str =
    "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
const SHA_S4: &str = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const SHA512_S4: &str = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
/// A million `a`s, made by the shell.
const MILLION_A: &str = "head -c 1000000 /dev/zero | tr '\\0' a > f";

/// md5sum.pl: digests of known strings, escaped names, and `--check` with every option.
pub const MD5SUM_PL: &[Case] = &[
    case("md5sum.pl 1", "md5sum", "--text f").files(&[("f", "")]),
    case("md5sum.pl 2", "md5sum", "--text f").files(&[("f", "a")]),
    case("md5sum.pl 3", "md5sum", "--text f").files(&[("f", "abc")]),
    case("md5sum.pl 4", "md5sum", "--text f").files(&[("f", "message digest")]),
    case("md5sum.pl 5", "md5sum", "--text f").files(&[("f", "abcdefghijklmnopqrstuvwxyz")]),
    case("md5sum.pl 6", "md5sum", "--text f").files(&[("f", ABC)]),
    case("md5sum.pl 7", "md5sum", "--text f").files(&[("f", DIGITS80)]),
    case("md5sum.pl backslash-1", "md5sum", "--text '.\nfoo'").files(&[(".\nfoo", "")]),
    case("md5sum.pl backslash-2", "md5sum", "--text '.\\foo'").files(&[(".\\foo", "")]),
    case("md5sum.pl backslash-3", "md5sum", "--text '.\rfoo'").files(&[(".\rfoo", "")]),
    case("md5sum.pl check-1", "md5sum", "--check f.md5")
        .files(&[("f", ""), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("md5sum.pl check-windows", "md5sum", "--check f.md5")
        .files(&[("f", ""), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  f\r\n")]),
    case("md5sum.pl ck-strict-1", "md5sum", "--check --strict f.md5")
        .files(&[("f", ""), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  f\n\n")]),
    case("md5sum.pl ck-strict-2", "md5sum", "--check --strict in.md5")
        .files(&[("f", ""), ("in.md5", "ERR\nd41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("md5sum.pl check-2", "md5sum", "--check --status f.md5")
        .files(&[("f", "foo"), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("md5sum.pl check-quiet1", "md5sum", "--check --quiet f.md5")
        .files(&[("f", ""), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("md5sum.pl check-quiet2", "md5sum", "--check --quiet f.md5")
        .files(&[("f", "foo"), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("md5sum.pl check-multifail", "md5sum", "--check f.md5").files(&[
        ("f", "foo"),
        (
            "f.md5",
            "d41d8cd98f00b204e9800998ecf8427e  f\nd41d8cd98f00b204e9800998ecf8427e  f\ninvalid\n",
        ),
    ]),
    case("md5sum.pl check-multifail-warn", "md5sum", "--check --warn f.md5").files(&[
        ("f", "foo"),
        (
            "f.md5",
            "d41d8cd98f00b204e9800998ecf8427e  f\nd41d8cd98f00b204e9800998ecf8427e  f\ninvalid\n",
        ),
    ]),
    case("md5sum.pl check-multifail-state", "md5sum", "--check --warn f.md5").files(&[
        ("f", ""),
        ("g", "a"),
        (
            "f.md5",
            "d41d8cd98f00b204e9800998ecf8427e  f\nd41d8cd98f00b204e9800998ecf8427e  g\nd41d8cd98f00b204e9800998ecf8427e  f\n",
        ),
    ]),
    case("md5sum.pl check-bsd", "md5sum", "--check f.sha1")
        .files(&[("f", ""), ("f.sha1", "SHA1 (f) = d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("md5sum.pl check-bsd2", "md5sum", "--check f.md5")
        .files(&[("f", ""), ("f.md5", "MD5 (f) = d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("md5sum.pl check-bsd3", "md5sum", "--check --status f.md5")
        .files(&[("f", "bar"), ("f.md5", "MD5 (f) = d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("md5sum.pl check-openssl", "md5sum", "--check f.sha1")
        .files(&[("f", ""), ("f.sha1", "SHA1(f)= d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("md5sum.pl check-openssl2", "md5sum", "--check f.md5")
        .files(&[("f", ""), ("f.md5", "MD5(f)= d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("md5sum.pl check-openssl3", "md5sum", "--check --status f.md5")
        .files(&[("f", "bar"), ("f.md5", "MD5(f)= d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("md5sum.pl check-ignore-missing-1", "md5sum", "--check --ignore-missing f.md5").files(&[
        ("f", ""),
        (
            "f.md5",
            "d41d8cd98f00b204e9800998ecf8427e  f\nd41d8cd98f00b204e9800998ecf8427e  f.missing\n",
        ),
    ]),
    case("md5sum.pl check-ignore-missing-3", "md5sum", "--check --quiet --ignore-missing f.md5")
        .files(&[
            ("f", ""),
            (
                "f.md5",
                "d41d8cd98f00b204e9800998ecf8427e  missing/f\nd41d8cd98f00b204e9800998ecf8427e  f\n",
            ),
        ]),
    case("md5sum.pl check-ignore-missing-4", "md5sum", "--text --ignore-missing f")
        .files(&[("f", "")])
        .usage(),
    case("md5sum.pl check-ignore-missing-5", "md5sum", "--check --ignore-missing f.md5")
        .files(&[("f", ""), ("f.md5", "d41d8cd98f00b204e9800998ecf8427e  missing\n")]),
    case("md5sum.pl check-ignore-missing-6", "md5sum", "--check --ignore-missing f.md5")
        .files(&[("f", "9t"), ("f.md5", "006999e6df389641adf1fa3a74801d9d  f\n")]),
    case("md5sum.pl bsd-segv", "md5sum", "--check z").files(&[("z", "MD5 (")]),
    case("md5sum.pl nul-in-cksum", "md5sum", "--check h").files(&[(
        "h",
        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0  h\n",
    )]),
];

/// sha1sum.pl and the sha224/256/384/512sum.pl files: digests of known strings, escaped
/// names, and the tagged formats of the right and the wrong algorithm.
pub const SHA_PL: &[Case] = &[
    case("sha1sum.pl s1", "sha1sum", "--text f").files(&[("f", "")]),
    case("sha1sum.pl s2", "sha1sum", "--text f").files(&[("f", "a")]),
    case("sha1sum.pl s3", "sha1sum", "--text f").files(&[("f", "abc")]),
    case("sha1sum.pl s4", "sha1sum", "--text f").files(&[("f", SHA_S4)]),
    case("sha1sum.pl s5", "sha1sum", "--text f").files(&[("f", "abcdefghijklmnopqrstuvwxyz")]),
    case("sha1sum.pl s6", "sha1sum", "--text f").files(&[("f", ABC)]),
    case("sha1sum.pl s7", "sha1sum", "--text f").files(&[("f", DIGITS80)]),
    case("sha1sum.pl million-a", "sha1sum", "--text f").setup(MILLION_A),
    case("sha1sum.pl bs-sha-1", "sha1sum", "--text '.\nfoo'").files(&[(".\nfoo", "")]),
    case("sha1sum.pl bs-sha-2", "sha1sum", "--text '.\\foo'").files(&[(".\\foo", "")]),
    case("sha1sum.pl bs-sha-3", "sha1sum", "--text '.\rfoo'").files(&[(".\rfoo", "")]),
    case("sha1sum.pl check-bsd", "sha1sum", "--check f.md5").files(&[
        ("f", ""),
        (
            "f.md5",
            "MD5 (f) = da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        ),
    ]),
    case("sha1sum.pl check-bsd2", "sha1sum", "--check f.sha1").files(&[
        ("f", ""),
        (
            "f.sha1",
            "SHA1 (f) = da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        ),
    ]),
    case(
        "sha1sum.pl check-bsd3",
        "sha1sum",
        "--check --status f.sha1",
    )
    .files(&[
        ("f", "bar"),
        (
            "f.sha1",
            "SHA1 (f) = da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        ),
    ]),
    case("sha1sum.pl check-openssl", "sha1sum", "--check f.md5").files(&[
        ("f", ""),
        (
            "f.md5",
            "MD5(f)= da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        ),
    ]),
    case("sha1sum.pl check-openssl2", "sha1sum", "--check f.sha1").files(&[
        ("f", ""),
        (
            "f.sha1",
            "SHA1(f)= da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        ),
    ]),
    case(
        "sha1sum.pl check-openssl3",
        "sha1sum",
        "--check --status f.sha1",
    )
    .files(&[
        ("f", "bar"),
        (
            "f.sha1",
            "SHA1(f)= da39a3ee5e6b4b0d3255bfef95601890afd80709\n",
        ),
    ]),
    case("sha1sum.pl bsd-segv", "sha1sum", "--check z").files(&[("z", "SHA1 (")]),
    case("sha224sum.pl s3", "sha224sum", "--text f").files(&[("f", "abc")]),
    case("sha224sum.pl s4", "sha224sum", "--text f").files(&[("f", SHA_S4)]),
    case("sha224sum.pl s8", "sha224sum", "--text f").setup(MILLION_A),
    case("sha256sum.pl s1", "sha256sum", "--text f").files(&[("f", "")]),
    case("sha256sum.pl s2", "sha256sum", "--text f").files(&[("f", "a")]),
    case("sha256sum.pl s3", "sha256sum", "--text f").files(&[("f", "abc")]),
    case("sha256sum.pl s4", "sha256sum", "--text f").files(&[("f", SHA_S4)]),
    case("sha256sum.pl s8", "sha256sum", "--text f").setup(MILLION_A),
    case("sha384sum.pl s1", "sha384sum", "--text f").files(&[("f", "")]),
    case("sha384sum.pl s2", "sha384sum", "--text f").files(&[("f", "a")]),
    case("sha384sum.pl s3", "sha384sum", "--text f").files(&[("f", "abc")]),
    case("sha384sum.pl s4", "sha384sum", "--text f").files(&[("f", SHA512_S4)]),
    case("sha384sum.pl s8", "sha384sum", "--text f").setup(MILLION_A),
    case("sha512sum.pl s1", "sha512sum", "--text f").files(&[("f", "")]),
    case("sha512sum.pl s2", "sha512sum", "--text f").files(&[("f", "a")]),
    case("sha512sum.pl s3", "sha512sum", "--text f").files(&[("f", "abc")]),
    case("sha512sum.pl s4", "sha512sum", "--text f").files(&[("f", SHA512_S4)]),
    case("sha512sum.pl s8", "sha512sum", "--text f").setup(MILLION_A),
];

/// md5sum-newline.pl, md5sum-bsd.sh and md5sum-parallel.sh.
pub const MD5SUM_SH: &[Case] = &[
    case("md5sum-newline.pl newline", "md5sum", "-t 'a\nb'").files(&[("a\nb", "")]),
    case("md5sum-newline.pl zero", "md5sum", "-t -z 'a\nb'").files(&[("a\nb", "")]),
    case(
        "md5sum-bsd.sh gnu format",
        "md5sum",
        "--strict -c check.md5sum",
    )
    .setup(BSD_NAMES),
    case(
        "md5sum-bsd.sh bsd reversed format",
        "md5sum",
        "--strict -c check.md5",
    )
    .setup(BSD_NAMES),
    case("md5sum-bsd.sh not all hex", "md5sum", "-c check2.md5sum").setup(BSD_NAMES),
    case(
        "md5sum-bsd.sh reversed without its first line",
        "md5sum",
        "--strict -c < tail.md5",
    )
    .setup(BSD_NAMES),
    case(
        "md5sum-bsd.sh --tag --check",
        "md5sum",
        "--tag --check null",
    )
    .files(&[("null", "")])
    .usage(),
    case("md5sum-bsd.sh --tag --text", "md5sum", "--tag --text null")
        .files(&[("null", "")])
        .usage(),
    case(
        "md5sum-bsd.sh --tag output checked",
        "md5sum",
        "--strict -c check.md5",
    )
    .setup(BSD_TAGGED),
    case(
        "md5sum-bsd.sh --tag escaped names checked",
        "md5sum",
        "--strict -c check.md5",
    )
    .setup(BSD_TAGGED_ESCAPED),
    case(
        "md5sum-bsd.sh --tag escaped output",
        "md5sum",
        "--tag 'test\n\\\\file'",
    )
    .files(&[("test\n\\\\file", "")]),
    case(
        "md5sum-parallel.sh 500 files",
        "md5sum",
        "$(find tmp -type f | LC_ALL=C sort)",
    )
    .setup(FIVE_HUNDRED)
    .ours("tmp"),
    case(
        "md5sum-parallel.sh 500 files checked",
        "md5sum",
        "-c tmp.md5",
    )
    .setup(FIVE_HUNDRED),
];

/// Five awkward names (`a`, ` b`, `*c`, `dd`, ` `), their GNU lines (check.md5sum), the
/// same as BSD reversed lines (check.md5), a line that is almost a digest before them
/// (check2.md5sum), and the BSD lines without the first (tail.md5).
const BSD_NAMES: &str = "for i in a ' b' '*c' dd ' '; do printf '%s\\n' \"$i\" > \"$i\"; md5sum --text \"$i\" >> check.md5sum; done
sed 's/  / /' check.md5sum > check.md5
{ echo '____not_all_hex_so_no_match_____ blah'; cat check.md5sum; } > check2.md5sum
tail -n+2 check.md5 > tail.md5";

/// The same five names in the tagged format.
const BSD_TAGGED: &str = "for i in a ' b' '*c' dd ' '; do printf '%s\\n' \"$i\" > \"$i\"; md5sum --tag \"$i\" >> check.md5; done";

/// Names with a backslash, a newline or a tab, tagged (hence escaped).
const BSD_TAGGED_ESCAPED: &str = "for i in 'a\\b' 'a\\' '\\a' 'a
b' 'a\tb'; do : > \"$i\"; md5sum --tag \"$i\" >> check.md5; done";

/// 500 empty files in tmp/, and their sums.
const FIVE_HUNDRED: &str = "mkdir tmp && (cd tmp && seq 500 | xargs touch)
md5sum $(find tmp -type f | LC_ALL=C sort) > tmp.md5";

/// cksum-c.sh, for one algorithm's tool at a time.
pub const CKSUM_C: &[Case] = &[
    case("cksum-c.sh mixed file, --strict", "sha384sum", "--strict --check CHECKSUMS")
        .setup(CKSUM_MIXED),
    case("cksum-c.sh mixed file for b2sum, --strict", "b2sum", "--strict --check CHECKSUMS")
        .setup(CKSUM_MIXED)
        .no_guess(),
    case("cksum-c.sh mixed file, not strict", "sha384sum", "--check CHECKSUMS")
        .setup(CKSUM_MIXED),
    case("cksum-c.sh SHA2-384 tags", "sha384sum", "--check sha2-tag.sum").setup(CKSUM_SHA384),
    case("cksum-c.sh SHA2-128 bad length", "md5sum", "--check sha2-bad-length.sum").files(&[(
        "sha2-bad-length.sum",
        "SHA2-128 (null) = 38b060a751ac96384cd9327eb1b1e36a\n",
    )]),
    case("cksum-c.sh base64 prefix like a tag", "sha1sum", "--check tag-prefix.sum")
        .files(&[("null", ""), ("tag-prefix.sum", "SHA1+++++++++++++++++++++++=  null\n")]),
    case("cksum-c.sh leading blanks and backslash", "sha384sum", "--strict -c < leading.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh leading blanks, mixed file", "sha384sum", "--strict -c < leading-mixed.sum")
        .setup(CKSUM_MIXED),
    case("cksum-c.sh name with ' (=' in it", "sha1sum", "--check tag-awkward.sum")
        .setup("printf '' > 'abc (f) = abc'; sha1sum --tag 'abc (f) = abc' > tag-awkward.sum"),
    case("cksum-c.sh signed file", "sha384sum", "--check signed_CHECKSUMS").setup(CKSUM_SIGNED),
    case("cksum-c.sh --status", "sha384sum", "--status --check CHECKSUMS").setup(CKSUM_SHA384),
    case("cksum-c.sh --status with a comment", "sha384sum", "--status --check commented.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh an invalid line", "sha384sum", "--check invalid1.sum").setup(CKSUM_SHA384),
    case("cksum-c.sh an invalid line, --strict", "sha384sum", "--strict --check invalid1.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh two invalid lines, --strict", "sha384sum", "--strict --check invalid2.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh a wrong checksum", "sha384sum", "--check wrong.sum").setup(CKSUM_SHA384),
    case("cksum-c.sh a wrong checksum, --strict", "sha384sum", "--check --strict wrong.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh a missing file", "sha384sum", "--check CHECKSUMS2").setup(CKSUM_SHA384),
    case("cksum-c.sh a missing file, --strict", "sha384sum", "--check --strict CHECKSUMS2")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh --status with errors", "sha384sum", "--status --check wrong.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh --warn", "sha384sum", "--warn --check warn.sum").setup(CKSUM_SHA384),
    case("cksum-c.sh missing, not ignored", "sha384sum", "--check CHECKSUMS-missing")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh --ignore-missing", "sha384sum", "--ignore-missing --check CHECKSUMS-missing")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh --status --warn", "sha384sum", "--status --warn --check warn.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh --warn --status", "sha384sum", "--warn --status --check warn.sum")
        .setup(CKSUM_SHA384),
    case("cksum-c.sh --status --ignore-missing", "sha384sum", "--status --ignore-missing --check warn.sum")
        .setup(CKSUM_SHA384),
    case(
        "cksum-c.sh --status --warn --ignore-missing",
        "sha384sum",
        "--status --warn --ignore-missing --check CHECKSUMS-missing",
    )
    .setup(CKSUM_SHA384),
    case("cksum-c.sh several missing files", "sha384sum", "--check non-existing-1 non-existing-2"),
    case("cksum-c.sh several empty files", "sha384sum", "--check empty-1 empty-2")
        .files(&[("empty-1", ""), ("empty-2", "")]),
    case("cksum-c.sh --tag --check", "sha384sum", "--tag --check null")
        .files(&[("null", "")])
        .usage(),
    case("cksum-c.sh a listed file that cannot be read", "md5sum", "--check check.md5")
        .setup("mkdir eio; : > ok; printf 'd41d8cd98f00b204e9800998ecf8427e  eio\\n' > check.md5; md5sum ok >> check.md5"),
    case("cksum-c.sh truncated digests", "sha256sum", "--check trunc-bad.sum").setup(CKSUM_TRUNC),
    case("cksum-c.sh truncated digests, --warn", "sha256sum", "--warn --check trunc-bad.sum")
        .setup(CKSUM_TRUNC),
    case("cksum-c.sh truncated digests, --strict", "sha256sum", "--strict --check trunc-bad.sum")
        .setup(CKSUM_TRUNC),
];

/// A file of SHA-384, BLAKE2b and BLAKE2b-384 lines, as cksum-c.sh builds with cksum, and
/// the same with each line after a blank and a backslash.
const CKSUM_MIXED: &str = "printf '%s\\n' 7 3 10 1 6 9 2 5 8 4 > input
sha384sum --tag input > CHECKSUMS; b2sum --tag input >> CHECKSUMS; b2sum --tag -l 384 input >> CHECKSUMS
sed 's/^/ \\\\/' CHECKSUMS > leading-mixed.sum";

/// SHA-384 lines and the variations cksum-c.sh makes of them.
const CKSUM_SHA384: &str = "printf '%s\\n' 7 3 10 1 6 9 2 5 8 4 > input
sha384sum --tag input > CHECKSUMS
sed 's/^SHA/SHA2-/' CHECKSUMS > sha2-tag.sum
sed 's/^/ \\\\/' CHECKSUMS > leading.sum
{ cat CHECKSUMS; echo '# Very important comment'; } > commented.sum
{ cat commented.sum; echo 'invalid line'; } > invalid1.sum
{ cat invalid1.sum; echo 'invalid line'; } > invalid2.sum
bad=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
{ cat invalid2.sum; echo \"SHA384 (input) = $bad\"; } > wrong.sum
echo \"SHA384 (input2) = $bad\" > CHECKSUMS2
{ cat wrong.sum; echo \"BLAKE2b (missing-file) = $bad\"; } > warn.sum
echo \"SHA384 (nonexistent) = $bad\" > CHECKSUMS-missing";

/// A signed checksum file: PGP armour around SHA-384 lines.
const CKSUM_SIGNED: &str = "printf '%s\\n' 7 3 10 1 6 9 2 5 8 4 > input
{ printf '%s\\n' '-----BEGIN PGP SIGNED MESSAGE-----' 'Hash: SHA384' '' '# ignored comment'
  sha384sum --tag input
  printf '%s\\n' '-----BEGIN PGP SIGNATURE-----' '' \"# Note base64 doesn't have ambiguous delimiters in its charset\" \\
    'SHA384+BCAAdFiEEjFummQvbJuGfKhqAEWGuaUVxmjkFAmCDId0ACgkQEWGuaUVx' \\
    'BLAKE2b/00001EuON62pTEnqrJ5lav61QxRByiuDp/6VODrRL2JWM6Stxu1Myws=' '=AWU7' '-----END PGP SIGNATURE-----'
} > signed_CHECKSUMS";

/// Three SHA-256 lines, the last two cut short by one digit.
const CKSUM_TRUNC: &str = ": > ff1; : > ff2; : > ff3
sha256sum --tag ff1 ff2 ff3 > trunc.sum
sed '2,3 s/.$//' trunc.sum > trunc-bad.sum";

/// b2sum.sh, for b2sum itself.
pub const B2SUM_SH: &[Case] = &[
    case(
        "b2sum.sh tagged, two lengths",
        "b2sum",
        "--strict -c check.b2sum",
    )
    .setup(B2_TAGGED),
    case(
        "b2sum.sh OpenSSL layout, two lengths",
        "b2sum",
        "--strict -c openssl.b2sum",
    )
    .setup(B2_TAGGED),
    case(
        "b2sum.sh untagged, 512 bits",
        "b2sum",
        "--strict -c check.b2sum",
    )
    .setup(": > null; b2sum --text -l 0 null > check.b2sum")
    .no_guess(),
    case(
        "b2sum.sh untagged, 128 bits",
        "b2sum",
        "--strict -c check.b2sum",
    )
    .setup(": > null; b2sum --text -l 128 null > check.b2sum")
    .no_guess(),
    case("b2sum.sh crash.check", "b2sum", "-c crash.check").files(&[(
        "crash.check",
        "BLAKE2\nBLAKE2b\nBLAKE2-\nBLAKE2(\nBLAKE2 (\n",
    )]),
    case("b2sum.sh overflow.check", "b2sum", "-c overflow.check")
        .files(&[("overflow.check", "0A0BA0")]),
];

/// Each name hashed at 512 and at 128 bits, tagged, and the same in the OpenSSL layout.
const B2_TAGGED: &str = "for i in a ' b' '*c' 44 ' '; do printf '%s\\n' \"$i\" > \"$i\"; for l in 0 128; do b2sum -l $l --tag \"$i\" >> check.b2sum; done; done
sed 's/ //; s/ =/=/' < check.b2sum > openssl.b2sum";

/// Cases of our own: what the ported tests leave out and `hash --check` must still match.
pub const OURS: &[Case] = &[
    case("ours: a missing checksum file", "md5sum", "-c nope"),
    case("ours: a directory as checksum file", "md5sum", "-c dir").setup("mkdir dir"),
    case("ours: checksum file on stdin, named standard input", "md5sum", "-c - < junk")
        .files(&[("junk", "junk\n")]),
    case("ours: no operand reads stdin", "md5sum", "--warn -c < sums")
        .files(&[("f", ""), ("sums", "junk\nd41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("ours: a line naming stdin", "md5sum", "-c sums < data").files(&[
        ("data", "abc"),
        (
            "sums",
            "900150983cd24fb0d6963f7d28e17f72  -\n900150983cd24fb0d6963f7d28e17f72  -\n",
        ),
    ]),
    case("ours: several checksum files", "md5sum", "-c good bad nope empty good").files(&[
        ("f", ""),
        ("g", "x"),
        ("good", "d41d8cd98f00b204e9800998ecf8427e  f\n"),
        ("bad", "d41d8cd98f00b204e9800998ecf8427e  g\nd41d8cd98f00b204e9800998ecf8427e  gone\n"),
        ("empty", ""),
    ]),
    case("ours: a sha256sum file checked as md5", "md5sum", "-c sums")
        .setup(": > f; sha256sum f > sums")
        .no_guess(),
    case("ours: a md5sum file checked as sha256", "sha256sum", "-c sums")
        .setup(": > f; md5sum f > sums")
        .no_guess(),
    case("ours: blanks, tabs and a blanks-only line", "md5sum", "--warn -c sums").files(&[
        ("f", ""),
        (
            "sums",
            "  d41d8cd98f00b204e9800998ecf8427e  f\n \t\\d41d8cd98f00b204e9800998ecf8427e *f\n   \n\t\nD41D8CD98F00B204E9800998ECF8427E  f\n",
        ),
    ]),
    case("ours: BSD reversed after the GNU layout", "md5sum", "--warn -c sums").files(&[
        ("f", ""),
        ("sums", "d41d8cd98f00b204e9800998ecf8427e  f\nd41d8cd98f00b204e9800998ecf8427e f\n"),
    ]),
    case("ours: a name cut at a NUL", "md5sum", "-c sums")
        .files(&[("f", ""), ("sums", "d41d8cd98f00b204e9800998ecf8427e  f\0junk\n")]),
    case("ours: CRLF and escaped names", "md5sum", "-c sums").setup(
        ": > 'a\\b'; : > \"$(printf 'new\\nline')\"; : > \"$(printf 'cr\\rx')\"; md5sum 'a\\b' \"$(printf 'new\\nline')\" \"$(printf 'cr\\rx')\" | sed 's/$/\\r/' > sums",
    ),
    case("ours: a name with newline and CR in FAILED lines", "md5sum", "-c sums").setup(
        "printf x > \"$(printf 'a\\nb\\rc')\"; printf '\\\\d41d8cd98f00b204e9800998ecf8427e  a\\\\nb\\\\rc\\n' > sums",
    ),
    case("ours: bad escapes", "md5sum", "--warn -c sums").files(&[
        ("f", ""),
        (
            "sums",
            "\\d41d8cd98f00b204e9800998ecf8427e  a\\tb\n\\d41d8cd98f00b204e9800998ecf8427e  a\\\n\\MD5 (f\\x) = d41d8cd98f00b204e9800998ecf8427e\n",
        ),
    ]),
    case("ours: names quoted in messages, C locale", "md5sum", "-c sums").setup(QUOTED_NAMES),
    case("ours: names quoted in messages, UTF-8 locale", "md5sum", "-c sums")
        .setup(QUOTED_NAMES)
        .utf8(),
    case("ours: checksum file names quoted, UTF-8 locale", "md5sum", "-c 'no such' \"it's\" \"$(printf 'caf\\303\\251')\" \"$(printf 'x\\377')\"")
        .utf8(),
    case("ours: an empty name", "md5sum", "-c sums")
        .files(&[("sums", "MD5 () = d41d8cd98f00b204e9800998ecf8427e\n")]),
    case("ours: --warn names a quoted checksum file", "md5sum", "--warn -c 'my sums'")
        .files(&[("my sums", "junk\n")]),
    case("ours: --strict passes a clean file", "md5sum", "--strict -c sums")
        .setup(": > f; md5sum f > sums"),
    case("ours: --ignore-missing with only missing files and a good one", "md5sum", "--ignore-missing -c sums")
        .files(&[("f", ""), ("sums", "d41d8cd98f00b204e9800998ecf8427e  gone\nd41d8cd98f00b204e9800998ecf8427e  f\n")]),
    case("ours: --ignore-missing does not hide other errors", "md5sum", "--ignore-missing -c sums")
        .setup("mkdir d; printf 'd41d8cd98f00b204e9800998ecf8427e  d\\n' > sums"),
    case("ours: --zero refused with --check", "md5sum", "-z -c sums")
        .files(&[("sums", "")])
        .usage(),
    case("ours: --binary refused with --check", "md5sum", "--binary -c sums")
        .files(&[("sums", "")])
        .usage(),
    case("ours: --status refused without --check", "md5sum", "--status f")
        .files(&[("f", "")])
        .usage(),
    case("ours: --warn refused without --check", "md5sum", "--warn f")
        .files(&[("f", "")])
        .usage(),
    case("ours: --strict refused without --check", "md5sum", "--strict f")
        .files(&[("f", "")])
        .usage(),
];

/// A checksum file naming files that do not exist, with names every quoting rule applies to.
const QUOTED_NAMES: &str = "for n in 'no such' \"it's\" 'a:b' '#x' 'x#' '~' 'back\\slash' 'ta\tb' '{' 'x{y}' 'q?' '@home' \"it's*\" \"$(printf 'caf\\303\\251')\" \"$(printf 'bad\\377')\" \"$(printf 'cut\\342\\202')\" \"$(printf 'ctl\\001')\" \"$(printf 'nb\\302\\240sp')\" \"$(printf 'ls\\342\\200\\250')\"; do printf 'd41d8cd98f00b204e9800998ecf8427e  %s\\n' \"$n\" >> sums; done
printf '\\\\d41d8cd98f00b204e9800998ecf8427e  new\\\\nline\\n' >> sums";

/// Every algorithm, hashing and checking: plain, tagged, binary and NUL-ended lines, a
/// changed file, and another tool's tags.
pub const ALGORITHMS: &[Case] = &[
    case("ours: md5sum --tag", "md5sum", "--tag f g").setup(TWO_FILES),
    case("ours: md5sum --binary", "md5sum", "--binary f g").setup(TWO_FILES),
    case("ours: md5sum --zero", "md5sum", "-z f g").setup(TWO_FILES),
    case("ours: md5sum --tag --zero", "md5sum", "--tag --zero 'a\nb'").files(&[("a\nb", "x")]),
    case("ours: sha1sum --tag", "sha1sum", "--tag f g").setup(TWO_FILES),
    case("ours: sha224sum --tag", "sha224sum", "--tag f g").setup(TWO_FILES),
    case("ours: sha256sum --tag", "sha256sum", "--tag f g").setup(TWO_FILES),
    case("ours: sha384sum --tag", "sha384sum", "--tag f g").setup(TWO_FILES),
    case("ours: sha512sum --tag", "sha512sum", "--tag f g").setup(TWO_FILES),
    case("ours: b2sum", "b2sum", "f g").setup(TWO_FILES),
    case("ours: b2sum --tag", "b2sum", "--tag f g").setup(TWO_FILES),
    case("ours: sha224sum -c", "sha224sum", "-c plain tagged").setup(SUMS_SHA224),
    case("ours: sha384sum -c", "sha384sum", "-c plain tagged").setup(SUMS_SHA384),
    case("ours: sha512sum -c", "sha512sum", "-c plain tagged").setup(SUMS_SHA512),
    case("ours: b2sum -c", "b2sum", "-c plain tagged")
        .setup(SUMS_B2)
        .no_guess(),
    case(
        "ours: b2sum -c, guessed from the tags",
        "b2sum",
        "-c tagged",
    )
    .setup(SUMS_B2),
    case("ours: sha1sum -c", "sha1sum", "-c plain tagged").setup(SUMS_SHA1),
    case("ours: sha256sum -c", "sha256sum", "-c plain tagged").setup(SUMS_SHA256),
    case(
        "ours: sha256sum -c on sha512 tags",
        "sha256sum",
        "--warn -c tagged",
    )
    .setup(SUMS_SHA512)
    .no_guess(),
    case("ours: b2sum -c on sha512 lines", "b2sum", "-c plain")
        .setup(SUMS_SHA512)
        .no_guess(),
];

const TWO_FILES: &str = "printf 'first\\n' > f; printf 'second' > g";

const SUMS_SHA1: &str = "printf 'first\\n' > f; printf 'second' > g; sha1sum f g > plain; sha1sum --tag f g > tagged; printf changed > g";
const SUMS_SHA224: &str = "printf 'first\\n' > f; printf 'second' > g; sha224sum f g > plain; sha224sum --tag f g > tagged; printf changed > g";
const SUMS_SHA256: &str = "printf 'first\\n' > f; printf 'second' > g; sha256sum f g > plain; sha256sum --tag f g > tagged; printf changed > g";
const SUMS_SHA384: &str = "printf 'first\\n' > f; printf 'second' > g; sha384sum f g > plain; sha384sum --tag f g > tagged; printf changed > g";
const SUMS_SHA512: &str = "printf 'first\\n' > f; printf 'second' > g; sha512sum f g > plain; sha512sum --tag f g > tagged; printf changed > g";
const SUMS_B2: &str = "printf 'first\\n' > f; printf 'second' > g; b2sum f g > plain; b2sum --tag f g > tagged; b2sum --tag -l 256 f >> tagged; printf changed > g";
