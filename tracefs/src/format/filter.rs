//! `trace-cmd report -F` filters: `EVENTS[:EXPR]`, in libtraceevent's
//! syntax (`tep_filter_add_filter_str` in src/parse-filter.c).
//!
//! - EVENTS is a comma-separated list of `SYSTEM/EVENT` or `NAME`, each a
//!   case-insensitive regular expression anchored at both ends; a bare NAME
//!   matches an event name or a system name.
//! - EXPR combines comparisons with `&&`, `||`, `!` and parentheses. A
//!   comparison is `FIELD OP VALUE` with `== != < <= > >=` on numbers (a
//!   side may be arithmetic: `+ - * / % << >> & | ^`), `== != =~ !~` on
//!   strings (`=~` a regular expression search). `COMM` is the task's
//!   command name and `CPU` the recording CPU. A field the event does not
//!   have makes its comparison false, as in libtraceevent.
//!
//! A record is shown when any `-F` lists its event and that filter's
//! expression (if any) holds.

use super::{FieldKind, FieldRef, Schema};
use crate::Endian;
use regex::{Regex, RegexBuilder};
use std::fmt;

/// Why a filter does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The filter as given.
    pub filter: String,
    /// What is wrong, and where.
    pub why: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad filter {:?}: {}", self.filter, self.why)
    }
}

impl std::error::Error for FilterError {}

/// Every `-F` of a report.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    specs: Vec<Spec>,
}

#[derive(Debug, Clone)]
struct Spec {
    text: String,
    events: Vec<(Option<Regex>, Regex)>,
    expr: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Num, CmpOp, Num),
    StrCmp(String, StrOp, String),
    /// An arithmetic expression used as a condition: true when non-zero.
    Truth(Num),
}

#[derive(Debug, Clone, PartialEq)]
enum Num {
    Field(String),
    Lit(i128),
    Bin(Box<Num>, ArithOp, Box<Num>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrOp {
    Eq,
    Ne,
    Match,
    NoMatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Shl,
    Shr,
    And,
    Or,
    Xor,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(i128),
    Str(String),
    Op(&'static str),
    Open,
    Close,
}

const OPS: [&str; 21] = [
    "&&", "||", "==", "!=", "<=", ">=", "=~", "!~", "<<", ">>", "<", ">", "!", "+", "-", "*", "/", "%", "&",
    "|", "^",
];

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == b')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let end = s[i + 1..]
                .find(c as char)
                .ok_or_else(|| format!("unterminated string at byte {i}"))?;
            out.push(Tok::Str(s[i + 1..i + 1 + end].to_owned()));
            i += end + 2;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let t = &s[start..i];
            let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => i128::from_str_radix(h, 16),
                None if t.len() > 1 && t.starts_with('0') => i128::from_str_radix(&t[1..], 8),
                None => t.parse(),
            };
            out.push(Tok::Num(v.map_err(|_| format!("bad number {t:?}"))?));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].to_owned()));
        } else {
            let op = OPS.iter().find(|op| s[i..].starts_with(**op)).ok_or_else(|| {
                format!(
                    "unexpected {:?} at byte {i}",
                    &s[i..].chars().next().unwrap_or(' ')
                )
            })?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Deep enough for any real filter, shallow enough that a hostile one
/// cannot overflow the stack.
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.peek()
            == Some(&Tok::Op(match OPS.iter().find(|o| **o == op) {
                Some(o) => o,
                None => return false,
            }))
        {
            self.pos += 1;
            return true;
        }
        false
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let mut left = self.and()?;
        while self.eat_op("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.eat_op("&&") {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat_op("!") {
            self.enter()?;
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        // `(` opens either a condition or an arithmetic term; try the
        // condition first and fall back.
        if self.peek() == Some(&Tok::Open) {
            let save = self.pos;
            self.pos += 1;
            if let Ok(e) = self.or() {
                if self.peek() == Some(&Tok::Close) {
                    self.pos += 1;
                    if !matches!(self.peek(), Some(Tok::Op(op)) if cmp_op(op).is_some() || arith_op(op).is_some())
                    {
                        return Ok(e);
                    }
                }
            }
            self.pos = save;
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        if let (Some(Tok::Ident(name)), Some(Tok::Op(op)), Some(Tok::Str(_))) = (
            self.toks.get(self.pos).cloned(),
            self.toks.get(self.pos + 1).cloned(),
            self.toks.get(self.pos + 2),
        ) {
            if let Some(sop) = str_op(op) {
                self.pos += 2;
                let Some(Tok::Str(s)) = self.next() else {
                    unreachable!("checked above")
                };
                if matches!(sop, StrOp::Match | StrOp::NoMatch) {
                    Regex::new(&s).map_err(|e| format!("bad regular expression {s:?}: {}", one_line(&e)))?;
                }
                return Ok(Expr::StrCmp(name, sop, s));
            }
        }
        let left = self.arith(0)?;
        match self.peek() {
            Some(Tok::Op(op)) if cmp_op(op).is_some() => {
                let op = cmp_op(op).unwrap_or(CmpOp::Eq);
                self.pos += 1;
                let right = self.arith(0)?;
                Ok(Expr::Cmp(left, op, right))
            }
            Some(Tok::Op(op)) if str_op(op).is_some() => Err(format!("{op} needs a quoted string")),
            _ => Ok(Expr::Truth(left)),
        }
    }

    /// Arithmetic by C precedence levels, lowest first.
    fn arith(&mut self, level: usize) -> Result<Num, String> {
        const LEVELS: [&[&str]; 6] = [
            &["|"],
            &["^"],
            &["&"],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.atom();
        }
        let mut left = self.arith(level + 1)?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(op)) if LEVELS[level].contains(op) => *op,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.arith(level + 1)?;
            left = Num::Bin(
                Box::new(left),
                arith_op(op).unwrap_or(ArithOp::Add),
                Box::new(right),
            );
        }
    }

    fn atom(&mut self) -> Result<Num, String> {
        match self.next() {
            Some(Tok::Ident(n)) => Ok(Num::Field(n)),
            Some(Tok::Num(v)) => Ok(Num::Lit(v)),
            Some(Tok::Op("-")) => match self.next() {
                Some(Tok::Num(v)) => Ok(Num::Lit(-v)),
                _ => Err("'-' must precede a number".into()),
            },
            Some(Tok::Open) => {
                self.enter()?;
                let n = self.arith(0)?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::Close) => Ok(n),
                    _ => Err("missing ')'".into()),
                }
            }
            Some(t) => Err(format!("unexpected {}", describe(&t))),
            None => Err("the expression ends too early".into()),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("name {s:?}"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Op(o) => format!("{o:?}"),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
    }
}

