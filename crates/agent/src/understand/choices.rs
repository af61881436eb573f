//! Which of a question's choices the caller picked.

use super::dates::ordinal_at;
use super::numbers::{tens_value, unit_value};
use super::words::words;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
