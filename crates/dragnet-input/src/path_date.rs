//! CloudTrail delivery dates read from paths (`…/CloudTrail/<region>/YYYY/MM/DD/…`, file
//! names with `_YYYYMMDDTHHmmZ_`), to skip files wholly outside `--from`/`--to`.

use jiff::civil::Date;
use jiff::{Timestamp, tz::TimeZone};

use crate::PATH_DATE_SLACK;

fn day_start(date: Date) -> Option<Timestamp> {
    date.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

fn digits<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The time interval `[start, end)` a CloudTrail delivery path covers, if its date can be read:
/// `…/CloudTrail*/<region>/YYYY[/MM[/DD]]` folders, and file names carrying
/// `_YYYYMMDDTHHmmZ_` (which then stand for the instant itself).
fn path_interval(path: &str) -> Option<(Timestamp, Timestamp)> {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let file = *parts.last()?;
    // File name stamp: <account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<id>.json.gz
    if file.contains("_CloudTrail") {
        for piece in file.split('_') {
            if piece.len() == 14 && piece.as_bytes()[8] == b'T' && piece.ends_with('Z') {
                let ymd = &piece[..8];
                let hm = &piece[9..13];
                if let (Some(y), Some(m), Some(d), Some(h), Some(mi)) = (
                    digits::<i16>(&ymd[..4], 4),
                    digits::<i8>(&ymd[4..6], 2),
                    digits::<i8>(&ymd[6..], 2),
                    digits::<i8>(&hm[..2], 2),
                    digits::<i8>(&hm[2..], 2),
                ) {
                    let t = jiff::civil::DateTime::new(y, m, d, h, mi, 0, 0)
                        .ok()?
                        .to_zoned(TimeZone::UTC)
                        .ok()?
                        .timestamp();
                    return Some((t, t));
                }
            }
        }
    }
    // Folder date: find `CloudTrail*/<region>/YYYY[/MM[/DD]]` in the path.
    let ct = parts.iter().rposition(|p| p.starts_with("CloudTrail"))?;
    let date_parts = parts.get(ct + 2..)?;
    let year: i16 = digits(date_parts.first()?, 4)?;
    let month: Option<i8> = date_parts.get(1).and_then(|m| digits(m, 2));
    let day: Option<i8> = month.and(date_parts.get(2).and_then(|d| digits(d, 2)));
    let (start, end) = match (month, day) {
        (Some(m), Some(d)) => {
            let s = Date::new(year, m, d).ok()?;
            (s, s.tomorrow().ok()?)
        }
        (Some(m), None) => {
            let s = Date::new(year, m, 1).ok()?;
            (s, s.last_of_month().tomorrow().ok()?)
        }
        _ => {
            let s = Date::new(year, 1, 1).ok()?;
            (s, Date::new(year.checked_add(1)?, 1, 1).ok()?)
        }
    };
    Some((day_start(start)?, day_start(end)?))
}

/// False only when `path` carries a CloudTrail delivery date (folder `YYYY/MM/DD` below
/// `CloudTrail/<region>/`, or a file name's `_YYYYMMDDTHHmmZ_`) that lies wholly outside
/// `range`, widened by [`PATH_DATE_SLACK`] on both sides.
pub fn path_may_overlap(path: &str, range: Option<(Timestamp, Timestamp)>) -> bool {
    let Some((from, to)) = range else {
        return true;
    };
    let Some((start, end)) = path_interval(path) else {
        return true;
    };
    let (Ok(from), Ok(to)) = (
        from.checked_sub(PATH_DATE_SLACK),
        to.checked_add(PATH_DATE_SLACK),
    ) else {
        return true;
    };
    if start == end {
        start >= from && start <= to
    } else {
        end > from && start <= to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn intervals_from_paths() {
        let (s, e) = path_interval("x/AWSLogs/111/CloudTrail/us-east-1/2023/07/10").unwrap();
        assert_eq!(
            (s, e),
            (ts("2023-07-10T00:00:00Z"), ts("2023-07-11T00:00:00Z"))
        );
        let (s, e) = path_interval("AWSLogs/o-abc/111/CloudTrail/eu-west-1/2024/02").unwrap();
        assert_eq!(
            (s, e),
            (ts("2024-02-01T00:00:00Z"), ts("2024-03-01T00:00:00Z"))
        );
        let (s, e) = path_interval("AWSLogs/111/CloudTrail/eu-west-1/2024").unwrap();
        assert_eq!(
            (s, e),
            (ts("2024-01-01T00:00:00Z"), ts("2025-01-01T00:00:00Z"))
        );
        let (s, e) = path_interval(
            "d/218007301253_CloudTrail_us-east-1_20230710T1220Z_WMiHxZgr5Hdd6UDc.json",
        )
        .unwrap();
        assert_eq!(
            (s, e),
            (ts("2023-07-10T12:20:00Z"), ts("2023-07-10T12:20:00Z"))
        );
        assert!(path_interval("AWSLogs/111/CloudTrail/us-east-1").is_none());
        assert!(path_interval("logs/2023/07/10/x.json").is_none());
        assert!(path_interval("AWSLogs/111/CloudTrail/us-east-1/2023/13/10").is_none());
    }

    #[test]
    fn pruning_with_slack() {
        let range = Some((ts("2023-07-10T12:00:00Z"), ts("2023-07-10T13:00:00Z")));
        let day = "AWSLogs/1/CloudTrail/us-east-1/2023/07/";
        assert!(path_may_overlap(&format!("{day}10"), range));
        assert!(!path_may_overlap(&format!("{day}09"), range));
        assert!(!path_may_overlap(&format!("{day}11"), range));
        // Within an hour of the range: kept (delivery lags events).
        assert!(path_may_overlap(
            "1_CloudTrail_us-east-1_20230710T1400Z_a.json.gz",
            range
        ));
        assert!(!path_may_overlap(
            "1_CloudTrail_us-east-1_20230710T1401Z_a.json.gz",
            range
        ));
        assert!(!path_may_overlap(
            "1_CloudTrail_us-east-1_20230710T1059Z_a.json.gz",
            range
        ));
        // Near midnight the slack keeps the neighbouring day.
        let late = Some((ts("2023-07-10T23:30:00Z"), ts("2023-07-10T23:50:00Z")));
        assert!(path_may_overlap(&format!("{day}11"), late));
        assert!(path_may_overlap("README.md", range));
        assert!(path_may_overlap(&format!("{day}09"), None));
    }
}
