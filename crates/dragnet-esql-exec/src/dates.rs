//! ES|QL date arithmetic over epoch milliseconds (UTC): spans, `DATE_TRUNC`, `DATE_DIFF`,
//! `DATE_EXTRACT`, and the Java `DateTimeFormatter` patterns `DATE_FORMAT`/`DATE_PARSE` take.

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A time span literal: a fixed duration, or a calendar period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Span {
    /// `time_duration`: milliseconds.
    Millis(i64),
    /// `date_period`: months and days (weeks are 7 days, quarters 3 months, years 12).
    Period { months: i64, days: i64 },
}

/// Reads `N unit` (`10 seconds`, `1 day`, `3 months`): hours and below are durations, days and
/// above periods, as ES|QL types them (`time_duration` / `date_period`).
pub fn span(value: i128, unit: &str) -> Result<Span, String> {
    let n = i64::try_from(value).map_err(|_| format!("span [{value}] out of range"))?;
    let u = unit.to_ascii_lowercase();
    let u = u.as_str();
    let ms = |per: i64| {
        n.checked_mul(per)
            .map(Span::Millis)
            .ok_or_else(|| format!("span [{value} {unit}] out of range"))
    };
    match u {
        "millisecond" | "milliseconds" | "ms" => ms(1),
        "second" | "seconds" | "sec" | "s" => ms(1_000),
        "minute" | "minutes" | "min" => ms(60_000),
        "hour" | "hours" | "h" => ms(3_600_000),
        "day" | "days" | "d" => Ok(Span::Period { months: 0, days: n }),
        "week" | "weeks" | "w" => Ok(Span::Period {
            months: 0,
            days: n.saturating_mul(7),
        }),
        "month" | "months" | "mo" => Ok(Span::Period { months: n, days: 0 }),
        "quarter" | "quarters" | "q" => Ok(Span::Period {
            months: n.saturating_mul(3),
            days: 0,
        }),
        "year" | "years" | "yr" | "y" => Ok(Span::Period {
            months: n.saturating_mul(12),
            days: 0,
        }),
        _ => Err(format!("Unexpected temporal unit: '{unit}'")),
    }
}

fn civil(ms: i64) -> Option<DateTime> {
    Some(
        Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(TimeZone::UTC)
            .datetime(),
    )
}

