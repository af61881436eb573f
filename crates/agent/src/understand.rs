//! Deterministic understanding of spoken answers: yes/no, numbers, dates and times, choices,
//! and the keypad.
//!
//! The input is a speech-to-text transcript ("Uh, no, not really.", "Thursday at three pm",
//! "twenty-five"), so the parsers read words, not formats, and they are deliberately
//! conservative: when in doubt they answer `None`, and the flow re-asks (or, with an LLM
//! configured, asks the LLM). A wrong "yes" is worse than one more question.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Words

/// Lowercases, unifies apostrophes and spells `a.m.`/`p.m.`/`o'clock` as single words.
fn normalize(text: &str) -> String {
    text.to_lowercase()
        .replace(['\u{2019}', '\u{2018}', '`'], "'")
        .replace("a.m.", "am")
        .replace("p.m.", "pm")
        .replace("a.m", "am")
        .replace("p.m", "pm")
        .replace("o'clock", "oclock")
}

/// Splits text into words. Letters, digits and apostrophes make words; `:`, `/`, `-`, `.` and
/// `,` stay inside a word only between two digits ("3:30", "11/26", "2026-11-26", "3.5",
/// "1,200" which becomes "1200").
fn words(text: &str) -> Vec<String> {
    let norm = normalize(text);
    let cs: Vec<char> = norm.chars().collect();
    let mut out = Vec::new();
    let mut w = String::new();
    for (i, &c) in cs.iter().enumerate() {
        let between_digits = i > 0 && cs[i - 1].is_ascii_digit() && cs.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_alphanumeric() || c == '\'' || (between_digits && matches!(c, ':' | '/' | '-' | '.')) {
            w.push(c);
        } else if c == '-' && w.is_empty() && cs.get(i + 1).is_some_and(|n| n.is_ascii_digit()) {
            w.push(c); // "-3"
        } else if between_digits && c == ',' {
            // thousands separator: drop it
        } else if !w.is_empty() {
            out.push(std::mem::take(&mut w));
        }
    }
    if !w.is_empty() {
        out.push(w);
    }
    out.into_iter()
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

fn starts_with_words(ws: &[String], phrase: &[&str]) -> bool {
    ws.len() >= phrase.len() && ws.iter().zip(phrase).all(|(a, b)| a == b)
}

// ---------------------------------------------------------------------------------------------
// Yes / no

#[derive(Clone, Copy, PartialEq)]
enum Signal {
    Yes,
    No,
    Unsure,
}

/// Multi-word phrases, matched before single words; their words are not read again.
/// Negated positives ("of course not") and positive negatives ("no problem") are why.
const PHRASES: &[(&str, Signal)] = &[
    ("i do not think so", Signal::No),
    ("i don't think so", Signal::No),
    ("i'd rather not", Signal::No),
    ("i would rather not", Signal::No),
    ("of course not", Signal::No),
    ("absolutely not", Signal::No),
    ("definitely not", Signal::No),
    ("certainly not", Signal::No),
    ("not really", Signal::No),
    ("not at all", Signal::No),
    ("not a chance", Signal::No),
    ("no thank you", Signal::No),
    ("no thanks", Signal::No),
    ("no way", Signal::No),
    ("rather not", Signal::No),
    ("not a problem", Signal::Yes),
    ("no problem", Signal::Yes),
    ("no problems", Signal::Yes),
    ("no worries", Signal::Yes),
    ("no doubt", Signal::Yes),
    ("don't worry", Signal::Yes),
    ("can't wait", Signal::Yes),
    ("cannot wait", Signal::Yes),
    ("why not", Signal::Yes),
    ("of course", Signal::Yes),
    ("that's right", Signal::Yes),
    ("that is right", Signal::Yes),
    ("sounds good", Signal::Yes),
    ("sounds great", Signal::Yes),
    ("sounds fine", Signal::Yes),
    ("that works", Signal::Yes),
    ("works for me", Signal::Yes),
    ("that's fine", Signal::Yes),
    ("i'd love to", Signal::Yes),
    ("count me in", Signal::Yes),
    ("let's do it", Signal::Yes),
    ("go ahead", Signal::Yes),
    ("all right", Signal::Yes),
    ("for sure", Signal::Yes),
    ("you bet", Signal::Yes),
    ("i'm in", Signal::Yes),
    ("i do", Signal::Yes),
    ("i can", Signal::Yes),
    ("i will", Signal::Yes),
    ("i would", Signal::Yes),
    ("i am", Signal::Yes),
    ("i have", Signal::Yes),
    ("uh huh", Signal::Yes),
    ("mm hmm", Signal::Yes),
    ("m hmm", Signal::Yes),
    ("i'm not sure", Signal::Unsure),
    ("not sure", Signal::Unsure),
    ("not certain", Signal::Unsure),
    ("don't know", Signal::Unsure),
    ("do not know", Signal::Unsure),
    ("hard to say", Signal::Unsure),
    ("didn't hear", Signal::Unsure),
    ("did not hear", Signal::Unsure),
    ("didn't catch", Signal::Unsure),
    ("say that again", Signal::Unsure),
    ("repeat that", Signal::Unsure),
    ("come again", Signal::Unsure),
    ("what was that", Signal::Unsure),
    ("who is this", Signal::Unsure),
    ("who's this", Signal::Unsure),
    ("let me think", Signal::Unsure),
    ("let me check", Signal::Unsure),
    ("no idea", Signal::Unsure),
];

const YES_WORDS: &[&str] = &[
    "yes",
    "yeah",
    "yea",
    "yah",
    "ya",
    "yep",
    "yup",
    "yess",
    "sure",
    "surely",
    "correct",
    "right",
    "absolutely",
    "definitely",
    "certainly",
    "ok",
    "okay",
    "alright",
    "fine",
    "confirm",
    "confirmed",
    "affirmative",
    "perfect",
    "great",
    "exactly",
    "indeed",
    "totally",
    "agreed",
    "agree",
    "mhm",
];

const NO_WORDS: &[&str] = &[
    "no",
    "nope",
    "nah",
    "nay",
    "not",
    "never",
    "negative",
    "wrong",
    "incorrect",
    "cannot",
    "unfortunately",
    "dont",
    "cant",
    "wont",
    "doesnt",
    "didnt",
    "isnt",
    "arent",
    "wasnt",
    "couldnt",
    "wouldnt",
    "shouldnt",
    "havent",
    "hasnt",
];

const UNSURE_WORDS: &[&str] = &["maybe", "perhaps", "possibly", "dunno", "depends", "pardon", "probably"];

/// The bare answer words: with one of these, an "I'm not sure" elsewhere does not void the answer.
const EXPLICIT: &[&str] = &["yes", "yeah", "yep", "yup", "yea", "no", "nope", "nah"];

/// A spoken yes or no. Each clause (split at punctuation and "but") is negative if it has any
/// negative word or phrase ("I don't think I can"), else positive if it has a positive one;
/// the last clause with a polarity decides, because people correct themselves ("Yeah, no, I
/// can't" means no). Hesitation ("I'm not sure", "maybe") gives `None` unless a bare yes/no
/// word is also there.
pub fn parse_yes_no(text: &str) -> Option<bool> {
    let ws = words(&clause_marks(text));
    let mut answer = None;
    let mut unsure = false;
    let mut explicit = false;
    for clause in ws.split(|w| w == CLAUSE || w == "but" || w == "though") {
        let mut neg = false;
        let mut pos = false;
        let mut i = 0;
        'word: while i < clause.len() {
            for (phrase, sig) in PHRASES {
                let p: Vec<&str> = phrase.split(' ').collect();
                if starts_with_words(&clause[i..], &p) {
                    match sig {
                        Signal::Yes => pos = true,
                        Signal::No => neg = true,
                        Signal::Unsure => unsure = true,
                    }
                    i += p.len();
                    continue 'word;
                }
            }
            let w = clause[i].as_str();
            let bare = w.replace('\'', "");
            explicit |= EXPLICIT.contains(&w);
            if NO_WORDS.contains(&bare.as_str()) || w.ends_with("n't") {
                neg = true;
            } else if YES_WORDS.contains(&w) {
                pos = true;
            } else if UNSURE_WORDS.contains(&w) {
                unsure = true;
            }
            i += 1;
        }
        if neg {
            answer = Some(false);
        } else if pos {
            answer = Some(true);
        }
    }
    if unsure && !explicit {
        return None;
    }
    answer
}

