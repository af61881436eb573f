//! Small parsers (times of day, days, zones, durations, ids, slugs), public for the engine.

use super::limits::MAX_DURATION;
use chrono::Weekday;
use chrono_tz::Tz;
use std::time::Duration;

/// `HH:MM` (24-hour; one-digit hours allowed) into (hour, minute).
pub fn parse_hhmm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// `mon` ... `sun` (case-insensitive).
pub fn parse_day(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// An IANA time zone name.
pub fn parse_zone(s: &str) -> Option<Tz> {
    s.trim().parse::<Tz>().ok()
}

/// A human duration (`"2h 30m"`, `"90s"`, `"1day"`), at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration ({e}); write e.g. \"2h 30m\", \"90s\", \"1day\""))?;
    if d > MAX_DURATION {
        return Err(format!("`{s}` is longer than 365 days"));
    }
    Ok(d)
}

/// A duration with an optional leading `-` or `+` (`"-24h"`).
pub fn parse_offset(s: &str) -> Result<chrono::Duration, String> {
    let t = s.trim();
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let d = chrono::Duration::from_std(parse_duration(rest)?).map_err(|_| format!("`{s}` is too long"))?;
    Ok(if negative { -d } else { d })
}

/// An agent (interview) id: 8 letters or digits.
pub fn is_interview_id(s: &str) -> bool {
    parley_core::ids::is_agent_id(s)
}

/// A step slug: `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_slug(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(b'a'..=b'z'))
        && s.len() <= 64
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

pub(super) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_parsers() {
        assert_eq!(parse_hhmm("09:30"), Some((9, 30)));
        assert_eq!(parse_hhmm("24:00"), None);
        assert_eq!(parse_hhmm("9:3"), None);
        assert_eq!(parse_offset("-24h").unwrap(), chrono::Duration::hours(-24));
        assert_eq!(parse_offset("+1day").unwrap(), chrono::Duration::days(1));
        assert!(parse_duration("400days").is_err());
        assert!(is_slug("a_1") && !is_slug("1a") && !is_slug("") && !is_slug(&"a".repeat(65)));
    }
}
