//! Text to Piper phoneme ids, through the `espeak-ng` *program*.
//!
//! Piper voices are trained on espeak-ng's IPA output (with stress marks), one clause at a time,
//! the clause's punctuation appended as a phoneme of its own, each sentence synthesized apart.
//! Piper gets the clause terminators from libespeak-ng's `espeak_TextToPhonemesWithTerminator`;
//! linking that GPL library would bind Parley's binary, and the `espeak-ng` program's `--ipa`
//! output prints one line per clause *without* the terminator. So the clause splitting is done
//! here, where the punctuation is known: the text is cut into clauses where espeak-ng would cut
//! it, each clause (its terminator removed) goes on its own input line, and espeak-ng, reading
//! stdin line by line, prints exactly one IPA line back per input line. The terminators are then
//! put back as Piper does.
//!
//! When espeak-ng cuts a clause further than this splitter did (a case it does not foresee), the
//! line counts differ and the clauses are phonemized one process each instead, so a mismatch
//! can never shift phonemes onto the wrong clause.
//!
//! One espeak-ng process per synthesis costs ~13 ms on an idle 2-core server (`tts_rtf`
//! example), 6–9 % of a sentence's synthesis, so it is not worth a long-lived process: that
//! would need an in-band "end of request" marker in its output, which a caller's text (an LLM
//! reply a caller can steer) could forge, shifting one call's phonemes into the next.
//!
//! The flags: `--ipa` alone prints what libespeak-ng's `espeakPHONEMES_IPA` gives Piper. Its
//! variants do not: `--ipa=1` separates phonemes with `_` (Piper's pad symbol), `--ipa=2` adds
//! tie bars and `--ipa=3` zero-width joiners, neither of which the voices know.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use unicode_normalization::UnicodeNormalization;

use crate::SpeechError;

/// The default name of the espeak-ng program, looked up in `PATH`.
pub const ESPEAK_PROGRAM: &str = "espeak-ng";

/// One clause of the input text, as espeak-ng would cut it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// The clause's text without its terminating punctuation.
    pub text: String,
    /// The punctuation Piper appends after the clause's phonemes (`. ? ! , : ;`), if any.
    pub terminator: Option<char>,
    /// Whether the clause ends a sentence (Piper synthesizes each sentence on its own).
    pub ends_sentence: bool,
}

/// Titles that take a period but do not end a sentence. espeak-ng reads them right without the
/// period ("Dr" → "doctor") but cuts the clause at the period, which would make Piper pause
/// after "Mister" as if a sentence had ended.
const TITLES: &[&str] = &["mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "mt"];

/// Characters after a terminator that still belong to it (closing quotes and brackets).
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»')
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '?' | '!' | ',' | ':' | ';' | '…')
}

