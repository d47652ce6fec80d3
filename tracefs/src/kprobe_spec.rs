//! Kprobe definitions as a user writes them (perf-tools kprobe syntax),
//! parsed and checked before anything reaches `kprobe_events`:
//!
//! `p[:[GRP/]EVENT] [MOD:]SYM[+OFFS] [ARGS]`,
//! `r[MAXACTIVE][:[GRP/]EVENT] [MOD:]SYM[+0] [ARGS]`,
//! each ARG `[NAME=]FETCH[:TYPE]` with FETCH one of `%REG`, `@ADDR`,
//! `@SYM[+|-OFFS]`, `$stackN`, `$stack`, `$retval`, `$comm`, `$argN`,
//! `+|-[u]OFFS(FETCH)` and TYPE one of `u8..u64`, `s8..s64`, `x8..x64`,
//! `char`, `string`, `ustring`, `symbol`, `symstr`, `TYPE[N]`.
//!
//! What this kernel accepts is read from the tracefs `README` (never
//! inferred from the kernel version): [`KprobeFeatures`].

use std::fmt;

/// An error in a probe definition: what is wrong, quoting the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

fn err<T>(s: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError(s.into()))
}

/// How a fetch argument gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// `%REG`, a register by its kernel name (`%di`, `%ax`).
    Register(String),
    /// `@0xADDR`, memory at an absolute address.
    Address(u64),
    /// `@SYM[+|-OFFS]`, memory at a symbol.
    Symbol(String, i64),
    /// `$stackN` (`None`: `$stack`, the stack address).
    Stack(Option<u32>),
    /// `$retval`, return probes only.
    Retval,
    /// `$comm`, the current task's name.
    Comm,
    /// `$argN` (N from 1), function entry only.
    Arg(u32),
    /// `+|-[u]OFFS(FETCH)`: memory at FETCH + OFFS (`u`: user memory).
    Deref {
        /// Byte offset added to the inner value.
        offset: i64,
        /// Read user memory (`+u`, 5.5+).
        user: bool,
        /// The address.
        inner: Box<Fetch>,
    },
}

/// The type a fetched value is stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgType {
    /// `u8`..`u64` (`'u'`), `s8`..`s64` (`'s'`), `x8`..`x64` (`'x'`).
    Int(char, u32),
    /// `char`.
    Char,
    /// `string`: a NUL-terminated kernel string.
    String,
    /// `ustring`: a NUL-terminated user string (5.5+).
    Ustring,
    /// `symbol`: an address shown as `sym+off`.
    Symbol,
    /// `symstr`: an address stored as its symbol text (6.2+).
    Symstr,
    /// `TYPE[N]`.
    Array(Box<ArgType>, u32),
}

/// One fetch argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeArg {
    /// Its field name (`None`: the kernel names it `argN`).
    pub name: Option<String>,
    /// Where the value comes from.
    pub fetch: Fetch,
    /// How it is stored (`None`: the kernel's default, `u64`/`x64`).
    pub ty: Option<ArgType>,
}

/// A parsed kprobe definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KprobeSpec {
    /// `r`: a return probe.
    pub ret: bool,
    /// `rN`: how many concurrent instances the return probe may track.
    pub maxactive: Option<u32>,
    /// The event name the user chose.
    pub event: Option<String>,
    /// The module of the symbol (`MOD:SYM`).
    pub module: Option<String>,
    /// The function.
    pub symbol: String,
    /// Byte offset into it.
    pub offset: u64,
    /// Fetch arguments.
    pub args: Vec<ProbeArg>,
}

/// The most MAXACTIVE the kernel takes (KRETPROBE_MAXACTIVE_MAX).
const MAXACTIVE_MAX: u32 = 4096;
/// The most fetch arguments a probe may have (MAX_TRACE_ARGS).
const MAX_ARGS: usize = 128;

fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Kernel symbols may carry `.` suffixes (`foo.isra.0`, `bar.cold`).
fn is_symbol(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
}

