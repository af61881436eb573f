//! Spoken numbers, in digits or words.

use super::words::{starts_with_words, words};
use serde_json::{json, Value};

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

pub(super) fn unit_value(w: &str) -> Option<u32> {
    UNITS.iter().position(|u| *u == w).map(|p| p as u32)
}

pub(super) fn tens_value(w: &str) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
