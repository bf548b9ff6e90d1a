//! RFC 4180 CSV: fields quoted only when they must be, records ending in `\n`.

use std::borrow::Cow;
use std::io::{self, Write};

/// One field: quoted (inner `"` doubled) when it holds a comma, a quote, CR or LF, or starts
/// or ends with a space; as is otherwise.
pub fn csv_field(field: &str) -> Cow<'_, str> {
    let needs_quotes =
        field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ');
    if needs_quotes {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
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
        assert_eq!(csv_field("cr\r"), "\"cr\r\"");
        assert_eq!(csv_field(""), "");
    }
}
