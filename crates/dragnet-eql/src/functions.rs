//! The EQL functions Elasticsearch documents (EQL function reference,
//! `docs/reference/query-languages/eql/eql-function-ref.md` in elastic/elasticsearch), as
//! scripts evaluate them: a `null` argument gives `null`, `~` variants fold case, string
//! positions count characters.

use std::borrow::Cow;

use crate::values::{IpNet, Val, fold, parse_ip};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Add,
    Between,
    CidrMatch,
    Concat,
    Divide,
    EndsWith,
    IndexOf,
    Length,
    Modulo,
    Multiply,
    Number,
    StartsWith,
    String,
    StringContains,
    Substring,
    Subtract,
}

impl Func {
    /// `(function, min args, max args, accepts ~)`; names resolve case-insensitively as
    /// Elasticsearch's function registry normalizes them.
    pub(crate) fn resolve(name: &str) -> Option<(Func, usize, usize, bool)> {
        Some(match name.to_ascii_lowercase().as_str() {
            "add" => (Func::Add, 2, 2, false),
            "between" => (Func::Between, 3, 4, true),
            "cidrmatch" => (Func::CidrMatch, 2, usize::MAX, false),
            "concat" => (Func::Concat, 1, usize::MAX, false),
            "divide" => (Func::Divide, 2, 2, false),
            "endswith" => (Func::EndsWith, 2, 2, true),
            "indexof" => (Func::IndexOf, 2, 3, true),
            "length" => (Func::Length, 1, 1, false),
            "modulo" => (Func::Modulo, 2, 2, false),
            "multiply" => (Func::Multiply, 2, 2, false),
            "number" => (Func::Number, 1, 2, false),
            "startswith" => (Func::StartsWith, 2, 2, true),
            "string" => (Func::String, 1, 1, false),
            "stringcontains" => (Func::StringContains, 2, 2, true),
            "substring" => (Func::Substring, 2, 3, false),
            "subtract" => (Func::Subtract, 2, 2, false),
            _ => return None,
        })
    }

    pub(crate) fn is_boolean(self) -> bool {
        matches!(
            self,
            Func::CidrMatch | Func::EndsWith | Func::StartsWith | Func::StringContains
        )
    }
}

pub(crate) fn call<'a>(func: Func, ci: bool, args: Vec<Val<'a>>) -> Val<'a> {
    match func {
        Func::Add => arith(&args, |a, b| a.checked_add(b), |a, b| a + b),
        Func::Subtract => arith(&args, |a, b| a.checked_sub(b), |a, b| a - b),
        Func::Multiply => arith(&args, |a, b| a.checked_mul(b), |a, b| a * b),
        // Integer division truncates (the docs' "rounds down" example is for positive numbers);
        // a zero divisor is an error in Elasticsearch: no value here.
        Func::Divide => arith(
            &args,
            |a, b| a.checked_div(b),
            |a, b| if b == 0.0 { f64::NAN } else { a / b },
        ),
        Func::Modulo => arith(
            &args,
            |a, b| a.checked_rem(b),
            |a, b| if b == 0.0 { f64::NAN } else { a % b },
        ),
        Func::Between => between(&args, ci),
        Func::CidrMatch => cidr_match(&args),
        Func::Concat => {
            let mut out = String::new();
            for a in &args {
                match a.to_text() {
                    Some(t) => out.push_str(&t),
                    None => return Val::Null,
                }
            }
            Val::Str(Cow::Owned(out))
        }
        Func::EndsWith => two_strings(&args, ci, |s, p| s.ends_with(p)),
        Func::StartsWith => two_strings(&args, ci, |s, p| s.starts_with(p)),
        // `stringContains(x, "")` is false per the function reference.
        Func::StringContains => two_strings(&args, ci, |s, p| !p.is_empty() && s.contains(p)),
        Func::IndexOf => index_of(&args, ci),
        Func::Length => match &args[0] {
            Val::Str(s) => Val::Int(s.encode_utf16().count() as i64),
            _ => Val::Null,
        },
        Func::Number => number(&args),
        Func::String => match args[0].to_text() {
            Some(t) => Val::Str(Cow::Owned(t)),
            None => Val::Null,
        },
        Func::Substring => substring(&args),
    }
}

fn arith<'a>(
    args: &[Val<'_>],
    int: impl Fn(i64, i64) -> Option<i64>,
    float: impl Fn(f64, f64) -> f64,
) -> Val<'a> {
    match (&args[0], &args[1]) {
        (Val::Int(a), Val::Int(b)) => int(*a, *b).map_or(Val::Null, Val::Int),
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => {
                let r = float(x, y);
                if r.is_nan() { Val::Null } else { Val::Float(r) }
            }
            _ => Val::Null,
        },
    }
}