fn parse_u64(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_signed(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let v = i64::try_from(parse_u64(digits)?).ok()?;
    Some(if neg { -v } else { v })
}

fn parse_fetch(s: &str, depth: u32) -> Result<Fetch, SpecError> {
    if depth > 8 {
        return err(format!("{s:?}: dereferences nest too deep"));
    }
    if let Some(reg) = s.strip_prefix('%') {
        if reg.is_empty() || !reg.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return err(format!("{s:?} is not a register (e.g. %di, %si, %ax)"));
        }
        return Ok(Fetch::Register(reg.to_owned()));
    }
    if let Some(at) = s.strip_prefix('@') {
        if let Some(a) = parse_u64(at) {
            return Ok(Fetch::Address(a));
        }
        let cut = at.find(['+', '-']).unwrap_or(at.len());
        let (sym, off) = at.split_at(cut);
        if !is_symbol(sym) {
            return err(format!("{s:?}: @ needs an address or a symbol"));
        }
        let off = if off.is_empty() {
            0
        } else {
            parse_signed(off).ok_or_else(|| SpecError(format!("{s:?}: bad offset {off:?}")))?
        };
        return Ok(Fetch::Symbol(sym.to_owned(), off));
    }
    if let Some(var) = s.strip_prefix('$') {
        return match var {
            "retval" => Ok(Fetch::Retval),
            "comm" => Ok(Fetch::Comm),
            "stack" => Ok(Fetch::Stack(None)),
            _ => {
                if let Some(n) = var.strip_prefix("stack") {
                    n.parse()
                        .ok()
                        .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))
                        .map(|n| Fetch::Stack(Some(n)))
                        .ok_or_else(|| SpecError(format!("{s:?}: $stack needs a number")))
                } else if let Some(n) = var.strip_prefix("arg") {
                    match n.parse::<u32>() {
                        Ok(v) if v >= 1 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(Fetch::Arg(v)),
                        _ => err(format!("{s:?}: $arg needs a number from 1")),
                    }
                } else {
                    err(format!(
                        "{s:?} is not a fetch variable ($retval, $comm, $stack, $stackN, $argN)"
                    ))
                }
            }
        };
    }
    if s.starts_with('+') || s.starts_with('-') {
        let open = s
            .find('(')
            .ok_or_else(|| SpecError(format!("{s:?}: a dereference is +OFFS(FETCH)")))?;
        if !s.ends_with(')') {
            return err(format!("{s:?}: unbalanced parentheses"));
        }
        let (sign, digits) = s[..open].split_at(1);
        let (user, digits) = match digits.strip_prefix('u') {
            Some(d) => (true, d),
            None => (false, digits),
        };
        let offset = parse_signed(&format!("{sign}{digits}"))
            .ok_or_else(|| SpecError(format!("{s:?}: bad offset")))?;
        let inner = parse_fetch(&s[open + 1..s.len() - 1], depth + 1)?;
        return Ok(Fetch::Deref {
            offset,
            user,
            inner: Box::new(inner),
        });
    }
    err(format!(
        "{s:?} is not a fetch argument (%REG, @ADDR, @SYM, $retval, $argN, $stackN, $comm, +OFFS(FETCH))"
    ))
}

