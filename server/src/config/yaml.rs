//! A reader of the YAML a config file is: one flat mapping of `key: value` lines.
//!
//! The subset read, with its YAML 1.2 meaning (core schema): an optional `---` before and `...`
//! after the one document; blank lines and comments; a block mapping at column 0 whose keys and
//! values are plain, 'single-quoted' or "double-quoted" scalars, each entry on one line. Anything
//! else YAML can say (nesting, sequences, flow collections, anchors, aliases, tags, block
//! scalars, scalars over several lines, more documents) is refused with its line number rather
//! than read some other way, so a file never means one thing here and another to a YAML tool.
//! A general YAML parser costs tens of kilobytes of the broker's binary (which is kept under
//! 1 MiB) for a file that only ever holds these lines.

use std::collections::BTreeMap;
use std::fmt;

/// One `key: value` line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key, unquoted.
    pub key: String,
    /// The value.
    pub value: Value,
    /// Its line, counting from 1.
    pub line: usize,
}

/// The value of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A scalar as text. Plain scalars are resolved as YAML's core schema does and written back:
    /// booleans as `true` / `false`, integers (decimal, `0x`, `0o`) in decimal, anything else as
    /// written. Quoted scalars are their unescaped text.
    Scalar(String),
    /// No value: `key:` alone, `~`, `null`, `Null` or `NULL`.
    Null,
}

/// Why a file was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The line, counting from 1.
    pub line: usize,
    /// What is wrong on it.
    pub kind: ErrorKind,
}

/// What is wrong on a refused line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An indented line: a nested value, or the continuation of the entry above (its key).
    Indented {
        /// The key of the entry above, if any.
        under: Option<String>,
    },
    /// Indentation made of or containing tabs.
    TabIndent,
    /// A block sequence entry (`- x`).
    Sequence,
    /// A flow collection (`[` or `{`).
    Flow,
    /// A complex or empty key (`? x`, `: x`).
    ComplexKey,
    /// An anchor, alias or tag (`&`, `*`, `!`).
    Property(char),
    /// A block scalar (`|` or `>`).
    BlockScalar,
    /// A character YAML reserves, or a directive (`%`), starting a plain scalar.
    Reserved(char),
    /// A line that is not `key: value`.
    NotKeyValue,
    /// A plain value holding `: ` or ending in `:`, which YAML reads as another mapping.
    ColonInPlain,
    /// A quoted scalar not closed on its line.
    Unterminated,
    /// Something other than a comment after a closing quote.
    TextAfterQuote,
    /// An escape double quotes do not have, or a bad code point.
    BadEscape(String),
    /// A control character (other than tab) in the text.
    ControlChar(char),
    /// Something other than a comment after `---` or `...`.
    TextAfterMarker,
    /// A second document in the file.
    SecondDocument,
    /// A key given twice.
    DuplicateKey {
        /// The key.
        key: String,
        /// The line it was first given on.
        first_line: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ONE_LINE: &str = "the file is a mapping of one `setting: value` per line";
        match self {
            ErrorKind::Indented { under: Some(key) } => write!(
                f,
                "indented line under '{key}': nested values and continued lines are not read; \
                 {ONE_LINE}"
            ),
            ErrorKind::Indented { under: None } => {
                write!(f, "indented line: settings start at column 0; {ONE_LINE}")
            }
            ErrorKind::TabIndent => write!(f, "a tab indents this line; {ONE_LINE}"),
            ErrorKind::Sequence => write!(f, "a sequence (`- `) where {ONE_LINE}"),
            ErrorKind::Flow => write!(f, "a flow collection (`[`, `{{`) where {ONE_LINE}"),
            ErrorKind::ComplexKey => write!(f, "an empty or complex key (`? `, `: `); {ONE_LINE}"),
            ErrorKind::Property(c) => write!(
                f,
                "anchors, aliases and tags (`{c}`) are not read; quote a value starting with it"
            ),
            ErrorKind::BlockScalar => write!(
                f,
                "block scalars (`|`, `>`) are not read; {ONE_LINE}, quoted if need be"
            ),
            ErrorKind::Reserved(c) => {
                write!(f, "`{c}` cannot start a plain scalar; quote the value")
            }
            ErrorKind::NotKeyValue => write!(f, "expected `key: value`; {ONE_LINE}"),
            ErrorKind::ColonInPlain => write!(
                f,
                "`: ` or a final `:` in a plain value would start a nested mapping; quote the value"
            ),
            ErrorKind::Unterminated => {
                write!(f, "quoted scalar not closed on its line (one line each)")
            }
            ErrorKind::TextAfterQuote => {
                write!(
                    f,
                    "text after the closing quote (a comment needs a space before `#`)"
                )
            }
            ErrorKind::BadEscape(escape) => write!(f, "unknown or invalid escape `{escape}`"),
            ErrorKind::ControlChar(c) => write!(f, "control character U+{:04X}", u32::from(*c)),
            ErrorKind::TextAfterMarker => write!(
                f,
                "only a comment may follow `---` or `...`; {ONE_LINE}, starting on the next line"
            ),
            ErrorKind::SecondDocument => {
                write!(f, "a second document; the file holds one mapping")
            }
            ErrorKind::DuplicateKey { key, first_line } => {
                write!(f, "'{key}' again (first given on line {first_line})")
            }
        }
    }
}