/// Cuts `text` into clauses the way espeak-ng's clause splitter does for English: at `. ? ! , :
/// ;` (or a run of them) followed by whitespace or the end, at an ellipsis, and at a spaced en or
/// em dash. A period after a dotted abbreviation ("e.g.", "U.S.") or after a title ("Dr.") does
/// not cut, as in espeak-ng (titles lose their period, see [`TITLES`]). Clauses with nothing to
/// pronounce are dropped; a sentence end they carried moves to the clause before.
pub(crate) fn split_clauses(text: &str) -> Vec<Clause> {
    // Control characters (newlines included) become spaces: each clause must be one input line.
    // Full-width punctuation (which espeak-ng also cuts at) becomes its ASCII form.
    let chars: Vec<char> = text
        .chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            '，' => ',',
            '。' => '.',
            '！' => '!',
            '？' => '?',
            '：' => ':',
            '；' => ';',
            c => c,
        })
        .collect();
    let mut clauses: Vec<Clause> = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    let push = |clauses: &mut Vec<Clause>, cur: &mut String, terminator: Option<char>, ends_sentence: bool| {
        let text = cur.trim().to_string();
        cur.clear();
        if text.chars().any(char::is_alphanumeric) {
            clauses.push(Clause {
                text,
                terminator,
                ends_sentence,
            });
        } else if ends_sentence {
            if let Some(last) = clauses.last_mut() {
                if !last.ends_sentence {
                    last.ends_sentence = true;
                    last.terminator = terminator;
                }
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if (c == '–' || c == '—')
            && cur.ends_with(char::is_whitespace)
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
        {
            push(&mut clauses, &mut cur, Some(','), false);
            i += 1;
            continue;
        }
        if !is_terminator(c) {
            cur.push(c);
            i += 1;
            continue;
        }
        // A run of terminators, then closing quotes or brackets.
        let mut j = i;
        while j < chars.len() && is_terminator(chars[j]) {
            j += 1;
        }
        let run: String = chars[i..j].iter().collect();
        let mut k = j;
        while k < chars.len() && is_closer(chars[k]) {
            k += 1;
        }
        let at_break = k == chars.len() || chars[k].is_whitespace();
        let ellipsis = run.contains('…') || run.starts_with("..");
        let word_before: &str = cur.rsplit(char::is_whitespace).next().unwrap_or("");
        if run == "." && !at_break {
            // "3.5", "example.com": not a break.
            cur.push(c);
            i += 1;
            continue;
        }
        if run == "." && TITLES.iter().any(|t| word_before.eq_ignore_ascii_case(t)) && k < chars.len() {
            // "Dr. Smith": drop the period, keep the clause going.
            i = j;
            continue;
        }
        if run == "." && word_before.contains('.') && k < chars.len() {
            // "e.g. this", "the U.S. government": espeak-ng keeps the clause going too.
            cur.push(c);
            i += 1;
            continue;
        }
        if !(at_break || ellipsis || (run.contains(['?', '!']) && chars[k].is_alphanumeric())) {
            // "1,000", "10:30", "a;b": part of a word.
            cur.push(c);
            i += 1;
            continue;
        }
        let terminator = if run.contains('?') {
            '?'
        } else if run.contains('!') {
            '!'
        } else if ellipsis {
            // A trailing-off pause, not the end of a statement.
            ','
        } else {
            run.chars().next().unwrap_or('.')
        };
        let ends_sentence = matches!(terminator, '.' | '?' | '!');
        push(&mut clauses, &mut cur, Some(terminator), ends_sentence);
        i = k;
    }
    push(&mut clauses, &mut cur, None, true);
    if let Some(last) = clauses.last_mut() {
        last.ends_sentence = true;
        if matches!(last.terminator, None | Some(',' | ':' | ';')) {
            // Piper voices learned sentence-final prosody from transcripts that end with
            // punctuation; text without it would otherwise stop mid-intonation.
            last.terminator = Some('.');
        }
    }
    clauses
}

/// Removes espeak-ng's language-switch flags such as `(fr)` … `(en)`, which surround words it
/// reads with another language's rules; Piper removes them too.
fn strip_language_flags(ipa: &str) -> String {
    let mut out = String::with_capacity(ipa.len());
    let mut depth = 0usize;
    for c in ipa.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// Joins the clauses' IPA into one phoneme string per sentence, the way Piper does: each clause's
/// terminator appended, a space after a clause that does not end its sentence, and the result
/// decomposed (NFD) so accents become phonemes of their own.
pub(crate) fn sentences_from_ipa(clauses: &[Clause], ipa: &[String]) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut sentence = String::new();
    for (clause, ipa) in clauses.iter().zip(ipa) {
        let ipa = strip_language_flags(ipa);
        if !ipa.is_empty() {
            sentence.push_str(&ipa);
            if let Some(t) = clause.terminator {
                sentence.push(t);
            }
            if !clause.ends_sentence {
                sentence.push(' ');
            }
        }
        if clause.ends_sentence && !sentence.trim().is_empty() {
            sentences.push(sentence.trim_end().nfd().collect());
            sentence.clear();
        }
    }
    if !sentence.trim().is_empty() {
        sentences.push(sentence.trim_end().nfd().collect());
    }
    sentences
}

/// Runs the `espeak-ng` program for IPA phonemes.
#[derive(Debug, Clone)]
pub struct Espeak {
    program: PathBuf,
    voice: String,
}

impl Espeak {
    /// An espeak-ng phonemizer for `voice` (e.g. `en-us`, from the Piper voice's config). Checks
    /// that the program runs, so a missing install shows at start-up, not on the first call.
    pub fn new(program: impl Into<PathBuf>, voice: &str) -> Result<Self, SpeechError> {
        let program = program.into();
        check_program(&program)?;
        Ok(Self {
            program,
            voice: voice.to_string(),
        })
    }

    /// The espeak-ng voice used for phonemes.
    pub fn voice(&self) -> &str {
        &self.voice
    }

    /// Text to Piper phoneme strings, one per sentence (see the module doc).
    pub fn phonemize(&self, text: &str) -> Result<Vec<String>, SpeechError> {
        let clauses = split_clauses(text);
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let lines: Vec<&str> = clauses.iter().map(|c| c.text.as_str()).collect();
        let mut ipa = self.ipa_lines(&lines)?;
        if ipa.len() != clauses.len() {
            tracing::debug!(
                clauses = clauses.len(),
                lines = ipa.len(),
                "espeak-ng cut clauses differently; phonemizing clause by clause"
            );
            ipa = self.ipa_each(&lines)?;
        }
        Ok(sentences_from_ipa(&clauses, &ipa))
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        // -q: no audio; --ipa: IPA with stress marks and no separators or tie bars, the format
        // Piper's phoneme_id_map is keyed on; -b 1: the input is UTF-8.
        cmd.args(["-q", "-b", "1", "--ipa", "-v", &self.voice])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// One process; espeak-ng reads stdin line by line and prints one IPA line per clause.
    fn ipa_lines(&self, lines: &[&str]) -> Result<Vec<String>, SpeechError> {
        let mut input = String::new();
        for line in lines {
            input.push_str(line);
            input.push('\n');
        }
        let out = run(self.command(), &input)?;
        Ok(out.lines().map(str::to_string).collect())
    }

    /// One process per clause, all started before any is waited for; a clause printed over
    /// several lines is joined into one.
    fn ipa_each(&self, lines: &[&str]) -> Result<Vec<String>, SpeechError> {
        let children = lines
            .iter()
            .map(|line| {
                let mut cmd = self.command();
                cmd.arg("--stdin");
                spawn_with_input(cmd, line)
            })
            .collect::<Result<Vec<_>, _>>()?;
        children
            .into_iter()
            .map(|child| {
                let out = wait_output(child)?;
                Ok(out
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "))
            })
            .collect()
    }
}

/// Checks that an espeak-ng program runs; its absence is a missing install, named as such.
pub(crate) fn check_program(program: &Path) -> Result<(), SpeechError> {
    match Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(SpeechError::Engine(format!(
            "{} --version failed: {status}",
            program.display()
        ))),
        Err(e) => Err(SpeechError::MissingModel(format!(
            "the espeak-ng program ({}: {e}; Debian package espeak-ng)",
            program.display()
        ))),
    }
}

struct Running {
    child: std::process::Child,
    writer: std::thread::JoinHandle<std::io::Result<()>>,
}

/// Starts `cmd` and feeds it `input` from a thread, so a large input cannot deadlock against a
/// full stdout pipe.
fn spawn_with_input(mut cmd: Command, input: &str) -> Result<Running, SpeechError> {
    let mut child = cmd
        .spawn()
        .map_err(|e| SpeechError::Engine(format!("cannot start {:?}: {e}", cmd.get_program())))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    Ok(Running { child, writer })
}

fn wait_bytes(running: Running) -> Result<Vec<u8>, SpeechError> {
    let out = running
        .child
        .wait_with_output()
        .map_err(|e| SpeechError::Engine(format!("espeak-ng: {e}")))?;
    let written = running.writer.join().unwrap_or(Ok(()));
    if !out.status.success() {
        return Err(SpeechError::Engine(format!(
            "espeak-ng failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    written.map_err(|e| SpeechError::Engine(format!("writing to espeak-ng: {e}")))?;
    Ok(out.stdout)
}

fn wait_output(running: Running) -> Result<String, SpeechError> {
    String::from_utf8(wait_bytes(running)?)
        .map_err(|e| SpeechError::Engine(format!("espeak-ng printed non-UTF-8: {e}")))
}

fn run(cmd: Command, input: &str) -> Result<String, SpeechError> {
    wait_output(spawn_with_input(cmd, input)?)
}

/// Runs `cmd` with `input` on stdin and returns its raw stdout (the espeak-ng voice's WAV).
pub(crate) fn run_bytes(mut cmd: Command, input: &str) -> Result<Vec<u8>, SpeechError> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    wait_bytes(spawn_with_input(cmd, input)?)
}

/// A Piper voice's `phoneme_id_map`: one phoneme (a Unicode scalar after NFD) to its ids.
#[derive(Debug, Clone)]
pub(crate) struct PhonemeIds {
    map: HashMap<char, Vec<i64>>,
    bos: Vec<i64>,
    eos: Vec<i64>,
    pad: Vec<i64>,
}

impl PhonemeIds {
    /// Builds the map from the voice config's `phoneme_id_map`. Keys of more than one character
    /// (vowel clusters some newer voices use) are not produced by this phonemizer and are skipped.
    pub fn new(raw: &HashMap<String, Vec<i64>>) -> Result<Self, SpeechError> {
        let mut map = HashMap::new();
        for (k, v) in raw {
            let mut chars = k.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    map.insert(c, v.clone());
                }
                _ => tracing::debug!(phoneme = %k, "multi-character phoneme key skipped"),
            }
        }
        let get = |c: char| {
            map.get(&c)
                .cloned()
                .ok_or_else(|| SpeechError::Engine(format!("voice config: phoneme_id_map lacks {c:?}")))
        };
        Ok(Self {
            bos: get('^')?,
            eos: get('$')?,
            pad: get('_')?,
            map,
        })
    }

    /// Piper's layout: BOS, pad, then each known phoneme followed by pad, then EOS. Phonemes the
    /// voice does not know are skipped, as Piper does.
    pub fn ids(&self, phonemes: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(phonemes.len() * 2 + 3);
        ids.extend(&self.bos);
        ids.extend(&self.pad);
        for c in phonemes.chars() {
            match self.map.get(&c) {
                Some(v) => {
                    ids.extend(v);
                    ids.extend(&self.pad);
                }
                None => tracing::debug!(phoneme = %c, "phoneme not in the voice's map; skipped"),
            }
        }
        ids.extend(&self.eos);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(clauses: &[Clause]) -> Vec<(&str, Option<char>, bool)> {
        clauses
            .iter()
            .map(|c| (c.text.as_str(), c.terminator, c.ends_sentence))
            .collect()
    }

    #[test]
    fn splits_where_espeak_does() {
        let c = split_clauses("Hello, world. How are you today? I'm fine: thanks; really!");
        assert_eq!(
            texts(&c),
            vec![
                ("Hello", Some(','), false),
                ("world", Some('.'), true),
                ("How are you today", Some('?'), true),
                ("I'm fine", Some(':'), false),
                ("thanks", Some(';'), false),
                ("really", Some('!'), true),
            ]
        );
    }

    #[test]
    fn numbers_abbreviations_and_titles_do_not_cut() {
        let c = split_clauses("Dr. Smith paid $3.50 for 1,000 items at 10:30, e.g. this one");
        assert_eq!(
            texts(&c),
            vec![
                ("Dr Smith paid $3.50 for 1,000 items at 10:30", Some(','), false),
                ("e.g. this one", Some('.'), true),
            ]
        );
    }

    #[test]
    fn quotes_ellipses_dashes_and_empty_clauses() {
        let c = split_clauses("He said \"hi.\" Then... well – maybe?! ...");
        assert_eq!(
            texts(&c),
            vec![
                ("He said \"hi", Some('.'), true),
                ("Then", Some(','), false),
                ("well", Some(','), false),
                ("maybe", Some('?'), true),
            ]
        );
        assert!(split_clauses(" ... ?! ").is_empty());
        assert!(split_clauses("").is_empty());
        let c = split_clauses("Hello，world。 Yes");
        assert_eq!(
            texts(&c),
            vec![("Hello,world", Some('.'), true), ("Yes", Some('.'), true)]
        );
        let c = split_clauses("line one\nline two");
        assert_eq!(texts(&c), vec![("line one line two", Some('.'), true)]);
    }

    #[test]
    fn sentences_get_terminators_and_nfd() {
        let clauses = split_clauses("Hello, world. Yes");
        let ipa = vec!["həlˈoʊ".to_string(), "wˈɜːld".to_string(), "(fr)jˈɛs(en)".to_string()];
        let s = sentences_from_ipa(&clauses, &ipa);
        assert_eq!(s, vec!["həlˈoʊ, wˈɜːld.".to_string(), "jˈɛs.".to_string()]);
        let clauses = split_clauses("ça");
        let s = sentences_from_ipa(&clauses, &["ça".to_string()]);
        assert_eq!(s[0].chars().count(), 4, "ç decomposes into c + cedilla");
    }

    #[test]
    fn ids_follow_pipers_layout() {
        let raw: HashMap<String, Vec<i64>> = [("_", 0), ("^", 1), ("$", 2), ("a", 14), ("b", 15)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), vec![v]))
            .collect();
        let ids = PhonemeIds::new(&raw).unwrap();
        assert_eq!(ids.ids("aXb"), vec![1, 0, 14, 0, 15, 0, 2]);
    }
}
