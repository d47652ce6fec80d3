//! Rendering events from their `print fmt`, as `trace-cmd report`
//! (libtraceevent and its default plugins) prints them.
//!
//! Pure: a [`Schema`] and record bytes in, text out. What is not
//! supported (rare helpers, `%pI4`, member access, ...) makes
//! [`EventPrinter::render`] fall back to `field=value` pairs and say so, so
//! callers can count such events.
//!
//! ```
//! use ftr_tracefs::format::{printfmt::{Ctx, EventPrinter, Symbols}, Schema};
//! use ftr_tracefs::Endian;
//! let text = "name: irq_handler_exit\nID: 7\nformat:\n\
//! \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
//! \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
//! \tfield:int irq;\toffset:8;\tsize:4;\tsigned:1;\n\
//! \tfield:int ret;\toffset:12;\tsize:4;\tsigned:1;\n\n\
//! print fmt: \"irq=%d ret=%s\", REC->irq, REC->ret ? \"handled\" : \"unhandled\"\n";
//! let schema = Schema::parse("irq", text)?;
//! let p = EventPrinter::new(&schema);
//! let mut rec = vec![0u8; 16];
//! rec[8..12].copy_from_slice(&24i32.to_le_bytes());
//! rec[12..16].copy_from_slice(&1i32.to_le_bytes());
//! let syms = Symbols::default();
//! let ctx = Ctx { endian: Endian::Little, long_size: 8, syms: &syms };
//! let mut out = String::new();
//! assert!(p.render(&ctx, &rec, &mut out, &mut |_, _| {}));
//! assert_eq!(out, "irq=24 ret=handled");
//! # Ok::<(), ftr_tracefs::format::FormatError>(())
//! ```

mod eval;
mod ftrace;
mod handlers;
mod parser;
mod printf;
mod symbols;
mod tep;

pub use eval::Ctx;
pub use ftrace::{FtraceKind, FtraceRenderer};
pub use parser::{parse_print_fmt, Conv, ConvKind, Expr, ParseError, Piece};
pub use printf::{format_int, format_str};
pub use symbols::Symbols;

use crate::format::{Field, Schema};
use eval::Rec;
use handlers::Handler;

/// How one event type is rendered: its parsed print fmt, or a plugin.
#[derive(Debug, Clone)]
pub struct EventPrinter {
    fields: Vec<Field>,
    pieces: Result<Vec<Piece>, ParseError>,
    handler: Option<Handler>,
    bprint: bool,
}

impl EventPrinter {
    /// Prepares `schema` for rendering (parses its print fmt once).
    pub fn new(schema: &Schema) -> EventPrinter {
        let pieces = parse_print_fmt(&schema.print_fmt);
        let fields = schema.fields.clone();
        let handler = Handler::for_event(&schema.system, &schema.name, &schema.fields);
        EventPrinter {
            fields,
            pieces,
            handler,
            bprint: schema.system == "ftrace" && schema.name == "bprint",
        }
    }

    /// The print fmt parse error, if any (the event then renders as fields).
    pub fn parse_error(&self) -> Option<&ParseError> {
        self.pieces.as_ref().err()
    }

    /// Appends the rendered event to `out`. Returns false when the print
    /// fmt could not be evaluated and `field=value` pairs were written
    /// instead. `learn` receives the (pid, comm) pairs that trace-cmd's
    /// sched plugin registers as it prints.
    pub fn render(
        &self,
        ctx: &Ctx<'_>,
        data: &[u8],
        out: &mut String,
        learn: &mut dyn FnMut(i32, &str),
    ) -> bool {
        let rec = Rec {
            ctx: *ctx,
            data,
            fields: &self.fields,
        };
        if let Some(h) = &self.handler {
            h.render(&rec, out, learn);
            return true;
        }
        if self.bprint {
            return self.render_bprint(&rec, out);
        }
        let start = out.len();
        if let Ok(p) = &self.pieces {
            if rec.render(out, p).is_ok() {
                return true;
            }
        }
        out.truncate(start);
        self.render_fields(ctx, data, out);
        false
    }

    /// ftrace `bprint`: the format comes from printk_formats by address
    /// and the values from the record's buffer (libtraceevent
    /// `get_bprint_format`, `make_bprint_args`).
    fn render_bprint(&self, rec: &Rec<'_>, out: &mut String) -> bool {
        let fmt_addr = self
            .fields
            .iter()
            .find(|f| f.name == "fmt")
            .and_then(|f| rec.ctx.endian.uint(rec.data, f.offset, f.size));
        let fmt = match fmt_addr.map(|a| (a, rec.ctx.syms.printk(a))) {
            Some((_, Some(p))) => format!("%ps: {p}"),
            Some((a, None)) => format!("%ps: (NO FORMAT FOUND at {a:x})\n"),
            None => return false,
        };
        let fmt = parser::unescape(&fmt);
        let start = out.len();
        let ok = rec
            .bprint_args(&fmt)
            .ok()
            .and_then(|args| parser::split_format(&fmt, args).ok())
            .is_some_and(|pieces| rec.render(out, &pieces).is_ok());
        if !ok {
            out.truncate(start);
        }
        ok
    }

