//! Rust and C++ symbol demangling.

/// Demangles a Rust (legacy or v0) or Itanium C++ name; other names come
/// back unchanged. Rust names lose their hash, as in `{:#}` of
/// rustc-demangle and in binutils' `addr2line -C`.
pub fn demangle(name: &str) -> String {
    if let Ok(d) = rustc_demangle::try_demangle(name) {
        return format!("{d:#}");
    }
    if name.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(name) {
            let opts = cpp_demangle::DemangleOptions::new();
            if let Ok(s) = sym.demangle_with_options(&opts) {
                return s;
            }
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn demangles_rust_and_cpp_and_leaves_c_alone() {
        assert_eq!(demangle("_ZN3foo3bar17h05af221e174051e9E"), "foo::bar");
        assert_eq!(demangle("_RNvCs1234_3foo3bar"), "foo::bar");
        assert_eq!(
            demangle("_ZN9wikipedia7article6formatEv"),
            "wikipedia::article::format()"
        );
        assert_eq!(demangle("malloc"), "malloc");
        assert_eq!(demangle("_Z"), "_Z");
    }

    proptest! {
        #[test]
        fn arbitrary_names_never_panic(s in "_[ZR][A-Za-z0-9_$.]{0,40}") {
            let _ = demangle(&s);
        }
    }
}
