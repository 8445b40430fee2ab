//! Reading a `time` cell: a number, or an RFC 3339 / ISO 8601 date-time.
//!
//! Accepted forms (the extended ISO 8601 notation that RFC 3339 profiles):
//! - a number (any unit the host likes: Unix seconds, a step counter): used as is;
//! - `YYYY-MM-DD` (midnight UTC);
//! - `YYYY-MM-DDThh:mm`, `…:ss`, `…:ss.fff…` with `T`, `t` or a space between
//!   date and time, followed by `Z`/`z`, `±hh:mm`, `±hhmm`, `±hh`, or nothing
//!   (then the time is taken as UTC).
//!
//! A date-time becomes seconds since the Unix epoch, so numbers and dates
//! order the same way only if the host's numbers are Unix seconds too. A leap
//! second (`:60`) counts as the first second of the next minute.

/// Seconds since the Unix epoch of `text`, or `None` when it is neither a
/// finite number nor a date-time of the accepted forms.
///
/// ```
/// use kaizen::training::parse_time;
/// assert_eq!(parse_time("1700000000.5"), Some(1_700_000_000.5));
/// assert_eq!(parse_time("1970-01-02"), Some(86_400.0));
/// assert_eq!(parse_time("2000-01-01T00:00:00Z"), Some(946_684_800.0));
/// assert_eq!(parse_time("2000-01-01T02:00:00+02:00"), Some(946_684_800.0));
/// assert_eq!(parse_time("2000-02-30"), None);
/// ```
pub fn parse_time(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(v) = text.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    parse_date_time(text.as_bytes())
}

fn parse_date_time(b: &[u8]) -> Option<f64> {
    let mut p = Cursor { b, at: 0 };
    let year = p.digits(4)? as i64;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) as f64 * 86_400.0;
    if p.done() {
        return Some(secs);
    }
    match p.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    let mut second = 0.0;
    if p.peek() == Some(b':') {
        p.at += 1;
        second = f64::from(p.digits(2)?);
        if p.peek() == Some(b'.') || p.peek() == Some(b',') {
            p.at += 1;
            let start = p.at;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.at += 1;
            }
            if p.at == start {
                return None;
            }
            let frac = std::str::from_utf8(&b[start..p.at]).ok()?;
            second += format!("0.{frac}").parse::<f64>().ok()?;
        }
    }
    if hour > 23 || minute > 59 || second >= 61.0 {
        return None;
    }
    secs += f64::from(hour * 3600 + minute * 60) + second;
    let offset = match p.next() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let h = p.digits(2)?;
            if p.peek() == Some(b':') {
                p.at += 1;
            }
            let m = if p.done() { 0 } else { p.digits(2)? };
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h * 3600 + m * 60);
            if sign == b'+' { off } else { -off }
        }
        Some(_) => return None,
    };
    p.done().then_some(secs - offset as f64)
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.at += usize::from(c.is_some());
        c
    }
    fn done(&self) -> bool {
        self.at == self.b.len()
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn digits(&mut self, n: usize) -> Option<u32> {
        let s = self.b.get(self.at..self.at + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(s.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d`
/// (the well-known era-based conversion: 400-year eras of 146,097 days).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_epoch_seconds() {
        // Known values (e.g. `date -u -d … +%s`).
        assert_eq!(parse_time("1970-01-01"), Some(0.0));
        assert_eq!(parse_time("2024-02-29T12:30:15Z"), Some(1_709_209_815.0));
        assert_eq!(parse_time("1969-12-31T23:59:59Z"), Some(-1.0));
        assert_eq!(parse_time("2038-01-19T03:14:07Z"), Some(2_147_483_647.0));
        assert_eq!(parse_time("2100-03-01"), Some(4_107_542_400.0));
    }

    #[test]
    fn separators_fractions_and_offsets() {
        let base = 1_709_209_815.0;
        assert_eq!(parse_time("2024-02-29 12:30:15"), Some(base));
        assert_eq!(parse_time("2024-02-29t12:30:15z"), Some(base));
        assert_eq!(parse_time("2024-02-29T12:30:15.25Z"), Some(base + 0.25));
        assert_eq!(parse_time("2024-02-29T12:30:15,5Z"), Some(base + 0.5));
        assert_eq!(parse_time("2024-02-29T14:30:15+02:00"), Some(base));
        assert_eq!(parse_time("2024-02-29T07:00:15-0530"), Some(base));
        assert_eq!(parse_time("2024-02-29T13:30:15+01"), Some(base));
        assert_eq!(parse_time("2024-02-29T12:30Z"), Some(base - 15.0));
        assert_eq!(parse_time("2024-02-29T23:59:60Z"), parse_time("2024-03-01"));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "yesterday",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-01T24:00:00Z",
            "2024-01-01T10:61Z",
            "2024-01-01T10:00:00.Z",
            "2024-01-01T10:00:00+2:00",
            "2024-01-01T10:00:00Zjunk",
            "24-01-01",
            "NaN",
            "inf",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_pass_through() {
        assert_eq!(parse_time(" 42 "), Some(42.0));
        assert_eq!(parse_time("-3.5e2"), Some(-350.0));
    }
}