/// Where the reader is in the stream of documents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Nothing but comments so far.
    Before,
    /// Inside the document (after `---` or its first entry).
    In,
    /// After `...`.
    After,
}

/// The entries of `text`, in file order. An empty file, or one of comments, has none.
pub fn parse(text: &str) -> Result<Vec<Entry>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries: Vec<Entry> = Vec::new();
    // Key to first line, so duplicates are found without a quadratic scan of a large file.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut place = Place::Before;
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let error = |kind| Error { line, kind };
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\t') {
            return Err(error(ErrorKind::ControlChar(c)));
        }
        let content = text.trim_start_matches([' ', '\t']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = &text[..text.len() - content.len()];
        if indent.contains('\t') {
            return Err(error(ErrorKind::TabIndent));
        }
        if !indent.is_empty() {
            let under = entries.last().map(|e| e.key.clone());
            return Err(error(ErrorKind::Indented { under }));
        }
        if let Some(rest) = marker(text, "---") {
            only_comment(rest).map_err(error)?;
            if place != Place::Before {
                return Err(error(ErrorKind::SecondDocument));
            }
            place = Place::In;
            continue;
        }
        if let Some(rest) = marker(text, "...") {
            only_comment(rest).map_err(error)?;
            place = Place::After;
            continue;
        }
        match place {
            Place::After => return Err(error(ErrorKind::SecondDocument)),
            Place::Before => place = Place::In,
            Place::In => {}
        }
        let (key, value) = entry(text).map_err(error)?;
        if let Some(&first_line) = seen.get(&key) {
            return Err(error(ErrorKind::DuplicateKey { key, first_line }));
        }
        seen.insert(key.clone(), line);
        entries.push(Entry { key, value, line });
    }
    Ok(entries)
}

/// What follows `marker` if `line` is that document marker (alone or before whitespace).
fn marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(marker)?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(rest)
}

/// `rest` (which starts with whitespace if not empty) holds at most a comment.
fn only_comment(rest: &str) -> Result<(), ErrorKind> {
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(ErrorKind::TextAfterMarker)
    }
}

