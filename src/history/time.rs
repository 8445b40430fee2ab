//! Unix times as RFC 3339 text, and back.
//!
//! Records keep their times as `f64` seconds since the Unix epoch (state files
//! keep their formats); every human, API and report output shows them as
//! RFC 3339 in UTC through [`rfc3339`] or [`rfc3339_seconds`]. Dates are in
//! the proleptic Gregorian calendar (as `date -u` and JavaScript show them).
//!
//! Nothing here panics: years 0000–9999 are RFC 3339 proper; further out (up
//! to ±10¹⁴ s, about three million years) the year is written in ISO 8601's
//! expanded form, a sign and six or more digits, as JavaScript's
//! `Date#toISOString` does (`+010000-01-01T00:00:00.000Z`); NaN, the
//! infinities and anything beyond give `invalid time (…)`.

use super::HistoryError;

/// The largest |t| in seconds that is formatted (about ±3.17 million years).
const MAX_ABS_SECONDS: f64 = 1e14;
const SECONDS_PER_DAY: i64 = 86_400;

/// `t` (Unix seconds) as RFC 3339 UTC with milliseconds, rounded to the
/// nearest millisecond: `2026-11-22T04:45:29.250Z`.
///
/// ```
/// use kaizen::history::rfc3339;
/// assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(rfc3339(1_700_000_000.25), "2023-11-14T22:13:20.250Z");
/// assert_eq!(rfc3339(-0.5), "1969-12-31T23:59:59.500Z");
/// assert_eq!(rfc3339(253_402_300_800.0), "+010000-01-01T00:00:00.000Z");
/// assert_eq!(rfc3339(f64::NAN), "invalid time (NaN)");
/// ```
pub fn rfc3339(t: f64) -> String {
    match in_range(t) {
        Some(t) => {
            let millis = (t * 1000.0).round() as i64;
            let mut s = civil(millis.div_euclid(1000));
            s.push_str(&format!(".{:03}Z", millis.rem_euclid(1000)));
            s
        }
        None => invalid(t),
    }
}

/// `t` (Unix seconds) as RFC 3339 UTC to the second, the fraction cut off as
/// a clock shows it: `2026-11-22T04:45:29Z`.
///
/// ```
/// use kaizen::history::rfc3339_seconds;
/// assert_eq!(rfc3339_seconds(1_700_000_000.9), "2023-11-14T22:13:20Z");
/// assert_eq!(rfc3339_seconds(-1.0), "1969-12-31T23:59:59Z");
/// assert_eq!(rfc3339_seconds(-62_167_219_201.0), "-000001-12-31T23:59:59Z");
/// assert_eq!(rfc3339_seconds(f64::INFINITY), "invalid time (inf)");
/// ```
pub fn rfc3339_seconds(t: f64) -> String {
    match in_range(t) {
        Some(t) => {
            let mut s = civil(t.floor() as i64);
            s.push('Z');
            s
        }
        None => invalid(t),
    }
}

fn in_range(t: f64) -> Option<f64> {
    (t.is_finite() && t.abs() <= MAX_ABS_SECONDS).then_some(t)
}

fn invalid(t: f64) -> String {
    format!("invalid time ({t})")
}

/// `YYYY-MM-DDTHH:MM:SS` for whole Unix seconds (no zone suffix).
fn civil(secs: i64) -> String {
    let (days, sod) = (
        secs.div_euclid(SECONDS_PER_DAY),
        secs.rem_euclid(SECONDS_PER_DAY),
    );
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+07}")
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian.
/// The well-known era decomposition: 400-year eras of 146,097 days, years
/// counted from March so the leap day comes last.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01; the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads an RFC 3339 time (`2026-11-22T04:45:29Z`, `2026-11-22 04:45:29.5+02:00`,
/// `t`/`z` in either case) as Unix seconds. A leap second (`:60`) counts as
/// the first second of the next minute.
///
/// ```
/// use kaizen::history::{parse_rfc3339, rfc3339};
/// assert_eq!(parse_rfc3339("2023-11-14T22:13:20.25Z").unwrap(), 1_700_000_000.25);
/// assert_eq!(parse_rfc3339("2023-11-15T00:13:20+02:00").unwrap(), 1_700_000_000.0);
/// assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
/// let t = 1_765_432_100.125;
/// assert_eq!(parse_rfc3339(&rfc3339(t)).unwrap(), t);
/// ```
pub fn parse_rfc3339(text: &str) -> Result<f64, HistoryError> {
    parse(text.as_bytes()).ok_or_else(|| HistoryError::Invalid {
        what: "time",
        value: format!("{text:?}"),
        expected: "an RFC 3339 time such as 2026-11-22T04:45:29Z or 2026-11-22T06:45:29.5+02:00",
    })
}

