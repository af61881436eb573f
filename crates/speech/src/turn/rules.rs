//! The transcript rule: how the words said so far end, and how long to wait for more.
//!
//! A pure function of the text, so the endpointer can apply it on every speculative transcript
//! and tests can pin it without audio. Whisper writes punctuation: a sentence it hears as
//! finished gets a period or a question mark, speech that trails off gets "..." or nothing.
//! Punctuation alone is not enough on phone audio (Whisper closes many fragments with a period:
//! "I'd like to book an appointment for." at a pause), so the last word counts too: a sentence
//! cannot end on "for", "the", "and" or "um", whatever its punctuation.

/// How the text so far ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEnd {
    /// Nothing was recognized (noise, a cough, or the text is not in yet).
    Empty,
    /// Looks like a finished turn: closing punctuation after a word that can end a sentence,
    /// or a one-word answer ("yes", "no") whatever its punctuation.
    Complete,
    /// Ends on a number: digits are read in groups with pauses between them ("five five five,
    /// one two three four"), so a number may go on.
    Number,
    /// Looks unfinished: no closing punctuation, a trailing comma or ellipsis, or a last word
    /// a sentence does not end on (a conjunction, a preposition, an article, a filler).
    Open,
}

/// How long the endpointer waits after the caller's last voiced frame, by [`TextEnd`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnWaits {
    /// After text that looks complete.
    pub complete_ms: u32,
    /// After text that ends on a number.
    pub number_ms: u32,
    /// After text that looks unfinished (and after an empty transcript).
    pub open_ms: u32,
}

impl TurnWaits {
    /// The wait for a transcript that ends this way.
    pub fn wait_ms(&self, end: TextEnd) -> u32 {
        match end {
            TextEnd::Complete => self.complete_ms,
            TextEnd::Number => self.number_ms,
            TextEnd::Open | TextEnd::Empty => self.open_ms,
        }
    }
}

/// Words a sentence does not end on: when the text so far ends on one, the caller is mid-phrase.
const OPEN_WORDS: &[&str] = &[
    // conjunctions and clause openers
    "and",
    "or",
    "but",
    "so",
    "because",
    "cause",
    "if",
    "when",
    "while",
    "than",
    "that",
    "which",
    "who",
    "whose",
    "where",
    "whether",
    "although",
    "though",
    "unless",
    "until",
    "since",
    "plus",
    // prepositions
    "at",
    "on",
    "in",
    "to",
    "for",
    "from",
    "with",
    "about",
    "of",
    "by",
    "into",
    "onto",
    "after",
    "before",
    "between",
    "through",
    "around",
    "like",
    "as",
    "via",
    "per",
    "without",
    "under",
    // articles, determiners and possessives
    "the",
    "a",
    "an",
    "my",
    "your",
    "our",
    "their",
    "his",
    "her",
    "its",
    "this",
    "these",
    "those",
    "some",
    "any",
    "every",
    "each",
    "another",
    // subjects that need a verb after them
    "i",
    "we",
    "they",
    "he",
    "she",
    "i'm",
    "i'd",
    "i'll",
    "i've",
    "we're",
    "we'd",
    "we'll",
    "they're",
    "it's",
    "there's",
    "gonna",
    "wanna",
    "just",
    "also",
    "very",
    // fillers and hesitations
    "um",
    "uh",
    "erm",
    "er",
    "hmm",
    "mm",
    "uhm",
    "umm",
    "ah",
    "well",
    "actually",
    "basically",
];

/// Words of [`OPEN_WORDS`] a question does end on ("Who is this?", "What is it about?", "Who
/// am I speaking with?"): after Whisper's question mark they close the turn.
const ENDS_QUESTIONS: &[&str] = &[
    "that", "which", "who", "whose", "where", "when", "since", "at", "on", "in", "to", "for", "from", "with", "about",
    "of", "by", "after", "before", "through", "around", "like", "as", "without", "under", "this", "these", "those",
    "some", "any", "another", "i", "we", "they", "he", "she",
];

/// Auxiliaries: open after a noun ("my name is"), complete after a pronoun ("yes, it is",
/// "I do", "we can").
const AUXILIARIES: &[&str] = &[
    "is", "are", "was", "were", "am", "be", "been", "have", "has", "had", "do", "does", "did", "will", "would", "can",
    "could", "should", "might", "must", "shall", "may",
];

/// Pronouns after which an auxiliary closes a short answer.
const PRONOUNS: &[&str] = &[
    "i", "you", "we", "they", "he", "she", "it", "that", "there", "who", "this",
];

/// A one-word answer is complete whatever its punctuation (a primed Whisper often drops the
/// period after "Yes").
const ANSWERS: &[&str] = &[
    "yes",
    "no",
    "yeah",
    "yep",
    "nope",
    "okay",
    "ok",
    "sure",
    "correct",
    "right",
    "nah",
    "absolutely",
    "thanks",
    "bye",
    "goodbye",
    "hello",
    "hi",
];

