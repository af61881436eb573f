//! Whisper's repetition loops: cleaning them out of a transcript, and stopping the decoder
//! once it has started one.
//!
//! With a fitted encoder window and greedy decoding (no temperature fallback: it would cost a
//! second decode), Whisper sometimes writes a short answer again and again until the token
//! limit: "Yes. Yes. Yes. Yes. Yes. Yes. Yes." for one "Yes." (on an AVX-512 machine, for
//! every "Yes." of `bench/turn_latency.sh`; the same model on one without AVX-512 seldom did).
//! Each repeat is decoder time the caller waits for, and the kept text must read as the
//! sentence that was said. [`LoopStop`] ends the decode at the point [`clean_transcript`] would
//! cut anyway (or, for a short clip, at a sentence written twice), and [`clean_transcript`]
//! keeps the first copy.

use std::ffi::{c_int, c_void};
use whisper_rs::{WhisperContext, WhisperSysContext, WhisperSysState, WhisperTokenData};

/// Removes Whisper's non-speech annotations and hallucinations from a transcript: bracketed or
/// parenthesised tags (`[BLANK_AUDIO]`, `(music)`, `*laughs*`), music symbols, text made of
/// punctuation only, and a decoding loop (a phrase repeated until the token limit: only its
/// first copy is kept). Collapses whitespace.
pub fn clean_transcript(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closer: Option<char> = None;
    for c in text.chars() {
        match closer {
            Some(end) if c == end => closer = None,
            Some(_) => {}
            None => match c {
                '[' => closer = Some(']'),
                '(' => closer = Some(')'),
                '<' => closer = Some('>'),
                '*' => closer = Some('*'),
                '♪' | '♫' | '♬' | '♩' => {}
                _ => out.push(c),
            },
        }
    }
    let mut words: Vec<&str> = out.split_whitespace().collect();
    let whole = words.len();
    words.truncate(loop_start(&words).unwrap_or(whole));
    words.truncate(doubled(&words).unwrap_or(words.len()));
    let mut text = words.join(" ");
    if words.len() < whole {
        // The kept copy was followed by its own repeats, not by more words: it ends there. A
        // loop of "Yes, yes, yes," kept as "Yes," would read as speech that goes on (and the
        // transcript rule would wait its longest for more).
        let kept = text.trim_end_matches([',', ';', ':', '-', '.']).len();
        if kept > 0 && !text.ends_with(['.', '!', '?']) || text.ends_with("...") {
            text.truncate(kept);
            text.push('.');
        }
    }
    if text.chars().any(char::is_alphanumeric) {
        text
    } else {
        String::new()
    }
}

/// The length of the first copy when the whole transcript is one sentence written twice
/// ("No. No.", "That's right. That's right."): Whisper's habit on a short answer followed by
/// silence (`bench/stt_wer.sh` counted 11 in 810 transcripts), an error on a one-word turn.
/// Only a copy that ends a sentence counts, so "No, no." and "one two one two" stay.
fn doubled(words: &[&str]) -> Option<usize> {
    let half = words.len() / 2;
    if half == 0 || !words.len().is_multiple_of(2) {
        return None;
    }
    let ends_sentence = words[half - 1].ends_with(['.', '!', '?']);
    let same = (0..half).all(|i| key(words[i]) == key(words[half + i]));
    (ends_sentence && same).then_some(half)
}

