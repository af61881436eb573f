//! The tables of the evaluation: per (model, voice, condition) and pooled per (model,
//! condition), as Markdown, plus one TSV line per utterance.

use std::fmt::Write as _;

/// One transcribed utterance.
pub struct Outcome {
    pub model: usize,
    pub voice: usize,
    pub condition: usize,
    pub sentence: usize,
    pub words: usize,
    pub errors: usize,
    /// Wall-clock time of the engine's `transcribe` call, seconds.
    pub stt_s: f64,
    /// CPU time of the calling thread during that call, seconds (10 ms ticks).
    pub cpu_s: f64,
    pub audio_s: f64,
    pub hypothesis: String,
}

/// Figures over a set of utterances.
pub struct Cell {
    pub n: usize,
    pub words: usize,
    pub errors: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub cpu_median_ms: f64,
    pub rtf: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl Cell {
    pub fn of<'a>(items: impl Iterator<Item = &'a Outcome>) -> Cell {
        let items: Vec<&Outcome> = items.collect();
        let mut times: Vec<f64> = items.iter().map(|o| o.stt_s * 1000.0).collect();
        times.sort_by(f64::total_cmp);
        let audio: f64 = items.iter().map(|o| o.audio_s).sum();
        let mut cpu: Vec<f64> = items.iter().map(|o| o.cpu_s * 1000.0).collect();
        cpu.sort_by(f64::total_cmp);
        Cell {
            n: items.len(),
            words: items.iter().map(|o| o.words).sum(),
            errors: items.iter().map(|o| o.errors).sum(),
            median_ms: quantile(&times, 0.5),
            p95_ms: quantile(&times, 0.95),
            cpu_median_ms: quantile(&cpu, 0.5),
            rtf: times.iter().sum::<f64>() / 1000.0 / audio.max(1e-9),
        }
    }

    pub fn wer(&self) -> f64 {
        100.0 * self.errors as f64 / self.words.max(1) as f64
    }
}

/// Labels of the three axes, in the order the outcomes index them.
pub struct Axes<'a> {
    pub models: &'a [String],
    pub voices: &'a [String],
    pub conditions: &'a [String],
}

/// Utterances no longer than this are the short answers ("Yes.", "No, thank you.").
const SHORT_S: f64 = 1.5;

pub fn tables(axes: &Axes, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n### Per model, voice and condition\n");
    let _ = writeln!(
        out,
        "| model | voice | condition | WER | errors/words | STT median | STT p95 | CPU median | RTF |"
    );
    let _ = writeln!(out, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (m, model) in axes.models.iter().enumerate() {
        for (v, voice) in axes.voices.iter().enumerate() {
            for (c, condition) in axes.conditions.iter().enumerate() {
                let cell = Cell::of(
                    outcomes
                        .iter()
                        .filter(|o| o.model == m && o.voice == v && o.condition == c),
                );
                if cell.n == 0 {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "| {model} | {voice} | {condition} | {:.1} % | {}/{} | {:.0} ms | {:.0} ms | {:.0} ms | {:.3} |",
                    cell.wer(),
                    cell.errors,
                    cell.words,
                    cell.median_ms,
                    cell.p95_ms,
                    cell.cpu_median_ms,
                    cell.rtf
                );
            }
        }
    }

    let _ = writeln!(out, "\n### WER by voice (columns: conditions)\n");
    let mut header = String::from("| model | voice |");
    let mut rule = String::from("| --- | --- |");
    for c in axes.conditions {
        let _ = write!(header, " {c} |");
        rule.push_str(" ---: |");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (m, model) in axes.models.iter().enumerate() {
        for (v, voice) in axes.voices.iter().enumerate() {
            let mut line = format!("| {model} | {voice} |");
            for c in 0..axes.conditions.len() {
                let cell = Cell::of(
                    outcomes
                        .iter()
                        .filter(|o| o.model == m && o.voice == v && o.condition == c),
                );
                let _ = write!(line, " {:.1} % |", cell.wer());
            }
            let _ = writeln!(out, "{line}");
        }
    }

    let _ = writeln!(out, "\n### Pooled over voices\n");
    let _ = writeln!(
        out,
        "| model | condition | WER | errors/words | STT median | STT p95 | CPU median | CPU median, clips <= {SHORT_S} s | RTF |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (m, model) in axes.models.iter().enumerate() {
        let mut rows: Vec<(String, Cell, Cell)> = Vec::new();
        for (c, condition) in axes.conditions.iter().enumerate() {
            let all = || outcomes.iter().filter(move |o| o.model == m && o.condition == c);
            rows.push((
                condition.clone(),
                Cell::of(all()),
                Cell::of(all().filter(|o| o.audio_s <= SHORT_S)),
            ));
        }
        let all = || outcomes.iter().filter(move |o| o.model == m);
        rows.push((
            "all".into(),
            Cell::of(all()),
            Cell::of(all().filter(|o| o.audio_s <= SHORT_S)),
        ));
        for (condition, cell, short) in rows {
            let _ = writeln!(
                out,
                "| {model} | {condition} | {:.1} % | {}/{} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.3} |",
                cell.wer(),
                cell.errors,
                cell.words,
                cell.median_ms,
                cell.p95_ms,
                cell.cpu_median_ms,
                short.cpu_median_ms,
                cell.rtf
            );
        }
    }
    out
}

/// One line per utterance: model, voice, condition, sentence, audio s, STT ms, errors, words,
/// reference, hypothesis.
pub fn tsv(axes: &Axes, outcomes: &[Outcome], sentences: &[&str]) -> String {
    let mut out = String::from(
        "model\tvoice\tcondition\tsentence\taudio_s\tstt_ms\tcpu_ms\terrors\twords\treference\thypothesis\n",
    );
    for o in outcomes {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{:.2}\t{:.0}\t{:.0}\t{}\t{}\t{}\t{}",
            axes.models[o.model],
            axes.voices[o.voice],
            axes.conditions[o.condition],
            o.sentence,
            o.audio_s,
            o.stt_s * 1000.0,
            o.cpu_s * 1000.0,
            o.errors,
            o.words,
            sentences[o.sentence],
            o.hypothesis.replace('\t', " ")
        );
    }
    out
}
