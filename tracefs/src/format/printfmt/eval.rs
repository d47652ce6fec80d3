//! Evaluating parsed print fmt arguments against one record, with
//! libtraceevent's semantics (src/event-parse.c `eval_num_arg`,
//! `print_str_arg`, `print_arg_number`, `print_arg_pointer`): numbers are
//! read unsigned and computed in 64 bits; casts only mask; `%s` of a
//! long-sized scalar field prints it in hex.

use super::parser::{Conv, ConvKind, Expr, Piece};
use super::printf::{format_int, format_str, push_hex};
use super::symbols::Symbols;
use crate::format::{Field, FieldKind};
use crate::Endian;

/// What a record is evaluated against.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Byte order of the record.
    pub endian: Endian,
    /// The traced kernel's `sizeof(long)`.
    pub long_size: usize,
    /// Kernel symbols, for `%pS` and friends.
    pub syms: &'a Symbols,
}

/// An expression this evaluator does not handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

type R<T> = Result<T, Unsupported>;

pub(crate) struct Rec<'a> {
    pub ctx: Ctx<'a>,
    pub data: &'a [u8],
    pub fields: &'a [Field],
}

impl Rec<'_> {
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        // Field lists are short; comparing lengths first skips most memcmps.
        self.fields
            .iter()
            .find(|f| f.name.len() == name.len() && f.name == name)
    }

    fn read(&self, off: usize, size: usize) -> u64 {
        match size {
            1 | 2 | 4 | 8 => self.ctx.endian.uint(self.data, off, size).unwrap_or(0),
            _ => 0,
        }
    }

    /// (offset, len) of a dynamic array field.
    fn dyn_loc(&self, f: &Field) -> Option<(usize, usize)> {
        let word = self.ctx.endian.u32(self.data, f.offset)?;
        let mut off = (word & 0xffff) as usize;
        if let FieldKind::DynamicArray { relative: true, .. } = f.kind {
            off = off.saturating_add(f.offset).saturating_add(f.size);
        }
        Some((off, (word >> 16) as usize))
    }

    fn elem_size(&self, f: &Field) -> usize {
        match f.kind {
            FieldKind::Array { elem_size, .. } | FieldKind::DynamicArray { elem_size, .. } => elem_size,
            FieldKind::CharArray { .. } => 1,
            _ => f.size,
        }
    }

    fn is_array(f: &Field) -> bool {
        matches!(
            f.kind,
            FieldKind::Array { .. } | FieldKind::CharArray { .. } | FieldKind::DynamicArray { .. }
        )
    }

    pub(crate) fn num(&self, e: &Expr) -> R<u64> {
        Ok(match e {
            Expr::Num(v) => *v,
            Expr::Str(s) => strtoull(s),
            Expr::Bstr(_) => 0,
            Expr::Field(n) => {
                let f = self.field(n).ok_or(Unsupported)?;
                self.read(f.offset, f.size)
            }
            Expr::Unary(op, x) => {
                let v = self.num(x)?;
                match *op {
                    "!" => u64::from(v == 0),
                    "~" => !v,
                    "-" => v.wrapping_neg(),
                    _ => v,
                }
            }
            Expr::Binary(op, a, b) => {
                let (l, r) = (self.num(a)?, self.num(b)?);
                match *op {
                    "||" => u64::from(l != 0 || r != 0),
                    "&&" => u64::from(l != 0 && r != 0),
                    "|" => l | r,
                    "^" => l ^ r,
                    "&" => l & r,
                    "==" => u64::from(l == r),
                    "!=" => u64::from(l != r),
                    "<" => u64::from(l < r),
                    ">" => u64::from(l > r),
                    "<=" => u64::from(l <= r),
                    ">=" => u64::from(l >= r),
                    "<<" => l.checked_shl(r as u32).unwrap_or(0),
                    ">>" => l.checked_shr(r as u32).unwrap_or(0),
                    "+" => l.wrapping_add(r),
                    "-" => l.wrapping_sub(r),
                    "*" => l.wrapping_mul(r),
                    "/" => l.checked_div(r).ok_or(Unsupported)?,
                    "%" => l.checked_rem(r).ok_or(Unsupported)?,
                    _ => return Err(Unsupported),
                }
            }
            Expr::Cond(c, a, b) => {
                if self.num(c)? != 0 {
                    self.num(a)?
                } else {
                    self.num(b)?
                }
            }
            Expr::Cast(ty, x) => eval_type(self.num(x)?, ty, false),
            Expr::Index(base, idx) => {
                let i = self.num(idx)? as usize;
                let mut b = &**base;
                let mut cast = None;
                while let Expr::Cast(t, inner) = b {
                    cast.get_or_insert(t);
                    b = inner;
                }
                let (off, size) = match b {
                    Expr::Field(n) => {
                        let f = self.field(n).ok_or(Unsupported)?;
                        let es = self.elem_size(f);
                        (i.saturating_mul(es).saturating_add(f.offset), es)
                    }
                    Expr::DynArray(n) => {
                        let f = self.field(n).ok_or(Unsupported)?;
                        let (o, _) = self.dyn_loc(f).ok_or(Unsupported)?;
                        let es = match self.elem_size(f) {
                            0 => self.ctx.long_size,
                            s => s,
                        };
                        (o.saturating_add(i), es)
                    }
                    _ => return Err(Unsupported),
                };
                let v = self.read(off, size);
                match cast {
                    Some(t) => eval_type(v, t, true),
                    None => v,
                }
            }
            Expr::DynArrayLen(n) => {
                let f = self.field(n).ok_or(Unsupported)?;
                self.dyn_loc(f).map_or(0, |(_, l)| l as u64)
            }
            Expr::Flags(..) | Expr::Symbolic(..) | Expr::GetStr(_) | Expr::Hex(..) | Expr::IntArray(..) => 0,
            Expr::DynArray(_) => return Err(Unsupported),
        })
    }

    fn flag_value(&self, e: &Expr) -> i64 {
        // libtraceevent `eval_flag`: numbers, a few known names, else -1.
        match e {
            Expr::Str(s) if s.starts_with(|c: char| c.is_ascii_digit()) => strtoull(s) as i64,
            Expr::Str(s) => softirq_value(s).map_or(-1, |v| v as i64),
            other => self.num(other).map_or(-1, |v| v as i64),
        }
    }

    pub(crate) fn string(&self, out: &mut String, spec: &str, star: Option<i64>, e: &Expr) -> R<()> {
        match e {
            Expr::Str(s) | Expr::Bstr(s) => format_str(out, spec, s, star),
            Expr::Num(v) => format_str(out, spec, &v.to_string(), star),
            Expr::Field(n) => {
                let f = self.field(n).ok_or(Unsupported)?;
                if !Self::is_array(f) && f.size == self.ctx.long_size {
                    let v = self.read(f.offset, f.size);
                    match self.ctx.syms.printk(v) {
                        Some(p) => out.push_str(p),
                        None => push_hex(out, v),
                    }
                } else {
                    let len = if f.size == 0 {
                        self.data.len().saturating_sub(f.offset)
                    } else {
                        f.size
                    };
                    let b = self
                        .data
                        .get(f.offset..f.offset.saturating_add(len))
                        .ok_or(Unsupported)?;
                    format_str(out, spec, &cstr(b), star);
                }
            }
            Expr::Flags(x, delim, list) => {
                let mut val = self.num(x)?;
                let mut printed = false;
                for (v, s) in list {
                    let fval = self.flag_value(v);
                    if val == 0 && fval < 0 {
                        format_str(out, spec, s, star);
                        break;
                    }
                    let fv = fval as u64;
                    if fval > 0 && val & fv == fv {
                        if printed {
                            out.push_str(delim);
                        }
                        format_str(out, spec, s, star);
                        printed = true;
                        val &= !fv;
                    }
                }
                if val != 0 {
                    if printed {
                        out.push_str(delim);
                    }
                    out.push_str(&format!("0x{val:x}"));
                }
            }
            Expr::Symbolic(x, list) => {
                let val = self.num(x)?;
                match list.iter().find(|(v, _)| self.flag_value(v) as u64 == val) {
                    Some((_, s)) => format_str(out, spec, s, star),
                    None => out.push_str(&format!("0x{val:x}")),
                }
            }
            Expr::GetStr(n) => {
                let f = self.field(n).ok_or(Unsupported)?;
                let (off, len) = self.dyn_loc(f).ok_or(Unsupported)?;
                if len > 0 {
                    let b = self.data.get(off..).ok_or(Unsupported)?;
                    format_str(out, spec, &cstr(b), star);
                }
            }
            Expr::Hex(p, len, spaced) => {
                let bytes = self.pointed(p)?;
                let n = self.num(len)? as usize;
                let b = bytes.get(..n).ok_or(Unsupported)?;
                for (i, x) in b.iter().enumerate() {
                    if i > 0 && *spaced {
                        out.push(' ');
                    }
                    out.push_str(&format!("{x:02x}"));
                }
            }
            Expr::IntArray(p, count, el) => {
                let bytes = self.pointed(p)?;
                let (n, es) = (self.num(count)? as usize, self.num(el)? as usize);
                if !matches!(es, 1 | 2 | 4 | 8) {
                    return Err(Unsupported);
                }
                out.push('{');
                for i in 0..n {
                    if i > 0 {
                        out.push(',');
                    }
                    let v = self
                        .ctx
                        .endian
                        .uint(bytes, i.saturating_mul(es), es)
                        .ok_or(Unsupported)?;
                    out.push_str(&format!("0x{v:x}"));
                }
                out.push('}');
            }
            Expr::Cond(c, a, b) => {
                let x = if self.num(c)? != 0 { a } else { b };
                self.string(out, spec, star, x)?;
            }
            Expr::Cast(_, x) if matches!(**x, Expr::Str(_)) => self.string(out, spec, star, x)?,
            Expr::Unary(..) | Expr::Binary(..) | Expr::Cast(..) | Expr::Index(..) => {}
            _ => return Err(Unsupported),
        }
        Ok(())
    }

    fn pointed(&self, p: &Expr) -> R<&[u8]> {
        match p {
            Expr::DynArray(n) => {
                let f = self.field(n).ok_or(Unsupported)?;
                let (off, _) = self.dyn_loc(f).ok_or(Unsupported)?;
                self.data.get(off..).ok_or(Unsupported)
            }
            Expr::Field(n) => {
                let f = self.field(n).ok_or(Unsupported)?;
                self.data.get(f.offset..).ok_or(Unsupported)
            }
            Expr::Cast(_, x) => self.pointed(x),
            _ => Err(Unsupported),
        }
    }

    fn conv(&self, out: &mut String, c: &Conv) -> R<()> {
        let star = match &c.star {
            Some(e) => Some(self.num(e)? as i32 as i64),
            None => None,
        };
        if let (ConvKind::Pointer, Expr::Bstr(s)) = (c.kind, &c.arg) {
            out.push_str(s);
            return Ok(());
        }
        match c.kind {
            ConvKind::Digit => {
                let v = self.num(&c.arg)?;
                let bits = match c.ls {
                    -2 => 8,
                    -1 => 16,
                    0 => 32,
                    _ => 64,
                };
                format_int(out, &c.spec, v, bits, star);
            }
            ConvKind::String => self.string(out, &c.spec, star, &c.arg)?,
            ConvKind::Pointer => {
                let v = self.num(&c.arg)?;
                let ext = c.spec.as_bytes().last().copied().unwrap_or(b'p');
                match ext {
                    b'S' | b's' | b'F' | b'f' => match self.ctx.syms.lookup(v) {
                        Some((name, addr)) => {
                            out.push_str(name);
                            if ext == b'S' || ext == b'F' {
                                out.push_str(&format!("+0x{:x}", v.wrapping_sub(addr)));
                            }
                        }
                        None if self.ctx.long_size == 4 => out.push_str(&format!("0x{:x}", v as u32)),
                        None => out.push_str(&format!("0x{v:x}")),
                    },
                    _ if v == 0 => out.push_str("(nil)"),
                    _ => out.push_str(&format!("0x{v:x}")),
                }
            }
        }
        Ok(())
    }

    /// The arguments of an ftrace `bprint` record: the ip, then one value
    /// per conversion of `fmt` read from `buf` (libtraceevent
    /// `make_bprint_args`; values are 4-byte aligned within the record,
    /// which is itself 4-byte aligned in its page).
    pub(crate) fn bprint_args(&self, fmt: &str) -> R<Vec<Expr>> {
        let ip = self.field("ip").ok_or(Unsupported)?;
        let buf = self.field("buf").ok_or(Unsupported)?;
        let mut args = vec![Expr::Num(self.read(ip.offset, ip.size))];
        let b = fmt.as_bytes();
        let mut p = 5.min(b.len());
        let mut bp = buf.offset;
        while bp < self.data.len() && p < b.len() {
            if b[p] != b'%' {
                p += 1;
                continue;
            }
            let mut ls = 0i32;
            loop {
                p += 1;
                let Some(&c) = b.get(p) else { break };
                let mut numeric = false;
                let mut string = false;
                match c {
                    b'l' => {
                        ls += 1;
                        continue;
                    }
                    b'L' => {
                        ls = 2;
                        continue;
                    }
                    b'0'..=b'9' | b'.' | b'#' | b'+' => continue,
                    b'z' | b'Z' => {
                        ls = 1;
                        continue;
                    }
                    b'p' => {
                        ls = 1;
                        if b.get(p + 1).is_some_and(|c| c.is_ascii_alphanumeric()) {
                            p += 1;
                            let special = match b[p] {
                                b's' | b'S' | b'x' => false,
                                b'f' | b'F' => b.get(p + 1) == Some(&b'w'),
                                _ => true,
                            };
                            if special
                                && self
                                    .data
                                    .get(bp)
                                    .is_some_and(|c| c.is_ascii_graphic() || *c == b' ')
                            {
                                string = true;
                            }
                        }
                        numeric = !string;
                    }
                    b'd' | b'u' | b'i' | b'x' | b'X' | b'o' => numeric = true,
                    b'*' => {
                        bp = (bp + 3) & !3;
                        args.push(Expr::Num(self.read(bp, 4)));
                        bp += 4;
                        continue;
                    }
                    b's' => string = true,
                    _ => {}
                }
                if numeric {
                    let vsize = match ls {
                        0 => 4,
                        1 => self.ctx.long_size,
                        2 => 8,
                        n => n.max(0) as usize,
                    };
                    bp = (bp + 3) & !3;
                    args.push(Expr::Num(self.read(bp, vsize)));
                    bp = bp.saturating_add(vsize);
                } else if string {
                    let rest = self.data.get(bp..).unwrap_or(&[]);
                    let n = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                    args.push(Expr::Bstr(String::from_utf8_lossy(&rest[..n]).into_owned()));
                    bp += n + 1;
                }
                break;
            }
            p += 1;
        }
        Ok(args)
    }

    pub(crate) fn render(&self, out: &mut String, pieces: &[Piece]) -> R<()> {
        for p in pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Conv(c) => self.conv(out, c)?,
            }
        }
        Ok(())
    }
}