fn parse(s: &[u8]) -> Option<f64> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = s.get(range)?;
        digits.iter().try_fold(0i64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    };
    let sep = |i: usize, options: &[u8]| s.get(i).is_some_and(|b| options.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut fraction = 0.0;
    if sep(i, b".") {
        let start = i + 1;
        i = start;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // The digits after the point, read as a decimal fraction.
        fraction = std::str::from_utf8(&s[start - 1..i]).ok()?.parse().ok()?;
    }
    let offset = match s.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] if s.len() == i + 6 && sep(i + 3, b":") => {
            let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let whole =
        days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second
            - offset * 60;
    Some(whole as f64 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::time::{Duration, UNIX_EPOCH};

    /// Reference values from GNU `date -u -d @T`.
    #[test]
    fn known_dates_match_gnu_date() {
        for (t, text) in [
            (-1i64, "1969-12-31T23:59:59Z"),
            (-62_135_596_800, "0001-01-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (-62_167_219_200, "0000-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (-12_219_292_800, "1582-10-15T00:00:00Z"),
        ] {
            assert_eq!(rfc3339_seconds(t as f64), text, "{t}");
            assert_eq!(parse_rfc3339(text).unwrap(), t as f64, "{text}");
        }
    }

    /// Checked against humantime (which covers 1970–9999) at random seconds
    /// and milliseconds.
    #[test]
    fn agrees_with_humantime_over_its_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20_000 {
            let secs: u64 = rng.random_range(0..253_402_300_800);
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            let expected = humantime::format_rfc3339_seconds(at).to_string();
            assert_eq!(rfc3339_seconds(secs as f64), expected);
            assert_eq!(parse_rfc3339(&expected).unwrap(), secs as f64);
            let millis: u64 = rng.random_range(0..253_402_300_800_000);
            let at = UNIX_EPOCH + Duration::from_millis(millis);
            let expected = humantime::format_rfc3339_millis(at).to_string();
            assert_eq!(rfc3339(millis as f64 / 1000.0), expected);
        }
    }

    #[test]
    fn far_past_and_future_do_not_panic() {
        assert_eq!(
            rfc3339_seconds(253_402_300_800.0),
            "+010000-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339_seconds(-62_167_219_201.0),
            "-000001-12-31T23:59:59Z"
        );
        assert!(rfc3339(1e14).starts_with("+3170843-"), "{}", rfc3339(1e14));
        assert!(
            rfc3339(-1e14).starts_with("-3166904-"),
            "{}",
            rfc3339(-1e14)
        );
        for t in [1e14 + 1.0, -1e300, f64::MAX, f64::MIN, f64::NEG_INFINITY] {
            assert!(rfc3339(t).starts_with("invalid time ("), "{t}");
            assert!(rfc3339_seconds(t).starts_with("invalid time ("), "{t}");
        }
        // Every day boundary across the formatted range is consistent.
        for days in (-1_157_000_000i64..1_157_000_000).step_by(9_999_991) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rounding_never_carries_into_a_wrong_second() {
        assert_eq!(rfc3339(59.9996), "1970-01-01T00:01:00.000Z");
        assert_eq!(rfc3339_seconds(59.9996), "1970-01-01T00:00:59Z");
        assert_eq!(rfc3339(1_700_000_000.567), "2023-11-14T22:13:20.567Z");
    }

    #[test]
    fn parse_accepts_rfc3339_forms_and_refuses_the_rest() {
        let t = 1_700_000_000.0;
        for ok in [
            "2023-11-14T22:13:20Z",
            "2023-11-14t22:13:20z",
            "2023-11-14 22:13:20Z",
            "2023-11-14T17:13:20-05:00",
            "2023-11-14T22:13:19.000+00:00",
        ] {
            let got = parse_rfc3339(ok).unwrap();
            assert!((got - t).abs() <= 1.0, "{ok}: {got}");
        }
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z").unwrap(),
            1_483_228_800.0
        );
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-13-01T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+0200",
            "2023-11-14T22:13:20+24:00",
            "2023-11-14T22:13:20Zjunk",
            "２023-11-14T22:13:20Z",
            "1700000000",
        ] {
            let err = parse_rfc3339(bad).unwrap_err().to_string();
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
    }
}
