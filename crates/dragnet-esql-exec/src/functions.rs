//! ES|QL's scalar operators and functions, evaluated cell by cell.
//!
//! Each function is a [`Kernel`]: argument cells in, a cell out, or an error message that
//! ES|QL turns into a `null` and a warning (a single-value function given a multi-value,
//! integer overflow, division by zero, an unparsable conversion). Type checking happens
//! before, in [`resolve`], so kernels only see the types they were built for.
//! References: Elasticsearch's ES|QL function reference
//! (`docs/reference/query-languages/esql/functions-operators/`), and its csv-spec tests.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;

use crate::types::EsqlType;
use crate::value::{Mv, Val};

/// Evaluates one row: argument cells to a cell, or the message of the failure that makes it
/// null (with a warning).
pub type Kernel = Arc<dyn Fn(&[Mv]) -> Result<Mv, String> + Send + Sync>;

pub const MULTI_VALUE: &str =
    "java.lang.IllegalArgumentException: single-value function encountered multi-value";

/// The single value of a cell: `None` for null, an error for a multi-value.
pub fn single(cell: &Mv) -> Result<Option<&Val>, String> {
    match cell.len() {
        0 => Ok(None),
        1 => Ok(Some(&cell[0])),
        _ => Err(MULTI_VALUE.into()),
    }
}

fn one(v: Val) -> Result<Mv, String> {
    Ok(vec![v])
}

fn null() -> Result<Mv, String> {
    Ok(Vec::new())
}

/// A resolved function: its kernel and result type.
pub struct Resolved {
    pub kernel: Kernel,
    pub ty: EsqlType,
}

fn resolved(
    ty: EsqlType,
    f: impl Fn(&[Mv]) -> Result<Mv, String> + Send + Sync + 'static,
) -> Result<Resolved, String> {
    Ok(Resolved {
        kernel: Arc::new(f),
        ty,
    })
}

/// Arguments known at plan time (literals), for functions whose behaviour they select.
pub type Constants<'a> = &'a [Option<Mv>];

fn constant_str(constants: Constants<'_>, i: usize) -> Option<String> {
    match constants.get(i)?.as_ref()?.as_slice() {
        [Val::Str(s)] => Some(s.clone()),
        _ => None,
    }
}

/// Reports a failure that does not make the result null (one value of several failing to
/// convert), as a warning of the call.
pub type Reporter = Arc<dyn Fn(&str) + Send + Sync>;

/// Resolves a scalar function call by name (case-insensitive) over its argument types.
pub fn resolve(
    name: &str,
    types: &[EsqlType],
    constants: Constants<'_>,
) -> Result<Resolved, String> {
    resolve_reporting(name, types, constants, Arc::new(|_: &str| {}))
}

