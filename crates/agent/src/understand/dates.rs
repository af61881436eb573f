//! Spoken dates and times, resolved against the call's clock.

use super::numbers::{tens_value, unit_value};
use super::words::words;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde_json::{json, Value};

/// A date (and maybe a time) the caller said, resolved against the call's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct DateAnswer {
    /// What the caller said, as transcribed.
    pub text: String,
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
}

impl DateAnswer {
    /// The captured variable: `{"text": "Thursday at three pm", "date": "2026-11-26",
    /// "time": "15:00" (or null), "iso": "2026-11-26T15:00" (or "2026-11-26")}`.
    /// Templates render it as its `text`; branch comparisons use its `iso`.
    pub fn to_value(&self) -> Value {
        json!({
            "text": self.text,
            "date": self.date.format("%Y-%m-%d").to_string(),
            "time": self.time.map(|t| t.format("%H:%M").to_string()),
            "iso": self.iso(),
        })
    }

    /// `YYYY-MM-DDTHH:MM`, or `YYYY-MM-DD` without a time.
    pub fn iso(&self) -> String {
        match self.time {
            Some(t) => format!("{}T{}", self.date.format("%Y-%m-%d"), t.format("%H:%M")),
            None => self.date.format("%Y-%m-%d").to_string(),
        }
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_value(w: &str) -> Option<u32> {
    if let Some(p) = MONTHS.iter().position(|m| *m == w) {
        return Some(p as u32 + 1);
    }
    let short = [
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("sept", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ];
    short.iter().find(|(s, _)| *s == w).map(|(_, m)| *m)
}

fn weekday_value(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" | "mondays" => Weekday::Mon,
        "tuesday" | "tues" | "tue" | "tuesdays" => Weekday::Tue,
        "wednesday" | "wed" | "weds" | "wednesdays" => Weekday::Wed,
        "thursday" | "thurs" | "thu" | "thur" | "thursdays" => Weekday::Thu,
        "friday" | "fri" | "fridays" => Weekday::Fri,
        "saturday" | "sat" | "saturdays" => Weekday::Sat,
        "sunday" | "sun" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

const ORDINALS: [&str; 20] = [
    "",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];

fn ordinal_word(w: &str) -> Option<u32> {
    match w {
        "twentieth" => Some(20),
        "thirtieth" => Some(30),
        "" => None,
        _ => ORDINALS.iter().position(|o| *o == w).map(|p| p as u32),
    }
}

/// An ordinal at `ws[i]`: "3rd", "third", "twenty third"; its value and length.
pub(super) fn ordinal_at(ws: &[String], i: usize) -> Option<(u32, usize)> {
    let w = ws.get(i)?.as_str();
    for suf in ["st", "nd", "rd", "th"] {
        if let Some(d) = w.strip_suffix(suf) {
            if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()) {
                return d.parse().ok().map(|v| (v, 1));
            }
        }
    }
    if let Some(t) = tens_value(w) {
        if let Some(u) = ws.get(i + 1).and_then(|n| ordinal_word(n)).filter(|u| *u < 10) {
            return Some((t + u, 2));
        }
    }
    ordinal_word(w).map(|v| (v, 1))
}

/// A small whole number at `ws[i]` (digits, or words up to ninety-nine); its value and length.
fn small_number_at(ws: &[String], i: usize) -> Option<(u32, usize)> {
    let w = ws.get(i)?.as_str();
    if !w.is_empty() && w.len() <= 4 && w.chars().all(|c| c.is_ascii_digit()) {
        return w.parse().ok().map(|v| (v, 1));
    }
    if let Some(t) = tens_value(w) {
        if let Some(u) = ws
            .get(i + 1)
            .and_then(|n| unit_value(n))
            .filter(|u| (1..10).contains(u))
        {
            return Some((t + u, 2));
        }
        return Some((t, 1));
    }
    unit_value(w).map(|v| (v, 1))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum DayPart {
    Morning,
    Afternoon,
    Evening,
}

/// Reads the minutes after an hour at `ws[i]`: "30", "thirty", "forty five", "oh five".
fn minutes_at(ws: &[String], i: usize) -> Option<(u32, usize)> {
    if ws.get(i).is_some_and(|w| w == "oh" || w == "o") {
        let (m, n) = small_number_at(ws, i + 1).filter(|(m, _)| *m < 10)?;
        return Some((m, n + 1));
    }
    let w = ws.get(i)?;
    if w.chars().all(|c| c.is_ascii_digit()) && w.len() != 2 {
        return None; // "3 5" is not 3:05
    }
    small_number_at(ws, i).filter(|(m, _)| *m < 60 && *m >= 10 || (*m < 10 && w.len() == 2))
}

/// Applies am/pm (or the part of the day, or the business-hours guess) to an hour.
fn resolve_hour(h: u32, ampm: Option<&str>, part: Option<DayPart>) -> Option<u32> {
    if h > 23 {
        return None;
    }
    if h > 12 {
        return Some(h);
    }
    Some(match (ampm, part) {
        (Some("pm"), _) => (h % 12) + 12,
        (Some(_), _) => h % 12,
        (None, Some(DayPart::Morning)) => h % 12,
        (None, Some(DayPart::Afternoon | DayPart::Evening)) => (h % 12) + 12,
        // No am/pm: a time said for an appointment is in business hours; "at 3" is 3 pm.
        (None, None) if (1..=7).contains(&h) => h + 12,
        (None, None) => h,
    })
}

/// Parses a date and optional time: "Thursday at three pm", "tomorrow at noon", "next Monday",
/// "March 3rd at 3:30 pm", "the 5th", "3rd of March 2027", "11/26", "2026-11-26 15:00",
/// "in two days", "at 3" (today if still ahead, else tomorrow). Relative to `now`, the call's
/// local time. A bare weekday is its next occurrence after today; "this Thursday" may be today;
/// "next Thursday" is the Thursday of next week (weeks start on Monday). A month and day
/// without a year that has passed is next year's.
pub fn parse_date(text: &str, now: NaiveDateTime) -> Option<DateAnswer> {
    let mut ws = Vec::new();
    for w in words(text) {
        // "3pm", "3:30pm" -> "3", "pm"
        let split = ["am", "pm"].iter().find_map(|s| {
            w.strip_suffix(s)
                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == ':'))
                .map(|d| (d.to_string(), s.to_string()))
        });
        match split {
            Some((d, s)) => {
                ws.push(d);
                ws.push(s);
            }
            None => ws.push(w),
        }
    }
    let today = now.date();
    let mut used = vec![false; ws.len()];
    let w = |i: usize| ws.get(i).map(String::as_str).unwrap_or("");

    let part = if ws.iter().any(|w| w == "morning") {
        Some(DayPart::Morning)
    } else if ws.iter().any(|w| w == "afternoon") {
        Some(DayPart::Afternoon)
    } else if ws.iter().any(|w| matches!(w.as_str(), "evening" | "tonight" | "night")) {
        Some(DayPart::Evening)
    } else {
        None
    };

    let mut explicit: Option<NaiveDate> = None;
    let mut relative: Option<NaiveDate> = None;
    let mut weekday: Option<NaiveDate> = None;

    for i in 0..ws.len() {
        match w(i) {
            "today" | "tonight" => {
                relative = Some(today);
                used[i] = true;
            }
            "tomorrow" | "tmrw" | "tomorow" => {
                let after = i >= 2 && w(i - 1) == "after" && w(i - 2) == "day";
                relative = today.checked_add_signed(Duration::days(if after { 2 } else { 1 }));
                used[i] = true;
            }
            "in" => {
                let (n, len) = small_number_at(&ws, i + 1)
                    .or_else(|| matches!(w(i + 1), "a" | "an").then_some((1, 1)))
                    .unwrap_or((0, 0));
                if len > 0 {
                    let unit = w(i + 1 + len);
                    let days = match unit {
                        "day" | "days" => Some(n as i64),
                        "week" | "weeks" => Some(7 * n as i64),
                        _ => None,
                    };
                    if let Some(d) = days {
                        relative = today.checked_add_signed(Duration::days(d));
                        used[i..=i + len + 1].iter_mut().for_each(|u| *u = true);
                    }
                }
            }
            _ => {}
        }
    }

    // Numeric dates: 2026-11-26, 11/26, 11/26/2026.
    for (i, t) in ws.iter().enumerate() {
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            explicit = Some(d);
            used[i] = true;
        } else if t.contains('/') {
            let parts: Vec<&str> = t.split('/').collect();
            let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
            if nums.len() == parts.len() && (2..=3).contains(&nums.len()) {
                let year = match nums.get(2) {
                    Some(y) if *y < 100 => Some(2000 + *y as i32),
                    Some(y) => Some(*y as i32),
                    None => None,
                };
                if let Some(d) = month_day(today, nums[0], nums[1], year) {
                    explicit = Some(d);
                    used[i] = true;
                }
            }
        }
    }

    // Month names with a day before or after: "March 3rd", "March the third", "3rd of March".
    for i in 0..ws.len() {
        let Some(m) = month_value(w(i)) else { continue };
        let mut day = None;
        let mut span = (i, i);
        let after = if w(i + 1) == "the" { i + 2 } else { i + 1 };
        if let Some((d, n)) = ordinal_at(&ws, after).or_else(|| small_number_at(&ws, after)) {
            day = Some(d);
            span = (i, after + n - 1);
        } else if i >= 1 {
            let before_end = if w(i - 1) == "of" && i >= 2 { i - 2 } else { i - 1 };
            for start in before_end.saturating_sub(1)..=before_end {
                if let Some((d, n)) = ordinal_at(&ws, start).or_else(|| small_number_at(&ws, start)) {
                    if start + n - 1 == before_end {
                        day = Some(d);
                        span = (start, i);
                        break;
                    }
                }
            }
        }
        let Some(day) = day else { continue };
        let year = ws
            .get(span.1 + 1)
            .filter(|y| y.len() == 4)
            .and_then(|y| y.parse::<i32>().ok())
            .filter(|y| (1900..=2200).contains(y));
        if year.is_some() {
            span.1 += 1;
        }
        if let Some(d) = month_day(today, m, day, year) {
            explicit = Some(d);
            used[span.0..=span.1].iter_mut().for_each(|u| *u = true);
        }
    }

    // A day of the month alone: "the 5th", "on the twenty third".
    if explicit.is_none() {
        for i in 0..ws.len() {
            if used[i] {
                continue;
            }
            let digits_ordinal =
                ws[i].ends_with(|c: char| c.is_alphabetic()) && ws[i].starts_with(|c: char| c.is_ascii_digit());
            let after_the = i > 0 && matches!(w(i - 1), "the" | "on");
            let a_choice = matches!(w(i + 1), "one" | "option" | "choice");
            if !(digits_ordinal || after_the) || a_choice {
                continue;
            }
            if let Some((d, n)) = ordinal_at(&ws, i).filter(|(d, _)| (1..=31).contains(d)) {
                explicit = day_of_month(today, d);
                used[i..i + n].iter_mut().for_each(|u| *u = true);
                break;
            }
        }
    }

    // Weekdays: "Thursday", "this Thursday", "next Thursday".
    for (i, u) in used.iter_mut().enumerate() {
        let Some(wd) = weekday_value(w(i)) else { continue };
        *u = true;
        let modifier = if i >= 1 { w(i - 1) } else { "" };
        let modifier = if modifier == "coming" && i >= 2 {
            w(i - 2)
        } else {
            modifier
        };
        let today_idx = today.weekday().num_days_from_monday() as i64;
        let target_idx = wd.num_days_from_monday() as i64;
        let ahead = match modifier {
            "next" | "following" => 7 - today_idx + target_idx,
            "this" => (target_idx - today_idx).rem_euclid(7),
            _ => match (target_idx - today_idx).rem_euclid(7) {
                0 => 7,
                d => d,
            },
        };
        weekday = today.checked_add_signed(Duration::days(ahead));
    }

    // Times.
    let mut time: Option<NaiveTime> = None;
    for i in 0..ws.len() {
        if used[i] || time.is_some() {
            continue;
        }
        match w(i) {
            "noon" | "midday" => {
                time = NaiveTime::from_hms_opt(12, 0, 0);
                continue;
            }
            "midnight" => {
                time = NaiveTime::from_hms_opt(0, 0, 0);
                continue;
            }
            "half" | "quarter" if matches!(w(i + 1), "past" | "after" | "to" | "til" | "till" | "before") => {
                let Some((h, n)) = small_number_at(&ws, i + 2) else {
                    continue;
                };
                let ampm = Some(w(i + 2 + n)).filter(|s| matches!(*s, "am" | "pm"));
                let Some(h) = resolve_hour(h, ampm, part) else { continue };
                let m = if w(i) == "half" { 30 } else { 15 };
                let t = NaiveTime::from_hms_opt(h, 0, 0);
                time = if matches!(w(i + 1), "past" | "after") {
                    t.map(|t| t + Duration::minutes(m))
                } else {
                    t.map(|t| t - Duration::minutes(m))
                };
                continue;
            }
            _ => {}
        }
        // "3:30" (and "15:00").
        if let Some((h, m)) = ws[i].split_once(':') {
            if let (Ok(h), Ok(m)) = (h.parse::<u32>(), m.parse::<u32>()) {
                let ampm = Some(w(i + 1)).filter(|s| matches!(*s, "am" | "pm"));
                time = resolve_hour(h, ampm, part).and_then(|h| NaiveTime::from_hms_opt(h, m, 0));
            }
            continue;
        }
        let Some((h, n)) = small_number_at(&ws, i) else {
            continue;
        };
        if h > 23 {
            continue;
        }
        let (m, mn) = minutes_at(&ws, i + n).unwrap_or((0, 0));
        let after = i + n + mn;
        let ampm = Some(w(after)).filter(|s| matches!(*s, "am" | "pm"));
        let oclock = w(after) == "oclock";
        let cue_before = i >= 1
            && matches!(
                w(i - 1),
                "at" | "around" | "about" | "by" | "after" | "before" | "till" | "until"
            );
        let after_day = i >= 1 && used[i - 1] && (weekday.is_some() || relative.is_some() || explicit.is_some());
        let part_after =
            matches!(w(after), "in" | "this") && matches!(w(after + 1), "the" | "morning" | "afternoon" | "evening");
        if ampm.is_some() || oclock || cue_before || after_day || part_after || mn > 0 {
            time = resolve_hour(h, ampm, part).and_then(|h| NaiveTime::from_hms_opt(h, m, 0));
        }
    }

    let date = explicit.or(relative).or(weekday).or_else(|| {
        let t = time?;
        if t > now.time() {
            Some(today)
        } else {
            today.succ_opt()
        }
    })?;
    Some(DateAnswer {
        text: text.trim().to_string(),
        date,
        time: time.map(|t| t.with_second(0).unwrap_or(t)),
    })
}

/// A month and day, in `year` or else in the next year in which it is not past.
fn month_day(today: NaiveDate, month: u32, day: u32, year: Option<i32>) -> Option<NaiveDate> {
    if let Some(y) = year {
        return NaiveDate::from_ymd_opt(y, month, day);
    }
    let this = NaiveDate::from_ymd_opt(today.year(), month, day);
    match this {
        Some(d) if d >= today => Some(d),
        _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day),
    }
}

