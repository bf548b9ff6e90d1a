//! Human byte sizes for `--size` (`2MB`, `1GB`, `1GiB`, `500k`): decimal units, binary with `i`.

use crate::BenchError;

pub fn parse_size(text: &str) -> Result<u64, BenchError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| BenchError::Size(text.into()))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(BenchError::Size(text.into())),
    };
    Ok((value * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_size("2MB").unwrap(), 2_000_000);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("0.5gb").unwrap(), 500_000_000);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("GB").is_err());
    }
}