/// [`resolve`], with partial failures told to `report`.
pub fn resolve_reporting(
    name: &str,
    types: &[EsqlType],
    constants: Constants<'_>,
    report: Reporter,
) -> Result<Resolved, String> {
    let lower = name.to_ascii_lowercase();
    let arity = |min: usize, max: usize| -> Result<(), String> {
        if types.len() < min || types.len() > max {
            Err(format!(
                "function [{name}] takes {} argument(s), got {}",
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                },
                types.len()
            ))
        } else {
            Ok(())
        }
    };
    let string_arg = |i: usize| -> Result<(), String> {
        let t = types[i];
        if t.is_string() || t == EsqlType::Null {
            Ok(())
        } else {
            Err(format!(
                "argument {} of [{name}] must be [string], found value of type [{t}]",
                i + 1
            ))
        }
    };
    match lower.as_str() {
        "coalesce" => {
            arity(1, usize::MAX)?;
            let ty = unify_all(name, types)?;
            resolved(ty, |args| {
                Ok(args
                    .iter()
                    .find(|c| !c.is_empty())
                    .cloned()
                    .unwrap_or_default())
            })
        }
        "concat" => {
            arity(2, usize::MAX)?;
            (0..types.len()).try_for_each(string_arg)?;
            resolved(EsqlType::Keyword, |args| {
                let mut out = String::new();
                for a in args {
                    match single(a)? {
                        Some(v) => out.push_str(v.as_str().unwrap_or_default()),
                        None => return null(),
                    }
                }
                one(Val::Str(out))
            })
        }
        "starts_with" | "ends_with" => {
            arity(2, 2)?;
            string_arg(0)?;
            string_arg(1)?;
            let starts = lower == "starts_with";
            resolved(EsqlType::Boolean, move |args| {
                let (Some(s), Some(p)) = (single(&args[0])?, single(&args[1])?) else {
                    return null();
                };
                let (s, p) = (
                    s.as_str().unwrap_or_default(),
                    p.as_str().unwrap_or_default(),
                );
                one(Val::Bool(if starts {
                    s.starts_with(p)
                } else {
                    s.ends_with(p)
                }))
            })
        }
        "to_lower" | "to_upper" => {
            arity(1, 1)?;
            string_arg(0)?;
            let upper = lower == "to_upper";
            let ty = if types[0] == EsqlType::Null {
                EsqlType::Keyword
            } else {
                types[0]
            };
            resolved(ty, move |args| {
                // Multi-values are converted element by element (ES|QL 8.17+).
                Ok(args[0]
                    .iter()
                    .map(|v| {
                        let s = v.as_str().unwrap_or_default();
                        Val::Str(if upper {
                            s.to_uppercase()
                        } else {
                            s.to_lowercase()
                        })
                    })
                    .collect())
            })
        }
        "length" => {
            arity(1, 1)?;
            string_arg(0)?;
            resolved(EsqlType::Integer, |args| match single(&args[0])? {
                Some(v) => one(Val::Int(
                    v.as_str().unwrap_or_default().chars().count() as i32
                )),
                None => null(),
            })
        }
        "trim" | "ltrim" | "rtrim" => {
            arity(1, 1)?;
            string_arg(0)?;
            let which = lower.clone();
            resolved(EsqlType::Keyword, move |args| match single(&args[0])? {
                Some(v) => {
                    let s = v.as_str().unwrap_or_default();
                    let t = match which.as_str() {
                        "trim" => s.trim(),
                        "ltrim" => s.trim_start(),
                        _ => s.trim_end(),
                    };
                    one(Val::Str(t.to_string()))
                }
                None => null(),
            })
        }
        "substring" => {
            arity(2, 3)?;
            string_arg(0)?;
            resolved(EsqlType::Keyword, |args| {
                let Some(s) = single(&args[0])? else {
                    return null();
                };
                let Some(start) = single(&args[1])?.and_then(Val::as_i64) else {
                    return null();
                };
                let len = match args.get(2) {
                    Some(c) => match single(c)?.and_then(Val::as_i64) {
                        Some(l) => Some(l),
                        None => return null(),
                    },
                    None => None,
                };
                let chars: Vec<char> = s.as_str().unwrap_or_default().chars().collect();
                let n = chars.len() as i64;
                // 1-based; negative starts count from the end (Elasticsearch's Substring).
                let begin = if start < 0 {
                    (n + start).max(0)
                } else {
                    (start - 1).max(0)
                }
                .min(n);
                let end = match len {
                    Some(l) => (begin + l.max(0)).min(n),
                    None => n,
                };
                one(Val::Str(
                    chars[begin as usize..end.max(begin) as usize]
                        .iter()
                        .collect(),
                ))
            })
        }
        // Elasticsearch's Locate: the 1-based position (in code points) of `substr` in `str` from
        // `start` (1-based; 0 as 1; negative from the end; clamped), 0 when absent or when `substr`
        // is longer than `str` in bytes.
        "locate" => {
            arity(2, 3)?;
            string_arg(0)?;
            string_arg(1)?;
            resolved(EsqlType::Integer, |args| {
                let (Some(s), Some(sub)) = (single(&args[0])?, single(&args[1])?) else {
                    return null();
                };
                let start = match args.get(2) {
                    Some(c) => match single(c)?.and_then(Val::as_i64) {
                        Some(v) => v,
                        None => return null(),
                    },
                    None => 0,
                };
                let (s, sub) = (
                    s.as_str().unwrap_or_default(),
                    sub.as_str().unwrap_or_default(),
                );
                if s.len() < sub.len() {
                    return one(Val::Int(0));
                }
                let count = s.chars().count() as i64;
                let from = match start {
                    v if v > 0 => v - 1,
                    v if v < 0 => count + v,
                    _ => 0,
                }
                .clamp(0, count) as usize;
                let offset = s.char_indices().nth(from).map_or(s.len(), |(i, _)| i);
                let position = match s[offset..].find(sub) {
                    Some(i) => 1 + s[..offset + i].chars().count() as i32,
                    None => 0,
                };
                one(Val::Int(position))
            })
        }
        "left" | "right" => {
            arity(2, 2)?;
            string_arg(0)?;
            let left = lower == "left";
            resolved(EsqlType::Keyword, move |args| {
                let Some(s) = single(&args[0])? else {
                    return null();
                };
                let Some(n) = single(&args[1])?.and_then(Val::as_i64) else {
                    return null();
                };
                let chars: Vec<char> = s.as_str().unwrap_or_default().chars().collect();
                let n = (n.max(0) as usize).min(chars.len());
                let part: String = if left {
                    chars[..n].iter().collect()
                } else {
                    chars[chars.len() - n..].iter().collect()
                };
                one(Val::Str(part))
            })
        }
        "replace" => {
            arity(3, 3)?;
            (0..3).try_for_each(string_arg)?;
            let fixed = constant_str(constants, 1).map(|p| regex::Regex::new(&p));
            let fixed = match fixed {
                Some(Ok(r)) => Some(r),
                Some(Err(e)) => return Err(format!("invalid regular expression in [{name}]: {e}")),
                None => None,
            };
            resolved(EsqlType::Keyword, move |args| {
                let (Some(s), Some(p), Some(r)) =
                    (single(&args[0])?, single(&args[1])?, single(&args[2])?)
                else {
                    return null();
                };
                let re = match &fixed {
                    Some(re) => re.clone(),
                    None => regex::Regex::new(p.as_str().unwrap_or_default())
                        .map_err(|e| format!("java.util.regex.PatternSyntaxException: {e}"))?,
                };
                let replacement = java_replacement(r.as_str().unwrap_or_default());
                one(Val::Str(
                    re.replace_all(s.as_str().unwrap_or_default(), replacement.as_str())
                        .into_owned(),
                ))
            })
        }
        "space" => {
            arity(1, 1)?;
            resolved(EsqlType::Keyword, |args| {
                match single(&args[0])?.and_then(Val::as_i64) {
                    // Elasticsearch caps the result at 1 MB (`Space`'s "Creating strings longer than").
                    Some(n) if !(0..=1_048_576).contains(&n) => Err(format!(
                        "java.lang.IllegalArgumentException: Creating strings longer than [1048576] bytes is not supported, got [{n}]"
                    )),
                    Some(n) => one(Val::Str(" ".repeat(n as usize))),
                    None => null(),
                }
            })
        }
        "split" => {
            arity(2, 2)?;
            string_arg(0)?;
            string_arg(1)?;
            resolved(EsqlType::Keyword, |args| {
                let (Some(s), Some(d)) = (single(&args[0])?, single(&args[1])?) else {
                    return null();
                };
                let (s, d) = (
                    s.as_str().unwrap_or_default(),
                    d.as_str().unwrap_or_default(),
                );
                if d.is_empty() {
                    return Err(
                        "java.lang.IllegalArgumentException: delimiter must be a single byte"
                            .into(),
                    );
                }
                Ok(s.split(d).map(|p| Val::Str(p.to_string())).collect())
            })
        }
        "from_base64" | "to_base64" => {
            arity(1, 1)?;
            string_arg(0)?;
            let decode = lower == "from_base64";
            resolved(EsqlType::Keyword, move |args| {
                let Some(v) = single(&args[0])? else {
                    return null();
                };
                let s = v.as_str().unwrap_or_default();
                if decode {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(s.trim_end())
                        .map_err(|e| format!("java.lang.IllegalArgumentException: {e}"))?;
                    one(Val::Str(String::from_utf8_lossy(&bytes).into_owned()))
                } else {
                    one(Val::Str(
                        base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                    ))
                }
            })
        }
        "to_string" | "to_str" => {
            arity(1, 1)?;
            resolved(EsqlType::Keyword, |args| {
                Ok(args[0].iter().map(|v| Val::Str(v.render())).collect())
            })
        }
        "to_long" | "to_integer" | "to_int" | "to_double" | "to_dbl" | "to_boolean" | "to_bool"
        | "to_datetime" | "to_dt" | "to_ip" | "to_version" | "to_ver" | "to_unsigned_long"
        | "to_ul" | "to_ulong" | "to_keyword" | "to_text" => {
            arity(1, 1)?;
            let target = match lower.as_str() {
                "to_long" => EsqlType::Long,
                "to_integer" | "to_int" => EsqlType::Integer,
                "to_double" | "to_dbl" => EsqlType::Double,
                "to_boolean" | "to_bool" => EsqlType::Boolean,
                "to_datetime" | "to_dt" => EsqlType::Date,
                "to_ip" => EsqlType::Ip,
                "to_version" | "to_ver" => EsqlType::Version,
                "to_unsigned_long" | "to_ul" | "to_ulong" => EsqlType::UnsignedLong,
                "to_text" => EsqlType::Text,
                _ => EsqlType::Keyword,
            };
            cast_reporting(types[0], target, report)
        }
        "abs" => {
            arity(1, 1)?;
            numeric(name, types[0])?;
            resolved(types[0], |args| match single(&args[0])? {
                Some(Val::Int(v)) => v
                    .checked_abs()
                    .map(|a| vec![Val::Int(a)])
                    .ok_or_else(|| overflow("integer")),
                Some(Val::Long(v)) => v
                    .checked_abs()
                    .map(|a| vec![Val::Long(a)])
                    .ok_or_else(|| overflow("long")),
                Some(Val::Double(v)) => one(Val::Double(v.abs())),
                Some(v) => one(v.clone()),
                None => null(),
            })
        }
        "round" | "floor" | "ceil" => {
            arity(1, if lower == "round" { 2 } else { 1 })?;
            numeric(name, types[0])?;
            let which = lower.clone();
            resolved(types[0], move |args| {
                let Some(v) = single(&args[0])? else {
                    return null();
                };
                let digits = match args.get(1) {
                    Some(c) => match single(c)?.and_then(Val::as_i64) {
                        Some(d) => d,
                        None => return null(),
                    },
                    None => 0,
                };
                match v {
                    Val::Double(x) => {
                        let f = match which.as_str() {
                            "floor" => x.floor(),
                            "ceil" => x.ceil(),
                            _ => round_half_up(*x, digits),
                        };
                        one(Val::Double(f))
                    }
                    Val::Long(x) if which == "round" && digits < 0 => {
                        one(Val::Long(round_integral(*x, digits)))
                    }
                    Val::Int(x) if which == "round" && digits < 0 => {
                        one(Val::Int(round_integral(i64::from(*x), digits) as i32))
                    }
                    other => one(other.clone()),
                }
            })
        }
        // CLAMP(x, min, max), CLAMP_MIN(x, min), CLAMP_MAX(x, max): single values, in the
        // arguments' common type (conditional.csv-spec clampWithKeywordFields).
        "clamp" | "clamp_min" | "clamp_max" => {
            if lower == "clamp" {
                arity(3, 3)?;
            } else {
                arity(2, 2)?;
            }
            let ty = unify_all(name, types)?;
            let op = lower.clone();
            resolved(ty, move |args| {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    match single(a)? {
                        Some(v) => values.push(v),
                        None => return null(),
                    }
                }
                let (low, high) = match op.as_str() {
                    "clamp" => (Some(values[1]), Some(values[2])),
                    "clamp_min" => (Some(values[1]), None),
                    _ => (None, Some(values[1])),
                };
                let mut out = values[0];
                if let Some(low) = low
                    && out.compare(low) == Some(Ordering::Less)
                {
                    out = low;
                }
                if let Some(high) = high
                    && out.compare(high) == Some(Ordering::Greater)
                {
                    out = high;
                }
                one(out.clone())
            })
        }
        // MV_APPEND(a, b): a's values then b's; null if either is (date.csv-spec mvAppendDates).
        "mv_append" => {
            arity(2, 2)?;
            let ty = unify_all(name, types)?;
            resolved(ty, |args| {
                if args[0].is_empty() || args[1].is_empty() {
                    return null();
                }
                Ok(args[0].iter().chain(&args[1]).cloned().collect())
            })
        }
        "greatest" | "least" => {
            arity(1, usize::MAX)?;
            let ty = unify_all(name, types)?;
            let greatest = lower == "greatest";
            resolved(ty, move |args| {
                let mut best: Option<&Val> = None;
                for a in args {
                    // Multi-values take part with all their values.
                    if a.is_empty() {
                        return null();
                    }
                    for v in a {
                        let better = match best {
                            None => true,
                            Some(b) => {
                                let o = v.compare(b);
                                if greatest {
                                    o == Some(Ordering::Greater)
                                } else {
                                    o == Some(Ordering::Less)
                                }
                            }
                        };
                        if better {
                            best = Some(v);
                        }
                    }
                }
                Ok(best.cloned().into_iter().collect())
            })
        }
        "mv_count" => {
            arity(1, 1)?;
            resolved(EsqlType::Integer, |args| {
                if args[0].is_empty() {
                    null()
                } else {
                    one(Val::Int(args[0].len() as i32))
                }
            })
        }
        "mv_first" | "mv_last" => {
            arity(1, 1)?;
            let first = lower == "mv_first";
            resolved(types[0], move |args| {
                Ok(if first {
                    args[0].first()
                } else {
                    args[0].last()
                }
                .cloned()
                .into_iter()
                .collect())
            })
        }
        "mv_min" | "mv_max" => {
            arity(1, 1)?;
            let max = lower == "mv_max";
            resolved(types[0], move |args| {
                Ok(mv_extreme(&args[0], max).into_iter().collect())
            })
        }
        "mv_dedupe" => {
            arity(1, 1)?;
            resolved(types[0], |args| {
                let mut out: Mv = Vec::new();
                for v in &args[0] {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Ok(out)
            })
        }
        "mv_sort" => {
            arity(1, 2)?;
            let desc = match constant_str(constants, 1) {
                Some(o) if o.eq_ignore_ascii_case("desc") => true,
                Some(o) if o.eq_ignore_ascii_case("asc") => false,
                Some(o) => {
                    return Err(format!(
                        "Invalid order value in [{name}], expected one of [ASC, DESC] but got [{o}]"
                    ));
                }
                None => false,
            };
            resolved(types[0], move |args| {
                let mut out = args[0].clone();
                out.sort_by(|a, b| a.compare(b).unwrap_or(Ordering::Equal));
                if desc {
                    out.reverse();
                }
                Ok(out)
            })
        }
        "mv_concat" => {
            arity(2, 2)?;
            string_arg(0)?;
            string_arg(1)?;
            resolved(EsqlType::Keyword, |args| {
                let Some(d) = single(&args[1])? else {
                    return null();
                };
                if args[0].is_empty() {
                    return null();
                }
                let parts: Vec<String> = args[0].iter().map(Val::render).collect();
                one(Val::Str(parts.join(d.as_str().unwrap_or_default())))
            })
        }
        "mv_sum" | "mv_avg" | "mv_median" => {
            arity(1, 1)?;
            numeric(name, types[0])?;
            let which = lower.clone();
            let ty = if which == "mv_sum" {
                types[0]
            } else {
                EsqlType::Double
            };
            resolved(ty, move |args| {
                if args[0].is_empty() {
                    return null();
                }
                match which.as_str() {
                    "mv_sum" => sum(&args[0]).map(|v| vec![v]),
                    "mv_avg" => {
                        let total: f64 = args[0].iter().filter_map(Val::as_f64).sum();
                        one(Val::Double(total / args[0].len() as f64))
                    }
                    _ => {
                        let mut xs: Vec<f64> = args[0].iter().filter_map(Val::as_f64).collect();
                        xs.sort_by(|a, b| a.total_cmp(b));
                        let n = xs.len();
                        let m = if n % 2 == 1 {
                            xs[n / 2]
                        } else {
                            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
                        };
                        one(Val::Double(m))
                    }
                }
            })
        }
        "mv_slice" => {
            arity(2, 3)?;
            resolved(types[0], |args| {
                let Some(start) = single(&args[1])?.and_then(Val::as_i64) else {
                    return null();
                };
                let end = match args.get(2) {
                    Some(c) => match single(c)?.and_then(Val::as_i64) {
                        Some(e) => e,
                        None => return null(),
                    },
                    None => start,
                };
                let n = args[0].len() as i64;
                let fix = |i: i64| if i < 0 { n + i } else { i };
                let (s, e) = (fix(start), fix(end));
                if s < 0 || s >= n || e < s {
                    return null();
                }
                Ok(args[0][s as usize..=(e.min(n - 1)) as usize].to_vec())
            })
        }
        "cidr_match" => {
            arity(2, usize::MAX)?;
            resolved(EsqlType::Boolean, |args| {
                let Some(ip) = single(&args[0])? else {
                    return null();
                };
                let Some(ip) = ip.as_str().and_then(|s| s.parse::<IpAddr>().ok()) else {
                    return null();
                };
                for block in &args[1..] {
                    for b in block {
                        if let Some(b) = b.as_str()
                            && cidr_contains(b, ip)
                        {
                            return one(Val::Bool(true));
                        }
                    }
                }
                one(Val::Bool(false))
            })
        }
        "date_diff" => {
            arity(3, 3)?;
            string_arg(0)?;
            resolved(EsqlType::Integer, |args| {
                let (Some(unit), Some(a), Some(b)) =
                    (single(&args[0])?, single(&args[1])?, single(&args[2])?)
                else {
                    return null();
                };
                let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) else {
                    return null();
                };
                let diff = crate::dates::date_diff(unit.as_str().unwrap_or_default(), a, b)?;
                i32::try_from(diff)
                    .map(|d| vec![Val::Int(d)])
                    .map_err(|_| format!("org.elasticsearch.xpack.esql.core.InvalidArgumentException: [{diff}] out of [integer] range"))
            })
        }
        "date_extract" => {
            arity(2, 2)?;
            resolved(EsqlType::Long, |args| {
                let (Some(part), Some(d)) = (single(&args[0])?, single(&args[1])?) else {
                    return null();
                };
                let Some(ms) = d.as_i64() else { return null() };
                crate::dates::extract(part.as_str().unwrap_or_default(), ms)
                    .map(|v| vec![Val::Long(v)])
            })
        }
        "date_format" => {
            arity(1, 2)?;
            resolved(EsqlType::Keyword, |args| {
                let (format, date) = if args.len() == 2 {
                    (single(&args[0])?, &args[1])
                } else {
                    (None, &args[0])
                };
                let Some(ms) = single(date)?.and_then(Val::as_i64) else {
                    return null();
                };
                match format {
                    Some(f) => crate::dates::format(f.as_str().unwrap_or_default(), ms)
                        .map(|s| vec![Val::Str(s)]),
                    None => one(Val::Str(crate::value::render_date(ms))),
                }
            })
        }
        "date_parse" => {
            arity(1, 2)?;
            resolved(EsqlType::Date, |args| {
                let (format, text) = if args.len() == 2 {
                    // date.csv-spec evalDateParseNullPattern: a null pattern gives null.
                    let Some(format) = single(&args[0])? else {
                        return null();
                    };
                    (Some(format), &args[1])
                } else {
                    (None, &args[0])
                };
                let Some(text) = single(text)? else {
                    return null();
                };
                let text = text.as_str().unwrap_or_default();
                let ms = match format {
                    Some(f) => crate::dates::parse_with(f.as_str().unwrap_or_default(), text)?,
                    None => crate::dates::parse_iso(text)
                        .ok_or_else(|| format!("java.lang.IllegalArgumentException: failed to parse date field [{text}] with format [strict_date_optional_time]"))?,
                };
                one(Val::Date(ms))
            })
        }
        _ => Err(format!("Unknown function [{name}]")),
    }
}

