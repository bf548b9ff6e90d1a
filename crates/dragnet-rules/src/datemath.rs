//! Elastic date math (`now-9m`, `now-1d/d`) for a rule's `from`/`to`, and the fixed
//! durations of `interval` (`10m`) and alert-suppression windows.
//!
//! Grammar accepted (Elasticsearch's date math, relative form): `now` followed by any number
//! of `+N<unit>` / `-N<unit>` and `/<unit>` (round down), with units `y M w d h H m s ms`.
//! Absolute anchors (`2024-01-01||+1d`) are not used by rules and are rejected.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Span, Timestamp, tz::TimeZone};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimeUnit {
    fn parse(unit: &str) -> Option<Self> {
        Some(match unit {
            "ms" => TimeUnit::Millisecond,
            "s" => TimeUnit::Second,
            "m" => TimeUnit::Minute,
            "h" | "H" => TimeUnit::Hour,
            "d" => TimeUnit::Day,
            "w" => TimeUnit::Week,
            "M" => TimeUnit::Month,
            "y" => TimeUnit::Year,
            _ => return None,
        })
    }

    /// Length in milliseconds for units of fixed length (days are 24 h in UTC).
    fn fixed_millis(self) -> Option<i64> {
        Some(match self {
            TimeUnit::Millisecond => 1,
            TimeUnit::Second => 1_000,
            TimeUnit::Minute => 60_000,
            TimeUnit::Hour => 3_600_000,
            TimeUnit::Day => 86_400_000,
            TimeUnit::Week => 7 * 86_400_000,
            TimeUnit::Month | TimeUnit::Year => return None,
        })
    }

    /// The largest amount of this unit one `+N<unit>`/`-N<unit>` may name: [`MAX_YEARS`]
    /// worth of it (a year being 365.2425 days).
    pub fn max_amount(self) -> i64 {
        const DAYS: i64 = MAX_YEARS * 3_652_425 / 10_000;
        match self {
            TimeUnit::Year => MAX_YEARS,
            TimeUnit::Month => MAX_YEARS * 12,
            TimeUnit::Week => DAYS / 7,
            unit => DAYS * (86_400_000 / unit.fixed_millis().unwrap_or(1)),
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Millisecond => "ms",
            TimeUnit::Second => "s",
            TimeUnit::Minute => "m",
            TimeUnit::Hour => "h",
            TimeUnit::Day => "d",
            TimeUnit::Week => "w",
            TimeUnit::Month => "M",
            TimeUnit::Year => "y",
        }
    }
}

/// One date-math step reaches at most this many years from `now`; the instants dragnet can
/// represent run from -9999-01-01 to 9999-12-31 (jiff's range).
pub const MAX_YEARS: i64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateMathOp {
    /// `+N<unit>` (positive) or `-N<unit>` (negative amount).
    Add(i64, TimeUnit),
    /// `/<unit>`: round down to the start of the unit.
    Round(TimeUnit),
}

/// A parsed relative date-math expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateMath {
    raw: String,
    ops: Vec<DateMathOp>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseError {
    #[error("date math must start with `now` (e.g. `now-9m`), found `{0}`")]
    NoAnchor(String),
    #[error(
        "bad date math `{text}` at `{rest}`: expected `+N<unit>`, `-N<unit>` or `/<unit>` with unit one of y M w d h H m s ms"
    )]
    BadDateMath { text: String, rest: String },
    #[error(
        "date math `{text}`: `{step}` is out of range: one step may reach at most {max}{unit} ({years} years) from now"
    )]
    OutOfRange {
        text: String,
        step: String,
        max: i64,
        unit: &'static str,
        years: i64,
    },
    #[error(
        "bad duration `{0}`: expected a positive whole number and a unit s, m, h or d (e.g. `5m`)"
    )]
    BadDuration(String),
}