/// Marks clause boundaries with a word of its own, so [`words`] keeps them.
fn clause_marks(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ',' | '.' | '!' | '?' | ';' | ':' | '\u{2026}' | '\u{2014}' | '\n' => format!(" {CLAUSE} "),
            c => c.to_string(),
        })
        .collect()
}

const CLAUSE: &str = "xxclausexx";

// ---------------------------------------------------------------------------------------------
// Numbers

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn unit_value(w: &str) -> Option<u32> {
    UNITS.iter().position(|u| *u == w).map(|p| p as u32)
}

fn tens_value(w: &str) -> Option<u32> {
    TENS.iter()
        .position(|u| *u == w)
        .map(|p| 20 + 10 * p as u32)
        .or((w == "fourty").then_some(40))
}

fn scale_value(w: &str) -> Option<f64> {
    match w {
        "thousand" => Some(1e3),
        "million" => Some(1e6),
        "billion" => Some(1e9),
        _ => None,
    }
}

fn is_number_word(w: &str) -> bool {
    unit_value(w).is_some() || tens_value(w).is_some() || scale_value(w).is_some() || w == "hundred" || w == "dozen"
}

#[derive(Clone, Copy, PartialEq)]
enum Last {
    None,
    Small,
    Tens,
    Hundred,
    Scale,
}

