//! The argument parser of libtraceevent (src/event-parse.c `process_arg`,
//! `process_op`, `process_paren`, `process_cond`, `process_flags`, ...),
//! ported so that expressions get the same tree, quirks included:
//! `trace-cmd report` prints what that tree evaluates to, and some kernel
//! print fmts do not mean what C would make of them there. For example
//! `REC->flags & (A | B)` becomes `(REC->flags & A) | B` (a parenthesised
//! right operand of lower precedence is rotated), and operators of equal
//! precedence group to the right.
//!
//! Nodes live in an arena so the C code's in-place struct copies (`*left =
//! *arg`, the rotation swap) carry over as index moves.

use super::parser::{Expr, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum T {
    Item(String),
    Dq(String),
    Sq(String),
    Delim(char),
    Op(String),
    None,
}

#[derive(Debug, Clone, Default)]
enum N {
    #[default]
    Null,
    Atom(String),
    Field(String),
    Op {
        op: String,
        left: Option<usize>,
        right: Option<usize>,
        prio: i32,
    },
    Type(String, usize),
    Flags(usize, String, Vec<(String, String)>),
    Symbol(usize, Vec<(String, String)>),
    Str(String),
    DynArray(String),
    DynArrayLen(String),
    Hex(usize, usize, bool),
    IntArray(usize, usize, usize),
}

pub(crate) struct Tep {
    toks: Vec<T>,
    i: usize,
    nodes: Vec<N>,
    long_size: usize,
    depth: usize,
}

/// Deepest nesting of calls accepted, so hostile text cannot overflow the
/// stack (real print fmts nest a few levels).
const MAX_DEPTH: usize = 200;

fn err<X>(m: impl Into<String>) -> Result<X, ParseError> {
    Err(ParseError(m.into()))
}

fn op_prio(op: &str) -> i32 {
    match op {
        "~" | "!" => 4,
        "*" | "/" | "%" => 6,
        "+" | "-" => 7,
        "<<" | ">>" => 8,
        "<" | ">" | "<=" | ">=" => 9,
        "==" | "!=" => 10,
        "&" => 11,
        "^" => 12,
        "|" => 13,
        "&&" => 14,
        "||" => 15,
        "?" => 16,
        "++" | "--" => 3,
        _ => -1,
    }
}

const BINARY: [&str; 18] = [
    ">>", "<<", "&", "|", "&&", "||", "-", "+", "*", "^", "/", "%", "<", ">", "<=", ">=", "==", "!=",
];

/// libtraceevent's tokenizer (`__read_token`), for the argument list.
pub(crate) fn lex(s: &str) -> Vec<T> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let q = c;
            let start = i + 1;
            i += 1;
            let mut text = Vec::new();
            while i < b.len() && b[i] != q {
                if b[i] == b'\\' && i + 1 < b.len() {
                    text.push(b[i]);
                    i += 1;
                }
                text.push(b[i]);
                i += 1;
            }
            let _ = start;
            i += 1;
            let t = String::from_utf8_lossy(&text).into_owned();
            out.push(if q == b'"' { T::Dq(t) } else { T::Sq(t) });
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(T::Item(s[start..i].to_owned()));
        } else if c == b'(' || c == b')' || c == b',' {
            out.push(T::Delim(c as char));
            i += 1;
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            let op = match two {
                "->" | "<<" | ">>" | "<=" | ">=" | "==" | "!=" | "&&" | "||" | "++" | "--" => two,
                _ => {
                    let mut end = i + 1;
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    &s[i..end]
                }
            };
            out.push(T::Op(op.to_owned()));
            i += op.len();
        }
    }
    out
}

impl Tep {
    pub(crate) fn new(toks: Vec<T>, long_size: usize) -> Tep {
        Tep {
            toks,
            i: 0,
            nodes: Vec::new(),
            long_size,
            depth: 0,
        }
    }

    fn read(&mut self) -> T {
        let t = self.toks.get(self.i).cloned().unwrap_or(T::None);
        self.i += 1;
        t
    }

    fn node(&mut self, n: N) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn expect_delim(t: &T, c: char) -> Result<(), ParseError> {
        match t {
            T::Delim(d) if *d == c => Ok(()),
            other => err(format!("expected {c:?}, found {other:?}")),
        }
    }

    fn expect_op(t: &T, o: &str) -> Result<(), ParseError> {
        match t {
            T::Op(x) if x == o => Ok(()),
            other => err(format!("expected {o:?}, found {other:?}")),
        }
    }