/// `strtoull(s, NULL, 0)` of a string atom (0 for words).
fn strtoull(s: &str) -> u64 {
    let s = s.trim();
    let (radix, d) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (16, h),
        None if s.len() > 1 && s.starts_with('0') => (8, &s[1..]),
        None => (10, s),
    };
    let end = d.find(|c: char| !c.is_digit(radix)).unwrap_or(d.len());
    u64::from_str_radix(&d[..end], radix).unwrap_or(0)
}

fn cstr(b: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end])
}

fn softirq_value(s: &str) -> Option<u64> {
    const NAMES: [&str; 10] = [
        "HI_SOFTIRQ",
        "TIMER_SOFTIRQ",
        "NET_TX_SOFTIRQ",
        "NET_RX_SOFTIRQ",
        "BLOCK_SOFTIRQ",
        "IRQ_POLL_SOFTIRQ",
        "TASKLET_SOFTIRQ",
        "SCHED_SOFTIRQ",
        "HRTIMER_SOFTIRQ",
        "RCU_SOFTIRQ",
    ];
    match s {
        "HRTIMER_NORESTART" => Some(0),
        "HRTIMER_RESTART" => Some(1),
        _ => NAMES.iter().position(|n| *n == s).map(|i| i as u64),
    }
}

/// libtraceevent `eval_type_str`: casts mask to the type's width; signed
/// types other than s8/s16/s32 are not sign-extended.
fn eval_type(v: u64, ty: &str, pointer: bool) -> u64 {
    let ty = ty.trim();
    let ty = if pointer {
        match ty.strip_suffix('*') {
            Some(t) => t.trim_end(),
            None => return v,
        }
    } else {
        ty
    };
    if ty.ends_with('*') || ty.starts_with("struct") {
        return v;
    }
    match ty {
        "u8" | "s8" => v & 0xff,
        "u16" | "s16" => v & 0xffff,
        "u32" | "s32" => v & 0xffff_ffff,
        _ => match ty.strip_prefix("unsigned ").unwrap_or(ty) {
            "char" => v & 0xff,
            "short" => v & 0xffff,
            "int" => v & 0xffff_ffff,
            _ => v,
        },
    }
}