fn to_ms(dt: DateTime) -> Option<i64> {
    Some(
        dt.to_zoned(TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}

/// `date + span` (or `- span` with `negate`).
pub fn add(ms: i64, span: Span, negate: bool) -> Result<i64, String> {
    let sign = if negate { -1 } else { 1 };
    match span {
        Span::Millis(d) => ms
            .checked_add(d.checked_mul(sign).ok_or("overflow")?)
            .ok_or_else(|| "java.lang.ArithmeticException: long overflow".into()),
        Span::Period { months, days } => {
            // Past the instants Java can hold, Elasticsearch's `Instant` arithmetic overflows
            // a long (date.csv-spec dateMathArithmeticOverflow).
            let dt = civil(ms).ok_or("java.lang.ArithmeticException: long overflow")?;
            let out_of_range = || "java.time.DateTimeException: date out of range".to_string();
            let (months, days) = (
                months.checked_mul(sign).ok_or_else(out_of_range)?,
                days.checked_mul(sign).ok_or_else(out_of_range)?,
            );
            // Java's `LocalDateTime.plusMonths` checks the target year first (date.csv-spec
            // dateMathDateException: `dt + 2147483647 years`).
            let month_count = (i64::from(dt.year()) * 12 + i64::from(dt.month()) - 1)
                .checked_add(months)
                .ok_or_else(out_of_range)?;
            let year = month_count.div_euclid(12);
            if !(-999_999_999..=999_999_999).contains(&year) {
                return Err(format!(
                    "java.time.DateTimeException: Invalid value for Year (valid values -999999999 - 999999999): {year}"
                ));
            }
            let span = jiff::Span::new()
                .try_months(months)
                .and_then(|s| s.try_days(days))
                .map_err(|_| out_of_range())?;
            let dt = dt.checked_add(span).map_err(|_| out_of_range())?;
            to_ms(dt).ok_or_else(|| "java.lang.ArithmeticException: long overflow".into())
        }
    }
}

/// `DATE_TRUNC(span, date)`: durations round down from the epoch; periods to the calendar
/// (a week starts on Monday; N months count from January of year 0 in Elasticsearch's
/// `Rounding`, which for one unit is the calendar month, quarter or year).
pub fn trunc(ms: i64, span: Span) -> Result<i64, String> {
    match span {
        Span::Millis(d) if d > 0 => Ok(ms.div_euclid(d) * d),
        Span::Period { months: 0, days } if days > 0 => {
            let dt = civil(ms).ok_or("date out of range")?;
            let date = dt.date();
            let start = if days == 7 {
                let back = i64::from(date.weekday().to_monday_zero_offset());
                date.checked_sub(back.days()).map_err(|e| e.to_string())?
            } else if days == 1 {
                date
            } else {
                let day = ms.div_euclid(86_400_000);
                let start = day.div_euclid(days) * days;
                return Ok(start * 86_400_000);
            };
            to_ms(start.to_datetime(jiff::civil::Time::midnight()))
                .ok_or_else(|| "date out of range".into())
        }
        Span::Period { months, days: 0 } if months > 0 => {
            let dt = civil(ms).ok_or("date out of range")?;
            let total = i64::from(dt.year()) * 12 + i64::from(dt.month()) - 1;
            let start = total.div_euclid(months) * months;
            let year = i16::try_from(start.div_euclid(12)).map_err(|e| e.to_string())?;
            let month = (start.rem_euclid(12) + 1) as i8;
            let date = Date::new(year, month, 1).map_err(|e| e.to_string())?;
            to_ms(date.to_datetime(jiff::civil::Time::midnight()))
                .ok_or_else(|| "date out of range".into())
        }
        _ => Err(format!(
            "Zero or negative time interval is not supported: {span:?}"
        )),
    }
}

/// `DATE_DIFF(unit, start, end)`: whole units from start to end.
pub fn date_diff(unit: &str, start: i64, end: i64) -> Result<i64, String> {
    let fixed = |per: i64| Ok((end - start) / per);
    match unit.to_ascii_lowercase().as_str() {
        "year" | "years" | "yy" | "yyyy" => months_between(start, end).map(|m| m / 12),
        "quarter" | "quarters" | "qq" | "q" => months_between(start, end).map(|m| m / 3),
        "month" | "months" | "mm" | "m" => months_between(start, end),
        "week" | "weeks" | "wk" | "ww" => fixed(7 * 86_400_000),
        // date.csv-spec evalDateDiffInDaysAndWeeks: weekdays count as days.
        "day" | "days" | "dd" | "d" | "dayofyear" | "dy" | "y" | "weekday" | "weekdays" | "dw" => {
            fixed(86_400_000)
        }
        "hour" | "hours" | "hh" => fixed(3_600_000),
        "minute" | "minutes" | "mi" | "n" => fixed(60_000),
        "second" | "seconds" | "ss" | "s" => fixed(1_000),
        "millisecond" | "milliseconds" | "ms" => fixed(1),
        "microsecond" | "microseconds" | "mcs" => (end - start)
            .checked_mul(1_000)
            .ok_or_else(|| overflow(end - start)),
        "nanosecond" | "nanoseconds" | "ns" => (end - start)
            .checked_mul(1_000_000)
            .ok_or_else(|| overflow(end - start)),
        other => Err(format!(
            "java.lang.IllegalArgumentException: A value of [YEAR, QUARTER, MONTH, DAYOFYEAR, DAY, WEEK, WEEKDAY, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, NANOSECOND] or their aliases is required; received [{other}]"
        )),
    }
}

fn overflow(v: i64) -> String {
    format!("org.elasticsearch.xpack.esql.core.InvalidArgumentException: [{v}] out of [long] range")
}

fn months_between(start: i64, end: i64) -> Result<i64, String> {
    let (a, b) = (
        civil(start).ok_or("date out of range")?,
        civil(end).ok_or("date out of range")?,
    );
    let mut months = (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(b.month())
        - i64::from(a.month());
    // Whole months only: back off one when the end's day-and-time is before the start's.
    let a_rest = (a.day(), a.time());
    let b_rest = (b.day(), b.time());
    if months > 0 && b_rest < a_rest {
        months -= 1;
    } else if months < 0 && b_rest > a_rest {
        months += 1;
    }
    Ok(months)
}

/// `DATE_EXTRACT(part, date)` with Java's `ChronoField` names.
pub fn extract(part: &str, ms: i64) -> Result<i64, String> {
    let dt = civil(ms).ok_or("date out of range")?;
    Ok(match part.to_ascii_uppercase().as_str() {
        "YEAR" => i64::from(dt.year()),
        "MONTH_OF_YEAR" => i64::from(dt.month()),
        "DAY_OF_MONTH" => i64::from(dt.day()),
        "DAY_OF_YEAR" => i64::from(dt.day_of_year()),
        "DAY_OF_WEEK" => i64::from(dt.weekday().to_monday_one_offset()),
        "HOUR_OF_DAY" => i64::from(dt.hour()),
        "MINUTE_OF_HOUR" => i64::from(dt.minute()),
        "SECOND_OF_MINUTE" => i64::from(dt.second()),
        "MILLI_OF_SECOND" => i64::from(dt.millisecond()),
        "MINUTE_OF_DAY" => i64::from(dt.hour()) * 60 + i64::from(dt.minute()),
        "EPOCH_DAY" => ms.div_euclid(86_400_000),
        "ALIGNED_WEEK_OF_YEAR" => (i64::from(dt.day_of_year()) - 1) / 7 + 1,
        other => {
            return Err(format!(
                "java.lang.IllegalArgumentException: No enum constant java.time.temporal.ChronoField.{other}"
            ));
        }
    })
}

/// Java `DateTimeFormatter` letters to a strftime pattern (the common subset; quoted text kept).
fn java_to_strftime(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '%' {
                    out.push_str("%%");
                } else {
                    out.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1) => "%-m",
            ('M', 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', 1) => "%-d",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('H', 1) => "%-H",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', 1) => "%-M",
            ('m', _) => "%M",
            ('s', 1) => "%-S",
            ('s', _) => "%S",
            ('S', _) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'Z' | 'x', _) => "%:z",
            ('z', _) => "%Z",
            (c, _) if c.is_ascii_alphabetic() => {
                return Err(format!(
                    "java.lang.IllegalArgumentException: unsupported date pattern letter [{c}]"
                ));
            }
            _ => {
                for _ in 0..n {
                    if c == '%' {
                        out.push_str("%%");
                    } else {
                        out.push(c);
                    }
                }
                i += n;
                continue;
            }
        };
        out.push_str(piece);
        i += n;
    }
    Ok(out)
}