fn overflow(what: &str) -> String {
    format!("java.lang.ArithmeticException: {what} overflow")
}

fn numeric(name: &str, t: EsqlType) -> Result<(), String> {
    if t.is_numeric() || t == EsqlType::Null {
        Ok(())
    } else {
        Err(format!(
            "argument of [{name}] must be [numeric], found value of type [{t}]"
        ))
    }
}

fn unify_all(name: &str, types: &[EsqlType]) -> Result<EsqlType, String> {
    let mut ty = EsqlType::Null;
    for t in types {
        ty = ty
            .unify(*t)
            .or_else(|| numeric_widen(ty, *t))
            .ok_or_else(|| {
                format!(
                    "all arguments of [{name}] must be of the same type, found [{ty}] and [{t}]"
                )
            })?;
    }
    Ok(ty)
}

fn numeric_widen(a: EsqlType, b: EsqlType) -> Option<EsqlType> {
    if a.is_numeric() && b.is_numeric() {
        Some(if a == EsqlType::Double || b == EsqlType::Double {
            EsqlType::Double
        } else {
            EsqlType::Long
        })
    } else {
        None
    }
}

fn mv_extreme(cell: &Mv, max: bool) -> Option<Val> {
    let mut best: Option<&Val> = None;
    for v in cell {
        best = match best {
            None => Some(v),
            Some(b) => {
                let o = v.compare(b);
                if (max && o == Some(Ordering::Greater)) || (!max && o == Some(Ordering::Less)) {
                    Some(v)
                } else {
                    Some(b)
                }
            }
        };
    }
    best.cloned()
}