fn cmp_op(op: &str) -> Option<CmpOp> {
    Some(match op {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        _ => return None,
    })
}

fn str_op(op: &str) -> Option<StrOp> {
    Some(match op {
        "==" => StrOp::Eq,
        "!=" => StrOp::Ne,
        "=~" => StrOp::Match,
        "!~" => StrOp::NoMatch,
        _ => return None,
    })
}

fn arith_op(op: &str) -> Option<ArithOp> {
    Some(match op {
        "+" => ArithOp::Add,
        "-" => ArithOp::Sub,
        "*" => ArithOp::Mul,
        "/" => ArithOp::Div,
        "%" => ArithOp::Mod,
        "<<" => ArithOp::Shl,
        ">>" => ArithOp::Shr,
        "&" => ArithOp::And,
        "|" => ArithOp::Or,
        "^" => ArithOp::Xor,
        _ => return None,
    })
}

fn anchored(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(&format!("^(?:{})$", pattern.trim()))
        .case_insensitive(true)
        .build()
        .map_err(|e| format!("bad event pattern {pattern:?}: {}", one_line(&e)))
}

/// The regex crate explains errors over several lines with a caret; the
/// last line says what is wrong.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .last()
        .unwrap_or("")
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

fn parse_spec(text: &str) -> Result<Spec, String> {
    let (events, expr) = match text.split_once(':') {
        Some((e, x)) => (e, Some(x)),
        None => (text, None),
    };
    let mut list = Vec::new();
    for one in events.split(',') {
        let one = one.trim();
        if one.is_empty() {
            return Err("an empty event name".into());
        }
        list.push(match one.split_once('/') {
            Some((sys, ev)) => (Some(anchored(sys)?), anchored(ev)?),
            None => (None, anchored(one)?),
        });
    }
    let expr = match expr.map(str::trim).filter(|x| !x.is_empty()) {
        None => None,
        Some(x) => {
            let mut p = Parser {
                toks: tokenize(x)?,
                pos: 0,
                depth: 0,
            };
            let e = p.or()?;
            if let Some(t) = p.peek() {
                return Err(format!("unexpected {} after the expression", describe(t)));
            }
            Some(e)
        }
    };
    Ok(Spec {
        text: text.to_owned(),
        events: list,
        expr,
    })
}

