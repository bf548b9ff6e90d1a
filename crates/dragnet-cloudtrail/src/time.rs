//! The pipeline's `date` processor: ISO 8601 (and the basic formats used for `creationDate`)
//! to UTC with millisecond precision, `2024-10-10T14:50:40.000Z`.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Parses like Elasticsearch's `ISO8601` date format: a date, optionally a time, optionally
/// an offset (UTC when absent). Returns the timestamp as the date processor writes it.
pub fn iso8601(s: &str) -> Option<String> {
    // Elasticsearch's ISO 8601 parser takes the extended form (`2024-10-10`) only; the basic
    // form (`20241010T…`) is the separate `basic_date_time*` formats. It neither trims nor
    // folds case: the year starts the text and the date/time separator is an upper-case `T`
    // (`DateFormatters` "iso8601": `appendLiteral('T')`; `Iso8601Parser`:
    // `str.charAt(10) != 'T'` is an error), so no space, `t` or surrounding whitespace.
    let b = s.as_bytes();
    if b.get(4) != Some(&b'-') || b.get(10).is_some_and(|&c| c != b'T') {
        return None;
    }
    if s.trim() != s {
        return None;
    }
    let ts = if let Ok(ts) = s.parse::<Timestamp>() {
        ts
    } else if let Ok(dt) = s.parse::<DateTime>() {
        dt.to_zoned(TimeZone::UTC).ok()?.timestamp()
    } else if let Ok(d) = s.parse::<Date>() {
        d.to_zoned(TimeZone::UTC).ok()?.timestamp()
    } else {
        return None;
    };
    Some(format_millis(ts))
}

/// `ISO8601`, then `basic_date_time_no_millis` (`20131102T010628Z`), then `basic_date_time`
/// (`20131102T010628.000Z`): the formats the pipeline tries for `creationDate`.
pub fn iso8601_or_basic(s: &str) -> Option<String> {
    iso8601(s).or_else(|| basic(s.trim()))
}

fn basic(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 16 || b[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let mut rest = &s[15..];
    let mut nanos = 0i32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits != 3 {
            return None;
        }
        nanos = frac[..3].parse::<i32>().ok()? * 1_000_000;
        rest = &frac[3..];
    }
    let offset_seconds = match rest {
        "Z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm = rest[1..].replace(':', "");
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            sign * (hm[..2].parse::<i32>().ok()? * 3600 + hm[2..].parse::<i32>().ok()? * 60)
        }
    };
    let dt = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        nanos,
    )
    .ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    let ts = dt.to_zoned(TimeZone::fixed(offset)).ok()?.timestamp();
    Some(format_millis(ts))
}

fn format_millis(ts: Timestamp) -> String {
    // The date processor's output format `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` truncates to millis.
    let dt = ts.to_zoned(TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond() / 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_times_become_utc_millis() {
        assert_eq!(
            iso8601("2024-10-10T14:50:40Z").as_deref(),
            Some("2024-10-10T14:50:40.000Z")
        );
        assert_eq!(
            iso8601("2024-10-10T14:50:40.123987Z").as_deref(),
            Some("2024-10-10T14:50:40.123Z")
        );
        assert_eq!(
            iso8601("2024-10-10T16:50:40+02:00").as_deref(),
            Some("2024-10-10T14:50:40.000Z")
        );
        assert_eq!(
            iso8601("2024-10-10T14:50:40").as_deref(),
            Some("2024-10-10T14:50:40.000Z")
        );
        assert_eq!(
            iso8601("2024-10-10").as_deref(),
            Some("2024-10-10T00:00:00.000Z")
        );
        assert_eq!(iso8601("yesterday"), None);
        assert_eq!(iso8601("20131102T010628Z"), None);
    }

    #[test]
    fn creation_date_accepts_basic_formats() {
        // test-console-login-json.log: "20131102T010628Z" -> 2013-11-02T01:06:28.000Z
        assert_eq!(
            iso8601_or_basic("20131102T010628Z").as_deref(),
            Some("2013-11-02T01:06:28.000Z")
        );
        assert_eq!(
            iso8601_or_basic("20131102T010628.250+0100").as_deref(),
            Some("2013-11-02T00:06:28.250Z")
        );
        assert_eq!(iso8601_or_basic("20131102T0106"), None);
    }
}