fn two_strings<'a>(args: &[Val<'_>], ci: bool, test: impl Fn(&str, &str) -> bool) -> Val<'a> {
    match (&args[0], &args[1]) {
        (Val::Str(s), Val::Str(p)) => Val::Bool(if ci {
            test(&fold(s), &fold(p))
        } else {
            test(s, p)
        }),
        _ => Val::Null,
    }
}

fn between<'a>(args: &[Val<'a>], ci: bool) -> Val<'a> {
    let (Val::Str(src), Val::Str(left), Val::Str(right)) = (&args[0], &args[1], &args[2]) else {
        return Val::Null;
    };
    let greedy = match args.get(3) {
        None | Some(Val::Null) => false,
        Some(Val::Bool(b)) => *b,
        Some(_) => return Val::Null,
    };
    let (s, l, r) = if ci {
        (fold(src), fold(left), fold(right))
    } else {
        (
            Cow::Borrowed(&**src),
            Cow::Borrowed(&**left),
            Cow::Borrowed(&**right),
        )
    };
    let empty = || Val::Str(Cow::Owned(String::new()));
    let Some(start) = s.find(&*l).map(|i| i + l.len()) else {
        return empty();
    };
    let end = if greedy {
        s.rfind(&*r).filter(|&e| e >= start)
    } else {
        s[start..].find(&*r).map(|e| e + start)
    };
    let Some(end) = end else {
        return empty();
    };
    // Folding may change byte lengths; slice the text the offsets were found in.
    let text: &str = if s.len() == src.len() { src } else { &s };
    Val::Str(Cow::Owned(text[start..end].to_owned()))
}

fn cidr_match<'a>(args: &[Val<'_>]) -> Val<'a> {
    let Val::Str(ip) = &args[0] else {
        return Val::Null;
    };
    let mut nets = Vec::new();
    for a in &args[1..] {
        match a {
            Val::Str(c) => match IpNet::parse(c) {
                Some(n) => nets.push(n),
                None => return Val::Null,
            },
            _ => return Val::Null,
        }
    }
    match parse_ip(ip) {
        Some(addr) => Val::Bool(nets.iter().any(|n| n.contains(addr))),
        None => Val::Bool(false),
    }
}

fn index_of<'a>(args: &[Val<'_>], ci: bool) -> Val<'a> {
    let (Val::Str(src), Val::Str(sub)) = (&args[0], &args[1]) else {
        return Val::Null;
    };
    let start = match args.get(2) {
        None => 0,
        Some(Val::Int(i)) => (*i).max(0) as usize,
        Some(_) => return Val::Null,
    };
    let (s, p) = if ci {
        (fold(src), fold(sub))
    } else {
        (Cow::Borrowed(&**src), Cow::Borrowed(&**sub))
    };
    let chars = s.chars().count();
    if start > chars {
        return Val::Null;
    }
    let byte_start = s.char_indices().nth(start).map_or(s.len(), |(b, _)| b);
    match s[byte_start..].find(&*p) {
        Some(b) => Val::Int((start + s[byte_start..byte_start + b].chars().count()) as i64),
        None => Val::Null,
    }
}

fn number<'a>(args: &[Val<'_>]) -> Val<'a> {
    let Val::Str(s) = &args[0] else {
        return Val::Null;
    };
    let base = match args.get(1) {
        None | Some(Val::Null) => None,
        Some(Val::Int(b)) if (2..=36).contains(b) => Some(*b as u32),
        Some(_) => return Val::Null,
    };
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (base, digits) = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if base.is_none() || base == Some(16) => (Some(16), hex),
        _ => (base, digits),
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return Val::Null;
    }
    match base {
        Some(b) if b != 10 => match i128::from_str_radix(digits, b) {
            Ok(v) => {
                let v = if neg { -v } else { v };
                i64::try_from(v).map_or(Val::Float(v as f64), Val::Int)
            }
            Err(_) => Val::Null,
        },
        _ => {
            if digits.bytes().all(|c| c.is_ascii_digit()) {
                return match digits.parse::<i64>() {
                    Ok(v) => Val::Int(if neg { -v } else { v }),
                    Err(_) => digits
                        .parse::<f64>()
                        .map_or(Val::Null, |v| Val::Float(if neg { -v } else { v })),
                };
            }
            let numeric = digits
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
            match digits.parse::<f64>() {
                Ok(v) if numeric && v.is_finite() => Val::Float(if neg { -v } else { v }),
                _ => Val::Null,
            }
        }
    }
}