/// The key and value of a `key: value` line starting at column 0 with neither space nor `#`.
fn entry(line: &str) -> Result<(String, Value), ErrorKind> {
    let (key, rest) = if line.starts_with(['"', '\'']) {
        let (key, after) = quoted(line)?;
        let after = after.trim_start_matches([' ', '\t']);
        let rest =
            after
                .strip_prefix(':')
                .ok_or(if after.starts_with('#') || after.is_empty() {
                    ErrorKind::NotKeyValue
                } else {
                    ErrorKind::TextAfterQuote
                })?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return Err(ErrorKind::NotKeyValue);
        }
        (key, rest)
    } else {
        leading_indicator(line)?;
        let colon = mapping_colon(line).ok_or(ErrorKind::NotKeyValue)?;
        if comment_start(line).is_some_and(|hash| hash < colon) {
            return Err(ErrorKind::NotKeyValue);
        }
        let key = line[..colon].trim_end_matches([' ', '\t']);
        (key.to_owned(), &line[colon + 1..])
    };
    Ok((key, value(rest)?))
}

/// The value in `rest`, the text after a key's `:`.
fn value(rest: &str) -> Result<Value, ErrorKind> {
    let text = rest.trim_start_matches([' ', '\t']);
    if text.is_empty() || text.starts_with('#') {
        return Ok(Value::Null);
    }
    if text.starts_with(['"', '\'']) {
        let (value, after) = quoted(text)?;
        let trimmed = after.trim_start_matches([' ', '\t']);
        let comment_follows = trimmed.starts_with('#') && trimmed.len() < after.len();
        if !(trimmed.is_empty() || comment_follows) {
            return Err(ErrorKind::TextAfterQuote);
        }
        return Ok(Value::Scalar(value));
    }
    leading_indicator(text)?;
    let plain = match comment_start(text) {
        Some(hash) => &text[..hash],
        None => text,
    };
    let plain = plain.trim_end_matches([' ', '\t']);
    if mapping_colon(plain).is_some() {
        return Err(ErrorKind::ColonInPlain);
    }
    Ok(resolve(plain))
}

/// Refuse a plain scalar whose first character makes it something else in YAML.
fn leading_indicator(text: &str) -> Result<(), ErrorKind> {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return Ok(());
    };
    let spaced = matches!(chars.next(), None | Some(' ' | '\t'));
    match first {
        '-' if spaced => Err(ErrorKind::Sequence),
        '?' | ':' if spaced => Err(ErrorKind::ComplexKey),
        '[' | '{' => Err(ErrorKind::Flow),
        '&' | '*' | '!' => Err(ErrorKind::Property(first)),
        '|' | '>' => Err(ErrorKind::BlockScalar),
        ']' | '}' | ',' | '%' | '@' | '`' => Err(ErrorKind::Reserved(first)),
        _ => Ok(()),
    }
}

/// Byte offset of the first `:` followed by whitespace or the end: the mapping indicator.
fn mapping_colon(text: &str) -> Option<usize> {
    text.match_indices(':')
        .map(|(at, _)| at)
        .find(|&at| matches!(text[at + 1..].chars().next(), None | Some(' ' | '\t')))
}

/// Byte offset of the first `#` after whitespace: where a comment starts.
fn comment_start(text: &str) -> Option<usize> {
    text.match_indices('#')
        .map(|(at, _)| at)
        .find(|&at| text[..at].ends_with([' ', '\t']))
}

/// A quoted scalar at the start of `text` (which starts with `'` or `"`): its value and the text
/// after the closing quote.
fn quoted(text: &str) -> Result<(String, &str), ErrorKind> {
    let mut chars = text.char_indices();
    let Some((_, quote)) = chars.next() else {
        return Err(ErrorKind::Unterminated);
    };
    let mut out = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            '\'' if quote == '\'' => {
                // `''` is a quote inside single quotes; a lone `'` closes them.
                if text[at + 1..].starts_with('\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Ok((out, &text[at + 1..]));
                }
            }
            '"' if quote == '"' => return Ok((out, &text[at + 1..])),
            '\\' if quote == '"' => out.push(escape(&mut chars)?),
            _ => out.push(c),
        }
    }
    Err(ErrorKind::Unterminated)
}

