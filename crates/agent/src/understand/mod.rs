//! Deterministic understanding of spoken answers: yes/no, numbers, dates and times, choices,
//! and the keypad.
//!
//! The input is a speech-to-text transcript ("Uh, no, not really.", "Thursday at three pm",
//! "twenty-five"), so the parsers read words, not formats, and they are deliberately
//! conservative: when in doubt they answer `None`, and the flow re-asks (or, with an LLM
//! configured, asks the LLM). A wrong "yes" is worse than one more question.

mod choices;
mod dates;
mod keypad;
mod numbers;
mod words;
mod yes_no;

pub use choices::parse_choice;
pub use dates::{parse_date, DateAnswer};
pub use keypad::{dtmf_choice, dtmf_yes_no};
pub use numbers::{number_value, parse_number};
pub use yes_no::parse_yes_no;