/// `DATE_FORMAT(pattern, date)` in UTC.
pub fn format(pattern: &str, ms: i64) -> Result<String, String> {
    let f = java_to_strftime(pattern)?;
    let t = Timestamp::from_millisecond(ms).map_err(|e| e.to_string())?;
    // `X` prints `Z` for UTC in Java.
    Ok(t.to_zoned(TimeZone::UTC)
        .strftime(&f)
        .to_string()
        .replace("+00:00", "Z"))
}

/// `DATE_PARSE(pattern, text)` in UTC.
pub fn parse_with(pattern: &str, text: &str) -> Result<i64, String> {
    let fail = || {
        format!(
            "java.lang.IllegalArgumentException: failed to parse date field [{text}] with format [{pattern}]"
        )
    };
    let f = java_to_strftime(pattern)?;
    if let Ok(z) = jiff::Zoned::strptime(&f, text) {
        return Ok(z.timestamp().as_millisecond());
    }
    if let Ok(dt) = DateTime::strptime(&f, text) {
        return to_ms(dt).ok_or_else(fail);
    }
    if let Ok(d) = Date::strptime(&f, text) {
        return to_ms(d.to_datetime(jiff::civil::Time::midnight())).ok_or_else(fail);
    }
    Err(fail())
}

/// Elasticsearch's `strict_date_optional_time` (and epoch millis in a string are not dates).
pub fn parse_iso(text: &str) -> Option<i64> {
    let t = text.trim();
    // strict_date_optional_time separates date and time with `T` only (date.csv-spec
    // convertFromString: "1964-06-02 00:00:00" fails to parse).
    if t.contains(' ') {
        return None;
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = t.parse::<DateTime>() {
        return to_ms(dt);
    }
    if let Ok(d) = t.parse::<Date>() {
        return to_ms(d.to_datetime(jiff::civil::Time::midnight()));
    }
    None
}

#[allow(dead_code)]
fn _monday() -> Weekday {
    Weekday::Monday
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        parse_iso(s).unwrap()
    }

    #[test]
    fn truncation_by_duration_and_period() {
        // date.csv-spec evalDateTruncIntervalExpressionDuration: 240 hours from the epoch.
        let d = trunc(ms("1985-02-20T00:00:00Z"), span(240, "hours").unwrap()).unwrap();
        assert_eq!(crate::value::render_date(d), "1985-02-11T00:00:00.000Z");
        let w = trunc(ms("2023-10-26T12:00:00Z"), span(1, "week").unwrap()).unwrap();
        assert_eq!(crate::value::render_date(w), "2023-10-23T00:00:00.000Z");
        let q = trunc(ms("2023-08-26T12:00:00Z"), span(1, "quarter").unwrap()).unwrap();
        assert_eq!(crate::value::render_date(q), "2023-07-01T00:00:00.000Z");
        let s = trunc(ms("2023-08-26T12:00:17.5Z"), span(10, "seconds").unwrap()).unwrap();
        assert_eq!(crate::value::render_date(s), "2023-08-26T12:00:10.000Z");
    }

    #[test]
    fn differences_count_whole_units() {
        let (a, b) = (ms("2023-01-31T00:00:00Z"), ms("2023-02-28T00:00:00Z"));
        assert_eq!(date_diff("month", a, b), Ok(0));
        assert_eq!(date_diff("day", a, b), Ok(28));
        assert_eq!(
            add(a, span(1, "month").unwrap(), false).map(crate::value::render_date),
            Ok("2023-02-28T00:00:00.000Z".into())
        );
    }

    #[test]
    fn huge_periods_fail_instead_of_panicking() {
        // date.csv-spec dateMathDateException.
        assert_eq!(
            add(0, span(2147483647, "years").unwrap(), false),
            Err("java.time.DateTimeException: Invalid value for Year (valid values -999999999 - 999999999): 2147485617".into())
        );
        assert!(add(0, span(1_000_000, "months").unwrap(), true).is_err());
    }

    #[test]
    fn java_patterns() {
        assert_eq!(
            format("yyyy-MM-dd", ms("2023-02-08T10:00:00Z")).unwrap(),
            "2023-02-08"
        );
        assert_eq!(
            parse_with("yyyy-MM-dd", "2023-02-08"),
            Ok(ms("2023-02-08T00:00:00Z"))
        );
    }
}
