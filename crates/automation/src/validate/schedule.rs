//! Schedule triggers: the cron of a schedule and the next time it fires.

use super::parsers::{parse_day, parse_hhmm, parse_zone};
use crate::model::{Cadence, Trigger};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// The cron expression of a schedule trigger (its `cron`, or one built from the simple form),
/// or every problem, located (`trigger.cron`, `trigger.every`, ...).
///
/// The simple form: `minutes` every N: `0 */N * * * <days>` (N < 60; the count restarts at every
/// hour, so N that does not divide 60 leaves a shorter gap at the hour) or `0 0 */H * * <days>`
/// (N = 60·H; the same at midnight); other N are refused. `hourly`: at the minute of `time` (or
/// 0). `daily`: at `time` on `days` (every day when empty). `weekly`: the same, at least one day.
pub fn schedule_cron_expression(trigger: &Trigger) -> Result<String, Vec<(&'static str, String)>> {
    let Trigger::Schedule {
        cadence,
        time,
        days,
        every,
        cron,
        ..
    } = trigger
    else {
        return Err(vec![("trigger", "not a schedule trigger".into())]);
    };
    let mut problems = Vec::new();
    let expr = match (cron.as_deref().map(str::trim), cadence) {
        (Some(_), Some(_)) => {
            problems.push(("trigger.cron", "set either `cron` or `cadence`, not both".into()));
            None
        }
        (Some(c), None) => match Cron::new(c).with_seconds_optional().parse() {
            Ok(_) => Some(c.to_string()),
            Err(e) => {
                problems.push((
                    "trigger.cron",
                    format!("`{c}` is not a cron expression ({e}); write 5 fields (minute hour day month weekday), or 6 with seconds first"),
                ));
                None
            }
        },
        (None, None) => {
            problems.push((
                "trigger.cadence",
                "a schedule needs `cron` or a `cadence` (minutes, hourly, daily, weekly)".into(),
            ));
            None
        }
        (None, Some(cadence)) => {
            let mut dow = Vec::new();
            for d in days {
                match parse_day(d) {
                    Some(w) => dow.push(w.num_days_from_sunday().to_string()),
                    None => problems.push((
                        "trigger.days",
                        format!("unknown day `{d}` (mon, tue, wed, thu, fri, sat, sun)"),
                    )),
                }
            }
            let dow = if dow.is_empty() { "*".to_string() } else { dow.join(",") };
            let at = match time.as_deref() {
                None => None,
                Some(t) => match parse_hhmm(t) {
                    Some(hm) => Some(hm),
                    None => {
                        problems.push(("trigger.time", format!("`{t}` is not a time of day (HH:MM, 24-hour)")));
                        None
                    }
                },
            };
            match cadence {
                Cadence::Minutes => match every {
                    None => {
                        problems.push((
                            "trigger.every",
                            "required by the minutes cadence: every N minutes (1 to 1440)".into(),
                        ));
                        None
                    }
                    Some(n) if !(1..=1440).contains(n) => {
                        problems.push(("trigger.every", format!("{n} is out of range: every 1 to 1440 minutes")));
                        None
                    }
                    Some(n) if *n < 60 => Some(format!("0 */{n} * * * {dow}")),
                    Some(n) if n % 60 == 0 => {
                        let hours = if n / 60 == 24 {
                            "0".to_string()
                        } else {
                            format!("*/{}", n / 60)
                        };
                        Some(format!("0 0 {hours} * * {dow}"))
                    }
                    Some(n) => {
                        problems.push((
                            "trigger.every",
                            format!("every {n} minutes cannot be scheduled: use fewer than 60 minutes or a whole number of hours"),
                        ));
                        None
                    }
                },
                Cadence::Hourly => Some(format!("0 {} * * * {dow}", at.map_or(0, |(_, m)| m))),
                Cadence::Daily | Cadence::Weekly => {
                    if *cadence == Cadence::Weekly && days.is_empty() {
                        problems.push(("trigger.days", "a weekly schedule needs at least one day".into()));
                    }
                    match (time, at) {
                        (None, _) => {
                            problems.push(("trigger.time", "required: the time of day (HH:MM) it runs at".into()));
                            None
                        }
                        (Some(_), Some((h, m))) => Some(format!("0 {m} {h} * * {dow}")),
                        (Some(_), None) => None,
                    }
                }
            }
        }
    };
    match expr {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(problems),
    }
}

