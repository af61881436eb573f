//! Splits text into sentences, including text that is still arriving from an LLM.
//!
//! The voice pipeline synthesizes one sentence at a time; handing it the first sentence as soon
//! as the LLM has finished it (not when the whole reply is done) is most of what makes a
//! generated reply start quickly. A sentence ends at `.`, `!` or `?` (and any closing quotes)
//! followed by whitespace, or at a line break. Because "followed by whitespace" needs the next
//! character, a terminator at the very end of the text so far waits for the next delta (or
//! [`SentenceSplitter::finish`]). Abbreviations ("Dr.", "a.m."), initials ("J. Smith") and
//! decimals ("3.5") do not end a sentence.

/// Words that end with a period without ending the sentence (lowercase, without the period).
/// "No." is left out: a reply of "No." is far more common on a call than "No. 5".
const ABBREVIATIONS: [&str; 21] = [
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "a.m", "p.m", "u.s", "approx", "apt",
    "ave", "inc", "ltd", "co",
];

const CLOSERS: [char; 6] = ['"', '\'', ')', ']', '\u{201d}', '\u{2019}'];

/// Accumulates streamed text and hands out each sentence once it is complete.
#[derive(Debug, Default, Clone)]
pub struct SentenceSplitter {
    buf: String,
}

impl SentenceSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a delta; returns the sentences it completed (trimmed, non-empty), in order.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        self.buf.push_str(delta);
        let mut out = Vec::new();
        while let Some(end) = boundary(&self.buf) {
            let sentence = self.buf[..end].trim().to_string();
            self.buf.drain(..end);
            if !sentence.is_empty() {
                out.push(sentence);
            }
        }
        out
    }

    /// The rest of the text, once the stream has ended.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    }
}

/// Splits a whole text into sentences.
pub fn split(text: &str) -> Vec<String> {
    let mut s = SentenceSplitter::new();
    let mut out = s.push(text);
    out.extend(s.finish());
    out
}

/// The byte offset just past the first complete sentence of `buf`, if there is one.
fn boundary(buf: &str) -> Option<usize> {
    let mut chars = buf.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            if buf[..i].trim().is_empty() {
                continue;
            }
            return Some(i + 1);
        }
        if !matches!(c, '.' | '!' | '?' | '\u{2026}') {
            continue;
        }
        // The run of terminators and closing quotes/brackets that ends here.
        let mut end = i + c.len_utf8();
        let mut single_period = c == '.';
        while let Some(&(j, d)) = chars.peek() {
            if matches!(d, '.' | '!' | '?' | '\u{2026}') || CLOSERS.contains(&d) {
                if matches!(d, '.' | '!' | '?' | '\u{2026}') {
                    single_period = false;
                }
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        match buf[end..].chars().next() {
            None => return None, // wait for what follows
            Some(n) if n.is_whitespace() => {
                if single_period && c == '.' && is_abbreviation(&buf[..i]) {
                    continue;
                }
                return Some(end);
            }
            Some(_) => continue, // "3.5", "e.g.,", "Yahoo!Mail"
        }
    }
    None
}

/// Whether the word just before a period (the end of `before`) is an abbreviation or an initial.
fn is_abbreviation(before: &str) -> bool {
    let word = before.rsplit(char::is_whitespace).next().unwrap_or("");
    let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
    if word.is_empty() {
        return false;
    }
    let mut cs = word.chars();
    if let (Some(c), None) = (cs.next(), cs.next()) {
        return c.is_uppercase() && c != 'I';
    }
    let lower = word.to_lowercase();
    let lower = lower.trim_start_matches(|c: char| c.is_ascii_digit()); // "3p.m"
    ABBREVIATIONS.contains(&lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_whole_texts() {
        assert_eq!(
            split("Hi Alex! This is Sam from the clinic. Can you make it?"),
            vec!["Hi Alex!", "This is Sam from the clinic.", "Can you make it?"]
        );
        assert_eq!(split("No trailing period"), vec!["No trailing period"]);
        assert_eq!(split(""), Vec::<String>::new());
        assert_eq!(split("   "), Vec::<String>::new());
        assert_eq!(
            split("Wait... what? Really?!  Yes."),
            vec!["Wait...", "what?", "Really?!", "Yes."]
        );
        assert_eq!(
            split("He said \"go.\" Then left."),
            vec!["He said \"go.\"", "Then left."]
        );
        assert_eq!(split("Line one\nLine two"), vec!["Line one", "Line two"]);
        assert_eq!(split("No. I can't."), vec!["No.", "I can't."]);
    }

    #[test]
    fn does_not_split_abbreviations_decimals_or_initials() {
        assert_eq!(
            split("Dr. Smith will see you at 3.5 hours past 9 a.m. on Monday. Bring your card."),
            vec![
                "Dr. Smith will see you at 3.5 hours past 9 a.m. on Monday.",
                "Bring your card."
            ]
        );
        assert_eq!(
            split("Ask for J. R. Smith, please."),
            vec!["Ask for J. R. Smith, please."]
        );
        assert_eq!(
            split("Mrs. Lee and Mr. Park, e.g. you."),
            vec!["Mrs. Lee and Mr. Park, e.g. you."]
        );
        assert_eq!(split("So am I. Good."), vec!["So am I.", "Good."]);
        assert_eq!(split("It costs $3.50. Ok."), vec!["It costs $3.50.", "Ok."]);
    }

    #[test]
    fn streams_sentences_as_soon_as_they_end() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("Hello").is_empty());
        assert!(s.push(" there.").is_empty(), "the period might be 'there.5'");
        assert_eq!(s.push(" How"), vec!["Hello there."]);
        assert!(s.push(" are you").is_empty());
        assert_eq!(s.push("? I'm Dr"), vec!["How are you?"]);
        assert!(s.push(".").is_empty());
        assert!(s.push(" Who.").is_empty());
        assert_eq!(s.finish(), Some("I'm Dr. Who.".to_string()));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn token_by_token_equals_whole() {
        let text = "Great, thanks Alex! I'll move it to Thursday at 3 p.m. instead. Anything else? Bye.";
        let mut s = SentenceSplitter::new();
        let mut out = Vec::new();
        for ch in text.chars() {
            out.extend(s.push(&ch.to_string()));
        }
        out.extend(s.finish());
        assert_eq!(out, split(text));
        assert_eq!(out.len(), 4, "{out:?}");
    }
}