/// A word compared without case or punctuation.
fn key(w: &str) -> String {
    w.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where a decoding loop starts: the end of the first copy of a phrase that then repeats
/// straight away (at least 3 words repeated twice, or a 1-2 word phrase repeated 4 times),
/// comparing words without case or punctuation. `None` when there is no loop.
fn loop_start(words: &[&str]) -> Option<usize> {
    let keys: Vec<String> = words.iter().map(|w| key(w)).collect();
    let n = keys.len();
    for start in 0..n {
        for period in 1..=(n - start) / 2 {
            let copies_needed = if period >= 3 { 2 } else { 4 };
            if start + period * copies_needed > n {
                continue;
            }
            let repeats = (start + period..start + period * copies_needed).all(|i| keys[i] == keys[i - period]);
            if repeats {
                return Some(start + period);
            }
        }
    }
    None
}

/// Longest phrase, in tokens, whose repeats [`LoopStop`] looks for.
const MAX_LOOP_TOKENS: usize = 12;
/// Copies of a phrase that make a loop (as [`loop_start`] counts a 1-2 word phrase).
const LOOP_COPIES: usize = 4;

/// What the decoder's logits filter needs to know, built once per model: which tokens end a
/// sentence, and the end-of-text token it forces.
pub(super) struct LoopTable {
    eot: i32,
    n_vocab: usize,
    ends_sentence: Vec<bool>,
}

impl LoopTable {
    pub(super) fn new(ctx: &WhisperContext) -> Self {
        let eot = ctx.token_eot();
        let ends_sentence = (0..eot)
            .map(|id| {
                ctx.token_to_str_lossy(id)
                    .is_ok_and(|t| t.trim_end().ends_with(['.', '?', '!']))
            })
            .collect();
        LoopTable {
            eot,
            n_vocab: ctx.n_vocab().max(0) as usize,
            ends_sentence,
        }
    }
}

/// One decode's logits filter: handed to whisper.cpp as the callback's user data, so it must
/// outlive the `full` call it is set for.
pub(super) struct LoopStop<'a> {
    table: &'a LoopTable,
    /// Stop at a sentence written twice ("Yes. Yes."): only for clips too short to hold a
    /// sentence, its repeat and more, where a real "Yes. Yes. I'll be there." cannot be cut.
    stop_doubled: bool,
}

impl<'a> LoopStop<'a> {
    /// The filter for a clip of `seconds` of audio.
    pub(super) fn new(table: &'a LoopTable, seconds: f32) -> Self {
        LoopStop {
            table,
            stop_doubled: seconds <= 1.2,
        }
    }

    /// Whether the tokens so far end in a loop the decoder should not go on with.
    fn looping(&self, tokens: &[i32]) -> bool {
        let n = tokens.len();
        (1..=MAX_LOOP_TOKENS.min(n / 2)).any(|k| {
            let copies = (1..=n / k)
                .take_while(|&c| tokens[n - c * k..n - (c - 1) * k] == tokens[n - k..])
                .count();
            let last = tokens[n - 1];
            let sentence = usize::try_from(last)
                .ok()
                .and_then(|i| self.table.ends_sentence.get(i))
                .copied()
                .unwrap_or(false);
            copies >= LOOP_COPIES || (self.stop_doubled && sentence && copies >= 2)
        })
    }

    /// Sets the filter on `params`; `self` must live until the decode has returned.
    #[allow(unsafe_code)] // whisper-rs offers the logits filter only as a raw C callback
    pub(super) fn install(&self, params: &mut whisper_rs::FullParams) {
        // SAFETY: the callback only reads `self` (through the user-data pointer, valid for the
        // decode: the caller keeps `self` alive across `full`) and writes within the logits
        // array whisper.cpp passes, whose length is the model's vocabulary.
        unsafe {
            params.set_filter_logits_callback(Some(stop_loops));
            params.set_filter_logits_callback_user_data(self as *const Self as *mut c_void);
        }
    }
}