    fn process_arg(&mut self, arg: usize) -> Result<T, ParseError> {
        let t = self.read();
        self.process_arg_token(arg, t)
    }

    fn process_arg_token(&mut self, arg: usize, t: T) -> Result<T, ParseError> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            err("expression nests too deeply")
        } else {
            self.arg_token(arg, t)
        };
        self.depth -= 1;
        r
    }

    fn arg_token(&mut self, arg: usize, t: T) -> Result<T, ParseError> {
        match t {
            T::Item(s) if s == "REC" => {
                let t = self.read();
                Self::expect_op(&t, "->")?;
                let T::Item(f) = self.read() else {
                    return err("expected a field name");
                };
                self.nodes[arg] = N::Field(f);
                Ok(self.read())
            }
            T::Item(mut atom) => {
                let mut t = self.read();
                if t == T::Delim('(') {
                    return self.process_function(arg, &atom);
                }
                while let T::Item(more) = t {
                    atom.push(' ');
                    atom.push_str(&more);
                    t = self.read();
                }
                self.nodes[arg] = N::Atom(atom);
                Ok(t)
            }
            T::Dq(s) | T::Sq(s) => {
                self.nodes[arg] = N::Atom(s);
                Ok(self.read())
            }
            T::Delim('(') => self.process_paren(arg),
            T::Op(op) => {
                self.nodes[arg] = N::Op {
                    op: op.clone(),
                    left: None,
                    right: None,
                    prio: 0,
                };
                self.process_op(arg, op)
            }
            other => err(format!("unexpected {other:?}")),
        }
    }

    fn process_paren(&mut self, arg: usize) -> Result<T, ParseError> {
        let mut t = self.process_arg(arg)?;
        if let T::Op(op) = t {
            t = self.process_op(arg, op)?;
        }
        Self::expect_delim(&t, ')')?;
        let t = self.read();
        if matches!(t, T::Item(_) | T::Dq(_) | T::Sq(_) | T::Delim('(')) {
            let N::Atom(ty) = std::mem::take(&mut self.nodes[arg]) else {
                return err("a cast needs a type name");
            };
            let item = self.node(N::Null);
            self.nodes[arg] = N::Type(ty, item);
            return self.process_arg_token(item, t);
        }
        Ok(t)
    }

    fn process_op(&mut self, arg: usize, tok: String) -> Result<T, ParseError> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            err("expression nests too deeply")
        } else {
            self.op(arg, tok)
        };
        self.depth -= 1;
        r
    }

    fn op(&mut self, arg: usize, tok: String) -> Result<T, ParseError> {
        let mut right_for_tail = None;
        let t;
        let unary = matches!(self.nodes[arg], N::Op { left: None, .. });
        if unary {
            if !matches!(tok.as_str(), "~" | "!" | "+" | "-") {
                return err(format!("bad op token {tok}"));
            }
            let left = self.node(N::Null);
            let right = self.node(N::Null);
            if let N::Op {
                left: l, right: r, ..
            } = &mut self.nodes[arg]
            {
                *l = Some(left);
                *r = Some(right);
            }
            right_for_tail = Some(right);
            t = self.process_arg(right)?;
        } else if tok == "?" {
            let moved = std::mem::take(&mut self.nodes[arg]);
            let left = self.node(moved);
            self.nodes[arg] = N::Op {
                op: tok,
                left: Some(left),
                right: None,
                prio: 0,
            };
            t = self.process_cond(arg)?;
        } else if BINARY.contains(&tok.as_str()) {
            let moved = std::mem::take(&mut self.nodes[arg]);
            let left = self.node(moved);
            let prio = if matches!(self.nodes[left], N::Null) {
                0
            } else {
                op_prio(&tok)
            };
            self.nodes[arg] = N::Op {
                op: tok.clone(),
                left: Some(left),
                right: None,
                prio,
            };
            let next = self.read();
            if tok == "*" && next == T::Delim(')') {
                let N::Atom(a) = std::mem::take(&mut self.nodes[left]) else {
                    return err("bad pointer type");
                };
                self.nodes[arg] = N::Atom(format!("{a} *"));
                return Ok(next);
            }
            let right = self.node(N::Null);
            let tt = self.process_arg_token(right, next)?;
            let rot = match &self.nodes[right] {
                N::Op {
                    op: rop,
                    left: Some(rl),
                    ..
                } if op_prio(&tok) < op_prio(rop) => Some(*rl),
                _ => None,
            };
            if let Some(rl) = rot {
                if let N::Op { right: r, .. } = &mut self.nodes[arg] {
                    *r = Some(rl);
                }
                self.nodes.swap(arg, right);
                if let N::Op { left: l, .. } = &mut self.nodes[arg] {
                    *l = Some(right);
                }
            } else if let N::Op { right: r, .. } = &mut self.nodes[arg] {
                *r = Some(right);
            }
            right_for_tail = Some(right);
            t = tt;
        } else if tok == "[" {
            let moved = std::mem::take(&mut self.nodes[arg]);
            let left = self.node(moved);
            let idx = self.node(N::Null);
            let tt = self.process_arg(idx)?;
            Self::expect_op(&tt, "]")?;
            self.nodes[arg] = N::Op {
                op: tok,
                left: Some(left),
                right: Some(idx),
                prio: 0,
            };
            t = self.read();
        } else {
            return err(format!("unknown op {tok:?}"));
        }
        if let T::Op(next) = &t {
            if next != ":" {
                let prio = op_prio(next);
                let arg_prio = match &self.nodes[arg] {
                    N::Op { prio, .. } => *prio,
                    _ => 0,
                };
                let next = next.clone();
                if prio > arg_prio {
                    return self.process_op(arg, next);
                }
                let Some(r) = right_for_tail else {
                    return err("operator after ?: or []");
                };
                return self.process_op(r, next);
            }
        }
        Ok(t)
    }

    fn process_cond(&mut self, top: usize) -> Result<T, ParseError> {
        let left = self.node(N::Null);
        let right = self.node(N::Null);
        let mut t = self.process_arg(left)?;
        loop {
            match &t {
                T::Op(o) if o != ":" => {
                    let o = o.clone();
                    t = self.process_op(left, o)?;
                }
                _ => break,
            }
        }
        Self::expect_op(&t, ":")?;
        let t = self.process_arg(right)?;
        let arg = self.node(N::Op {
            op: ":".into(),
            left: Some(left),
            right: Some(right),
            prio: 0,
        });
        if let N::Op { right: r, .. } = &mut self.nodes[top] {
            *r = Some(arg);
        }
        Ok(t)
    }

    /// `process_arg` followed by any operators (`process_field_arg`).
    fn field_arg(&mut self, arg: usize) -> Result<T, ParseError> {
        let mut t = self.process_arg(arg)?;
        while let T::Op(o) = t {
            t = self.process_op(arg, o)?;
        }
        Ok(t)
    }

    /// `alloc_and_process_delim`.
    fn delim_arg(&mut self, c: char) -> Result<usize, ParseError> {
        let a = self.node(N::Null);
        let mut t = self.process_arg(a)?;
        if let T::Op(o) = t {
            t = self.process_op(a, o)?;
        }
        Self::expect_delim(&t, c)?;
        Ok(a)
    }

    fn process_fields(&mut self) -> Result<(Vec<(String, String)>, T), ParseError> {
        let mut list = Vec::new();
        loop {
            let t = self.read();
            if t != T::Op("{".into()) {
                return Ok((list, t));
            }
            let v = self.node(N::Null);
            let mut t = self.process_arg(v)?;
            if let T::Op(o) = t {
                t = self.process_op(v, o)?;
            }
            Self::expect_delim(&t, ',')?;
            let value = self.arg_eval(v)?;
            let s = self.node(N::Null);
            let t = self.process_arg(s)?;
            Self::expect_op(&t, "}")?;
            let text = self.arg_eval(s)?;
            list.push((value, text));
            let t = self.read();
            if t != T::Delim(',') {
                return Ok((list, t));
            }
        }
    }

    fn name_then_close(&mut self) -> Result<String, ParseError> {
        let T::Item(name) = self.read() else {
            return err("expected a field name");
        };
        let t = self.read();
        Self::expect_delim(&t, ')')?;
        Ok(name)
    }

    fn process_function(&mut self, arg: usize, name: &str) -> Result<T, ParseError> {
        match name {
            "__print_flags" | "__print_flags_u64" => {
                let field = self.node(N::Null);
                let t = self.field_arg(field)?;
                Self::expect_delim(&t, ',')?;
                let mut t = self.read();
                let mut delim = String::new();
                if let T::Item(d) | T::Dq(d) | T::Sq(d) = &t {
                    delim = d.clone();
                    t = self.read();
                }
                Self::expect_delim(&t, ',')?;
                let (list, t) = self.process_fields()?;
                Self::expect_delim(&t, ')')?;
                self.nodes[arg] = N::Flags(field, delim, list);
                Ok(self.read())
            }
            "__print_symbolic" | "__print_symbolic_u64" => {
                let field = self.node(N::Null);
                let t = self.field_arg(field)?;
                Self::expect_delim(&t, ',')?;
                let (list, t) = self.process_fields()?;
                Self::expect_delim(&t, ')')?;
                self.nodes[arg] = N::Symbol(field, list);
                Ok(self.read())
            }
            "__get_str" | "__get_rel_str" => {
                let n = self.name_then_close()?;
                self.nodes[arg] = N::Str(n);
                Ok(self.read())
            }
            "__get_dynamic_array" | "__get_rel_dynamic_array" => {
                let n = self.name_then_close()?;
                self.nodes[arg] = N::DynArray(n);
                let t = self.read();
                if t == T::Op("[".into()) {
                    // libtraceevent rejects an index here (process_dynamic_array).
                    return err("indexed __get_dynamic_array");
                }
                Ok(t)
            }
            "__get_dynamic_array_len" | "__get_rel_dynamic_array_len" => {
                let n = self.name_then_close()?;
                self.nodes[arg] = N::DynArrayLen(n);
                Ok(self.read())
            }
            "__print_hex" | "__print_hex_str" => {
                let f = self.delim_arg(',')?;
                let s = self.delim_arg(')')?;
                self.nodes[arg] = N::Hex(f, s, name == "__print_hex");
                Ok(self.read())
            }
            "__print_array" => {
                let f = self.delim_arg(',')?;
                let c = self.delim_arg(',')?;
                let e = self.delim_arg(')')?;
                self.nodes[arg] = N::IntArray(f, c, e);
                Ok(self.read())
            }
            "__builtin_expect" => {
                let t = self.process_arg(arg)?;
                Self::expect_delim(&t, ',')?;
                let T::Item(_) = self.read() else {
                    return err("bad __builtin_expect");
                };
                let t = self.read();
                Self::expect_delim(&t, ')')?;
                Ok(self.read())
            }
            "sizeof" => {
                let mut words = Vec::new();
                loop {
                    match self.read() {
                        T::Delim(')') => break,
                        T::Item(w) => words.push(w),
                        T::Op(o) if o == "*" => words.push(o),
                        _ => return err("unsupported sizeof"),
                    }
                }
                let w: Vec<&str> = words.iter().map(String::as_str).collect();
                let size = match w.as_slice() {
                    ["int"]
                    | ["unsigned", "int"]
                    | ["unsigned"]
                    | ["u32"]
                    | ["__u32"]
                    | ["s32"]
                    | ["__s32"] => 4,
                    ["long", "long"]
                    | ["unsigned", "long", "long"]
                    | ["u64"]
                    | ["__u64"]
                    | ["s64"]
                    | ["__s64"] => 8,
                    ["long"] | ["unsigned", "long"] => self.long_size,
                    ["u16"] | ["__u16"] | ["s16"] | ["__s16"] => 2,
                    ["u8"] | ["__u8"] | ["s8"] => 1,
                    _ => return err("unsupported sizeof"),
                };
                self.nodes[arg] = N::Atom(size.to_string());
                Ok(self.read())
            }
            other => err(format!("unknown function {other}")),
        }
    }

    /// `arg_eval`: the text of a flag value or name.
    fn arg_eval(&self, a: usize) -> Result<String, ParseError> {
        match &self.nodes[a] {
            N::Atom(s) => Ok(s.clone()),
            N::Type(_, item) => self.arg_eval(*item),
            N::Op { .. } => Ok(self.num_eval(a)?.to_string()),
            _ => err("flag value is not a constant"),
        }
    }

    /// `arg_num_eval`: signed constant folding.
    fn num_eval(&self, a: usize) -> Result<i64, ParseError> {
        match &self.nodes[a] {
            N::Atom(s) => Ok(strtoll(s)),
            N::Type(_, item) => self.num_eval(*item),
            N::Null => Ok(0),
            N::Op { op, left, right, .. } => {
                let l = match left {
                    Some(l) => self.num_eval(*l)?,
                    None => 0,
                };
                let r = match right {
                    Some(r) => self.num_eval(*r)?,
                    None => 0,
                };
                Ok(match op.as_str() {
                    "!" => i64::from(r == 0),
                    "~" => !r,
                    ">>" => l.checked_shr(r as u32).unwrap_or(0),
                    "<<" => l.checked_shl(r as u32).unwrap_or(0),
                    ">=" => i64::from(l >= r),
                    ">" => i64::from(l > r),
                    "<=" => i64::from(l <= r),
                    "<" => i64::from(l < r),
                    "&&" => i64::from(l != 0 && r != 0),
                    "&" => l & r,
                    "||" => i64::from(l != 0 || r != 0),
                    "|" => l | r,
                    "-" => l.wrapping_sub(r),
                    "+" => l.wrapping_add(r),
                    "*" => l.wrapping_mul(r),
                    "^" => l ^ r,
                    "/" => l.checked_div(r).ok_or(ParseError("division by zero".into()))?,
                    "%" => l.checked_rem(r).ok_or(ParseError("division by zero".into()))?,
                    "==" => i64::from(l == r),
                    "!=" => i64::from(l != r),
                    _ => return err(format!("cannot fold {op}")),
                })
            }
            _ => err("flag value is not a constant"),
        }
    }

    fn to_expr(&self, a: usize, depth: usize) -> Result<Expr, ParseError> {
        if depth > 256 {
            return err("expression too deep");
        }
        let sub = |i: usize| self.to_expr(i, depth + 1).map(Box::new);
        Ok(match &self.nodes[a] {
            N::Null => Expr::Num(0),
            N::Atom(s) => Expr::Str(s.clone()),
            N::Field(f) => Expr::Field(f.clone()),
            N::Type(t, i) => Expr::Cast(t.clone(), sub(*i)?),
            N::Str(f) => Expr::GetStr(f.clone()),
            N::DynArray(f) => Expr::DynArray(f.clone()),
            N::DynArrayLen(f) => Expr::DynArrayLen(f.clone()),
            N::Hex(f, s, spaced) => Expr::Hex(sub(*f)?, sub(*s)?, *spaced),
            N::IntArray(f, c, e) => Expr::IntArray(sub(*f)?, sub(*c)?, sub(*e)?),
            N::Flags(f, d, list) => Expr::Flags(sub(*f)?, d.clone(), syms(list)),
            N::Symbol(f, list) => Expr::Symbolic(sub(*f)?, syms(list)),
            N::Op { op, left, right, .. } => {
                let (Some(l), Some(r)) = (left, right) else {
                    return err(format!("incomplete {op}"));
                };
                match op.as_str() {
                    "?" => match &self.nodes[*r] {
                        N::Op {
                            op: c,
                            left: Some(a),
                            right: Some(b),
                            ..
                        } if c == ":" => Expr::Cond(sub(*l)?, sub(*a)?, sub(*b)?),
                        _ => return err("bad ?:"),
                    },
                    "[" => Expr::Index(sub(*l)?, sub(*r)?),
                    _ if matches!(self.nodes[*l], N::Null)
                        && matches!(op.as_str(), "!" | "~" | "-" | "+") =>
                    {
                        Expr::Unary(static_op(op), sub(*r)?)
                    }
                    _ => Expr::Binary(static_op(op), sub(*l)?, sub(*r)?),
                }
            }
        })
    }
}

