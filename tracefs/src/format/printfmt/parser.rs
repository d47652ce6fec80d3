//! Parsing `print fmt:` text into a format string and argument expressions.
//!
//! The format string is split into text and `%` conversions here; the
//! arguments (literals, `REC->field`, casts, operators, `?:`, indexing and
//! the helpers `__print_flags`, `__print_symbolic`, `__get_str`,
//! `__print_hex`, ...) are parsed by [`super::tep`] exactly as
//! libtraceevent parses them (src/event-parse.c `event_read_print`).

use std::fmt;

/// Why a print fmt could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// An argument expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Integer literal.
    Num(u64),
    /// String literal (or any other libtraceevent atom).
    Str(String),
    /// A string read from a `bprint` record.
    Bstr(String),
    /// `REC->name`.
    Field(String),
    /// `op x` for `! ~ - +`.
    Unary(&'static str, Box<Expr>),
    /// `a op b`.
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `(type) x`.
    Cast(String, Box<Expr>),
    /// `a[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `__print_flags(x, delim, {v, "s"}...)`.
    Flags(Box<Expr>, String, Vec<(Expr, String)>),
    /// `__print_symbolic(x, {v, "s"}...)`.
    Symbolic(Box<Expr>, Vec<(Expr, String)>),
    /// `__get_str(f)` / `__get_bitmask`.
    GetStr(String),
    /// `__get_dynamic_array(f)`.
    DynArray(String),
    /// `__get_dynamic_array_len(f)`.
    DynArrayLen(String),
    /// `__print_hex(p, len)` (`true`) or `__print_hex_str` (`false`).
    Hex(Box<Expr>, Box<Expr>, bool),
    /// `__print_array(p, count, el_size)`.
    IntArray(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// A piece of the format string.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Text copied as is.
    Text(String),
    /// A conversion (`%08lx`) and its argument(s).
    Conv(Conv),
}

/// What kind of value a conversion prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKind {
    /// d i u x X o c.
    Digit,
    /// s.
    String,
    /// p and its extensions (`%pS`, `%ps`, ...).
    Pointer,
}

/// One `%` conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    /// The text of the spec, `%` to conversion char(s) included.
    pub spec: String,
    /// Which printer.
    pub kind: ConvKind,
    /// Length modifier as libtraceevent counts it: -2 hh, -1 h, 0, 1 l/z, 2 ll/L.
    pub ls: i32,
    /// The argument.
    pub arg: Expr,
    /// The argument given for `*` (width or precision), if any.
    pub star: Option<Expr>,
}

/// Splits the format string into text and conversions, pairing each
/// conversion with its argument (libtraceevent `parse_args`).
pub(crate) fn split_format(fmt: &str, args: Vec<Expr>) -> Result<Vec<Piece>, ParseError> {
    let mut args = args.into_iter();
    let mut out = Vec::new();
    let mut text = String::new();
    let b = fmt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let start = i;
            while i < b.len() && b[i] != b'%' {
                i += 1;
            }
            text.push_str(&fmt[start..i]);
            continue;
        }
        if b.get(i + 1) == Some(&b'%') {
            text.push('%');
            i += 2;
            continue;
        }
        let start = i;
        i += 1;
        let mut ls = 0i32;
        let mut star = None;
        let kind = loop {
            let Some(&c) = b.get(i) else {
                return Err(ParseError("format ends inside a conversion".into()));
            };
            i += 1;
            match c {
                b'#' | b'.' | b'0'..=b'9' | b'-' | b'+' | b' ' => {}
                b'h' => ls -= 1,
                b'l' => ls += 1,
                b'L' => ls = 2,
                b'z' | b'Z' | b'j' | b't' => ls = 1,
                b'*' => {
                    star = Some(
                        args.next()
                            .ok_or_else(|| ParseError("no argument for *".into()))?,
                    )
                }
                b'p' => {
                    // Extensions: %pS %ps %pF %pf %pB %pM %pI4 %pU %ph ...
                    if let Some(&n) = b.get(i) {
                        match n {
                            b'F' | b'S' | b'f' | b's' | b'B' => i += 1,
                            b'M' | b'm' | b'I' | b'i' | b'U' | b'h' | b'x' | b'K' | b'd' | b'D' | b'V'
                            | b'a' | b'b' | b'E' | b'g' | b'G' | b'O' | b'e' | b'N' | b'R' | b'r' | b'k'
                            | b'u' => {
                                return Err(ParseError(format!("%p{} is not supported", n as char)));
                            }
                            _ => {}
                        }
                    }
                    break ConvKind::Pointer;
                }
                b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'c' => break ConvKind::Digit,
                b's' => break ConvKind::String,
                other => {
                    return Err(ParseError(format!(
                        "conversion %{} is not supported",
                        other as char
                    )))
                }
            }
        };
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut text)));
        }
        let arg = args
            .next()
            .ok_or_else(|| ParseError("more conversions than arguments".into()))?;
        out.push(Piece::Conv(Conv {
            spec: fmt[start..i].to_owned(),
            kind,
            ls: ls.clamp(-2, 2),
            arg,
            star,
        }));
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// Parses `print fmt:` text (everything after `print fmt: `) the way
/// libtraceevent does (`event_read_print`, `event_read_print_args`), so
/// argument trees match trace-cmd's; see [`super::tep`].
pub fn parse_print_fmt(text: &str) -> Result<Vec<Piece>, ParseError> {
    let toks = super::tep::lex(text.trim());
    let mut i = 0;
    let mut fmt = String::new();
    while let Some(super::tep::T::Dq(s)) = toks.get(i) {
        fmt.push_str(s);
        i += 1;
    }
    if i == 0 {
        return Err(ParseError("print fmt does not start with a string".into()));
    }
    let fmt = unescape(&fmt);
    let args = match toks.get(i) {
        None => Vec::new(),
        Some(super::tep::T::Delim(',')) => super::tep::parse_tokens(toks[i + 1..].to_vec(), 8)?,
        Some(t) => return Err(ParseError(format!("unexpected {t:?} after the format"))),
    };
    split_format(&fmt, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_libtraceevent() {
        let p = parse_print_fmt(
            r#""a=%d b=%s %lx", (int)REC->x + 2 * 3 << 1, __print_flags(REC->f & 3, "|", {1, "A"}, {2, "B"}), REC->v ? 1 : 0"#,
        )
        .unwrap();
        assert_eq!(p.len(), 6);
        let Piece::Conv(c) = &p[1] else { panic!() };
        // libtraceevent's process_op hangs a higher-priority operator that
        // follows a lower one onto the right operand: x + ((2 * 3) << 1).
        let s = |v: &str| Box::new(Expr::Str(v.into()));
        assert_eq!(
            c.arg,
            Expr::Binary(
                "+",
                Box::new(Expr::Cast("int".into(), Box::new(Expr::Field("x".into())))),
                Box::new(Expr::Binary(
                    "<<",
                    Box::new(Expr::Binary("*", s("2"), s("3"))),
                    s("1")
                ))
            )
        );
        let Piece::Conv(c) = &p[3] else { panic!() };
        assert!(matches!(&c.arg, Expr::Flags(_, d, l) if d == "|" && l.len() == 2));
        let Piece::Conv(c) = &p[5] else { panic!() };
        assert_eq!(c.ls, 1);
        assert!(matches!(c.arg, Expr::Cond(..)));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for t in ["", "\"%d\"", "\"x\", (", "\"%q\", 1", "\"a\" REC", "'", "\"%p\""] {
            assert!(parse_print_fmt(t).is_err(), "{t}");
        }
    }
}
