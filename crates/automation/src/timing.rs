//! Times of `delay` and `delay_until`: human durations and the many ways a payload writes a time.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Parses `"24h"`, `"-24h"`, `"+1day 2h"` into signed milliseconds (the validator's reading).
pub fn signed_duration_ms(s: &str) -> Result<i64, String> {
    Ok(crate::validate::parse_offset(s)?.num_milliseconds())
}

/// Reads a time the way payloads write it: RFC 3339 with an offset (`2026-12-01T15:00:00-05:00`),
/// a local date-time without one (`2026-12-01 15:00`, `2026-12-01T15:00:00`), read in `zone`, a
/// bare date (midnight in `zone`), or Unix seconds / milliseconds.
pub fn parse_time(s: &str, zone: Tz) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(n) = t.parse::<i64>() {
        // Seconds until the year 5138; milliseconds after.
        let ms = if n.abs() < 100_000_000_000 { n * 1000 } else { n };
        return Utc
            .timestamp_millis_opt(ms)
            .single()
            .ok_or_else(|| format!("`{s}` is out of range"));
    }
    let local = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    });
    let Some(local) = local else {
        return Err(format!(
            "`{s}` is not a time; write RFC 3339 (2026-12-01T15:00:00-05:00), a local \"2026-12-01 15:00\", a date, or Unix seconds"
        ));
    };
    // A local time skipped by a DST change is read one hour later; an ambiguous one, the earlier.
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| format!("`{s}` does not exist in {zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_signed() {
        assert_eq!(signed_duration_ms("24h"), Ok(86_400_000));
        assert_eq!(signed_duration_ms("-24h"), Ok(-86_400_000));
        assert_eq!(signed_duration_ms("+1m 30s"), Ok(90_000));
        assert!(signed_duration_ms("soon").is_err());
    }

    #[test]
    fn times_in_every_usual_form() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let want = Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0).unwrap();
        assert_eq!(parse_time("2026-12-01T15:00:00-05:00", Tz::UTC), Ok(want));
        assert_eq!(parse_time("2026-12-01 15:00", ny), Ok(want));
        assert_eq!(parse_time("2026-12-01T15:00:00", ny), Ok(want));
        assert_eq!(parse_time(&want.timestamp().to_string(), ny), Ok(want));
        assert_eq!(parse_time(&want.timestamp_millis().to_string(), ny), Ok(want));
        assert_eq!(
            parse_time("2026-12-01", ny),
            Ok(Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap())
        );
        assert!(parse_time("next tuesday", ny).is_err());
    }
}
