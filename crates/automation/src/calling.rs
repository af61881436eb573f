//! Calling rules: when a call step may dial, in the callee's own time.
//!
//! The callee's zone comes from the contact's `time_zone` attribute when it holds an IANA name,
//! otherwise from the number's country. A country spanning several zones (the US, Canada,
//! Australia, ...) gives all of its main zones, and a call is allowed only when the window holds
//! in every one of them: a number's zone cannot be known from the number alone, and calling a
//! Californian at 6 am is worse than calling a New Yorker at 9 pm instead of 8 pm.

use crate::model::CallingRules;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use parley_core::contact::Contact;

/// The zones a callee may be in (see the module doc); `fallback` when neither the contact nor
/// the number says.
pub fn callee_zones(contact: &Contact, fallback: Tz) -> Vec<Tz> {
    let zones = parley_core::zone::callee_zones(&contact.attributes, &contact.phone_number);
    if zones.is_empty() {
        vec![fallback]
    } else {
        zones
    }
}

/// The first instant at or after `now` when a call may start, or `None` if the rules never
/// allow one (no day listed matches, an empty window).
pub fn next_allowed(now: DateTime<Utc>, rules: &CallingRules, zones: &[Tz]) -> Option<DateTime<Utc>> {
    if rules.any_time {
        return Some(now);
    }
    let start = parse_hhmm(&rules.start)?;
    let end = parse_hhmm(&rules.end)?;
    let days: Vec<Weekday> = rules
        .days
        .iter()
        .filter_map(|d| crate::validate::parse_day(d))
        .collect();
    let allowed = |t: DateTime<Utc>| {
        zones.iter().all(|z| {
            let local = t.with_timezone(z);
            let tm = local.time();
            (days.is_empty() || days.contains(&local.weekday())) && tm >= start && tm < end
        })
    };
    if allowed(now) {
        return Some(now);
    }
    // Minute by minute over the next eight days (~11,500 checks): simple, and exact across DST
    // changes and zones with odd offsets, which arithmetic on local times gets wrong.
    let mut t = now.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(now) + Duration::minutes(1);
    for _ in 0..(8 * 24 * 60) {
        if allowed(t) {
            return Some(t);
        }
        t += Duration::minutes(1);
    }
    None
}

/// `HH:MM` as a time of day (the validator's reading, so a saved window means what it said).
fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    let (h, m) = crate::validate::parse_hhmm(s)?;
    NaiveTime::from_hms_opt(h, m, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn contact(number: &str, tz: Option<&str>) -> Contact {
        let mut attributes = std::collections::BTreeMap::new();
        if let Some(tz) = tz {
            attributes.insert("time_zone".to_string(), tz.to_string());
        }
        serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::new_v4(), "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
            "version": 1, "team_id": "t", "status": "ACTIVE", "name": null, "phone_number": number,
            "email": null, "attributes": attributes, "tags": [], "lead_source": "API_UPLOAD"
        }))
        .expect("a contact")
    }

    #[test]
    fn zones_come_from_the_attribute_then_the_country() {
        assert_eq!(
            callee_zones(&contact("+12125551234", Some("Europe/Paris")), Tz::UTC),
            vec![chrono_tz::Europe::Paris]
        );
        assert_eq!(
            callee_zones(&contact("+442079460000", None), Tz::UTC),
            vec![chrono_tz::Europe::London]
        );
        assert_eq!(callee_zones(&contact("+12125551234", None), Tz::UTC).len(), 4);
    }

    #[test]
    fn a_night_call_waits_for_the_morning_in_every_zone() {
        let rules = CallingRules::default(); // 09:00-20:00
        let zones = callee_zones(&contact("+12125551234", None), Tz::UTC);
        // 03:00 UTC is 22:00 in New York (EST, UTC-5 in January): not allowed anywhere.
        let night = Utc.with_ymd_and_hms(2026, 1, 15, 3, 0, 0).unwrap();
        let next = next_allowed(night, &rules, &zones).unwrap();
        // 09:00 in Los Angeles (UTC-8) is 17:00 UTC, and 12:00 in New York is inside the window.
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 1, 15, 17, 0, 0).unwrap());
        // Inside the window: at once.
        let noon_la = Utc.with_ymd_and_hms(2026, 1, 15, 20, 0, 0).unwrap();
        assert_eq!(next_allowed(noon_la, &rules, &zones), Some(noon_la));
        // Any time: at once.
        let any = CallingRules {
            any_time: true,
            ..CallingRules::default()
        };
        assert_eq!(next_allowed(night, &any, &zones), Some(night));
    }

    #[test]
    fn days_of_week_are_local_days() {
        let rules = CallingRules {
            days: vec!["mon".into()],
            ..CallingRules::default()
        };
        let paris = [chrono_tz::Europe::Paris];
        // Sunday 2026-01-18 10:00 UTC -> Monday 09:00 Paris = 08:00 UTC.
        let sunday = Utc.with_ymd_and_hms(2026, 1, 18, 10, 0, 0).unwrap();
        assert_eq!(
            next_allowed(sunday, &rules, &paris),
            Some(Utc.with_ymd_and_hms(2026, 1, 19, 8, 0, 0).unwrap())
        );
    }
}