/// The sum of numbers, in the type of the first (ES|QL sums ints as ints, failing on overflow).
pub fn sum(values: &[Val]) -> Result<Val, String> {
    let mut acc = values[0].clone();
    for v in &values[1..] {
        acc = arith(crate::functions::Arith::Add, &acc, v)?;
    }
    Ok(acc)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Binary arithmetic with ES|QL's rules: int op int is int, with long it is long, with double
/// double; integer overflow and division by zero fail (null with a warning).
pub fn arith(op: Arith, a: &Val, b: &Val) -> Result<Val, String> {
    use Val::*;
    match (a, b) {
        (Int(x), Int(y)) => {
            let r = match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div | Arith::Mod if *y == 0 => return Err(div_zero()),
                Arith::Div => x.checked_div(*y),
                Arith::Mod => x.checked_rem(*y),
            };
            r.map(Int).ok_or_else(|| overflow("integer"))
        }
        (Double(_), _) | (_, Double(_)) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            let r = match op {
                Arith::Add => x + y,
                Arith::Sub => x - y,
                Arith::Mul => x * y,
                Arith::Div | Arith::Mod if y == 0.0 => return Err(div_zero()),
                Arith::Div => x / y,
                Arith::Mod => x % y,
            };
            if r.is_finite() {
                Ok(Double(r))
            } else {
                Err("java.lang.ArithmeticException: not a finite double number".into())
            }
        }
        (ULong(x), ULong(y)) => {
            let r = match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div | Arith::Mod if *y == 0 => return Err(div_zero()),
                Arith::Div => x.checked_div(*y),
                Arith::Mod => x.checked_rem(*y),
            };
            r.map(ULong).ok_or_else(|| overflow("unsigned_long"))
        }
        _ => {
            let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) else {
                return Err(format!(
                    "java.lang.IllegalArgumentException: cannot compute on [{a:?}] and [{b:?}]"
                ));
            };
            let r = match op {
                Arith::Add => x.checked_add(y),
                Arith::Sub => x.checked_sub(y),
                Arith::Mul => x.checked_mul(y),
                Arith::Div | Arith::Mod if y == 0 => return Err(div_zero()),
                Arith::Div => x.checked_div(y),
                Arith::Mod => x.checked_rem(y),
            };
            r.map(Long).ok_or_else(|| overflow("long"))
        }
    }
}

