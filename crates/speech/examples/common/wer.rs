//! Word error rate on call-centre sentences, shared by the `stt_wer` and `stt_eval` examples:
//! the sentences, the text normalisation and the word-level edit distance.
//!
//! WER is counted on normalised words, so that a transcript is not charged for writing what was
//! said in another accepted form: lower case, no punctuation, number words and numerals in one
//! form ("forty two" = "42", "nineteen eighty five" = "1985", ordinals as their number
//! ("March third" = "March 3rd" = "March 3"), "$42" = "42 dollars", digits read one at a time "four five seven two" = "4572"), "ok" =
//! "okay". Contractions are not expanded ("that's" and "that is" differ): the reference is
//! what was said.

/// Call-centre utterances: requests, account and phone numbers, amounts, names, dates, times
/// and the short yes/no answers that make up many caller turns. The first twelve are the set
/// `stt_wer` has always used (its figures in `stt.rs` are on them).
pub const SENTENCES: &[&str] = &[
    "Hello, I'm calling about the order I placed last week.",
    "My account number is four five seven two.",
    "Yes, that works for me.",
    "Can you move my appointment to Thursday afternoon?",
    "I would like to speak to someone about a refund.",
    "The total came to forty two dollars.",
    "No, I already paid the bill on Monday.",
    "Please send the confirmation to my email address.",
    "My phone number ends in six one eight nine.",
    "Could you repeat that a little more slowly?",
    "I want to cancel my subscription, please.",
    "The package never arrived but the tracking says delivered.",
    "Yes.",
    "No.",
    "Yes, please.",
    "No, thank you.",
    "That's right.",
    "Okay, sounds good.",
    "My name is Sarah Johnson.",
    "This is David Miller from the accounting department.",
    "My date of birth is March third, nineteen eighty five.",
    "Can we schedule the delivery for Friday the twenty first?",
    "The reference number is seven three nine two one.",
    "I have been waiting on hold for twenty minutes.",
    "Is there a fee if I pay late?",
    "My zip code is nine four one zero three.",
    "I will be available after three thirty tomorrow.",
    "The charge of two hundred dollars on my card is wrong.",
    "Please transfer me to the billing department.",
    "Can you call me back at the same number?",
];

const SMALL: [&str; 20] = [
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
const SMALL_ORDINALS: [&str; 20] = [
    "zeroth",
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
const TENS_ORDINALS: [&str; 8] = [
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "sixtieth",
    "seventieth",
    "eightieth",
    "ninetieth",
];

fn number_word(w: &str) -> Option<u64> {
    if w == "oh" {
        return None; // too ambiguous to count as zero
    }
    if let Some(n) = SMALL.iter().position(|s| *s == w) {
        return Some(n as u64);
    }
    TENS.iter().position(|s| *s == w).map(|n| 20 + 10 * n as u64)
}

fn ordinal_word(w: &str) -> Option<u64> {
    // "second" is left alone: "just a second" is not a date.
    if w == "second" {
        return None;
    }
    if let Some(n) = SMALL_ORDINALS.iter().position(|s| *s == w) {
        return Some(n as u64);
    }
    TENS_ORDINALS.iter().position(|s| *s == w).map(|n| 20 + 10 * n as u64)
}

/// An ordinal counts as its number: Whisper writes a date as "March 3" or "March 3rd".
fn ordinal(n: u64) -> String {
    n.to_string()
}

/// "21st" -> "21", "3rd" -> "3"; `None` for anything else.
fn numeric_ordinal(w: &str) -> Option<String> {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) && ["st", "nd", "rd", "th"].contains(&suffix))
        .then(|| digits.to_string())
}

/// A tens word ("twenty") followed by a unit ("one") is one number; `None` if `w` is not a
/// number word. Leaves an ordinal unit ("twenty first") to the caller.
fn tens_and_unit<'a>(w: &str, tokens: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>) -> Option<u64> {
    let mut n = number_word(w)?;
    if (20..100).contains(&n) && n % 10 == 0 {
        if let Some(u) = tokens.peek().and_then(|t| number_word(t)) {
            if (1..10).contains(&u) {
                n += u;
                tokens.next();
            }
        }
    }
    Some(n)
}

