//! Typed values as Elasticsearch reads them: numbers (with string coercion), booleans, IP
//! addresses and CIDR blocks, and dates (`strict_date_optional_time||epoch_millis`, date math
//! such as `now-1d/d`, rounding up for `lte`/`gt`, time zone `Zulu` as the detection engine
//! passes it).

use std::net::{IpAddr, Ipv6Addr};

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};

/// A number the way a numeric field would index or query it (`"22"` coerces to 22).
pub fn number_of_str(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `true`/`false` as a boolean field accepts them (`""` indexes as false).
pub fn bool_of_str(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" | "" => Some(false),
        _ => None,
    }
}

/// An address or a CIDR block, as an `ip` field's term query accepts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    /// Always IPv6 (IPv4 as `::ffff:a.b.c.d`), as Lucene's `InetAddressPoint` stores it.
    addr: Ipv6Addr,
    prefix: u8,
}

pub fn ip_of_str(s: &str) -> Option<Ipv6Addr> {
    let ip: IpAddr = s.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    })
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        match s.split_once('/') {
            None => Some(IpNet {
                addr: ip_of_str(s)?,
                prefix: 128,
            }),
            Some((a, p)) => {
                let ip: IpAddr = a.parse().ok()?;
                let p: u8 = p.parse().ok()?;
                let (addr, prefix) = match ip {
                    IpAddr::V4(v4) if p <= 32 => (v4.to_ipv6_mapped(), p + 96),
                    IpAddr::V6(v6) if p <= 128 => (v6, p),
                    _ => return None,
                };
                Some(IpNet { addr, prefix })
            }
        }
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        };
        (u128::from(self.addr) & mask) == (u128::from(ip) & mask)
    }
}

/// Nanoseconds since the Unix epoch.
pub type Nanos = i128;

const NANOS_PER_MILLI: i128 = 1_000_000;

/// Parses a date query value (absolute date, epoch millis, or date math) in UTC.
/// `round_up` is Elasticsearch's rounding for `lte`/`gt` bounds: missing date parts and
/// `/unit` roundings go to the last millisecond of the period.
pub fn parse_date_query(s: &str, now: Timestamp, round_up: bool) -> Option<Nanos> {
    let s = s.trim();
    let (anchor, math) = if let Some(rest) = s.strip_prefix("now") {
        (now.as_nanosecond(), rest)
    } else if let Some((date, math)) = s.split_once("||") {
        (parse_date_value(date, round_up && math.is_empty())?, math)
    } else {
        return parse_date_value(s, round_up);
    };
    apply_math(anchor, math, round_up)
}

fn apply_math(anchor: Nanos, math: &str, round_up: bool) -> Option<Nanos> {
    let mut zdt = Timestamp::from_nanosecond(anchor)
        .ok()?
        .to_zoned(TimeZone::UTC);
    let b = math.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let op = b[i];
        i += 1;
        match op {
            b'+' | b'-' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n: i64 = if start == i {
                    1
                } else {
                    math[start..i].parse().ok()?
                };
                let n = if op == b'-' { -n } else { n };
                let unit = *b.get(i)?;
                i += 1;
                // `try_`: an amount beyond jiff's range is no date, not a panic (found by
                // fuzzing: `now-111111111111111111d`).
                let span = match unit {
                    b'y' => Span::new().try_years(n),
                    b'M' => Span::new().try_months(n),
                    b'w' => Span::new().try_weeks(n),
                    b'd' => Span::new().try_days(n),
                    b'h' | b'H' => Span::new().try_hours(n),
                    b'm' => Span::new().try_minutes(n),
                    b's' => Span::new().try_seconds(n),
                    _ => return None,
                }
                .ok()?;
                zdt = zdt.checked_add(span).ok()?;
            }
            b'/' => {
                let unit = *b.get(i)?;
                i += 1;
                let dt = zdt.datetime();
                let start: DateTime = match unit {
                    b'y' => Date::new(dt.year(), 1, 1)
                        .ok()?
                        .to_datetime(jiff::civil::time(0, 0, 0, 0)),
                    b'M' => Date::new(dt.year(), dt.month(), 1)
                        .ok()?
                        .to_datetime(jiff::civil::time(0, 0, 0, 0)),
                    b'w' => {
                        let back = i64::from(dt.date().weekday().to_monday_zero_offset());
                        dt.date()
                            .checked_sub(back.days())
                            .ok()?
                            .to_datetime(jiff::civil::time(0, 0, 0, 0))
                    }
                    b'd' => dt.date().to_datetime(jiff::civil::time(0, 0, 0, 0)),
                    b'h' | b'H' => dt.date().to_datetime(jiff::civil::time(dt.hour(), 0, 0, 0)),
                    b'm' => dt
                        .date()
                        .to_datetime(jiff::civil::time(dt.hour(), dt.minute(), 0, 0)),
                    b's' => dt.date().to_datetime(jiff::civil::time(
                        dt.hour(),
                        dt.minute(),
                        dt.second(),
                        0,
                    )),
                    _ => return None,
                };
                let mut z = start.to_zoned(TimeZone::UTC).ok()?;
                if round_up {
                    let one = match unit {
                        b'y' => 1.year(),
                        b'M' => 1.month(),
                        b'w' => 1.week(),
                        b'd' => 1.day(),
                        b'h' | b'H' => 1.hour(),
                        b'm' => 1.minute(),
                        _ => 1.second(),
                    };
                    z = z.checked_add(one).ok()?.checked_sub(1.millisecond()).ok()?;
                }
                zdt = z;
            }
            _ => return None,
        }
    }
    Some(zdt.timestamp().as_nanosecond())
}