fn div_zero() -> String {
    "java.lang.ArithmeticException: / by zero".into()
}

/// The result type of arithmetic on two numeric types.
pub fn arith_type(a: EsqlType, b: EsqlType) -> Option<EsqlType> {
    use EsqlType::*;
    Some(match (a, b) {
        (Null, t) | (t, Null) if t.is_numeric() || t == Null => t,
        (Integer, Integer) => Integer,
        (Double, t) | (t, Double) if t.is_numeric() => Double,
        (UnsignedLong, UnsignedLong) => UnsignedLong,
        (Long | Integer, Long | Integer) => Long,
        _ => return None,
    })
}

/// Half-up rounding to `digits` decimals (Elasticsearch's `Maths.round`).
fn round_half_up(x: f64, digits: i64) -> f64 {
    let factor = 10f64.powi(digits.clamp(-308, 308) as i32);
    let r = (x * factor).abs();
    let rounded = (r + 0.5).floor().copysign(x);
    if factor.is_finite() && factor != 0.0 {
        rounded / factor
    } else {
        x
    }
}

fn round_integral(x: i64, digits: i64) -> i64 {
    let p = 10i64.checked_pow((-digits) as u32).unwrap_or(i64::MAX);
    let half = p / 2;
    let r = (x.abs() + half) / p * p;
    if x < 0 { -r } else { r }
}

