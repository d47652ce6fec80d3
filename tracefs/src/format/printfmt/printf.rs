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
    let len = prefix.len() + body.chars().count();
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

/// Formats `v` (already cast to a C type of `bits` bits) with an integer
/// conversion `spec` such as `%08lx` or `%-5d`.
pub fn format_int(out: &mut String, spec: &str, v: u64, bits: u32, star: Option<i64>) {
    let s = parse_spec(spec, star);
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
    let (mut body, mut prefix) = (String::new(), String::new());
    match s.conv {
        b'd' | b'i' => {
            let x = signed(u);
            if x < 0 {
                prefix.push('-');
            } else if s.plus {
                prefix.push('+');
            } else if s.space {
                prefix.push(' ');
            }
            body = x.unsigned_abs().to_string();
        }
        b'u' => body = u.to_string(),
        b'x' => {
            body = format!("{u:x}");
            if s.alt && u != 0 {
                prefix.push_str("0x");
            }
        }
        b'X' => {
            body = format!("{u:X}");
            if s.alt && u != 0 {
                prefix.push_str("0X");
            }
        }
        b'o' => {
            body = format!("{u:o}");
            if s.alt && !body.starts_with('0') {
                body.insert(0, '0');
            }
        }
        b'c' => {
            let c = (u & 0xff) as u8;
            body.push(if c.is_ascii() { c as char } else { char::from(c) });
            pad(out, &s, &body, "");
            return;
        }
        _ => body = u.to_string(),
    }
    if let Some(p) = s.prec {
        if p == 0 && u == 0 {
            body.clear();
        } else if body.len() < p {
            body = format!("{}{body}", "0".repeat(p - body.len()));
        }
    }
    pad(out, &s, &body, &prefix);
}

/// Formats `text` with a `%s` conversion `spec` (`%-10s`, `%.*s`).
pub fn format_str(out: &mut String, spec: &str, text: &str, star: Option<i64>) {
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