impl ReportFilter {
    /// Parses every `-F`.
    pub fn parse(filters: &[String]) -> Result<ReportFilter, FilterError> {
        let specs = filters
            .iter()
            .map(|f| {
                parse_spec(f).map_err(|why| FilterError {
                    filter: f.clone(),
                    why,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ReportFilter { specs })
    }

    /// Whether no `-F` was given (everything is shown).
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The `-F` texts whose event list matches none of `schemas`
    /// (trace-cmd refuses those: "Failed to create event filter").
    pub fn unmatched<'a>(&'a self, schemas: &[&Schema]) -> Vec<&'a str> {
        self.specs
            .iter()
            .filter(|s| !schemas.iter().any(|sc| spec_lists(s, sc)))
            .map(|s| s.text.as_str())
            .collect()
    }

    /// The test for records of `schema`, with its fields resolved once.
    pub fn for_event(&self, schema: &Schema) -> EventTest {
        if self.specs.is_empty() {
            return EventTest::All;
        }
        let mut any = Vec::new();
        for s in self.specs.iter().filter(|s| spec_lists(s, schema)) {
            match &s.expr {
                None => return EventTest::All,
                Some(e) => any.push(compile(e, schema)),
            }
        }
        if any.is_empty() {
            EventTest::None
        } else {
            EventTest::Any(any)
        }
    }
}

fn spec_lists(s: &Spec, schema: &Schema) -> bool {
    s.events.iter().any(|(sys, ev)| match sys {
        Some(sys) => sys.is_match(&schema.system) && ev.is_match(&schema.name),
        None => ev.is_match(&schema.system) || ev.is_match(&schema.name),
    })
}

/// What a record of one event type needs to be shown.
#[derive(Debug, Clone)]
pub enum EventTest {
    /// Shown whatever it holds.
    All,
    /// Never shown: no `-F` lists this event.
    None,
    /// Shown when any of these holds.
    Any(Vec<Compiled>),
}

/// A record's context beyond its bytes.
pub struct RecordContext<'a> {
    /// The record's payload (from `common_type`).
    pub data: &'a [u8],
    /// Byte order of the recording machine.
    pub endian: Endian,
    /// The CPU it was recorded on.
    pub cpu: u32,
    /// The command name of its pid, when known.
    pub comm: Option<&'a str>,
}

impl EventTest {
    /// Whether the record passes.
    pub fn matches(&self, r: &RecordContext<'_>) -> bool {
        match self {
            EventTest::All => true,
            EventTest::None => false,
            EventTest::Any(list) => list.iter().any(|c| c.eval(r)),
        }
    }
}

/// An expression with its field names resolved against one schema.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// Constant.
    Bool(bool),
    /// Either side.
    Or(Box<Compiled>, Box<Compiled>),
    /// Both sides.
    And(Box<Compiled>, Box<Compiled>),
    /// Negation.
    Not(Box<Compiled>),
    /// Numeric comparison.
    Cmp(CNum, CompiledCmp, CNum),
    /// String comparison.
    Str(CStr, CompiledStr),
    /// Non-zero arithmetic.
    Truth(CNum),
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy)]
pub struct CompiledCmp(CmpOp);

/// A string test: equality or a regular expression.
#[derive(Debug, Clone)]
pub enum CompiledStr {
    /// `==` / `!=` (the bool says negated).
    Eq(String, bool),
    /// `=~` / `!~`.
    Re(Regex, bool),
}

/// A resolved numeric operand.
#[derive(Debug, Clone)]
pub enum CNum {
    /// A record field.
    Field(FieldRef),
    /// The recording CPU.
    Cpu,
    /// A number.
    Lit(i128),
    /// Arithmetic (the operator is private).
    Bin(Box<CNum>, CompiledArith, Box<CNum>),
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy)]
pub struct CompiledArith(ArithOp);

/// A resolved string operand.
#[derive(Debug, Clone)]
pub enum CStr {
    /// A string field.
    Field(FieldRef),
    /// The task's command name.
    Comm,
}

fn compile_num(n: &Num, schema: &Schema) -> Option<CNum> {
    Some(match n {
        Num::Lit(v) => CNum::Lit(*v),
        Num::Field(name) if name == "CPU" => CNum::Cpu,
        Num::Field(name) => CNum::Field(schema.field(name)?),
        Num::Bin(a, op, b) => CNum::Bin(
            Box::new(compile_num(a, schema)?),
            CompiledArith(*op),
            Box::new(compile_num(b, schema)?),
        ),
    })
}

