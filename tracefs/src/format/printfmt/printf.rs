//! The C `printf` conversions that trace output uses, for one value at a
//! time: flags `-+ #0`, width, precision, `*`, and `d i u x X o c s`.

struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
    conv: u8,
}

fn parse_spec(spec: &str, star: Option<i64>) -> Spec {
    let b = spec.as_bytes();
    let mut s = Spec {
        left: false,
        plus: false,
        space: false,
        alt: false,
        zero: false,
        width: None,
        prec: None,
        conv: *b.last().unwrap_or(&b's'),
    };
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'-' => s.left = true,
            b'+' => s.plus = true,
            b' ' => s.space = true,
            b'#' => s.alt = true,
            b'0' => s.zero = true,
            _ => break,
        }
        i += 1;
    }
    let num = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        spec[start..*i].parse::<usize>().ok()
    };
    if b.get(i) == Some(&b'*') {
        i += 1;
        match star {
            Some(w) if w < 0 => {
                s.left = true;
                s.width = Some(w.unsigned_abs().min(4096) as usize);
            }
            Some(w) => s.width = Some((w as usize).min(4096)),
            None => {}
        }
    } else {
        s.width = num(&mut i).map(|w| w.min(4096));
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if b.get(i) == Some(&b'*') {
            s.prec = star.map(|p| p.max(0) as usize);
        } else {
            s.prec = Some(num(&mut i).unwrap_or(0).min(4096));
        }
    }
    s
}

fn pad(out: &mut String, s: &Spec, body: &str, prefix: &str) {
    let len = prefix.len()
        + if body.is_ascii() {
            body.len()
        } else {
            body.chars().count()
        };
    let w = s.width.unwrap_or(0);
    if len >= w {
        out.push_str(prefix);
        out.push_str(body);
    } else if s.left {
        out.push_str(prefix);
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', w - len));
    } else if s.zero && s.prec.is_none() && s.conv != b's' && s.conv != b'c' {
        out.push_str(prefix);
        out.extend(std::iter::repeat_n('0', w - len));
        out.push_str(body);
    } else {
        out.extend(std::iter::repeat_n(' ', w - len));
        out.push_str(prefix);
        out.push_str(body);
    }
}

/// Appends the decimal digits of `v` to `out` without allocating.
pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // The buffer holds ASCII digits only.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Appends `v` in base `radix` (8 or 16), lower or upper case.
fn push_radix(out: &mut String, mut v: u64, radix: u64, upper: bool) {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    let digits = if upper { UPPER } else { LOWER };
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = digits[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

/// Appends `v` in lower-case hex.
pub(crate) fn push_hex(out: &mut String, v: u64) {
    push_radix(out, v, 16, false);
}

/// Formats `v` (already cast to a C type of `bits` bits) with an integer
/// conversion `spec` such as `%08lx` or `%-5d`.
pub fn format_int(out: &mut String, spec: &str, v: u64, bits: u32, star: Option<i64>) {
    let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let u = v & mask;
    let signed = |u: u64| -> i64 {
        if bits >= 64 {
            u as i64
        } else if u >> (bits - 1) & 1 == 1 {
            (u | !mask) as i64
        } else {
            u as i64
        }
    };
    // Fast path: a plain conversion (`%d`, `%lu`, `%llx`...) pads nothing.
    let b = spec.as_bytes();
    if b.len() >= 2
        && b[1..b.len() - 1]
            .iter()
            .all(|c| matches!(c, b'l' | b'h' | b'L' | b'z'))
    {
        match b[b.len() - 1] {
            b'd' | b'i' => {
                let x = signed(u);
                if x < 0 {
                    out.push('-');
                }
                push_u64(out, x.unsigned_abs());
                return;
            }
            b'u' => return push_u64(out, u),
            b'x' => return push_radix(out, u, 16, false),
            _ => {}
        }
    }
    let s = parse_spec(spec, star);
    let mut body = String::new();
    let mut prefix = "";
    match s.conv {
        b'd' | b'i' => {
            let x = signed(u);
            if x < 0 {
                prefix = "-";
            } else if s.plus {
                prefix = "+";
            } else if s.space {
                prefix = " ";
            }
            push_u64(&mut body, x.unsigned_abs());
        }
        b'u' => push_u64(&mut body, u),
        b'x' => {
            push_radix(&mut body, u, 16, false);
            if s.alt && u != 0 {
                prefix = "0x";
            }
        }
        b'X' => {
            push_radix(&mut body, u, 16, true);
            if s.alt && u != 0 {
                prefix = "0X";
            }
        }
        b'o' => {
            if s.alt && u != 0 {
                body.push('0');
            }
            push_radix(&mut body, u, 8, false);
        }
        b'c' => {
            let c = (u & 0xff) as u8;
            body.push(if c.is_ascii() { c as char } else { char::from(c) });
            pad(out, &s, &body, "");
            return;
        }
        _ => push_u64(&mut body, u),
    }
    if let Some(p) = s.prec {
        if p == 0 && u == 0 {
            body.clear();
        } else if body.len() < p {
            body.insert_str(0, &"0".repeat(p - body.len()));
        }
    }
    pad(out, &s, &body, prefix);
}

/// Formats `text` with a `%s` conversion `spec` (`%-10s`, `%.*s`).
pub fn format_str(out: &mut String, spec: &str, text: &str, star: Option<i64>) {
    if spec == "%s" {
        out.push_str(text);
        return;
    }
    let s = parse_spec(spec, star);
    let body = match s.prec {
        Some(p) if p < text.len() => {
            let mut end = p;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        }
        _ => text,
    };
    pad(out, &s, body, "");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(spec: &str, v: u64, bits: u32) -> String {
        let mut s = String::new();
        format_int(&mut s, spec, v, bits, None);
        s
    }

    #[test]
    fn integers_like_c() {
        assert_eq!(i("%d", 0xffff_ffff, 32), "-1");
        assert_eq!(i("%u", 0xffff_ffff, 32), "4294967295");
        assert_eq!(i("%08lx", 0x1f, 64), "0000001f");
        assert_eq!(i("%-5d", 42, 32), "42   ");
        assert_eq!(i("%5d", (-42i64) as u64, 32), "  -42");
        assert_eq!(i("%05d", (-42i64) as u64, 32), "-0042");
        assert_eq!(i("%#x", 255, 32), "0xff");
        assert_eq!(i("%#x", 0, 32), "0");
        assert_eq!(i("%.3d", 7, 32), "007");
        assert_eq!(i("%c", 65, 32), "A");
        assert_eq!(i("%hhd", 0xff, 8), "-1");
        assert_eq!(i("%llu", u64::MAX, 64), "18446744073709551615");
        assert_eq!(i("%lld", u64::MAX, 64), "-1");
    }

    #[test]
    fn strings_like_c() {
        let mut s = String::new();
        format_str(&mut s, "%-6s", "ab", None);
        s.push('|');
        format_str(&mut s, "%.*s", "abcdef", Some(3));
        s.push('|');
        format_str(&mut s, "%4s", "x", None);
        assert_eq!(s, "ab    |abc|   x");
    }
}
