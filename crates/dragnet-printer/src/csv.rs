//! RFC 4180 CSV: fields quoted only when they must be, records ending in `\n`; control
//! characters escaped and cells that a spreadsheet would run as a formula neutralised.

use std::borrow::Cow;
use std::io::{self, Write};

use crate::escape::{Newlines, escape_controls};

/// Whether a spreadsheet would read `cell` as a formula (CSV injection, CWE-1236): it starts
/// with `=`, `+`, `-`, `@`, a tab or a CR, the characters OWASP's "CSV Injection" page
/// (<https://owasp.org/www-community/attacks/CSV_Injection>) names, to be prefixed with a
/// single quote in a quoted cell. OWASP ASVS 5.0 requirement 1.2.10 states the same rule
/// (`=`, `+`, `-`, `@`, tab, and NUL, "escaped with a single quote if they appear as the first
/// character", besides RFC 4180 quoting; as read at <https://asvs.emil.hemdal.se/1.2.10>); NUL
/// and CR never reach this test, [`escape_controls`] has written them as `\x00` and `\r`.
///
/// The trade-off: a negative or signed number (`-5`, `+1.5e3`, as a risk score or a request
/// parameter could be) also starts with `-` or `+`. Prefixed, it would read `'-5` and stop
/// being a number in the spreadsheet; left alone, a spreadsheet computes the same number, and
/// a whole cell that is only a decimal number cannot call a function or reference a cell. So
/// a cell that is entirely a decimal number (sign, digits, at most one `.`, an optional
/// exponent) is left as it is; anything else starting with those characters is neutralised
/// (`-2+3`, `-A1`, `+cmd|…`, a lone `-`).
fn starts_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_decimal_number(cell)
}

/// `-5`, `+1.5`, `.5`, `-2.5e-3`: an optional sign, digits with at most one `.` (at least one
/// digit), an optional exponent with digits. Nothing else (no `inf`, `NaN`, hex or spaces).
fn is_decimal_number(cell: &str) -> bool {
    let s = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// One field: control characters escaped ([`escape_controls`], line feeds and tabs kept); a
/// cell a spreadsheet would run as a formula ([`starts_formula`]) prefixed with `'` and
/// quoted, as OWASP recommends; quoted (inner `"` doubled) when it holds a comma, a quote or a
/// line feed, or starts or ends with a space; as is otherwise.
pub fn csv_field(field: &str) -> Cow<'_, str> {
    let text = escape_controls(field, Newlines::Keep);
    let formula = starts_formula(&text);
    let needs_quotes = formula
        || text.contains([',', '"', '\n', '\r'])
        || text.starts_with(' ')
        || text.ends_with(' ');
    if !needs_quotes {
        return text;
    }
    let mut quoted = String::with_capacity(text.len() + 3);
    quoted.push('"');
    if formula {
        quoted.push('\'');
    }
    quoted.push_str(&text.replace('"', "\"\""));
    quoted.push('"');
    Cow::Owned(quoted)
}

/// One record: fields joined by `,`, ending in `\n`.
pub fn write_csv_record<S: AsRef<str>>(w: &mut dyn Write, fields: &[S]) -> io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&csv_field(field.as_ref()));
    }
    line.push('\n');
    w.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        let mut out = Vec::new();
        write_csv_record(&mut out, &["a", "b"]).unwrap();
        write_csv_record(&mut out, &["plain", "has,comma \"q\"\nline"]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\nplain,\"has,comma \"\"q\"\"\nline\"\n"
        );
        assert_eq!(csv_field(" lead"), "\" lead\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(csv_field("cr\r"), "cr\\r");
        assert_eq!(csv_field("ua \x1b[31mred\x07"), "ua \\x1b[31mred\\x07");
        assert_eq!(csv_field("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(csv_field("tab\tinside"), "tab\tinside");
        // A CR that led the cell is now `\r`: no formula trigger left.
        assert_eq!(csv_field("\r=1+1"), "\\r=1+1");
    }

    #[test]
    fn formulas_are_neutralised_as_owasp_recommends() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_field("+cmd|' /C calc'!A0"), "\"'+cmd|' /C calc'!A0\"");
        assert_eq!(csv_field("-2+3"), "\"'-2+3\"");
        assert_eq!(csv_field("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_field("\t=1"), "\"'\t=1\"");
        assert_eq!(csv_field("-"), "\"'-\"");
        assert_eq!(csv_field("-A1"), "\"'-A1\"");
        // Only the first character counts.
        assert_eq!(csv_field("a=b"), "a=b");
    }

    #[test]
    fn numbers_stay_numbers() {
        for n in ["-5", "+5", "-1.5", "-.5", "+2.5e-3", "-1E10", "47", "0.5"] {
            assert_eq!(csv_field(n), n);
        }
        for not in ["-inf", "-NaN", "-1e", "-1.2.3", "-.", "+", "-0x10", "- 5"] {
            assert!(csv_field(not).starts_with("\"'"), "{not}");
        }
    }
}