/// Reads a run of number words starting at `ws[i]`; returns the value and how many words it used.
fn number_words_at(ws: &[String], i: usize) -> Option<(f64, usize)> {
    let (mut total, mut cur, mut frac) = (0.0f64, 0.0f64, 0.0f64);
    let mut last = Last::None;
    let mut j = i;
    let mut any = false;
    while j < ws.len() {
        let w = ws[j].as_str();
        let next = ws.get(j + 1).map(String::as_str);
        if let Some(v) = unit_value(w) {
            let v = v as f64;
            cur = match last {
                Last::Small if v < 10.0 && cur < 10.0 => cur * 10.0 + v, // "two five" -> 25
                Last::Small | Last::Tens if v >= 10.0 => cur * 100.0 + v, // "one fifteen", "twenty thirteen"
                _ => cur + v,
            };
            last = Last::Small;
        } else if let Some(v) = tens_value(w) {
            let v = v as f64;
            cur = match last {
                Last::Small | Last::Tens => cur * 100.0 + v, // "nineteen ninety", "twenty twenty"
                _ => cur + v,
            };
            last = Last::Tens;
        } else if w == "hundred" || w == "dozen" {
            let m = if w == "hundred" { 100.0 } else { 12.0 };
            cur = if cur == 0.0 { m } else { cur * m };
            last = Last::Hundred;
        } else if let Some(s) = scale_value(w) {
            total += if cur == 0.0 { s } else { cur * s };
            cur = 0.0;
            last = Last::Scale;
        } else if (w == "a" || w == "an")
            && next.is_some_and(|n| n == "hundred" || n == "dozen" || scale_value(n).is_some())
        {
            cur = cur.max(0.0); // "a hundred": the scale word multiplies by one
        } else if w == "and" && any && starts_with_words(&ws[j + 1..], &["a", "half"]) {
            frac = 0.5;
            j += 3;
            break;
        } else if w == "and" && any && next.is_some_and(is_number_word) {
            // "two hundred and five"
        } else if w == "point" && next.is_some_and(|n| unit_value(n).is_some_and(|v| v < 10)) {
            let mut k = j + 1;
            let mut scale = 0.1;
            while let Some(d) = ws.get(k).and_then(|n| unit_value(n)).filter(|v| *v < 10) {
                frac += d as f64 * scale;
                scale /= 10.0;
                k += 1;
            }
            any = true;
            j = k;
            break;
        } else {
            break;
        }
        if is_number_word(w) {
            any = true;
        }
        j += 1;
    }
    any.then_some((total + cur + frac, j - i))
}