/// A day of this month, or of the next month that has it when it is past.
fn day_of_month(today: NaiveDate, day: u32) -> Option<NaiveDate> {
    let (mut y, mut m) = (today.year(), today.month());
    for _ in 0..13 {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m, day).filter(|d| *d >= today) {
            return Some(d);
        }
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    /// Wednesday 2026-11-25, 10:00.
    fn now() -> NaiveDateTime {
        at(2026, 11, 25, 10, 0)
    }

    fn iso(t: &str) -> Option<String> {
        parse_date(t, now()).map(|d| d.iso())
    }

    #[test]
    fn dates_with_weekdays_and_relative_days() {
        assert_eq!(now().weekday(), Weekday::Wed);
        let cases = [
            ("Thursday at three pm", "2026-11-26T15:00"),
            ("Thursday at 3 p.m.", "2026-11-26T15:00"),
            ("Thursday at 3PM", "2026-11-26T15:00"),
            ("thursday 3pm", "2026-11-26T15:00"),
            ("Thursday at three", "2026-11-26T15:00"),
            ("Thursday at three thirty", "2026-11-26T15:30"),
            ("Thursday at 3:30 pm", "2026-11-26T15:30"),
            ("Thursday", "2026-11-26"),
            ("How about Friday?", "2026-11-27"),
            ("Wednesday", "2026-12-02"),
            ("this Wednesday", "2026-11-25"),
            ("next Monday", "2026-11-30"),
            ("next Friday", "2026-12-04"),
            ("this Friday", "2026-11-27"),
            ("this coming Friday", "2026-11-27"),
            ("tomorrow", "2026-11-26"),
            ("Tomorrow at noon.", "2026-11-26T12:00"),
            ("tomorrow morning at 9", "2026-11-26T09:00"),
            ("tomorrow at ten in the morning", "2026-11-26T10:00"),
            ("Tomorrow at 8 in the evening", "2026-11-26T20:00"),
            ("the day after tomorrow", "2026-11-27"),
            ("today at 4", "2026-11-25T16:00"),
            ("tonight at 7", "2026-11-25T19:00"),
            ("in two days", "2026-11-27"),
            ("in a week", "2026-12-02"),
            ("Monday at half past two", "2026-11-30T14:30"),
            ("Monday at quarter to ten", "2026-11-30T09:45"),
            ("Friday at 9 am", "2026-11-27T09:00"),
            ("Friday at ten oh five am", "2026-11-27T10:05"),
            ("Saturday at 11 o'clock", "2026-11-28T11:00"),
            ("Friday at 15:00", "2026-11-27T15:00"),
            ("Friday at midnight", "2026-11-27T00:00"),
        ];
        for (t, want) in cases {
            assert_eq!(iso(t).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn dates_with_months_and_days() {
        let cases = [
            ("March 3rd", "2027-03-03"),
            ("March 3rd at 3:30 pm", "2027-03-03T15:30"),
            ("march third", "2027-03-03"),
            ("March the 3rd", "2027-03-03"),
            ("the 3rd of March", "2027-03-03"),
            ("3 March", "2027-03-03"),
            ("December 1st", "2026-12-01"),
            ("December twenty first at noon", "2026-12-21T12:00"),
            ("November 25", "2026-11-25"),
            ("November 24", "2027-11-24"),
            ("March 3rd 2028", "2028-03-03"),
            ("the 5th", "2026-12-05"),
            ("on the twenty eighth", "2026-11-28"),
            ("the 30th", "2026-11-30"),
            ("the 31st", "2026-12-31"),
            ("Thursday the 3rd", "2026-12-03"),
            ("May 5th", "2027-05-05"),
            ("11/26", "2026-11-26"),
            ("12/1/2026", "2026-12-01"),
            ("2026-12-24", "2026-12-24"),
            ("2026-12-24 at 15:00", "2026-12-24T15:00"),
        ];
        for (t, want) in cases {
            assert_eq!(iso(t).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn times_alone_and_non_dates() {
        assert_eq!(iso("at three pm").as_deref(), Some("2026-11-25T15:00"));
        assert_eq!(
            iso("at 9 am").as_deref(),
            Some("2026-11-26T09:00"),
            "9 am has passed at 10:00"
        );
        assert_eq!(iso("noon works").as_deref(), Some("2026-11-25T12:00"));
        for t in [
            "",
            "I don't know",
            "yes",
            "I may be late",
            "maybe later",
            "three kids",
            "the first one",
        ] {
            assert_eq!(iso(t), None, "{t}");
        }
        let d = parse_date("Thursday at three pm.", now()).unwrap();
        assert_eq!(d.text, "Thursday at three pm.");
        assert_eq!(
            d.to_value(),
            json!({"text": "Thursday at three pm.", "date": "2026-11-26", "time": "15:00", "iso": "2026-11-26T15:00"})
        );
        assert_eq!(parse_date("Friday", now()).unwrap().to_value()["time"], Value::Null);
    }
}