/// The character a double-quoted escape stands for; `chars` is just past the backslash.
fn escape(chars: &mut std::str::CharIndices<'_>) -> Result<char, ErrorKind> {
    // A backslash at the end of the line continues the scalar on the next: more than one line.
    let (_, c) = chars.next().ok_or(ErrorKind::Unterminated)?;
    let digits = match c {
        '0' => return Ok('\0'),
        'a' => return Ok('\u{7}'),
        'b' => return Ok('\u{8}'),
        't' | '\t' => return Ok('\t'),
        'n' => return Ok('\n'),
        'v' => return Ok('\u{b}'),
        'f' => return Ok('\u{c}'),
        'r' => return Ok('\r'),
        'e' => return Ok('\u{1b}'),
        ' ' | '"' | '/' | '\\' => return Ok(c),
        'N' => return Ok('\u{85}'),
        '_' => return Ok('\u{a0}'),
        'L' => return Ok('\u{2028}'),
        'P' => return Ok('\u{2029}'),
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return Err(ErrorKind::BadEscape(format!("\\{c}"))),
    };
    let mut written = format!("\\{c}");
    let mut code: u32 = 0;
    for _ in 0..digits {
        let digit = chars.next().map(|(_, d)| d);
        let Some(value) = digit.and_then(|d| d.to_digit(16)) else {
            written.extend(digit);
            return Err(ErrorKind::BadEscape(written));
        };
        written.extend(digit);
        // At most 8 hex digits: fits in a u32.
        code = code * 16 + value;
    }
    char::from_u32(code).ok_or(ErrorKind::BadEscape(written))
}

/// A plain scalar's value under YAML 1.2's core schema, as text.
fn resolve(plain: &str) -> Value {
    match plain {
        "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Scalar("true".into()),
        "false" | "False" | "FALSE" => Value::Scalar("false".into()),
        _ => Value::Scalar(integer(plain).map_or_else(|| plain.to_owned(), |i| i.to_string())),
    }
}