fn substring<'a>(args: &[Val<'_>]) -> Val<'a> {
    let Val::Str(s) = &args[0] else {
        return Val::Null;
    };
    let len = s.chars().count() as i64;
    let Val::Int(mut start) = args[1] else {
        return Val::Null;
    };
    let mut end = match args.get(2) {
        None | Some(Val::Null) => len,
        Some(Val::Int(e)) => *e,
        Some(_) => return Val::Null,
    };
    if start < 0 {
        start = (start + len).max(0);
    }
    if end < 0 {
        end += len;
    }
    end = end.min(len);
    if start >= end {
        return Val::Str(Cow::Owned(String::new()));
    }
    Val::Str(Cow::Owned(
        s.chars()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    //! Examples from Elasticsearch's EQL function reference.
    use super::*;

    fn s(x: &str) -> Val<'static> {
        Val::Str(Cow::Owned(x.to_owned()))
    }

    fn f(func: Func, ci: bool, args: Vec<Val<'static>>) -> Val<'static> {
        call(func, ci, args).into_owned()
    }

    #[test]
    fn arithmetic() {
        assert_eq!(
            f(Func::Add, false, vec![Val::Int(4), Val::Int(5)]),
            Val::Int(9)
        );
        assert_eq!(
            f(Func::Add, false, vec![Val::Int(4), Val::Float(0.5)]),
            Val::Float(4.5)
        );
        assert_eq!(f(Func::Add, false, vec![Val::Null, Val::Int(4)]), Val::Null);
        assert_eq!(
            f(Func::Divide, false, vec![Val::Int(4), Val::Int(3)]),
            Val::Int(1)
        );
        assert_eq!(
            f(Func::Divide, false, vec![Val::Float(0.5), Val::Int(4)]),
            Val::Float(0.125)
        );
        assert_eq!(
            f(Func::Divide, false, vec![Val::Int(4), Val::Int(0)]),
            Val::Null
        );
        assert_eq!(
            f(Func::Modulo, false, vec![Val::Int(10), Val::Int(-6)]),
            Val::Int(4)
        );
        assert_eq!(
            f(Func::Modulo, false, vec![Val::Int(-10), Val::Int(-6)]),
            Val::Int(-4)
        );
        assert_eq!(
            f(Func::Modulo, false, vec![Val::Int(10), Val::Float(0.5)]),
            Val::Float(0.0)
        );
        assert_eq!(
            f(Func::Subtract, false, vec![Val::Int(-2), Val::Int(4)]),
            Val::Int(-6)
        );
        assert_eq!(
            f(Func::Multiply, false, vec![Val::Float(0.25), Val::Int(2)]),
            Val::Float(0.5)
        );
    }

    #[test]
    fn between_examples() {
        let p = s("C:\\Windows\\System32\\cmd.exe");
        assert_eq!(
            f(
                Func::Between,
                false,
                vec![p.clone(), s("System32\\"), s(".exe")]
            ),
            s("cmd")
        );
        assert_eq!(
            f(
                Func::Between,
                false,
                vec![p.clone(), s("system32\\"), s(".exe")]
            ),
            s("")
        );
        assert_eq!(
            f(
                Func::Between,
                true,
                vec![p.clone(), s("system32\\"), s(".exe")]
            ),
            s("cmd")
        );
        assert_eq!(
            f(
                Func::Between,
                false,
                vec![p.clone(), s("\\"), s("\\"), Val::Bool(false)]
            ),
            s("Windows")
        );
        assert_eq!(
            f(
                Func::Between,
                false,
                vec![p, s("\\"), s("\\"), Val::Bool(true)]
            ),
            s("Windows\\System32")
        );
        assert_eq!(f(Func::Between, false, vec![s(""), s(""), s("")]), s(""));
        assert_eq!(
            f(Func::Between, false, vec![Val::Null, s("a"), s("b")]),
            Val::Null
        );
    }

    #[test]
    fn string_functions() {
        assert_eq!(
            f(Func::EndsWith, false, vec![s("regsvr32.exe"), s(".EXE")]),
            Val::Bool(false)
        );
        assert_eq!(
            f(Func::EndsWith, true, vec![s("regsvr32.exe"), s(".EXE")]),
            Val::Bool(true)
        );
        assert_eq!(
            f(Func::EndsWith, false, vec![s(""), s("")]),
            Val::Bool(true)
        );
        assert_eq!(f(Func::EndsWith, false, vec![s(""), Val::Null]), Val::Null);
        assert_eq!(
            f(
                Func::StartsWith,
                false,
                vec![s("regsvr32.exe"), s("regsvr32")]
            ),
            Val::Bool(true)
        );
        assert_eq!(
            f(
                Func::StringContains,
                false,
                vec![s("start regsvr32.exe"), s("Regsvr32")]
            ),
            Val::Bool(false)
        );
        assert_eq!(
            f(
                Func::StringContains,
                true,
                vec![s("start regsvr32.exe"), s("Regsvr32")]
            ),
            Val::Bool(true)
        );
        assert_eq!(
            f(Func::StringContains, false, vec![s(""), s("")]),
            Val::Bool(false)
        );
        assert_eq!(
            f(Func::Length, false, vec![s("start explorer.exe")]),
            Val::Int(18)
        );
        assert_eq!(f(Func::Length, false, vec![Val::Null]), Val::Null);
        assert_eq!(
            f(
                Func::Concat,
                false,
                vec![s("regsvr32.exe"), s(" "), Val::Float(42.5)]
            ),
            s("regsvr32.exe 42.5")
        );
        assert_eq!(f(Func::Concat, false, vec![s("a"), Val::Null]), Val::Null);
        assert_eq!(f(Func::String, false, vec![Val::Bool(true)]), s("true"));
    }

    #[test]
    fn index_of_examples() {
        let d = s("subdomain.example.com");
        let i = |args: Vec<Val<'static>>, ci| f(Func::IndexOf, ci, args);
        assert_eq!(i(vec![d.clone(), s("d")], false), Val::Int(3));
        assert_eq!(i(vec![d.clone(), s("D")], false), Val::Null);
        assert_eq!(i(vec![d.clone(), s(".")], false), Val::Int(9));
        assert_eq!(
            i(vec![d.clone(), s("."), Val::Int(10)], false),
            Val::Int(17)
        );
        assert_eq!(i(vec![d.clone(), s("."), Val::Int(-6)], false), Val::Int(9));
        assert_eq!(i(vec![d.clone(), s("D")], true), Val::Int(3));
        assert_eq!(i(vec![s(""), s("")], false), Val::Int(0));
        assert_eq!(i(vec![d.clone(), s(""), Val::Int(10)], false), Val::Int(10));
        assert_eq!(i(vec![d.clone(), s("."), Val::Int(30)], false), Val::Null);
        assert_eq!(i(vec![d, s("."), Val::Null], false), Val::Null);
    }

    #[test]
    fn number_examples() {
        let n = |args: Vec<Val<'static>>| f(Func::Number, false, args);
        assert_eq!(n(vec![s("1337")]), Val::Int(1337));
        assert_eq!(n(vec![s("42.5")]), Val::Float(42.5));
        assert_eq!(n(vec![s("deadbeef"), Val::Int(16)]), Val::Int(3735928559));
        assert_eq!(n(vec![s("0xdeadbeef")]), Val::Int(3735928559));
        assert_eq!(n(vec![s("0xdeadbeef"), Val::Null]), Val::Int(3735928559));
        assert_eq!(n(vec![s("+1337")]), Val::Int(1337));
        assert_eq!(n(vec![s("-1337")]), Val::Int(-1337));
        assert_eq!(n(vec![s("  1337  ")]), Val::Int(1337));
        assert_eq!(n(vec![s("")]), Val::Null);
        assert_eq!(n(vec![s("nan")]), Val::Null);
    }

    #[test]
    fn substring_examples() {
        let x = s("start regsvr32.exe");
        let sub = |args: Vec<Val<'static>>| f(Func::Substring, false, args);
        assert_eq!(sub(vec![x.clone(), Val::Int(6)]), s("regsvr32.exe"));
        assert_eq!(sub(vec![x.clone(), Val::Int(0), Val::Int(5)]), s("start"));
        assert_eq!(
            sub(vec![x.clone(), Val::Int(6), Val::Int(14)]),
            s("regsvr32")
        );
        assert_eq!(sub(vec![x.clone(), Val::Int(-4)]), s(".exe"));
        assert_eq!(sub(vec![x, Val::Int(-4), Val::Int(-1)]), s(".ex"));
    }

    #[test]
    fn cidr_examples() {
        let ip = s("192.168.152.12");
        let c = |args: Vec<Val<'static>>| f(Func::CidrMatch, false, args);
        assert_eq!(c(vec![ip.clone(), s("192.168.0.0/16")]), Val::Bool(true));
        assert_eq!(
            c(vec![ip.clone(), s("10.0.0.0/8"), s("10.128.0.0/9")]),
            Val::Bool(false)
        );
        assert_eq!(c(vec![Val::Null, s("10.0.0.0/8")]), Val::Null);
        assert_eq!(c(vec![ip, Val::Null]), Val::Null);
    }
}