fn parse_type(s: &str) -> Result<ArgType, SpecError> {
    if let Some(open) = s.find('[') {
        let n = s[open + 1..]
            .strip_suffix(']')
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| SpecError(format!("type {s:?}: an array is TYPE[N] with N 1..64")))?;
        let elem = parse_type(&s[..open])?;
        if matches!(
            elem,
            ArgType::Array(..) | ArgType::String | ArgType::Ustring | ArgType::Symstr
        ) {
            return err(format!("type {s:?}: arrays of {} are not allowed", &s[..open]));
        }
        return Ok(ArgType::Array(Box::new(elem), n));
    }
    Ok(match s {
        "string" => ArgType::String,
        "ustring" => ArgType::Ustring,
        "symbol" => ArgType::Symbol,
        "symstr" => ArgType::Symstr,
        "char" => ArgType::Char,
        _ => {
            let mut c = s.chars();
            let kind = c.next().filter(|k| matches!(k, 'u' | 's' | 'x'));
            let bits = c
                .as_str()
                .parse::<u32>()
                .ok()
                .filter(|b| matches!(b, 8 | 16 | 32 | 64));
            match (kind, bits) {
                (Some(k), Some(b)) => ArgType::Int(k, b),
                _ => {
                    return err(format!(
                        "unknown type {s:?} (u8..u64, s8..s64, x8..x64, char, string, ustring, symbol, symstr, TYPE[N])"
                    ))
                }
            }
        }
    })
}

fn parse_arg(s: &str) -> Result<ProbeArg, SpecError> {
    let (name, rest) = match s.split_once('=') {
        Some((n, r)) => {
            if !is_identifier(n) {
                return err(format!("argument name {n:?} is not a C identifier"));
            }
            if n.starts_with("common_") || n.starts_with("__probe") {
                return err(format!("argument name {n:?} is reserved by the kernel"));
            }
            (Some(n.to_owned()), r)
        }
        None => (None, s),
    };
    // The type follows the last ':' outside parentheses.
    let mut depth = 0i32;
    let mut colon = None;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth == 0 => colon = Some(i),
            _ => {}
        }
    }
    let (fetch, ty) = match colon {
        Some(i) => (&rest[..i], Some(parse_type(&rest[i + 1..])?)),
        None => (rest, None),
    };
    let fetch = parse_fetch(fetch, 0)?;
    if matches!(ty, Some(ArgType::String | ArgType::Ustring))
        && !matches!(
            fetch,
            Fetch::Deref { .. } | Fetch::Symbol(..) | Fetch::Address(_) | Fetch::Comm
        )
    {
        return err(format!(
            "{s:?}: a string must be read from memory, e.g. +0({}):string",
            rest.split(':').next().unwrap_or(rest)
        ));
    }
    Ok(ProbeArg { name, fetch, ty })
}