/// An absolute date in `strict_date_optional_time||epoch_millis` (UTC unless it says
/// otherwise). With `round_up`, missing parts are filled with their maximum.
pub fn parse_date_value(s: &str, round_up: bool) -> Option<Nanos> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() > 9 {
        let ms: i128 = s.parse().ok()?;
        // Past i128 nanoseconds is no date (found by fuzzing), not an overflow.
        return ms.checked_mul(NANOS_PER_MILLI);
    }
    parse_iso(s, round_up).or_else(|| {
        // epoch_millis also takes short digit strings and fractions ("1.5").
        let ms: f64 = s.parse().ok()?;
        Some((ms * 1e6) as i128)
    })
}

fn parse_iso(s: &str, round_up: bool) -> Option<Nanos> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, min: usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let year = num(&mut i, 4, 9)?;
    let (mut month, mut day, mut hour, mut minute, mut second, mut nanos) =
        (None, None, None, None, None, None);
    if b.get(i) == Some(&b'-') {
        i += 1;
        month = Some(num(&mut i, 2, 2)?);
        if b.get(i) == Some(&b'-') {
            i += 1;
            day = Some(num(&mut i, 2, 2)?);
        }
    }
    if day.is_some() && b.get(i) == Some(&b'T') {
        i += 1;
        hour = Some(num(&mut i, 2, 2)?);
        if b.get(i) == Some(&b':') {
            i += 1;
            minute = Some(num(&mut i, 2, 2)?);
            if b.get(i) == Some(&b':') {
                i += 1;
                second = Some(num(&mut i, 2, 2)?);
                if matches!(b.get(i), Some(b'.' | b',')) {
                    i += 1;
                    let start = i;
                    while i < b.len() && b[i].is_ascii_digit() && i - start < 9 {
                        i += 1;
                    }
                    if i == start {
                        return None;
                    }
                    let frac = &s[start..i];
                    let n: i64 = frac.parse().ok()?;
                    nanos = Some(n * 10_i64.pow(9 - frac.len() as u32));
                }
            }
        }
    }
    let mut offset_secs: i64 = 0;
    if i < b.len() {
        hour?;
        match b[i] {
            b'Z' => i += 1,
            b'+' | b'-' => {
                let sign = if b[i] == b'-' { -1 } else { 1 };
                i += 1;
                let h = num(&mut i, 2, 2)?;
                let mut m = 0;
                if b.get(i) == Some(&b':') {
                    i += 1;
                    m = num(&mut i, 2, 2)?;
                } else if i < b.len() {
                    m = num(&mut i, 2, 2)?;
                }
                offset_secs = sign * (h * 3600 + m * 60);
            }
            _ => return None,
        }
        if i != b.len() {
            return None;
        }
    }
    let year = i16::try_from(year).ok()?;
    let date = Date::new(year, month.unwrap_or(1) as i8, day.unwrap_or(1) as i8).ok()?;
    let dt = date.to_datetime(jiff::civil::time(
        hour.unwrap_or(0) as i8,
        minute.unwrap_or(0) as i8,
        second.unwrap_or(0) as i8,
        nanos.unwrap_or(0) as i32,
    ));
    let mut z = dt.to_zoned(TimeZone::UTC).ok()?;
    if round_up && nanos.is_none() {
        let one = if month.is_none() {
            1.year()
        } else if day.is_none() {
            1.month()
        } else if hour.is_none() {
            1.day()
        } else if minute.is_none() {
            1.hour()
        } else if second.is_none() {
            1.minute()
        } else {
            1.second()
        };
        z = z.checked_add(one).ok()?.checked_sub(1.millisecond()).ok()?;
    }
    Some(z.timestamp().as_nanosecond() - i128::from(offset_secs) * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Nanos {
        s.parse::<Timestamp>().unwrap().as_nanosecond()
    }

    #[test]
    fn dates_round_like_elasticsearch() {
        assert_eq!(
            parse_date_value("2024-01-01", false),
            Some(ts("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            parse_date_value("2024-01-01", true),
            Some(ts("2024-01-01T23:59:59.999Z"))
        );
        assert_eq!(
            parse_date_value("2024-01-01T10:00:00+02:00", false),
            Some(ts("2024-01-01T08:00:00Z"))
        );
        assert_eq!(
            parse_date_value("1700000000000", false),
            Some(ts("2023-11-14T22:13:20Z"))
        );
        let now = "2024-05-15T12:34:56Z".parse::<Timestamp>().unwrap();
        assert_eq!(
            parse_date_query("now-1d/d", now, false),
            Some(ts("2024-05-14T00:00:00Z"))
        );
        assert_eq!(
            parse_date_query("now-1d/d", now, true),
            Some(ts("2024-05-14T23:59:59.999Z"))
        );
        assert_eq!(
            parse_date_query("2024-01-31||+1M", now, false),
            Some(ts("2024-02-29T00:00:00Z"))
        );
        assert_eq!(
            parse_date_query("now/w", now, false),
            Some(ts("2024-05-13T00:00:00Z"))
        );
        assert_eq!(parse_date_query("yesterday", now, false), None);
    }

    #[test]
    fn ip_and_cidr() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains(ip_of_str("10.1.2.3").unwrap()));
        assert!(!net.contains(ip_of_str("11.1.2.3").unwrap()));
        assert!(
            IpNet::parse("1.2.3.4")
                .unwrap()
                .contains(ip_of_str("::ffff:1.2.3.4").unwrap())
        );
        assert!(
            IpNet::parse("::/0")
                .unwrap()
                .contains(ip_of_str("1.2.3.4").unwrap())
        );
        assert!(IpNet::parse("1.2.3.4/33").is_none());
    }
}