    /// `name=value` for each non-common field.
    pub fn render_fields(&self, ctx: &Ctx<'_>, data: &[u8], out: &mut String) {
        let mut first = true;
        for f in self.fields.iter().filter(|f| !f.is_common) {
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(&format!("{}={}", f.name, f.to_ref().value(data, ctx.endian)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endian;
    use proptest::prelude::*;

    const SWITCH: &str = "name: sched_switch\nID: 9\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\
\tfield:__data_loc char[] name;\toffset:40;\tsize:4;\tsigned:0;\n\
\tfield:unsigned long args[2];\toffset:48;\tsize:16;\tsigned:0;\n\n\
print fmt: \"%s:%d %s %s %lx %pS %s %.*s\", REC->prev_comm, REC->prev_pid, __print_flags(REC->prev_state & 3, \"|\", {1, \"S\"}, {2, \"D\"}), __get_str(name), REC->args[1], (void *)REC->args[0], __print_symbolic(REC->prev_pid, {1, \"one\"}), 2, REC->prev_comm\n";

    fn ctx(syms: &Symbols) -> Ctx<'_> {
        Ctx {
            endian: Endian::Little,
            long_size: 8,
            syms,
        }
    }

    #[test]
    fn renders_fields_flags_strings_arrays_and_symbols() {
        let mut schema = Schema::parse("test", SWITCH).unwrap();
        schema.system = "test".into();
        let p = EventPrinter::new(&schema);
        assert!(p.parse_error().is_none());
        let mut rec = vec![0u8; 72];
        rec[8..12].copy_from_slice(b"bash");
        rec[24..28].copy_from_slice(&1i32.to_le_bytes());
        rec[32..40].copy_from_slice(&3u64.to_le_bytes());
        rec[40..44].copy_from_slice(&((3u32 << 16) | 64).to_le_bytes());
        rec[48..56].copy_from_slice(&0xffff_0010u64.to_le_bytes());
        rec[56..64].copy_from_slice(&0xbeefu64.to_le_bytes());
        rec[64..67].copy_from_slice(b"ab\0");
        let syms = Symbols::parse("ffff0000 T do_it\nffff1000 T next\n");
        let mut out = String::new();
        assert!(p.render(&ctx(&syms), &rec, &mut out, &mut |_, _| {}));
        assert_eq!(out, "bash:1 S|D ab beef do_it+0x10 one ba");
    }

    #[test]
    fn libtraceevent_rotates_parenthesised_right_operands() {
        // trace-cmd prints timer_start flags from `(f & A) | B`, not `f & (A | B)`.
        let p = parse_print_fmt("\"%d %d\", REC->x & (1 | 2), 10 - 4 - 3").unwrap();
        let Piece::Conv(c) = &p[0] else { panic!() };
        assert!(matches!(&c.arg, Expr::Binary("|", _, _)), "{:?}", c.arg);
        let Piece::Conv(c) = &p[2] else { panic!() };
        // Equal precedence groups to the right: 10 - (4 - 3).
        assert!(
            matches!(&c.arg, Expr::Binary("-", l, _) if **l == Expr::Str("10".into())),
            "{:?}",
            c.arg
        );
    }

    proptest! {
        #[test]
        fn any_print_fmt_parses_or_fails_cleanly(s in ".{0,200}") {
            let _ = parse_print_fmt(&s);
            let _ = parse_print_fmt(&format!("\"%d %s %p\", {s}"));
        }

        #[test]
        fn deep_nesting_is_refused(n in 150usize..3000) {
            let t = format!("\"%d\", {}1{}", "(".repeat(n), ")".repeat(n));
            let _ = parse_print_fmt(&t);
            let t = format!("\"%d\", 1{}", " + 1".repeat(n));
            let _ = parse_print_fmt(&t);
        }

        #[test]
        fn rendering_any_record_never_panics(data in prop::collection::vec(any::<u8>(), 0..96)) {
            let schema = Schema::parse("test", SWITCH).unwrap();
            let syms = Symbols::parse("ffff0000 T do_it\n");
            for name in ["x", "sched_switch", "bprint"] {
                let mut s = schema.clone();
                s.name = name.into();
                s.system = if name == "bprint" { "ftrace".into() } else { "sched".into() };
                let p = EventPrinter::new(&s);
                let mut out = String::new();
                let _ = p.render(&ctx(&syms), &data, &mut out, &mut |_, _| {});
            }
        }
    }
}
