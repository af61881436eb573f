//! Splitting a transcript into normalized words, the input of every parser.

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
pub(super) fn words(text: &str) -> Vec<String> {
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

pub(super) fn starts_with_words(ws: &[String], phrase: &[&str]) -> bool {
    ws.len() >= phrase.len() && ws.iter().zip(phrase).all(|(a, b)| a == b)
}