/// Parses a definition such as `p:do_sys_openat2 filename=+0(%si):string`
/// or `r:vfs_read ret=$retval:s64`. Never touches the kernel.
pub fn parse_kprobe_spec(text: &str) -> Result<KprobeSpec, SpecError> {
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return err("the definition holds a control character");
    }
    let mut words = text.split_ascii_whitespace();
    let head = words
        .next()
        .ok_or_else(|| SpecError("empty probe definition".into()))?;
    let (kind, name) = match head.split_once(':') {
        Some((k, n)) => (k, Some(n)),
        None => (head, None),
    };
    let (ret, maxactive) = match kind.as_bytes().first() {
        Some(b'p') if kind.len() == 1 => (false, None),
        Some(b'r') => {
            let n = &kind[1..];
            if n.is_empty() {
                (true, None)
            } else {
                match n.parse::<u32>() {
                    Ok(m) if (1..=MAXACTIVE_MAX).contains(&m) && n.bytes().all(|b| b.is_ascii_digit()) => {
                        (true, Some(m))
                    }
                    _ => return err(format!("{kind:?}: MAXACTIVE must be 1..{MAXACTIVE_MAX}")),
                }
            }
        }
        _ => {
            return err(format!(
                "{head:?}: a definition starts with p: (entry) or r: (return), e.g. 'p:do_sys_openat2 filename=+0(%si):string'"
            ))
        }
    };
    // `p:SYM args` (perf-tools' short form, no event name) and
    // `p:EVENT SYM args` are both accepted: with a name, the target is the
    // next word.
    let (event, target) = match name {
        Some(n) if !n.is_empty() => match words.clone().next() {
            Some(w) if !w.contains('=') && !w.starts_with(['%', '$', '@', '+', '-']) => {
                words.next();
                (Some(n), w)
            }
            _ => (None, n),
        },
        Some(_) => return err(format!("{head:?}: nothing after ':'")),
        None => {
            let t = words
                .next()
                .ok_or_else(|| SpecError(format!("{head:?}: which function? e.g. '{head}:vfs_read'")))?;
            (None, t)
        }
    };
    let event = match event {
        Some(e) => {
            let e = match e.split_once('/') {
                Some((_, e)) => {
                    return err(format!(
                        "{head:?}: ftr puts its probes in its own group; give only an event name ({e})"
                    ))
                }
                None => e,
            };
            if !is_identifier(e) {
                return err(format!("event name {e:?} is not a C identifier"));
            }
            Some(e.to_owned())
        }
        None => None,
    };
    let target = target.strip_suffix("%return").map_or(target, |t| t);
    let (module, place) = match target.split_once(':') {
        Some((m, p)) => {
            if !is_symbol(m) {
                return err(format!("{target:?}: bad module name {m:?}"));
            }
            (Some(m.to_owned()), p)
        }
        None => (None, target),
    };
    let (symbol, offset) = match place.split_once('+') {
        Some((s, o)) => (
            s,
            parse_u64(o).ok_or_else(|| SpecError(format!("{target:?}: bad offset {o:?}")))?,
        ),
        None => (place, 0),
    };
    if !is_symbol(symbol) {
        return err(format!("{target:?}: {symbol:?} is not a function name"));
    }
    if ret && offset != 0 {
        return err(format!(
            "{target:?}: a return probe must be on a function's start (+0)"
        ));
    }
    let args = words.map(parse_arg).collect::<Result<Vec<_>, _>>()?;
    if args.len() > MAX_ARGS {
        return err(format!(
            "{} arguments: the kernel takes at most {MAX_ARGS}",
            args.len()
        ));
    }
    for (i, a) in args.iter().enumerate() {
        if a.fetch_uses(&|f| matches!(f, Fetch::Retval)) && !ret {
            return err(format!(
                "argument {}: $retval only exists in return probes (r:)",
                i + 1
            ));
        }
        if let Some(n) = &a.name {
            if args[..i].iter().any(|b| b.name.as_ref() == Some(n)) {
                return err(format!("argument name {n:?} is used twice"));
            }
        }
    }
    Ok(KprobeSpec {
        ret,
        maxactive,
        event,
        module,
        symbol: symbol.to_owned(),
        offset,
        args,
    })
}

impl ProbeArg {
    fn fetch_uses(&self, pred: &dyn Fn(&Fetch) -> bool) -> bool {
        let mut f = &self.fetch;
        loop {
            if pred(f) {
                return true;
            }
            match f {
                Fetch::Deref { inner, .. } => f = inner,
                _ => return false,
            }
        }
    }
}

impl fmt::Display for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fetch::Register(r) => write!(f, "%{r}"),
            Fetch::Address(a) => write!(f, "@0x{a:x}"),
            Fetch::Symbol(s, 0) => write!(f, "@{s}"),
            Fetch::Symbol(s, o) => write!(f, "@{s}{o:+}"),
            Fetch::Stack(None) => write!(f, "$stack"),
            Fetch::Stack(Some(n)) => write!(f, "$stack{n}"),
            Fetch::Retval => write!(f, "$retval"),
            Fetch::Comm => write!(f, "$comm"),
            Fetch::Arg(n) => write!(f, "$arg{n}"),
            Fetch::Deref { offset, user, inner } => {
                let sign = if *offset < 0 { '-' } else { '+' };
                let u = if *user { "u" } else { "" };
                write!(f, "{sign}{u}{}({inner})", offset.unsigned_abs())
            }
        }
    }
}

