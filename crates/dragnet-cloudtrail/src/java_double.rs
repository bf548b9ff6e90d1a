//! Java's rendering of a `double`, which `requestParameters` maps and Painless scripts show.

/// `java.lang.Double.toString(d)` as in JDK 19+ (shortest digits that round-trip): plain
/// notation with at least one fraction digit for 10⁻³ ≤ |d| < 10⁷, else `d.dddE±n`.
pub fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the length of the shortest round-trip digits; Java then takes the decimal of
    // that length (two at least) closest to the exact value, ties to even, which is Rust's
    // correctly rounded `{:.N$e}` (Double.MIN_VALUE is "4.9E-324", and 1927220481940758.25
    // prints as "...582E15" where `{:e}` alone says "...583e15").
    let shortest = format!("{:e}", d.abs());
    let len = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let sci = format!("{:.*e}", len.max(2) - 1, d.abs());
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("decimal exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if d < 0.0 { "-" } else { "" };
    let abs = d.abs();
    if (1e-3..1e7).contains(&abs) {
        let (int_part, frac) = if exp >= 0 {
            let e = exp as usize;
            let int_part: String = if digits.len() > e + 1 {
                digits[..e + 1].to_string()
            } else {
                format!("{digits:0<width$}", width = e + 1)
            };
            let frac = if digits.len() > e + 1 {
                &digits[e + 1..]
            } else {
                "0"
            };
            (int_part, frac.to_string())
        } else {
            (
                "0".to_string(),
                format!("{}{}", "0".repeat((-exp - 1) as usize), digits),
            )
        };
        format!("{sign}{int_part}.{frac}")
    } else {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        format!("{sign}{}.{rest}E{exp}", &digits[..1])
    }
}
