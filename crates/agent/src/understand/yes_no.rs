//! Spoken yes and no: phrases and words, clause by clause.

use super::words::{starts_with_words, words};

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
}