/// `text` as a core-schema integer (`[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, `0o[0-7]+`) that fits an
/// i64; a larger one stays text as written, as a float does.
fn integer(text: &str) -> Option<i64> {
    let radix_digits = |digits: &str, radix: u32| {
        let valid = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
        valid
            .then(|| i64::from_str_radix(digits, radix).ok())
            .flatten()
    };
    if let Some(hex) = text.strip_prefix("0x") {
        return radix_digits(hex, 16);
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return radix_digits(octal, 8);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let valid = !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit());
    valid.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(String, Value)> {
        match parse(text) {
            Ok(entries) => entries.into_iter().map(|e| (e.key, e.value)).collect(),
            Err(e) => panic!("{text:?} refused: {e}"),
        }
    }

    /// The one value of a one-line file `k: <value>`.
    fn value_of(value: &str) -> Value {
        let text = format!("k: {value}\n");
        match entries(&text).as_slice() {
            [(key, value)] if key == "k" => value.clone(),
            other => panic!("{text:?} read as {other:?}"),
        }
    }

    fn scalar(value: &str) -> String {
        match value_of(value) {
            Value::Scalar(s) => s,
            Value::Null => panic!("{value:?} read as null"),
        }
    }

    fn scalar_of_file(text: &str) -> String {
        match entries(text).as_slice() {
            [(_, Value::Scalar(value))] => value.clone(),
            other => panic!("{text:?} read as {other:?}"),
        }
    }

    fn refused(text: &str) -> Error {
        match parse(text) {
            Ok(entries) => panic!("{text:?} accepted as {entries:?}"),
            Err(e) => e,
        }
    }

    fn s(text: &str) -> Value {
        Value::Scalar(text.to_owned())
    }

    #[test]
    fn a_flat_mapping_in_file_order_with_lines() {
        let got = parse("port: 9092\nlog_dir: /var/lib/blazemq\n").expect("valid");
        let port = Entry {
            key: "port".into(),
            value: s("9092"),
            line: 1,
        };
        let log_dir = Entry {
            key: "log_dir".into(),
            value: s("/var/lib/blazemq"),
            line: 2,
        };
        assert_eq!(got, vec![port, log_dir]);
    }

    #[test]
    fn files_without_settings() {
        for text in [
            "",
            "\n\n",
            "# only a comment\n",
            "---\n",
            "--- # a comment\n# more\n",
            "---\n...\n",
            "...\n",
            "   \n\t\n",
            "  # an indented comment\n",
            "\u{feff}",
        ] {
            assert_eq!(entries(text), vec![], "{text:?}");
        }
    }

    #[test]
    fn document_markers_comments_and_blank_lines() {
        let text = "# settings\n---\n\nport: 1 # the port\n  # indented comment\n\n\
                    broker_id: 2\n...\n# end\n";
        assert_eq!(
            entries(text),
            vec![("port".into(), s("1")), ("broker_id".into(), s("2"))]
        );
        // `---` and `...` only count alone at column 0; glued to text they are plain scalars.
        assert_eq!(entries("k: ---x\n"), vec![("k".into(), s("---x"))]);
        assert_eq!(entries("---x: 1\n"), vec![("---x".into(), s("1"))]);
    }

    #[test]
    fn plain_scalars_resolve_as_the_core_schema() {
        for (written, read) in [
            ("true", "true"),
            ("True", "true"),
            ("TRUE", "true"),
            ("false", "false"),
            ("False", "false"),
            ("FALSE", "false"),
            ("42", "42"),
            ("-1", "-1"),
            ("+5", "5"),
            ("007", "7"),
            ("-0", "0"),
            ("0x1F", "31"),
            ("0xff", "255"),
            ("0o17", "15"),
            ("9223372036854775807", "9223372036854775807"),
            // Past i64: kept as written, as a float is.
            ("99999999999999999999", "99999999999999999999"),
            ("0x", "0x"),
            ("0xZ1", "0xZ1"),
            ("0o8", "0o8"),
            ("0X10", "0X10"),
            ("1.5", "1.5"),
            ("1e3", "1e3"),
            ("64MiB", "64MiB"),
            ("yes", "yes"),
            ("tRue", "tRue"),
            ("--", "--"),
            ("-x", "-x"),
            ("a b  c", "a b  c"),
            ("trailing   ", "trailing"),
            ("tab\tinside", "tab\tinside"),
            ("/a:b", "/a:b"),
            ("http://h:9092/x", "http://h:9092/x"),
            ("a#b", "a#b"),
            ("a # comment", "a"),
            ("a\t# comment", "a"),
            ("x, [y] {z}", "x, [y] {z}"),
            ("a'b\"c", "a'b\"c"),
        ] {
            assert_eq!(scalar(written), read, "{written:?}");
        }
    }

    #[test]
    fn nulls() {
        for written in ["", "~", "null", "Null", "NULL", "# comment", "~ # comment"] {
            assert_eq!(value_of(written), Value::Null, "{written:?}");
        }
        assert_eq!(entries("k:\n"), vec![("k".into(), Value::Null)]);
        assert_eq!(entries("k:\t\n"), vec![("k".into(), Value::Null)]);
        // Quoted, they are text.
        assert_eq!(scalar("'null'"), "null");
        assert_eq!(scalar("\"~\""), "~");
        assert_eq!(scalar("''"), "");
    }

    #[test]
    fn quoted_scalars_are_text_not_resolved() {
        assert_eq!(scalar("'true'"), "true");
        assert_eq!(scalar("\"0x10\""), "0x10");
        assert_eq!(scalar("'007'"), "007");
        assert_eq!(scalar("\"::1\""), "::1");
        assert_eq!(scalar("'::'"), "::");
        assert_eq!(scalar("'a: b'"), "a: b");
        assert_eq!(scalar("\"a # not a comment\""), "a # not a comment");
        assert_eq!(scalar("'it''s'"), "it's");
        assert_eq!(scalar("''''"), "'");
        assert_eq!(scalar("'back\\slash'"), "back\\slash");
        assert_eq!(scalar("'  padded  '"), "  padded  ");
        assert_eq!(scalar("\"x\" # comment"), "x");
        assert_eq!(scalar("'x'\t# comment"), "x");
        assert_eq!(scalar("'x'   "), "x");
    }

    #[test]
    fn double_quoted_escapes() {
        for (written, read) in [
            (r#""a\\b""#, "a\\b"),
            (r#""say \"hi\"""#, "say \"hi\""),
            (r#""l1\nl2""#, "l1\nl2"),
            (r#""\t\r\0""#, "\t\r\0"),
            (r#""a\/b""#, "a/b"),
            (r#""\x41\x7e""#, "A~"),
            (r#""\u00e9\u4e2D""#, "é中"),
            (r#""\U0001F600""#, "😀"),
            (r#""\ \_\N""#, " \u{a0}\u{85}"),
            (
                r#""\e\a\b\f\v\L\P""#,
                "\u{1b}\u{7}\u{8}\u{c}\u{b}\u{2028}\u{2029}",
            ),
            ("\"a\\\tb\"", "a\tb"),
        ] {
            assert_eq!(scalar(written), read, "{written}");
        }
    }

    #[test]
    fn bad_escapes_are_refused_with_the_escape() {
        for (written, escape) in [
            (r#""\q""#, "\\q"),
            (r#""\x4""#, "\\x4\""),
            (r#""\xZZ""#, "\\xZ"),
            (r#""\uD800""#, "\\uD800"),
            (r#""\U00110000""#, "\\U00110000"),
            (r#""\é""#, "\\é"),
        ] {
            let e = refused(&format!("k: {written}\n"));
            assert_eq!(e.kind, ErrorKind::BadEscape(escape.into()), "{written}");
            assert_eq!(e.line, 1);
        }
        // Running off the end inside an escape, or a backslash continuing the line.
        assert_eq!(
            refused("k: \"\\x4").kind,
            ErrorKind::BadEscape("\\x4".into())
        );
        assert_eq!(refused("k: \"abc\\\n").kind, ErrorKind::Unterminated);
    }

    #[test]
    fn quoted_and_spaced_keys() {
        assert_eq!(
            entries("\"port\": 1\n'log_dir': /x\nbroker_id : 3\n\"a b\" :\t4\n'it''s': 5\n"),
            vec![
                ("port".into(), s("1")),
                ("log_dir".into(), s("/x")),
                ("broker_id".into(), s("3")),
                ("a b".into(), s("4")),
                ("it's".into(), s("5")),
            ]
        );
        assert_eq!(entries("a:b: c\n"), vec![("a:b".into(), s("c"))]);
        assert_eq!(entries("a#b: c\n"), vec![("a#b".into(), s("c"))]);
        assert_eq!(entries("\"k: v\": x\n"), vec![("k: v".into(), s("x"))]);
    }

    #[test]
    fn line_endings_and_byte_order_mark() {
        let text = "\u{feff}---\r\nport: 1\r\nlog_dir: \"/x\"\r\n\r\n# c\r\n";
        assert_eq!(
            entries(text),
            vec![("port".into(), s("1")), ("log_dir".into(), s("/x"))]
        );
        assert_eq!(entries("port: 1"), vec![("port".into(), s("1"))]);
        // A carriage return anywhere but before a newline is a control character.
        assert_eq!(
            refused("port: 1\rbroker_id: 2\n").kind,
            ErrorKind::ControlChar('\r')
        );
    }

    #[test]
    fn unicode_keys_and_values() {
        assert_eq!(
            entries("clé: é\n日本: 東京 # コメント\nk: \"ü: ö\"\nemoji: 😀#x\n"),
            vec![
                ("clé".into(), s("é")),
                ("日本".into(), s("東京")),
                ("k".into(), s("ü: ö")),
                ("emoji".into(), s("😀#x")),
            ]
        );
    }

    #[test]
    fn refused_forms_name_their_line() {
        use ErrorKind::*;
        let under = |key: &str| Indented {
            under: Some(key.into()),
        };
        for (text, line, kind) in [
            ("port:\n  nested: 1\n", 2, under("port")),
            ("port:\n  - 1\n", 2, under("port")),
            ("k: a\n  continued\n", 2, under("k")),
            ("  port: 1\n", 1, Indented { under: None }),
            ("\tport: 1\n", 1, TabIndent),
            ("k: 1\n \tj: 2\n", 2, TabIndent),
            ("- port\n", 1, Sequence),
            ("-\n", 1, Sequence),
            ("k: - x\n", 1, Sequence),
            ("k: -\n", 1, Sequence),
            ("[port, 1]\n", 1, Flow),
            ("{port: 1}\n", 1, Flow),
            ("k: [1, 2]\n", 1, Flow),
            ("k: {a: 1}\n", 1, Flow),
            ("port: [1\n", 1, Flow),
            ("k: &a 1\n", 1, Property('&')),
            ("k: *a\n", 1, Property('*')),
            ("k: !!str 1\n", 1, Property('!')),
            ("&a k: 1\n", 1, Property('&')),
            ("!t k: 1\n", 1, Property('!')),
            ("k: |\n", 1, BlockScalar),
            ("k: >-\n", 1, BlockScalar),
            ("|\n", 1, BlockScalar),
            ("%YAML 1.2\n---\n", 1, Reserved('%')),
            ("k: @x\n", 1, Reserved('@')),
            ("k: `x\n", 1, Reserved('`')),
            ("k: ]\n", 1, Reserved(']')),
            ("k: ,x\n", 1, Reserved(',')),
            ("? k\n: v\n", 1, ComplexKey),
            (": v\n", 1, ComplexKey),
            ("k: ? x\n", 1, ComplexKey),
            ("port\n", 1, NotKeyValue),
            ("port:1\n", 1, NotKeyValue),
            ("key:value\n", 1, NotKeyValue),
            ("just text\n", 1, NotKeyValue),
            ("a # b: c\n", 1, NotKeyValue),
            ("'k'\n", 1, NotKeyValue),
            ("'k' # c\n", 1, NotKeyValue),
            ("'k':v\n", 1, NotKeyValue),
            ("k: a: b\n", 1, ColonInPlain),
            ("k: a:\n", 1, ColonInPlain),
            ("k: a:\tb\n", 1, ColonInPlain),
            ("k: 'open\n", 1, Unterminated),
            ("k: \"open\n  close\"\n", 1, Unterminated),
            ("'open: 1\n", 1, Unterminated),
            ("k: 'a' b\n", 1, TextAfterQuote),
            ("k: 'a'#c\n", 1, TextAfterQuote),
            ("k: \"a\" \"b\"\n", 1, TextAfterQuote),
            ("'k' x: 1\n", 1, TextAfterQuote),
            ("k: 1\u{7}\n", 1, ControlChar('\u{7}')),
            ("k: 'a\0'\n", 1, ControlChar('\0')),
            ("k: \u{7f}\n", 1, ControlChar('\u{7f}')),
            ("--- port: 1\n", 1, TextAfterMarker),
            ("--- {}\n", 1, TextAfterMarker),
            ("... x\n", 1, TextAfterMarker),
            ("port: 1\n---\nport: 2\n", 2, SecondDocument),
            ("---\n---\n", 2, SecondDocument),
            ("port: 1\n...\nport: 2\n", 3, SecondDocument),
            ("...\n---\n", 2, SecondDocument),
        ] {
            let e = refused(text);
            assert_eq!((e.line, &e.kind), (line, &kind), "{text:?}");
            assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
        }
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let e = refused("port: 1\nlog_dir: /x\n'port': 2\n");
        let first = ErrorKind::DuplicateKey {
            key: "port".into(),
            first_line: 1,
        };
        assert_eq!((e.line, &e.kind), (3, &first));
        let message = e.to_string();
        assert!(
            message.contains("'port'") && message.contains("line 1"),
            "{message}"
        );
    }

    #[test]
    fn errors_about_the_shape_of_the_file_say_mapping() {
        for text in [
            "- port\n",
            "[1]\n",
            "{a: 1}\n",
            "scalar\n",
            "--- text\n",
            "|\n  x\n",
            "  port: 1\n",
        ] {
            let message = refused(text).to_string();
            assert!(message.contains("mapping"), "{text:?}: {message}");
        }
    }

    /// A small deterministic generator (xorshift), so the fuzzing below replays exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            let at = self.next() % from.len() as u64;
            from[usize::try_from(at).expect("an index below a slice's length fits usize")]
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        const PIECES: &[&str] = &[
            "k", "port", ":", ": ", " ", "\t", "#", " #", "'", "\"", "''", "\\", "\\x", "\\u00",
            "\\U", "é", "日本", "😀", "\u{feff}", "\r", "\n", "\r\n", "---", "...", "- ", "[", "{",
            "&", "*", "!", "|", ">", "?", "%", "~", "null", "true", "0x", "0o", "9", "-", "+",
            "\0", "\u{85}", "a",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let len = rng.next() % 24;
            let text: String = (0..len).map(|_| rng.pick(PIECES)).collect();
            if let Ok(entries) = parse(&text) {
                accepted += 1;
                // Whatever is accepted is one entry per line, in order.
                let lines: Vec<usize> = entries.iter().map(|e| e.line).collect();
                assert!(lines.windows(2).all(|w| w[0] < w[1]), "{text:?}");
            }
        }
        assert!(accepted > 0, "the generator must reach accepted files too");
    }

    #[test]
    fn every_prefix_of_a_file_is_read_or_refused_without_panic() {
        let text = "\u{feff}--- # é\r\nclé: \"ü\\u00e9\\U0001F600 # x\" # 日本\n\
                    'it''s': 0x1F\nk: a#😀\n...\n";
        for (at, _) in text.char_indices() {
            let _ = parse(&text[..at]);
        }
        assert_eq!(
            entries(text),
            vec![
                ("clé".into(), s("üé😀 # x")),
                ("it's".into(), s("31")),
                ("k".into(), s("a#😀")),
            ]
        );
    }

    #[test]
    fn any_string_round_trips_double_quoted() {
        const PIECES: &[&str] = &[
            "a", " ", "\t", "\"", "\\", "'", ":", ": ", "#", " #", "é", "😀", "\u{7}", "\0", "\n",
            "\r", "\u{85}", "\u{2028}", "---", "true", "~",
        ];
        let mut rng = Rng(42);
        for _ in 0..2_000 {
            let len = rng.next() % 12;
            let original: String = (0..len).map(|_| rng.pick(PIECES)).collect();
            let mut written = String::from("k: \"");
            for c in original.chars() {
                match c {
                    '"' => written.push_str("\\\""),
                    '\\' => written.push_str("\\\\"),
                    c if c.is_control() => written.push_str(&format!("\\U{:08X}", u32::from(c))),
                    c => written.push(c),
                }
            }
            written.push_str("\" # comment\n");
            assert_eq!(scalar_of_file(&written), original, "{written:?}");
        }
    }

    #[test]
    fn a_large_file_of_distinct_keys_is_read_in_one_pass() {
        let text: String = (0..50_000).map(|i| format!("key{i}: {i}\n")).collect();
        let got = parse(&text).expect("valid");
        assert_eq!(got.len(), 50_000);
        assert_eq!(got[49_999].value, s("49999"));
        assert_eq!(got[49_999].line, 50_000);
    }
}