impl fmt::Display for ArgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgType::Int(k, b) => write!(f, "{k}{b}"),
            ArgType::Char => write!(f, "char"),
            ArgType::String => write!(f, "string"),
            ArgType::Ustring => write!(f, "ustring"),
            ArgType::Symbol => write!(f, "symbol"),
            ArgType::Symstr => write!(f, "symstr"),
            ArgType::Array(t, n) => write!(f, "{t}[{n}]"),
        }
    }
}

impl fmt::Display for ProbeArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "{n}=")?;
        }
        write!(f, "{}", self.fetch)?;
        if let Some(t) = &self.ty {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

impl KprobeSpec {
    /// The event name: the user's, else the kernel's default scheme
    /// (`p_SYM_OFFS`, `r_SYM_0`) with `.` made `_`.
    pub fn event_name(&self) -> String {
        self.event.clone().unwrap_or_else(|| {
            format!(
                "{}_{}_{}",
                if self.ret { 'r' } else { 'p' },
                self.symbol.replace('.', "_"),
                self.offset
            )
        })
    }

    /// `[MOD:]SYM[+OFFS]`.
    pub fn target(&self) -> String {
        let m = self.module.as_ref().map(|m| format!("{m}:")).unwrap_or_default();
        if self.offset == 0 {
            format!("{m}{}", self.symbol)
        } else {
            format!("{m}{}+{}", self.symbol, self.offset)
        }
    }

    /// The `kprobe_events` line for `group` (which must be an identifier).
    pub fn command(&self, group: &str) -> String {
        let kind = match (self.ret, self.maxactive) {
            (false, _) => "p".to_owned(),
            (true, None) => "r".to_owned(),
            (true, Some(n)) => format!("r{n}"),
        };
        let mut cmd = format!("{kind}:{group}/{} {}", self.event_name(), self.target());
        for a in &self.args {
            cmd.push(' ');
            cmd.push_str(&a.to_string());
        }
        cmd
    }

    /// Checks the definition against what this kernel's README says it
    /// accepts, naming the first unsupported part.
    pub fn check(&self, features: &KprobeFeatures) -> Result<(), SpecError> {
        if self.maxactive.is_some() && !features.maxactive {
            return err("this kernel's kprobe_events takes no MAXACTIVE (r<N>:); use r:");
        }
        for a in &self.args {
            if a.fetch_uses(&|f| matches!(f, Fetch::Arg(_))) {
                if !features.arg_n {
                    return err(format!(
                        "{a}: this kernel has no $arg<N> (its tracefs README does not list it); use registers (%di, %si, %dx, ...)"
                    ));
                }
                if self.ret && !features.arg_n_on_return {
                    return err(format!(
                        "{a}: this kernel takes $arg<N> only at function entry (p:)"
                    ));
                }
                if self.offset != 0 {
                    return err(format!("{a}: $arg<N> only works at the function's start (+0)"));
                }
            }
            if a.fetch_uses(&|f| matches!(f, Fetch::Deref { user: true, .. })) && !features.ustring {
                return err(format!("{a}: this kernel cannot read user memory (+u) in probes"));
            }
            let mut ty = a.ty.as_ref();
            while let Some(ArgType::Array(t, _)) = ty {
                if !features.arrays {
                    return err(format!("{a}: this kernel has no array types"));
                }
                ty = Some(t);
            }
            if let Some(t) = ty {
                let name = t.to_string();
                if !features.types.is_empty() && !features.types.contains(&name) {
                    return err(format!(
                        "{a}: this kernel has no type {name} (it offers {})",
                        features.types.join(" ")
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What this kernel's `kprobe_events` accepts, from the tracefs README.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KprobeFeatures {
    /// `r[maxactive]` appears.
    pub maxactive: bool,
    /// `$arg<N>` appears.
    pub arg_n: bool,
    /// "kernel return probes support: ... $arg<N>" (6.x).
    pub arg_n_on_return: bool,
    /// `ustring` (and `+u` user dereferences).
    pub ustring: bool,
    /// `<type>\[<array-size>\]`.
    pub arrays: bool,
    /// The type names listed (`u8`, `x32`, `string`, ...); empty when the
    /// README lists none (old kernels: no check is made).
    pub types: Vec<String>,
}

impl KprobeFeatures {
    /// Reads the features from README text. A kernel whose README says
    /// nothing of probes (before ~4.4) gets the 3.x basics.
    pub fn from_readme(text: &str) -> KprobeFeatures {
        let mut f = KprobeFeatures {
            maxactive: text.contains("r[maxactive]"),
            arg_n: text.contains("$arg<N>"),
            arg_n_on_return: text
                .lines()
                .any(|l| l.contains("return probes support") && l.contains("$arg<N>")),
            ustring: text.contains("ustring"),
            arrays: text.contains("<array-size>"),
            types: Vec::new(),
        };
        // The type list starts at "type:" and continues on indented lines
        // that carry no label of their own.
        let mut in_types = false;
        let mut list = String::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("type:") {
                in_types = true;
                list.push_str(rest);
                list.push(',');
                continue;
            }
            if in_types {
                let labelled = t.split_once(':').is_some_and(|(l, _)| {
                    !l.is_empty()
                        && l.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'(' || b == b')')
                });
                if labelled || t.is_empty() {
                    in_types = false;
                } else {
                    list.push_str(t);
                    list.push(',');
                }
            }
        }
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            // `s8/16/32/64` lists one kind at four widths.
            let mut parts = item.split('/');
            let first = parts.next().unwrap_or("");
            let kind = first.trim_end_matches(|c: char| c.is_ascii_digit());
            if matches!(kind, "u" | "s" | "x") {
                f.types.push(first.to_owned());
                for w in parts {
                    f.types.push(format!("{kind}{w}"));
                }
            } else if is_identifier(first) {
                f.types.push(first.to_owned());
            }
        }
        if f.types.is_empty() && text.contains("kprobe_events") && !text.contains("type:") {
            f.types = ["u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "string"]
                .map(str::to_owned)
                .to_vec();
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const README_61: &str = "  kprobe_events\t\t- Create/append/remove/show the kernel dynamic events\n\
\t   Format: p[:[<group>/]<event>] <place> [<args>]\n\
\t           r[maxactive][:[<group>/]<event>] <place> [<args>]\n\
\t    place: [<module>:]<symbol>[+<offset>]|<memaddr>\n\
\t     args: <name>=fetcharg[:type]\n\
\t fetcharg: %<register>, @<address>, @<symbol>[+|-<offset>],\n\
\t           $stack<index>, $stack, $retval, $comm, $arg<N>,\n\
\t           +|-[u]<offset>(<fetcharg>), \\imm-value, \\\"imm-string\"\n\
\t     type: s8/16/32/64, u8/16/32/64, x8/16/32/64, string, symbol,\n\
\t           b<bit-width>@<bit-offset>/<container-size>, ustring,\n\
\t           <type>\\[<type>\\]\n\
\t  events/\t\t- Directory containing all trace event subsystems:\n";

    #[test]
    fn parses_the_perf_tools_examples() {
        let s = parse_kprobe_spec("p:do_sys_openat2 filename=+0(%si):string").unwrap();
        assert_eq!(s.symbol, "do_sys_openat2");
        assert_eq!(s.event, None);
        assert_eq!(
            s.command("ftr_1_0"),
            "p:ftr_1_0/p_do_sys_openat2_0 do_sys_openat2 filename=+0(%si):string"
        );
        let s = parse_kprobe_spec("r10:myread vfs_read ret=$retval:s64").unwrap();
        assert_eq!(s.maxactive, Some(10));
        assert_eq!(s.command("g"), "r10:g/myread vfs_read ret=$retval:s64");
        let s =
            parse_kprobe_spec("p:ext4_sync_file+0x10 a=+8(+0(%di)):x32 b=@jiffies:u64 c=$arg2 %dx").unwrap();
        assert_eq!(s.offset, 16);
        assert_eq!(
            s.command("g"),
            "p:g/p_ext4_sync_file_16 ext4_sync_file+16 a=+8(+0(%di)):x32 b=@jiffies:u64 c=$arg2 %dx"
        );
        let s = parse_kprobe_spec("p ext4:ext4_file_open n=+0(+u8(%si)):ustring v=-4(%sp):s32[2]").unwrap();
        assert_eq!(s.module.as_deref(), Some("ext4"));
        assert_eq!(s.args[0].to_string(), "n=+0(+u8(%si)):ustring");
        assert_eq!(s.args[1].to_string(), "v=-4(%sp):s32[2]");
    }

    #[test]
    fn rejects_with_a_reason() {
        for bad in [
            "",
            "q:vfs_read",
            "p:",
            "p:vfs_read x=$retval",
            "r:vfs_read+4",
            "r99999:vfs_read",
            "p:grp/ev vfs_read",
            "p:vfs_read x=%si:string",
            "p:vfs_read x=+0(%si:string",
            "p:vfs_read x=%di:u7",
            "p:vfs_read x=%di y=%si x=%dx",
            "p:vfs_read common_pid=%di",
            "p:vfs_read x=$arg0",
            "p:vfs_read\n-:all",
        ] {
            let e = parse_kprobe_spec(bad).unwrap_err();
            assert!(!e.0.contains('\n'), "{bad:?}: {e}");
        }
    }

    #[test]
    fn readme_features() {
        let f = KprobeFeatures::from_readme(README_61);
        assert!(f.maxactive && f.arg_n && f.ustring && !f.arg_n_on_return);
        assert!(f.types.iter().any(|t| t == "x16"), "{:?}", f.types);
        assert!(f.types.iter().any(|t| t == "symbol"));
        assert!(!f.types.iter().any(|t| t == "symstr"));
        let s = parse_kprobe_spec("p:vfs_read a=+0(%si):symstr").unwrap();
        assert!(s.check(&f).unwrap_err().0.contains("symstr"));
        assert!(parse_kprobe_spec("r:vfs_read a=$arg1")
            .unwrap()
            .check(&f)
            .is_err());
        assert!(parse_kprobe_spec("p:vfs_read a=$arg1 b=+0(%si):string r=%ax:x64")
            .unwrap()
            .check(&f)
            .is_ok());
        let old = KprobeFeatures::from_readme("kprobe_events - ...\n");
        assert!(!old.arg_n && !old.maxactive);
        assert!(parse_kprobe_spec("p:vfs_read a=$arg1")
            .unwrap()
            .check(&old)
            .is_err());
        assert!(parse_kprobe_spec("r5:vfs_read").unwrap().check(&old).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_definitions_never_panic(s in ".*") {
            if let Ok(spec) = parse_kprobe_spec(&s) {
                // Whatever parses renders to one line that parses the same.
                let cmd = spec.command("g");
                prop_assert!(!cmd.contains('\n'));
                let _ = spec.check(&KprobeFeatures::from_readme(&s));
            }
            let _ = KprobeFeatures::from_readme(&s);
        }

        #[test]
        fn structured_definitions_round_trip(
            kind in "(p|r|r[0-9]{1,3})",
            sym in "[a-z_][a-z0-9_]{0,12}",
            args in proptest::collection::vec("([a-z]{1,4}=)?(%[a-z]{2}|\\+[0-9]{1,2}\\(%[a-z]{2}\\)|\\$stack[0-9]|@[a-z]{1,5})(:(u|s|x)(8|16|32|64))?", 0..4),
        ) {
            let text = format!("{kind}:{sym} {}", args.join(" "));
            if let Ok(spec) = parse_kprobe_spec(&text) {
                let back = spec.command("g");
                let again = parse_kprobe_spec(back.split_once(' ').map(|(_, r)| format!("p {r}")).unwrap().as_str());
                prop_assert!(again.is_ok(), "{back}");
            }
        }
    }
}