fn syms(list: &[(String, String)]) -> Vec<(Expr, String)> {
    list.iter()
        .map(|(v, s)| (Expr::Str(v.clone()), s.clone()))
        .collect()
}

fn static_op(op: &str) -> &'static str {
    BINARY
        .iter()
        .chain(["!", "~"].iter())
        .find(|o| **o == op)
        .copied()
        .unwrap_or("?")
}

/// `strtoll(s, NULL, 0)`.
pub(crate) fn strtoll(s: &str) -> i64 {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (radix, d) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (16, h),
        None if s.len() > 1 && s.starts_with('0') => (8, &s[1..]),
        None => (10, s),
    };
    let end = d.find(|c: char| !c.is_digit(radix)).unwrap_or(d.len());
    let v = u64::from_str_radix(&d[..end], radix).unwrap_or(0) as i64;
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// Parses the argument list (after the format string and its comma), as
/// `event_read_print_args` does.
pub(crate) fn parse_tokens(toks: Vec<T>, long_size: usize) -> Result<Vec<Expr>, ParseError> {
    let mut p = Tep::new(toks, long_size);
    let mut out = Vec::new();
    loop {
        let arg = p.node(N::Null);
        let mut t = p.process_arg(arg)?;
        if let T::Op(o) = t {
            t = p.process_op(arg, o)?;
        }
        out.push(p.to_expr(arg, 0)?);
        match t {
            T::Delim(',') => continue,
            T::None => break,
            other => return err(format!("unexpected {other:?} after an argument")),
        }
    }
    Ok(out)
}