/// Java's `Matcher.replaceAll` replacement (`$1`, `\$`) in the `regex` crate's syntax.
fn java_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    if n == '$' {
                        out.push_str("$$");
                    } else {
                        out.push(n);
                    }
                }
            }
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push_str(&format!("${{{digits}}}"));
            }
            c => out.push(c),
        }
    }
    out
}

fn cidr_contains(block: &str, ip: IpAddr) -> bool {
    let (net, bits) = match block.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (block, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    let ip = canonical_ip(ip);
    let net = canonical_ip(net);
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// An ip in the text form Elasticsearch prints (`InetAddresses.toAddrString`), or `None`.
pub fn ip_text(s: &str) -> Option<String> {
    s.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| canonical_ip(ip).to_string())
}

/// The conversion function (`TO_*`, `::type`) from `from` to `to`, element by element.
pub fn cast(from: EsqlType, to: EsqlType) -> Result<Resolved, String> {
    cast_reporting(from, to, Arc::new(|_: &str| {}))
}

/// [`cast`], telling `report` of each value of several that does not convert.
pub fn cast_reporting(from: EsqlType, to: EsqlType, report: Reporter) -> Result<Resolved, String> {
    if from == to || from == EsqlType::Null {
        return resolved(to, |args| Ok(args[0].clone()));
    }
    if matches!(
        from,
        EsqlType::Unsupported | EsqlType::TimeDuration | EsqlType::DatePeriod
    ) {
        return Err(format!("cannot convert from [{from}] to [{to}]"));
    }
    resolved(to, move |args| {
        let mut out = Vec::with_capacity(args[0].len());
        let mut failure = None;
        for v in &args[0] {
            match convert(v, from, to) {
                Ok(c) => out.push(c),
                Err(e) => failure = Some(e),
            }
        }
        // A value that does not convert is left out with a warning; all failing is null
        // (date.csv-spec convertFromString).
        match failure {
            Some(e) if out.is_empty() => Err(e),
            Some(e) => {
                report(&e);
                Ok(out)
            }
            None => Ok(out),
        }
    })
}

fn convert(v: &Val, from: EsqlType, to: EsqlType) -> Result<Val, String> {
    let parse_err = |what: &str, s: &str| {
        format!(
            "org.elasticsearch.xpack.esql.core.InvalidArgumentException: Cannot parse number [{s}]{what}"
        )
    };
    match to {
        EsqlType::Keyword | EsqlType::Text | EsqlType::Version => Ok(Val::Str(v.render())),
        EsqlType::Ip => match v {
            Val::Str(s) => ip_text(s)
                .map(Val::Str)
                .ok_or_else(|| format!("java.lang.IllegalArgumentException: '{s}' is not an IP string literal.")),
            _ => Err(format!("cannot convert [{v:?}] to ip")),
        },
        EsqlType::Double => match v {
            Val::Str(s) => s
                .trim()
                .parse::<f64>()
                .map(Val::Double)
                .map_err(|_| format!("java.lang.NumberFormatException: For input string: \"{s}\"")),
            Val::Bool(b) => Ok(Val::Double(if *b { 1.0 } else { 0.0 })),
            other => other.as_f64().map(Val::Double).ok_or_else(|| format!("cannot convert [{other:?}] to double")),
        },
        EsqlType::Long | EsqlType::Integer | EsqlType::UnsignedLong => {
            let wide: i128 = match v {
                Val::Str(s) => {
                    let t = s.trim();
                    match t.parse::<i128>() {
                        Ok(i) => i,
                        // "1.5" converts by truncating the double (Elasticsearch's `safeToLong`
                        // after `parseDouble`), when it is in range.
                        Err(_) => match t.parse::<f64>() {
                            Ok(d) if d.is_finite() => d.trunc() as i128,
                            _ => return Err(parse_err("", s)),
                        },
                    }
                }
                Val::Double(d) => {
                    if !d.is_finite() {
                        return Err(format!("org.elasticsearch.xpack.esql.core.InvalidArgumentException: [{}] out of [{to}] range", crate::value::render_double(*d)));
                    }
                    d.round() as i128
                }
                Val::Bool(b) => i128::from(*b),
                Val::Long(x) | Val::Date(x) => i128::from(*x),
                Val::Int(x) => i128::from(*x),
                Val::ULong(x) => i128::from(*x),
            };
            let range_err = || {
                format!(
                    "org.elasticsearch.xpack.esql.core.InvalidArgumentException: [{}] out of [{to}] range",
                    v.render()
                )
            };
            match to {
                EsqlType::Integer => i32::try_from(wide).map(Val::Int).map_err(|_| range_err()),
                EsqlType::Long => i64::try_from(wide).map(Val::Long).map_err(|_| range_err()),
                _ => u64::try_from(wide).map(Val::ULong).map_err(|_| range_err()),
            }
        }
        EsqlType::Boolean => match v {
            Val::Str(s) => Ok(Val::Bool(s.eq_ignore_ascii_case("true"))),
            Val::Bool(b) => Ok(Val::Bool(*b)),
            other => Ok(Val::Bool(other.as_f64().is_some_and(|x| x != 0.0))),
        },
        EsqlType::Date => match v {
            Val::Str(s) => crate::dates::parse_iso(s).map(Val::Date).ok_or_else(|| {
                format!("java.lang.IllegalArgumentException: failed to parse date field [{s}] with format [strict_date_optional_time]")
            }),
            Val::Double(d) => Ok(Val::Date(*d as i64)),
            // date.csv-spec convertFromUnsignedLong.
            Val::ULong(u) => i64::try_from(*u).map(Val::Date).map_err(|_| {
                format!("org.elasticsearch.xpack.esql.core.InvalidArgumentException: [{u}] out of [long] range")
            }),
            other => other.as_i64().map(Val::Date).ok_or_else(|| format!("cannot convert [{other:?}] to date")),
        },
        _ => {
            let _ = from;
            Err(format!("cannot convert to [{to}]"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, types: &[EsqlType], args: &[Mv]) -> Result<Mv, String> {
        let r = resolve(name, types, &[]).unwrap();
        (r.kernel)(args)
    }

    fn s(v: &str) -> Mv {
        vec![Val::Str(v.into())]
    }

    #[test]
    fn single_value_functions_fail_on_multi_values() {
        let k = EsqlType::Keyword;
        let mv = vec![Val::Str("a".into()), Val::Str("b".into())];
        assert_eq!(
            call("starts_with", &[k, k], &[mv, s("a")]),
            Err(MULTI_VALUE.into())
        );
        assert_eq!(
            call("starts_with", &[k, k], &[s("abc"), s("ab")]),
            Ok(vec![Val::Bool(true)])
        );
        assert_eq!(call("concat", &[k, k], &[s("a"), vec![]]), Ok(vec![]));
    }

    /// Elasticsearch's `Locate.process`: 1-based code-point positions, start 0 as 1, negative
    /// from the end, clamped; 0 when absent or when the substring has more bytes.
    #[test]
    fn locate_follows_elasticsearch() {
        let (k, i) = (EsqlType::Keyword, EsqlType::Integer);
        let at = |hay: &str, needle: &str, start: Option<i32>| {
            let mut types = vec![k, k];
            let mut args = vec![s(hay), s(needle)];
            if let Some(v) = start {
                types.push(i);
                args.push(vec![Val::Int(v)]);
            }
            match call("locate", &types, &args).unwrap().as_slice() {
                [Val::Int(p)] => *p,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(at("a tiger", "ti", None), 3);
        assert_eq!(at("a tiger", "x", None), 0);
        assert_eq!(at("abcabc", "bc", Some(3)), 5);
        assert_eq!(at("abcabc", "bc", Some(0)), 2);
        assert_eq!(at("abcabc", "bc", Some(-2)), 5);
        assert_eq!(at("abcabc", "bc", Some(-100)), 2);
        assert_eq!(at("abcabc", "bc", Some(100)), 0);
        // Positions count code points, not bytes.
        assert_eq!(at("ééx", "x", None), 3);
        assert_eq!(at("ab", "abc", None), 0);
        assert_eq!(at("abc", "", None), 1);
    }

    #[test]
    fn integer_arithmetic_overflows_to_failure() {
        assert!(arith(Arith::Add, &Val::Int(i32::MAX), &Val::Int(1)).is_err());
        assert_eq!(
            arith(Arith::Add, &Val::Int(1), &Val::Long(2)),
            Ok(Val::Long(3))
        );
        assert_eq!(
            arith(Arith::Div, &Val::Int(7), &Val::Int(2)),
            Ok(Val::Int(3))
        );
        assert!(arith(Arith::Div, &Val::Long(1), &Val::Long(0)).is_err());
    }

    #[test]
    fn conversions_are_element_wise_and_skip_failures() {
        let r = cast(EsqlType::Keyword, EsqlType::Long).unwrap();
        assert_eq!(
            (r.kernel)(&[vec![Val::Str("1".into()), Val::Str("x".into())]]),
            Ok(vec![Val::Long(1)])
        );
        assert!((r.kernel)(&[s("x")]).is_err());
        let r = cast(EsqlType::Keyword, EsqlType::Ip).unwrap();
        assert_eq!((r.kernel)(&[s("::ffff:1.2.3.4")]), Ok(s("1.2.3.4")));
    }

    #[test]
    fn cidr_blocks() {
        assert!(cidr_contains("10.0.0.0/8", "10.1.2.3".parse().unwrap()));
        assert!(!cidr_contains("10.0.0.0/8", "11.1.2.3".parse().unwrap()));
    }
}