fn digits_value(w: &str) -> Option<f64> {
    let w = w.trim_start_matches('$');
    let w = ["st", "nd", "rd", "th", "%"]
        .iter()
        .find_map(|s| w.strip_suffix(s).filter(|d| d.ends_with(|c: char| c.is_ascii_digit())))
        .unwrap_or(w);
    if !w.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return None;
    }
    w.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The first number spoken, in digits ("25", "3.5", "1,200", "$40") or words ("twenty-five",
/// "two hundred and five", "three point five", "a dozen", "two and a half", "one million").
/// A digit number followed by a scale word is scaled ("5 thousand").
pub fn parse_number(text: &str) -> Option<f64> {
    let ws = words(text);
    for i in 0..ws.len() {
        let negative = i > 0 && matches!(ws[i - 1].as_str(), "minus" | "negative");
        let sign = if negative { -1.0 } else { 1.0 };
        if let Some(v) = digits_value(&ws[i]) {
            let scale = ws.get(i + 1).and_then(|n| scale_value(n)).unwrap_or(1.0);
            return Some(sign * v * scale);
        }
        if ws[i] == "a" && starts_with_words(&ws[i + 1..], &["half"]) {
            return Some(0.5);
        }
        if is_number_word(&ws[i]) || matches!(ws[i].as_str(), "a" | "an" | "point") {
            if let Some((v, _)) = number_words_at(&ws, i) {
                return Some(sign * v);
            }
        }
    }
    None
}

/// A parsed number as JSON: an integer when it is whole, else a float.
pub fn number_value(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

// ---------------------------------------------------------------------------------------------
// Dates and times

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
fn ordinal_at(ws: &[String], i: usize) -> Option<(u32, usize)> {
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

// ---------------------------------------------------------------------------------------------
// Choices

const STOP_WORDS: &[&str] = &[
    "the", "a", "an", "i", "i'd", "id", "i'll", "like", "want", "would", "please", "um", "uh", "er", "hmm", "that",
    "one", "option", "choice", "prefer", "go", "with", "for", "to", "of", "in", "on", "at", "it", "is", "it's", "its",
    "my", "me", "let's", "lets", "take", "pick", "choose", "do", "think", "maybe", "guess", "probably", "just", "will",
    "be", "yes", "yeah", "ok", "okay", "sure", "and", "or", "thanks", "thank", "you", "fine", "good", "great", "say",
    "well", "so", "oh", "have", "get", "can", "we", "number",
];

/// Words for matching choices: number words as digits, a plural "s" dropped.
fn choice_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .map(|w| match unit_value(&w).or_else(|| tens_value(&w)) {
            Some(v) => v.to_string(),
            None if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") => w[..w.len() - 1].to_string(),
            None => w,
        })
        .collect()
}

fn contains_seq(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Which of `choices` the caller picked: the whole choice said (the longest, if several are),
/// an ordinal ("the first one", "the last", "option two"), or the choice sharing the most
/// content words. `None` when that is not one choice.
pub fn parse_choice(text: &str, choices: &[String]) -> Option<usize> {
    let tw = choice_words(text);
    if tw.is_empty() || choices.is_empty() {
        return None;
    }
    let cws: Vec<Vec<String>> = choices.iter().map(|c| choice_words(c)).collect();
    if let Some(i) = cws.iter().position(|c| *c == tw) {
        return Some(i);
    }
    // Whole choices said within the answer.
    let said: Vec<usize> = (0..cws.len()).filter(|&i| contains_seq(&tw, &cws[i])).collect();
    if !said.is_empty() {
        let longest = said.iter().map(|&i| cws[i].len()).max()?;
        let best: Vec<usize> = said.into_iter().filter(|&i| cws[i].len() == longest).collect();
        if best.len() == 1 {
            return Some(best[0]);
        }
    }
    // Ordinals.
    let n = choices.len();
    for (i, w) in tw.iter().enumerate() {
        let idx = match w.as_str() {
            "last" | "latter" => Some(n - 1),
            "former" => Some(0),
            "number" | "option" | "choice" => tw
                .get(i + 1)
                .and_then(|d| d.parse::<usize>().ok())
                .and_then(|d| d.checked_sub(1)),
            _ => ordinal_at(&tw, i).and_then(|(v, _)| (v as usize).checked_sub(1)),
        };
        if let Some(idx) = idx.filter(|&x| x < n) {
            return Some(idx);
        }
    }
    // Most shared content words.
    let content: Vec<&String> = tw.iter().filter(|w| !STOP_WORDS.contains(&w.as_str())).collect();
    let scores: Vec<usize> = cws
        .iter()
        .map(|c| content.iter().filter(|w| c.contains(w)).count())
        .collect();
    let best = *scores.iter().max()?;
    if best == 0 || scores.iter().filter(|&&s| s == best).count() > 1 {
        return None;
    }
    scores.iter().position(|&s| s == best)
}

// ---------------------------------------------------------------------------------------------
// Keypad

/// `1` is yes, `2` is no (as the agent says: "press 1 for yes, 2 for no").
pub fn dtmf_yes_no(key: char) -> Option<bool> {
    match key {
        '1' => Some(true),
        '2' => Some(false),
        _ => None,
    }
}

/// `1`..`9` pick the first to ninth of `count` choices.
pub fn dtmf_choice(key: char, count: usize) -> Option<usize> {
    let d = key.to_digit(10)? as usize;
    (1..=count.min(9)).contains(&d).then(|| d - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_phrasings() {
        for t in [
            "Yes",
            "yes.",
            "Yes, that works.",
            "Yeah",
            "Yep!",
            "yup",
            "Sure.",
            "Sure thing",
            "Correct.",
            "That's right",
            "That’s right.",
            "Right.",
            "Absolutely.",
            "Definitely!",
            "Of course.",
            "Sounds good to me.",
            "Okay.",
            "OK",
            "I do.",
            "I can.",
            "I will be there.",
            "Confirm.",
            "No problem.",
            "Yes, no problem at all.",
            "Uh-huh.",
            "Mm-hmm",
            "Yes, I can't wait!",
            "No, wait, yes, I can.",
            "Why not?",
            "Yes, but I might be a bit late.",
            "All right",
            "Affirmative.",
            "That's fine.",
            "Yes please",
            "Works for me.",
        ] {
            assert_eq!(parse_yes_no(t), Some(true), "{t}");
        }
    }

    #[test]
    fn no_phrasings() {
        for t in [
            "No",
            "No.",
            "Nope.",
            "Nah",
            "Uh, no, not really",
            "Not really.",
            "No, that doesn't work.",
            "I can't make it.",
            "I cannot make it",
            "I don't think so.",
            "I don't think I can make it.",
            "I won't be there.",
            "Of course not.",
            "Absolutely not!",
            "That's not right.",
            "That's wrong.",
            "Incorrect.",
            "Negative.",
            "No thanks.",
            "Yeah, no, I can't.",
            "Unfortunately not",
            "I'd rather not.",
            "Never.",
            "No way.",
            "It doesn’t work for me",
        ] {
            assert_eq!(parse_yes_no(t), Some(false), "{t}");
        }
    }

    #[test]
    fn unclear_answers_are_none() {
        for t in [
            "",
            "Hello?",
            "Who is this?",
            "I'm not sure.",
            "Maybe.",
            "Hmm, let me think.",
            "I don't know",
            "Sorry, I didn't hear you.",
            "What was that?",
            "Thursday at three",
            "Can you say that again?",
        ] {
            assert_eq!(parse_yes_no(t), None, "{t}");
        }
        assert_eq!(parse_yes_no("I'm not sure, no."), Some(false));
        assert_eq!(parse_yes_no("Maybe... yes."), Some(true));
    }

    #[test]
    fn numbers_in_digits_and_words() {
        let cases: &[(&str, f64)] = &[
            ("25", 25.0),
            ("It's 25.", 25.0),
            ("twenty five", 25.0),
            ("Twenty-five.", 25.0),
            ("Uh, about twenty-five I think", 25.0),
            ("two hundred and five", 205.0),
            ("two hundred five", 205.0),
            ("a hundred", 100.0),
            ("one thousand two hundred", 1200.0),
            ("1,200", 1200.0),
            ("$40", 40.0),
            ("3.5", 3.5),
            ("three point five", 3.5),
            ("point two five", 0.25),
            ("two and a half", 2.5),
            ("a dozen", 12.0),
            ("two million", 2_000_000.0),
            ("five million three hundred thousand", 5_300_000.0),
            ("5 thousand", 5000.0),
            ("zero", 0.0),
            ("I have two kids", 2.0),
            ("nineteen ninety nine", 1999.0),
            ("twenty twenty six", 2026.0),
            ("eleven", 11.0),
            ("ninety-nine", 99.0),
            ("minus five", -5.0),
            ("-3", -3.0),
            ("the 5th", 5.0),
            ("a half", 0.5),
            ("seventy thousand and twelve", 70012.0),
        ];
        for (t, v) in cases {
            assert_eq!(parse_number(t), Some(*v), "{t}");
        }
        for t in ["", "none", "a few", "and", "Hello", "I don't know"] {
            assert_eq!(parse_number(t), None, "{t}");
        }
        assert_eq!(number_value(25.0), json!(25));
        assert_eq!(number_value(2.5), json!(2.5));
    }

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

    fn ch(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn choices() {
        let c = ch(&["Morning", "Afternoon", "Evening"]);
        assert_eq!(parse_choice("morning", &c), Some(0));
        assert_eq!(parse_choice("The afternoon, please.", &c), Some(1));
        assert_eq!(parse_choice("I'd prefer evenings", &c), Some(2));
        assert_eq!(parse_choice("the first one", &c), Some(0));
        assert_eq!(parse_choice("The second.", &c), Some(1));
        assert_eq!(parse_choice("the last one", &c), Some(2));
        assert_eq!(parse_choice("option three", &c), Some(2));
        assert_eq!(parse_choice("number 2", &c), Some(1));
        assert_eq!(parse_choice("banana", &c), None);
        assert_eq!(parse_choice("", &c), None);
        assert_eq!(parse_choice("the fifth one", &c), None);

        let c = ch(&["New appointment", "Reschedule appointment", "Cancel"]);
        assert_eq!(parse_choice("I want to reschedule", &c), Some(1));
        assert_eq!(parse_choice("cancel it please", &c), Some(2));
        assert_eq!(parse_choice("an appointment", &c), None, "ambiguous");
        assert_eq!(parse_choice("a new one", &c), Some(0));

        let c = ch(&["1 bedroom", "2 bedrooms", "3 bedrooms or more"]);
        assert_eq!(parse_choice("two bedrooms", &c), Some(1));
        assert_eq!(parse_choice("Three bedrooms or more.", &c), Some(2));

        let c = ch(&["Card", "Credit card"]);
        assert_eq!(parse_choice("by credit card", &c), Some(1));
        assert_eq!(parse_choice("card", &c), Some(0));
    }

    #[test]
    fn keypad() {
        assert_eq!(dtmf_yes_no('1'), Some(true));
        assert_eq!(dtmf_yes_no('2'), Some(false));
        assert_eq!(dtmf_yes_no('3'), None);
        assert_eq!(dtmf_choice('1', 3), Some(0));
        assert_eq!(dtmf_choice('3', 3), Some(2));
        assert_eq!(dtmf_choice('4', 3), None);
        assert_eq!(dtmf_choice('0', 3), None);
        assert_eq!(dtmf_choice('#', 3), None);
    }
}