/// Number words, as Whisper writes a number it did not turn into digits.
const NUMBER_WORDS: &[&str] = &[
    "zero",
    "oh",
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
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
];

/// How `text` (a transcript of the caller's words so far) ends; see [`TextEnd`].
pub fn text_end(text: &str) -> TextEnd {
    let text = text.trim();
    if !text.chars().any(char::is_alphanumeric) {
        return TextEnd::Empty;
    }
    if text.ends_with("...") || text.ends_with('…') || text.ends_with(',') || text.ends_with([':', ';', '-']) {
        return TextEnd::Open; // Whisper's marks for speech that trails off or goes on
    }
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase()
                .replace('’', "'")
        })
        .filter(|w| !w.is_empty())
        .collect();
    let Some(last) = words.last() else {
        return TextEnd::Empty;
    };
    if words.len() <= 2 && words.iter().all(|w| ANSWERS.contains(&w.as_str())) {
        return TextEnd::Complete; // "Yes", "Okay, bye" (with or without a period)
    }
    if last.chars().any(|c| c.is_ascii_digit()) || NUMBER_WORDS.contains(&last.as_str()) {
        return TextEnd::Number;
    }
    if OPEN_WORDS.contains(&last.as_str()) && !(text.ends_with('?') && ENDS_QUESTIONS.contains(&last.as_str())) {
        return TextEnd::Open;
    }
    if AUXILIARIES.contains(&last.as_str()) {
        let before = words.len().checked_sub(2).map(|i| words[i].as_str());
        if !before.is_some_and(|w| PRONOUNS.contains(&w)) {
            return TextEnd::Open;
        }
    }
    if text.ends_with(['.', '!', '?']) {
        TextEnd::Complete
    } else {
        // Whisper closes what it hears as a finished sentence; no punctuation is a cut phrase.
        TextEnd::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_after_a_word_that_ends_sentences_is_complete() {
        assert_eq!(text_end("Thursday at three pm."), TextEnd::Complete);
        assert_eq!(text_end("Can you move my appointment?"), TextEnd::Complete);
        assert_eq!(text_end("That's great!"), TextEnd::Complete);
        assert_eq!(text_end("Yes, it is."), TextEnd::Complete);
        assert_eq!(text_end("I do."), TextEnd::Complete);
        // A question may end on a pronoun or a preposition; a statement is taken as cut there.
        assert_eq!(text_end("Sorry, who is this?"), TextEnd::Complete);
        assert_eq!(text_end("Who am I speaking with?"), TextEnd::Complete);
        assert_eq!(text_end("What is it about?"), TextEnd::Complete);
        assert_eq!(text_end("I'm calling about."), TextEnd::Open);
        assert_eq!(text_end("Can I speak to the?"), TextEnd::Open);
    }

    #[test]
    fn short_answers_are_complete_without_punctuation() {
        for t in ["Yes", "no", "Yes.", "Okay, bye", "yeah"] {
            assert_eq!(text_end(t), TextEnd::Complete, "{t}");
        }
        // An answer that goes on is judged by its last word.
        assert_eq!(text_end("Yes and"), TextEnd::Open);
        assert_eq!(text_end("No, because."), TextEnd::Open);
    }

    #[test]
    fn trailing_marks_and_words_are_open() {
        for t in [
            "Thursday at",
            "I think, um",
            "yes and,",
            "My internet",
            "My internet is down since...",
            "I'd like to book an appointment for.",
            "I called yesterday and.",
            "The problem is that.",
            "I'm calling about the…",
            "It’s",
            "My name is.",
        ] {
            assert_eq!(text_end(t), TextEnd::Open, "{t}");
        }
    }

    #[test]
    fn numbers_and_empty_text() {
        assert_eq!(text_end("My number is 555."), TextEnd::Number);
        assert_eq!(text_end("It ends in six one eight"), TextEnd::Number);
        assert_eq!(text_end("$42."), TextEnd::Number);
        assert_eq!(text_end(""), TextEnd::Empty);
        assert_eq!(text_end(" ... "), TextEnd::Empty);
    }

    #[test]
    fn waits_follow_the_ending() {
        let w = TurnWaits {
            complete_ms: 200,
            number_ms: 700,
            open_ms: 1200,
        };
        assert_eq!(w.wait_ms(TextEnd::Complete), 200);
        assert_eq!(w.wait_ms(TextEnd::Number), 700);
        assert_eq!(w.wait_ms(TextEnd::Open), 1200);
        assert_eq!(w.wait_ms(TextEnd::Empty), 1200);
    }
}