fn compile(e: &Expr, schema: &Schema) -> Compiled {
    match e {
        Expr::Or(a, b) => Compiled::Or(Box::new(compile(a, schema)), Box::new(compile(b, schema))),
        Expr::And(a, b) => Compiled::And(Box::new(compile(a, schema)), Box::new(compile(b, schema))),
        Expr::Not(a) => Compiled::Not(Box::new(compile(a, schema))),
        Expr::Cmp(a, op, b) => match (compile_num(a, schema), compile_num(b, schema)) {
            (Some(a), Some(b)) => Compiled::Cmp(a, CompiledCmp(*op), b),
            // libtraceevent: a field the event lacks makes the test false.
            _ => Compiled::Bool(false),
        },
        Expr::Truth(a) => compile_num(a, schema).map_or(Compiled::Bool(false), Compiled::Truth),
        Expr::StrCmp(name, op, s) => {
            let field = if name == "COMM" {
                Some(CStr::Comm)
            } else {
                schema.field(name).map(CStr::Field)
            };
            let Some(field) = field else {
                return Compiled::Bool(false);
            };
            let test = match op {
                StrOp::Eq => CompiledStr::Eq(s.clone(), false),
                StrOp::Ne => CompiledStr::Eq(s.clone(), true),
                StrOp::Match | StrOp::NoMatch => match Regex::new(s) {
                    Ok(re) => CompiledStr::Re(re, *op == StrOp::NoMatch),
                    Err(_) => return Compiled::Bool(false),
                },
            };
            Compiled::Str(field, test)
        }
    }
}

impl CNum {
    fn eval(&self, r: &RecordContext<'_>) -> Option<i128> {
        Some(match self {
            CNum::Lit(v) => *v,
            CNum::Cpu => i128::from(r.cpu),
            CNum::Field(f) => match f.kind() {
                FieldKind::Int | FieldKind::Pointer if f.is_signed() => i128::from(f.i64(r.data, r.endian)?),
                _ => i128::from(f.u64(r.data, r.endian)?),
            },
            CNum::Bin(a, CompiledArith(op), b) => {
                let (a, b) = (a.eval(r)?, b.eval(r)?);
                match op {
                    ArithOp::Add => a.wrapping_add(b),
                    ArithOp::Sub => a.wrapping_sub(b),
                    ArithOp::Mul => a.wrapping_mul(b),
                    ArithOp::Div => a.checked_div(b)?,
                    ArithOp::Mod => a.checked_rem(b)?,
                    ArithOp::Shl => a.checked_shl(u32::try_from(b).ok()?)?,
                    ArithOp::Shr => a.checked_shr(u32::try_from(b).ok()?)?,
                    ArithOp::And => a & b,
                    ArithOp::Or => a | b,
                    ArithOp::Xor => a ^ b,
                }
            }
        })
    }
}