/// The cron and zone of a schedule trigger (the trigger's `time_zone`, else the automation's).
pub fn schedule_cron(trigger: &Trigger, automation_zone: &str) -> Result<(Cron, Tz), String> {
    let Trigger::Schedule { time_zone, .. } = trigger else {
        return Err("not a schedule trigger".into());
    };
    let zone_name = time_zone.as_deref().unwrap_or(automation_zone);
    let tz = parse_zone(zone_name).ok_or_else(|| format!("unknown time zone `{zone_name}`"))?;
    let expr = schedule_cron_expression(trigger).map_err(|p| {
        p.into_iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let cron = Cron::new(&expr)
        .with_seconds_optional()
        .parse()
        .map_err(|e| format!("`{expr}`: {e}"))?;
    Ok((cron, tz))
}

/// The first time strictly after `after` that the cron fires, reading the cron in `tz`. Local
/// times skipped by a DST change fire at the first valid time after them; repeated local times
/// fire once (the first of the two).
pub fn next_fire(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut from = after.with_timezone(&tz);
    // A repeated (DST fall-back) hour maps to its first instance, which can be before `after`;
    // step through such matches (at most an hour's worth of them).
    for _ in 0..4000 {
        let next = cron.find_next_occurrence(&from, false).ok()?;
        let utc = next.with_timezone(&Utc);
        if utc > after {
            return Some(utc);
        }
        from = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn schedules_build_crons_and_fire_across_dst() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let daily = json!({"type": "schedule", "cadence": "daily", "time": "09:30"});
        let trigger: Trigger = serde_json::from_value(daily).unwrap();
        assert_eq!(schedule_cron_expression(&trigger).unwrap(), "0 30 9 * * *");
        let (cron, tz) = schedule_cron(&trigger, "America/New_York").unwrap();
        assert_eq!(tz, ny);
        // 2025-03-09 is the spring-forward day in New York: 09:30 EDT is 13:30 UTC (EST: 14:30).
        let before = Utc.with_ymd_and_hms(2025, 3, 8, 15, 0, 0).unwrap();
        assert_eq!(
            next_fire(&cron, tz, before).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 9, 13, 30, 0).unwrap()
        );
        let prev = Utc.with_ymd_and_hms(2025, 3, 7, 15, 0, 0).unwrap();
        assert_eq!(
            next_fire(&cron, tz, prev).unwrap(),
            Utc.with_ymd_and_hms(2025, 3, 8, 14, 30, 0).unwrap()
        );

        let secs: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cron": "*/2 * * * * *", "time_zone": "UTC"})).unwrap();
        let (cron, tz) = schedule_cron(&secs, "America/New_York").unwrap();
        assert_eq!(tz, chrono_tz::UTC);
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 1).unwrap();
        let n1 = next_fire(&cron, tz, t).unwrap();
        assert_eq!(n1, Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 2).unwrap());
        assert_eq!(
            next_fire(&cron, tz, n1).unwrap(),
            Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 4).unwrap()
        );

        // In the repeated hour of a fall-back day, the next slot is never in the past.
        let every15: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "minutes", "every": 15})).unwrap();
        assert_eq!(schedule_cron_expression(&every15).unwrap(), "0 */15 * * * *");
        let (cron, tz) = schedule_cron(&every15, "America/New_York").unwrap();
        let second_pass = Utc.with_ymd_and_hms(2025, 11, 2, 6, 20, 0).unwrap(); // 01:20 EST
        assert!(next_fire(&cron, tz, second_pass).unwrap() > second_pass);

        let weekly: Trigger = serde_json::from_value(
            json!({"type": "schedule", "cadence": "weekly", "time": "8:05", "days": ["mon", "sun"]}),
        )
        .unwrap();
        assert_eq!(schedule_cron_expression(&weekly).unwrap(), "0 5 8 * * 1,0");
        let hours: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "minutes", "every": 1440})).unwrap();
        assert_eq!(schedule_cron_expression(&hours).unwrap(), "0 0 0 * * *");
        let hourly: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "hourly", "time": "00:45"})).unwrap();
        assert_eq!(schedule_cron_expression(&hourly).unwrap(), "0 45 * * * *");

        let bad: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "weekly", "every": 90})).unwrap();
        let problems = schedule_cron_expression(&bad).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["trigger.days", "trigger.time"]);
        let bad: Trigger =
            serde_json::from_value(json!({"type": "schedule", "cadence": "minutes", "every": 90})).unwrap();
        assert!(schedule_cron_expression(&bad).unwrap_err()[0]
            .1
            .contains("cannot be scheduled"));
        assert!(schedule_cron(&secs, "x").is_ok(), "the trigger's zone wins");
        assert!(schedule_cron(&every15, "Nowhere").is_err());
    }
}