impl DateMath {
    pub fn parse(text: &str) -> Result<Self, TimeParseError> {
        let Some(mut rest) = text.strip_prefix("now") else {
            return Err(TimeParseError::NoAnchor(text.to_string()));
        };
        let bad = |rest: &str| TimeParseError::BadDateMath {
            text: text.to_string(),
            rest: rest.to_string(),
        };
        let mut ops = Vec::new();
        while !rest.is_empty() {
            // The first character, whatever its width: a multi-byte one is an error below,
            // not a split inside it (found by fuzzing: `now` then U+064A).
            let op_len = rest.chars().next().map_or(1, char::len_utf8);
            let (op, tail) = rest.split_at(op_len);
            match op {
                "+" | "-" => {
                    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
                    if digits == 0 {
                        return Err(bad(rest));
                    }
                    let unit_len = unit_length(&tail[digits..]);
                    let unit = TimeUnit::parse(&tail[digits..digits + unit_len])
                        .ok_or_else(|| bad(rest))?;
                    // Digits alone: an amount too large for any integer is out of range too.
                    let amount = tail[..digits]
                        .parse::<i64>()
                        .ok()
                        .filter(|a| *a <= unit.max_amount())
                        .ok_or_else(|| TimeParseError::OutOfRange {
                            text: text.to_string(),
                            step: rest[..1 + digits + unit_len].to_string(),
                            max: unit.max_amount(),
                            unit: unit.symbol(),
                            years: MAX_YEARS,
                        })?;
                    let amount = if op == "-" { -amount } else { amount };
                    ops.push(DateMathOp::Add(amount, unit));
                    rest = &tail[digits + unit_len..];
                }
                "/" => {
                    let unit_len = unit_length(tail);
                    let unit = TimeUnit::parse(&tail[..unit_len]).ok_or_else(|| bad(rest))?;
                    ops.push(DateMathOp::Round(unit));
                    rest = &tail[unit_len..];
                }
                _ => return Err(bad(rest)),
            }
        }
        Ok(Self {
            raw: text.to_string(),
            ops,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn ops(&self) -> &[DateMathOp] {
        &self.ops
    }

    /// The offset from `now` when it is a fixed length (no months/years, no rounding):
    /// `now-9m` gives -9 minutes.
    pub fn fixed_offset(&self) -> Option<SignedDuration> {
        let mut millis: i64 = 0;
        for op in &self.ops {
            match op {
                DateMathOp::Add(amount, unit) => {
                    millis = millis.checked_add(amount.checked_mul(unit.fixed_millis()?)?)?
                }
                DateMathOp::Round(_) => return None,
            }
        }
        Some(SignedDuration::from_millis(millis))
    }

    /// The instant this expression names when evaluated at `now` (in UTC); an error, never a
    /// panic, when it falls outside -9999-01-01..=9999-12-31.
    pub fn resolve(&self, now: Timestamp) -> Result<Timestamp, jiff::Error> {
        let mut at = now;
        for op in &self.ops {
            at = match *op {
                // Units of a fixed length (UTC has no daylight saving): exact duration
                // arithmetic on the instant. `Zoned::checked_add` asserted inside jiff for a
                // result a fraction of a second past the edge of its range (found by fuzzing).
                DateMathOp::Add(amount, unit) => match unit.fixed_millis() {
                    Some(millis) => {
                        let offset = if millis == 1 {
                            Some(SignedDuration::from_millis(amount))
                        } else {
                            // At most a week of seconds: fits an i32.
                            SignedDuration::from_secs(amount).checked_mul((millis / 1000) as i32)
                        };
                        // Past what a duration holds is past jiff's range: the same error.
                        at.checked_add(offset.unwrap_or(SignedDuration::MAX))?
                    }
                    None => {
                        let span = match unit {
                            TimeUnit::Month => Span::new().try_months(amount)?,
                            _ => Span::new().try_years(amount)?,
                        };
                        at.to_zoned(TimeZone::UTC)
                            .datetime()
                            .checked_add(span)?
                            .to_zoned(TimeZone::UTC)?
                            .timestamp()
                    }
                },
                DateMathOp::Round(unit) => {
                    round_down(&at.to_zoned(TimeZone::UTC), unit)?.timestamp()
                }
            };
        }
        Ok(at)
    }
}

fn round_down(at: &jiff::Zoned, unit: TimeUnit) -> Result<jiff::Zoned, jiff::Error> {
    use jiff::Unit;
    let dt = at.datetime();
    let rounded = match unit {
        TimeUnit::Millisecond => dt.round(Unit::Millisecond.mode_trunc())?,
        TimeUnit::Second => dt.round(Unit::Second.mode_trunc())?,
        TimeUnit::Minute => dt.round(Unit::Minute.mode_trunc())?,
        TimeUnit::Hour => dt.round(Unit::Hour.mode_trunc())?,
        TimeUnit::Day => dt.date().to_datetime(jiff::civil::Time::midnight()),
        TimeUnit::Week => {
            // Elasticsearch weeks start on Monday.
            let date = dt.date();
            let back = i64::from(date.weekday().to_monday_zero_offset());
            date.checked_sub(Span::new().days(back))?
                .to_datetime(jiff::civil::Time::midnight())
        }
        TimeUnit::Month => dt
            .date()
            .first_of_month()
            .to_datetime(jiff::civil::Time::midnight()),
        TimeUnit::Year => dt
            .date()
            .first_of_year()
            .to_datetime(jiff::civil::Time::midnight()),
    };
    rounded.to_zoned(TimeZone::UTC)
}

trait TruncMode {
    fn mode_trunc(self) -> jiff::civil::DateTimeRound;
}

impl TruncMode for jiff::Unit {
    fn mode_trunc(self) -> jiff::civil::DateTimeRound {
        jiff::civil::DateTimeRound::new()
            .smallest(self)
            .mode(jiff::RoundMode::Trunc)
    }
}

fn unit_length(text: &str) -> usize {
    if text.starts_with("ms") {
        2
    } else if text.is_empty() {
        0
    } else {
        text.chars().next().map_or(0, char::len_utf8)
    }
}

impl fmt::Display for DateMath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A rule schedule `interval` (`5m`, `1h`): a positive whole number and a unit `s m h d`,
/// as Kibana's alerting framework accepts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    raw: String,
    duration: Duration,
}

impl Interval {
    pub fn parse(text: &str) -> Result<Self, TimeParseError> {
        let bad = || TimeParseError::BadDuration(text.to_string());
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let amount: u64 = text[..digits].parse().map_err(|_| bad())?;
        let seconds = match &text[digits..] {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        if amount == 0 {
            return Err(bad());
        }
        Ok(Self {
            raw: text.to_string(),
            duration: Duration::from_secs(amount.checked_mul(seconds).ok_or_else(bad)?),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rule_lookbacks() {
        let m = DateMath::parse("now-60m").unwrap();
        assert_eq!(m.fixed_offset(), Some(SignedDuration::from_mins(-60)));
        assert_eq!(
            DateMath::parse("now-9m").unwrap().fixed_offset(),
            Some(SignedDuration::from_mins(-9))
        );
        assert_eq!(
            DateMath::parse("now").unwrap().fixed_offset(),
            Some(SignedDuration::ZERO)
        );
        assert_eq!(
            DateMath::parse("now-7d").unwrap().fixed_offset(),
            Some(SignedDuration::from_hours(-168))
        );
        let rounded = DateMath::parse("now-1d/d").unwrap();
        assert_eq!(rounded.fixed_offset(), None);
        let now: Timestamp = "2024-05-21T13:45:10Z".parse().unwrap();
        assert_eq!(
            rounded.resolve(now).unwrap(),
            "2024-05-20T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            DateMath::parse("now-1M").unwrap().resolve(now).unwrap(),
            "2024-04-21T13:45:10Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn rejects_bad_date_math() {
        assert!(matches!(
            DateMath::parse("-9m"),
            Err(TimeParseError::NoAnchor(_))
        ));
        assert!(DateMath::parse("now-9x").is_err());
        assert!(DateMath::parse("now-m").is_err());
        assert!(DateMath::parse("now 9m").is_err());
        assert!(DateMath::parse("now-9").is_err());
    }

    /// A multi-byte character where an operator belongs panicked (a split inside it); found
    /// by fuzzing (`fuzz/regressions/datemath/`).
    #[test]
    fn multibyte_characters_are_errors_never_panics() {
        for text in [
            "now\u{64a}",
            "now-30s\u{605}",
            "now\u{e9}-1d",
            "now/d\u{1f600}",
        ] {
            assert!(
                matches!(
                    DateMath::parse(text),
                    Err(TimeParseError::BadDateMath { .. })
                ),
                "{text}"
            );
        }
    }

    /// Issue 16: `now-7304485d` and `now-1000000y` panicked inside jiff (exit 101).
    #[test]
    fn huge_offsets_are_errors_never_panics() {
        let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
        for text in [
            "now-7304485d",
            "now-1000000y",
            "now+1000000y",
            "now-99999999999999999999y",
            "now-400000000000000000ms",
            "now-120001M",
        ] {
            let err = DateMath::parse(text).unwrap_err();
            assert!(
                matches!(err, TimeParseError::OutOfRange { .. }),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(text), "{err}");
            assert!(err.to_string().contains("10000 years"), "{err}");
        }
        // Found by fuzzing (fuzz/regressions/datemath): a result a fraction of a second past
        // the edge of jiff's range made an assertion inside jiff fail (a panic); an error now.
        for text in [
            "now+7d-10ms-70ms-7d",
            "now+1w-0H/ms-770ms-7d-70y/h",
            "now+1d/ms-7ms-1d/w-00M/M",
        ] {
            let math = DateMath::parse(text).unwrap();
            for edge in [Timestamp::MIN, Timestamp::MAX] {
                let _ = math.resolve(edge);
            }
            assert!(math.resolve(Timestamp::MIN).is_err(), "{text}");
        }
        // In range step by step, out of range in sum or past year 9999: an error from resolve.
        for text in [
            "now+10000y",
            "now-10000y-10000y",
            "now-3652425d-3652425d",
            "now+3652425d",
            "now-315569520000000ms-3000y",
        ] {
            let math = DateMath::parse(text).unwrap();
            assert!(math.resolve(now).is_err(), "{text}");
        }
        assert!(
            DateMath::parse("now-3652425d")
                .unwrap()
                .resolve(now)
                .is_ok()
        );
        assert!(DateMath::parse("now-10000y").unwrap().resolve(now).is_ok());
    }

    #[test]
    fn parses_intervals() {
        assert_eq!(
            Interval::parse("10m").unwrap().duration(),
            Duration::from_secs(600)
        );
        assert_eq!(
            Interval::parse("1h").unwrap().duration(),
            Duration::from_secs(3600)
        );
        assert!(Interval::parse("0m").is_err());
        assert!(Interval::parse("m").is_err());
        assert!(Interval::parse("5 m").is_err());
        assert!(Interval::parse("now-5m").is_err());
    }
}