/// whisper.cpp's logits filter: once the tokens so far loop, only end-of-text may follow.
#[allow(unsafe_code)] // called by whisper.cpp with its raw token and logits arrays
unsafe extern "C" fn stop_loops(
    _ctx: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    tokens: *const WhisperTokenData,
    n_tokens: c_int,
    logits: *mut f32,
    user_data: *mut c_void,
) {
    if user_data.is_null() || logits.is_null() || tokens.is_null() || n_tokens < 2 {
        return;
    }
    // SAFETY: whisper.cpp passes the sequence's tokens and the logits of the whole vocabulary;
    // `user_data` is the `LoopStop` installed for this decode.
    let (stop, tokens) = unsafe {
        (
            &*(user_data as *const LoopStop),
            std::slice::from_raw_parts(tokens, n_tokens as usize),
        )
    };
    let ids: Vec<i32> = tokens.iter().map(|t| t.id).filter(|&id| id < stop.table.eot).collect();
    if !stop.looping(&ids) {
        return;
    }
    // SAFETY: see above; `n_vocab` is the logits array's length.
    let logits = unsafe { std::slice::from_raw_parts_mut(logits, stop.table.n_vocab) };
    for (id, l) in logits.iter_mut().enumerate() {
        if id as i32 != stop.table.eot {
            *l = f32::NEG_INFINITY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hallucinations_are_stripped() {
        assert_eq!(clean_transcript(" [BLANK_AUDIO]"), "");
        assert_eq!(clean_transcript(" (music)"), "");
        assert_eq!(clean_transcript(" ♪ ♪"), "");
        assert_eq!(clean_transcript(" ..."), "");
        assert_eq!(clean_transcript("*sigh*"), "");
        assert_eq!(clean_transcript(" Yes, that works."), "Yes, that works.");
        assert_eq!(
            clean_transcript(" [inaudible] my number is  five."),
            "my number is five."
        );
    }

    #[test]
    fn decoding_loops_keep_their_first_copy() {
        assert_eq!(
            clean_transcript(" Please send it to my email. Please send it to my email. Please send it to"),
            "Please send it to my email."
        );
        assert_eq!(clean_transcript("My number is 4 4 4 4 4 4 4"), "My number is 4.");
        // The copy kept of a loop ends as a sentence, not on the comma between its repeats.
        assert_eq!(clean_transcript(" Yes, yes, yes, yes, yes, yes, yes, yes"), "Yes.");
        assert_eq!(clean_transcript(" Hello? Hello? Hello? Hello? Hello?"), "Hello?");
        assert_eq!(clean_transcript(" Yes. Yes. Yes. Yes. Yes. Yes. Yes."), "Yes.");
        assert_eq!(clean_transcript("No No No No No No No No"), "No.");
        assert_eq!(clean_transcript("Well... well... well... well..."), "Well.");
        // A short answer written twice keeps one copy.
        assert_eq!(clean_transcript(" No. No."), "No.");
        assert_eq!(clean_transcript(" That's right. That's right."), "That's right.");
        assert_eq!(clean_transcript("Yes! yes!"), "Yes!");
        // Ordinary repetition is kept.
        assert_eq!(clean_transcript("No, no."), "No, no.");
        assert_eq!(clean_transcript("No. No. No."), "No. No. No.");
        assert_eq!(clean_transcript("No, no, that's wrong."), "No, no, that's wrong.");
        assert_eq!(clean_transcript("one two one two"), "one two one two");
        assert_eq!(
            clean_transcript("I said yes and yes I said"),
            "I said yes and yes I said"
        );
    }

    fn table() -> LoopTable {
        // Token 9 ends a sentence ("."), 8 is ",", the rest are words; 100 is end-of-text.
        let mut ends_sentence = vec![false; 100];
        ends_sentence[9] = true;
        LoopTable {
            eot: 100,
            n_vocab: 101,
            ends_sentence,
        }
    }

    #[test]
    fn the_decoder_stops_where_a_loop_is_certain() {
        let t = table();
        let short = LoopStop::new(&t, 0.5);
        let long = LoopStop::new(&t, 3.0);
        // "Yes. Yes.": a sentence written twice stops a short clip, not a long one.
        assert!(short.looping(&[1, 9, 1, 9]));
        assert!(!long.looping(&[1, 9, 1, 9]));
        assert!(!short.looping(&[1, 9]));
        // "Yes, yes, yes, yes,": four copies stop any clip.
        assert!(long.looping(&[1, 8, 2, 8, 2, 8, 2, 8, 2, 8]));
        assert!(!long.looping(&[1, 8, 2, 8, 2, 8, 2, 8]));
        // Digits said in a row are not a loop until four copies: "4 4 4" goes on.
        assert!(!long.looping(&[5, 6, 4, 4, 4]));
        assert!(long.looping(&[5, 4, 4, 4, 4]));
        // Ordinary speech.
        assert!(!short.looping(&[1, 2, 3, 9]));
        assert!(!long.looping(&[1, 2, 1, 2, 3, 9]));
    }
}