/// Lower case, no punctuation, numbers as numerals (see the module docs).
pub fn normalize(text: &str) -> Vec<String> {
    let mut spaced = String::new();
    for c in text.to_lowercase().chars() {
        match c {
            '$' => spaced.push_str(" dollar_sign "),
            '%' => spaced.push_str(" percent "),
            '-' | '/' => spaced.push(' '),
            c if c.is_alphanumeric() || c.is_whitespace() => spaced.push(c),
            ',' | '.' | ':' => spaced.push(' '),
            _ => {} // apostrophes and other punctuation vanish: "i'm" -> "im"
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut pending_dollar = false;
    let mut tokens = spaced.split_whitespace().peekable();
    while let Some(w) = tokens.next() {
        if w == "dollar_sign" {
            pending_dollar = true;
            continue;
        }
        if w == "ok" {
            words.push("okay".into());
            continue;
        }
        if let Some(n) = ordinal_word(w) {
            words.push(ordinal(n));
            continue;
        }
        if let Some(n) = numeric_ordinal(w) {
            words.push(n);
            continue;
        }
        let mut value = None;
        if let Some(mut n) = tens_and_unit(w, &mut tokens) {
            // "twenty first" -> 21st.
            if (20..100).contains(&n) && n % 10 == 0 {
                if let Some(u) = tokens
                    .peek()
                    .and_then(|t| ordinal_word(t))
                    .filter(|u| (1..10).contains(u))
                {
                    tokens.next();
                    words.push(ordinal(n + u));
                    continue;
                }
            }
            if tokens.peek() == Some(&"hundred") {
                tokens.next();
                n *= 100;
            } else if (11..=20).contains(&n) {
                // A year: "nineteen eighty five" -> 1985, "twenty twenty five" -> 2025.
                let next = tokens.peek().copied().and_then(number_word).filter(|m| *m >= 10);
                if next.is_some() {
                    let first = tokens.next().unwrap_or_default();
                    if let Some(m) = tens_and_unit(first, &mut tokens) {
                        n = n * 100 + m;
                    }
                }
            }
            value = Some(n.to_string());
        } else if w.chars().all(|c| c.is_ascii_digit()) {
            value = Some(w.to_string());
        }
        match value {
            Some(v) => {
                // Digits read one at a time join into one number.
                match words.last_mut() {
                    Some(last) if v.len() == 1 && !last.is_empty() && last.chars().all(|c| c.is_ascii_digit()) => {
                        last.push_str(&v)
                    }
                    _ => words.push(v),
                }
                if pending_dollar {
                    words.push("dollars".into());
                    pending_dollar = false;
                }
            }
            None => words.push(w.to_string()),
        }
    }
    words
}

/// Word-level edit distance (substitutions, insertions and deletions).
pub fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut cur = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[hypothesis.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        normalize(a) == normalize(b)
    }

    #[test]
    fn numbers_dates_and_amounts_have_one_form() {
        assert!(same(
            "My account number is four five seven two.",
            "My account number is 4572."
        ));
        assert!(same("The total came to forty two dollars.", "The total came to $42."));
        assert!(same("March third, nineteen eighty five.", "March 3rd, 1985"));
        assert!(same("March third, nineteen eighty five.", "March 3, 1985."));
        assert!(same("Friday the twenty first?", "Friday the 21st."));
        assert!(same("after three thirty tomorrow", "after 3:30 tomorrow"));
        assert!(same("The charge of two hundred dollars", "The charge of $200"));
        assert!(same("Okay, sounds good.", "OK, sounds good."));
        assert!(same(
            "I have been waiting for twenty minutes.",
            "I have been waiting for 20 minutes."
        ));
    }

    #[test]
    fn different_words_still_count() {
        assert!(!same("four five seven two", "4573"));
        assert!(!same("March third", "March 4th"));
        assert!(!same("That's right.", "That is right."));
        assert_eq!(
            edits(
                &normalize("My name is Sarah Johnson."),
                &normalize("My name is Sara Johnson")
            ),
            1
        );
        assert_eq!(edits(&normalize("Yes."), &normalize("")), 1);
        assert_eq!(edits(&normalize("No."), &normalize("No. No.")), 1);
    }
}