impl Compiled {
    fn eval(&self, r: &RecordContext<'_>) -> bool {
        match self {
            Compiled::Bool(b) => *b,
            Compiled::Or(a, b) => a.eval(r) || b.eval(r),
            Compiled::And(a, b) => a.eval(r) && b.eval(r),
            Compiled::Not(a) => !a.eval(r),
            Compiled::Truth(n) => n.eval(r).is_some_and(|v| v != 0),
            Compiled::Cmp(a, CompiledCmp(op), b) => match (a.eval(r), b.eval(r)) {
                (Some(a), Some(b)) => match op {
                    CmpOp::Eq => a == b,
                    CmpOp::Ne => a != b,
                    CmpOp::Lt => a < b,
                    CmpOp::Le => a <= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Ge => a >= b,
                },
                _ => false,
            },
            Compiled::Str(field, test) => {
                let owned;
                let text: &str = match field {
                    CStr::Comm => r.comm.unwrap_or(""),
                    CStr::Field(f) => {
                        owned = f.str(r.data, r.endian);
                        owned.as_deref().unwrap_or("")
                    }
                };
                match test {
                    CompiledStr::Eq(s, neg) => (text == s) != *neg,
                    CompiledStr::Re(re, neg) => re.is_match(text) != *neg,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SWITCH: &str = "name: sched_switch\nID: 7\nformat:\n\
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
        \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
        \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\n\
        print fmt: \"prev_comm=%s prev_pid=%d\", REC->prev_comm, REC->prev_pid\n";

    fn record(comm: &str, pid: i32) -> Vec<u8> {
        let mut r = vec![0u8; 28];
        r[0..2].copy_from_slice(&7u16.to_le_bytes());
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        r[8..8 + comm.len()].copy_from_slice(comm.as_bytes());
        r[24..28].copy_from_slice(&pid.to_le_bytes());
        r
    }

    fn shown(filters: &[&str], comm: &str, pid: i32, cpu: u32) -> bool {
        let schema = Schema::parse("sched", SWITCH).unwrap();
        let f = ReportFilter::parse(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let data = record(comm, pid);
        f.for_event(&schema).matches(&RecordContext {
            data: &data,
            endian: Endian::Little,
            cpu,
            comm: Some("bash"),
        })
    }

    #[test]
    fn events_and_expressions() {
        assert!(shown(&[], "x", 1, 0));
        assert!(shown(&["sched_switch"], "x", 1, 0));
        assert!(shown(&["sched"], "x", 1, 0), "a bare name matches the system too");
        assert!(shown(&["SCHED/sched_.*"], "x", 1, 0));
        assert!(!shown(&["sched_wakeup"], "x", 1, 0));
        assert!(shown(&["sched_switch: prev_pid == 42"], "x", 42, 0));
        assert!(!shown(&["sched_switch: prev_pid != 42"], "x", 42, 0));
        assert!(shown(
            &["sched_switch: prev_pid > 40 && prev_pid < 50"],
            "x",
            42,
            0
        ));
        assert!(shown(
            &["sched_switch: (prev_pid & 2) && !(prev_pid == 1)"],
            "x",
            42,
            0
        ));
        assert!(shown(
            &["sched_switch: prev_pid + 1 == 43 || prev_pid == 0"],
            "x",
            42,
            0
        ));
        assert!(shown(&["sched_switch: prev_comm == \"cat\""], "cat", 5, 0));
        assert!(shown(&["sched_switch: prev_comm =~ \"^ca\""], "cat", 5, 0));
        assert!(!shown(&["sched_switch: prev_comm !~ 'a'"], "cat", 5, 0));
        assert!(shown(&["sched_switch: COMM == 'bash' && CPU == 1"], "cat", 5, 1));
        assert!(!shown(&["sched_switch: no_such_field == 1"], "cat", 5, 1));
        assert!(shown(
            &["sched_switch: no_such_field == 1", "sched_switch"],
            "cat",
            5,
            1
        ));
        assert!(shown(&["sched_switch: prev_pid == -1"], "cat", -1, 1));
    }

    #[test]
    fn errors_say_what() {
        for bad in [
            "sched_switch: prev_pid ==",
            "sched_switch: (prev_pid == 1",
            "sched_switch: prev_comm =~ 5",
            "sched_switch: prev_comm =~ '('",
            "sched_(: x == 1",
            ",sched: x",
            "sched: 'open",
            "sched: x == 1 )",
        ] {
            let e = ReportFilter::parse(&[bad.to_string()]).unwrap_err();
            assert!(!e.why.is_empty(), "{bad}");
        }
        let deep = format!("s: {}x == 1{}", "(".repeat(500), ")".repeat(500));
        assert!(ReportFilter::parse(&[deep]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_filters_never_panic(text in ".{0,80}", pid in any::<i32>(), cpu in 0u32..4) {
            if let Ok(f) = ReportFilter::parse(&[text]) {
                let schema = Schema::parse("sched", SWITCH).unwrap();
                let data = record("x", pid);
                let _ = f.for_event(&schema).matches(&RecordContext {
                    data: &data, endian: Endian::Little, cpu, comm: None,
                });
            }
        }

        #[test]
        fn arbitrary_expression_tokens_never_panic(parts in proptest::collection::vec(
            prop_oneof![Just("prev_pid"), Just("=="), Just("("), Just(")"), Just("&&"), Just("||"),
                        Just("!"), Just("1"), Just("'a'"), Just("=~"), Just("-"), Just("<<"), Just("COMM")],
            0..20)) {
            let text = format!("sched_switch: {}", parts.join(" "));
            if let Ok(f) = ReportFilter::parse(&[text]) {
                let schema = Schema::parse("sched", SWITCH).unwrap();
                let data = record("x", 3);
                let _ = f.for_event(&schema).matches(&RecordContext {
                    data: &data, endian: Endian::Little, cpu: 0, comm: None,
                });
            }
        }
    }
}
