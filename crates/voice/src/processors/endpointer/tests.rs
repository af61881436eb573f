use super::*;
use crate::engines::Transcription;
use crate::frame::Dir;
use crate::processors::test_util::*;
use parley_telephony::audio::FRAME;

fn window() -> TurnConfig {
    TurnConfig {
        rule: TurnRule::Window,
        ..TurnConfig::default()
    }
}

fn transcript(complete_ms: u32, number_ms: u32, open_ms: u32) -> TurnConfig {
    TurnConfig {
        rule: TurnRule::Transcript(TurnWaits {
            complete_ms,
            number_ms,
            open_ms,
        }),
        window: Duration::from_millis(400),
        ceiling: Duration::from_millis(1200),
        early_stt: TurnConfig::DEFAULT_EARLY_STT,
        screening_wait: TurnConfig::DEFAULT_SCREENING_WAIT,
        continue_window: TurnConfig::DEFAULT_CONTINUE_WINDOW,
    }
}

#[test]
fn the_wait_follows_the_rule_and_the_text() {
    let ms = Duration::from_millis;
    let w = window();
    assert_eq!(w.wait(Some("Yes.")), ms(400));
    assert_eq!(w.wait(Some("Thursday at")), ms(1200), "stretched mid-phrase");
    assert_eq!(w.wait(Some("My number is 555")), ms(400));
    assert_eq!(w.wait(None), ms(400));
    let t = transcript(200, 800, 1200);
    assert_eq!(t.wait(Some("Yes.")), ms(200));
    assert_eq!(t.wait(Some("yes")), ms(200));
    assert_eq!(t.wait(Some("My number is 555.")), ms(800));
    assert_eq!(t.wait(Some("I'd like to book it for.")), ms(1200));
    assert_eq!(t.wait(Some("")), ms(1200), "noise: the ceiling");
    assert_eq!(t.wait(None), ms(1200), "no text yet: the ceiling");
    // The ceiling caps every wait.
    assert_eq!(transcript(200, 800, 3000).wait(Some("and")), ms(1200));
}

struct Caller {
    ep: Endpointer,
    t0: Instant,
    frame: u32,
}

impl Caller {
    fn new() -> Self {
        Self::with(window())
    }
    fn with(cfg: TurnConfig) -> Self {
        Caller {
            ep: Endpointer::new(cfg),
            t0: Instant::now(),
            frame: 0,
        }
    }
    fn now(&self) -> Instant {
        self.t0 + FRAME * self.frame
    }
    /// One frame of audio (and what VAD made of it), then the tick.
    fn step(&mut self, vad: Option<Frame>) -> Vec<Frame> {
        self.frame += 1;
        let at = self.now();
        let mut out = feed(&mut self.ep, Frame::CallerAudio { pcm: [1; 160], at });
        if let Some(v) = vad {
            out.extend(feed(&mut self.ep, v));
        }
        out.extend(feed(&mut self.ep, Frame::Tick { now: at }));
        out.into_iter()
            .map(|(_, f)| f)
            .filter(|f| {
                !matches!(
                    f,
                    Frame::CallerAudio { .. }
                        | Frame::Tick { .. }
                        | Frame::SpeechStarted { .. }
                        | Frame::SpeechPaused { .. }
                        | Frame::SpeechEnded { .. }
                        | Frame::Do(Effect::SttAudio { .. })
                )
            })
            .collect()
    }
    fn start(&mut self) -> Vec<Frame> {
        let at = self.now() - FRAME;
        self.step(Some(Frame::SpeechStarted { at, frames_ago: 1 }))
    }
    fn end(&mut self) -> Vec<Frame> {
        // The event comes with the next frame, 6 frames after the last voiced one.
        let last_voice = self.now() + FRAME - FRAME * 6;
        self.step(Some(Frame::SpeechEnded {
            last_voice,
            frames_ago: 6,
        }))
    }
    fn pause(&mut self) -> Vec<Frame> {
        // The pause comes with the next frame, 3 frames after the last voiced one.
        let last_voice = self.now() + FRAME - FRAME * 3;
        self.step(Some(Frame::SpeechPaused { last_voice }))
    }
    fn stt(&mut self, utterance: u64, samples: usize, text: &str) -> Vec<(Dir, Frame)> {
        feed(
            &mut self.ep,
            Frame::SttResult {
                utterance,
                samples,
                result: Ok(Transcription {
                    text: text.into(),
                    queue: Duration::ZERO,
                    work: Duration::from_millis(100),
                }),
            },
        )
    }
}

fn asked(out: &[Frame]) -> Option<(u64, usize, bool)> {
    out.iter().find_map(|f| match f {
        Frame::Do(Effect::Transcribe {
            utterance,
            samples,
            primed,
            ..
        }) => Some((*utterance, *samples, *primed)),
        _ => None,
    })
}

#[test]
fn the_turn_ends_after_the_window_once_the_text_is_in() {
    let mut c = Caller::new();
    for _ in 0..10 {
        c.step(None);
    }
    let out = c.start();
    assert!(matches!(out[0], Frame::UtteranceStarted { id: 1, .. }), "{out:?}");
    for _ in 0..20 {
        assert!(c.step(None).is_empty());
    }
    let out = c.end();
    // Pre-roll (frames_ago + 4 frames) plus everything since.
    let (id, samples, primed) = asked(&out).expect("a speculative transcription");
    assert_eq!((id, samples / 160, primed), (1, 5 + 21, true));
    assert!(c
        .stt(id, samples, "Yes.")
        .iter()
        .any(|(_, f)| matches!(f, Frame::Transcript { text, .. } if text == "Yes.")));
    // 400 ms after the last voiced frame (6 frames before the end event): over.
    let mut ended = vec![];
    for i in 0..30 {
        let out = c.step(None);
        if let Some(Frame::UtteranceEnded { utterance, .. }) = out.first() {
            ended.push((i, utterance.text.clone()));
        }
    }
    assert_eq!(ended, [(13, "Yes.".to_string())]);
}

#[test]
fn a_streaming_engine_hears_exactly_the_audio_each_request_covers() {
    let mut ep = Endpointer::new(TurnConfig::default());
    let t0 = Instant::now();
    let mut streamed = 0;
    let mut requests = vec![];
    for i in 0..40u32 {
        let at = t0 + FRAME * i;
        let mut out = feed(
            &mut ep,
            Frame::CallerAudio {
                pcm: [i as i16; 160],
                at,
            },
        );
        if i == 12 {
            out.extend(feed(&mut ep, Frame::SpeechStarted { at, frames_ago: 2 }));
        }
        if i == 30 {
            let last_voice = at - FRAME * 6;
            out.extend(feed(
                &mut ep,
                Frame::SpeechEnded {
                    last_voice,
                    frames_ago: 6,
                },
            ));
        }
        for (_, f) in out {
            match f {
                Frame::Do(Effect::SttAudio { utterance: 1, pcm }) => streamed += pcm.len(),
                Frame::Do(Effect::Transcribe { samples, pcm, .. }) => {
                    assert_eq!(pcm.len(), samples);
                    requests.push((samples, streamed));
                }
                _ => {}
            }
        }
    }
    // Pre-roll (frames_ago + 4) and every frame after, streamed before the request.
    assert_eq!(requests, [((6 + 18) * 160, (6 + 18) * 160)]);
}

#[test]
fn a_caller_who_goes_on_makes_the_guess_stale() {
    let mut c = Caller::new();
    c.start();
    for _ in 0..10 {
        c.step(None);
    }
    let (id, samples, _) = asked(&c.end()).unwrap();
    c.step(None);
    assert!(c.start().is_empty(), "same utterance");
    // The guess for the first part arrives after the caller went on: dropped.
    assert!(c.stt(id, samples, "Thursday at").is_empty());
    for _ in 0..10 {
        c.step(None);
    }
    let (id2, samples2, _) = asked(&c.end()).unwrap();
    assert_eq!(id2, id);
    assert!(samples2 > samples);
    for _ in 0..40 {
        assert!(c.step(None).is_empty(), "no turn end without the new text");
    }
    c.stt(id, samples2, "Thursday at three.");
    let out = c.step(None);
    assert!(
        matches!(&out[0], Frame::UtteranceEnded { utterance, .. } if utterance.text == "Thursday at three."),
        "{out:?}"
    );
}

#[test]
fn an_unfinished_phrase_stretches_the_window() {
    let mut c = Caller::new();
    c.start();
    let (id, samples, _) = asked(&c.end()).unwrap();
    c.stt(id, samples, "Thursday at");
    let mut at = None;
    for i in 0..70 {
        if !c.step(None).is_empty() {
            at = Some(i);
            break;
        }
    }
    // 1200 ms after the last voiced frame.
    assert_eq!(at, Some(53));
}

/// Frames after the end event until the turn ends (None: not within `frames`).
fn frames_to_end(c: &mut Caller, frames: usize) -> Option<usize> {
    (0..frames).find(|_| c.step(None).iter().any(|f| matches!(f, Frame::UtteranceEnded { .. })))
}

#[test]
fn the_transcript_rule_waits_by_how_the_text_ends() {
    // The end event comes 6 frames after the last voiced frame; frame i after it is
    // (7 + i) * 20 ms of silence.
    for (text, ms) in [
        ("Yes.", 200),
        ("My number is 555.", 800),
        ("Thursday at", 1200),
        ("", 1200),
    ] {
        let mut c = Caller::with(transcript(200, 800, 1200));
        c.start();
        let (id, samples, _) = asked(&c.end()).unwrap();
        c.stt(id, samples, text);
        assert_eq!(frames_to_end(&mut c, 80), Some(ms / 20 - 7), "{text:?}");
    }
}

#[test]
fn late_text_ends_the_turn_when_it_comes() {
    let mut c = Caller::with(transcript(200, 800, 1200));
    c.start();
    let (id, samples, _) = asked(&c.end()).unwrap();
    assert_eq!(frames_to_end(&mut c, 20), None, "no text, no turn end");
    c.stt(id, samples, "Yes.");
    assert_eq!(frames_to_end(&mut c, 5), Some(0));
}

#[test]
fn a_pause_between_digit_groups_is_not_cut_off_by_the_rule_but_is_by_the_window() {
    // "My number is five five five" ... 700 ms ... "one two three four, please." The window stretches
    // only for words that end mid-phrase; the rule also waits longer after a number.
    for (cfg, cut) in [(transcript(200, 800, 1200), false), (window(), true)] {
        let mut c = Caller::with(cfg);
        c.start();
        let (id, samples, _) = asked(&c.end()).unwrap();
        c.stt(id, samples, "My number is five five five.");
        // 700 ms of silence after the last voiced frame: 35 frames, 6 of them before the end
        // event, then the caller goes on.
        let ended = frames_to_end(&mut c, 35 - 7).is_some();
        assert_eq!(ended, cut, "{cfg:?}");
        if !cut {
            assert!(c.start().is_empty(), "the same utterance goes on");
            let (id2, samples2, _) = asked(&c.end()).unwrap();
            assert_eq!(id2, id);
            c.stt(id, samples2, "My number is five five five, one two three four, please.");
            assert_eq!(frames_to_end(&mut c, 20), Some(3));
        }
    }
}

#[test]
fn judged_over_talk_is_held_and_a_backchannel_dropped() {
    let mut c = Caller::new();
    c.start();
    feed_up(&mut c.ep, Frame::Judging(true));
    let (id, samples, _) = asked(&c.end()).unwrap();
    c.stt(id, samples, "Yeah.");
    for _ in 0..50 {
        assert!(c.step(None).is_empty(), "held while judged");
    }
    let out = feed_up(&mut c.ep, Frame::Backchannel);
    assert_eq!(out, [(Dir::Down, Frame::UtteranceDropped { id })]);
    assert!(c.step(None).is_empty());
    // Judged an interruption instead: the utterance runs as a turn.
    c.start();
    feed_up(&mut c.ep, Frame::Judging(true));
    let (id, samples, _) = asked(&c.end()).unwrap();
    c.stt(id, samples, "Sorry, wait.");
    c.step(None);
    feed_up(&mut c.ep, Frame::Judging(false));
    let ended = (0..30)
        .flat_map(|_| c.step(None))
        .any(|f| matches!(f, Frame::UtteranceEnded { .. }));
    assert!(ended);
}

#[test]
fn a_pause_asks_for_the_text_before_the_stop_and_the_stop_keeps_it() {
    let mut c = Caller::with(transcript(200, 800, 1200));
    c.start();
    for _ in 0..10 {
        c.step(None);
    }
    let (id, samples, primed) = asked(&c.pause()).expect("asked at the pause");
    assert!(primed);
    // The text is in before the stop is certain.
    c.stt(id, samples, "Yes.");
    c.step(None);
    let out = c.end();
    assert_eq!(asked(&out), None, "the stop does not ask again");
    // 200 ms after the last voiced frame: (7 + i) * 20 ms of silence at frame i after the end.
    assert_eq!(frames_to_end(&mut c, 20), Some(3));
}

#[test]
fn a_caller_who_goes_on_after_a_pause_is_asked_for_again_at_the_next() {
    let mut c = Caller::with(transcript(200, 800, 1200));
    c.start();
    let (id, first, _) = asked(&c.pause()).unwrap();
    // Voice again (no new start: the VAD never stopped), then another pause.
    for _ in 0..10 {
        c.step(None);
    }
    let (id2, second, _) = asked(&c.pause()).unwrap();
    assert_eq!(id2, id);
    assert!(second > first);
    assert!(c.stt(id, first, "Thursday.").is_empty(), "the older answer is stale");
    c.end();
    assert_eq!(frames_to_end(&mut c, 60), None, "no turn end without the newer text");
    c.stt(id, second, "Thursday at three.");
    assert_eq!(frames_to_end(&mut c, 2), Some(0));
}

#[test]
fn over_talk_being_judged_is_asked_for_at_its_stop_not_its_pause() {
    let mut c = Caller::new();
    c.start();
    let early = asked(&c.pause());
    assert!(early.is_some());
    // The judge starts weighing this speech: the early request no longer stands.
    feed_up(&mut c.ep, Frame::Judging(true));
    c.step(None);
    assert_eq!(asked(&c.pause()), None, "no request while judged");
    let (_, samples, _) = asked(&c.end()).expect("asked at the stop");
    assert!(samples > early.unwrap().1);
}

#[test]
fn while_screening_a_complete_sentence_waits_for_a_greetings_next_one() {
    // The same complete-looking first sentence, screened and then in the conversation.
    let mut ends = vec![];
    for phase in [Phase::Screening, Phase::Talking] {
        let mut c = Caller::with(transcript(200, 800, 1200));
        let _ = feed(&mut c.ep, Frame::Phase(phase));
        c.start();
        for _ in 0..40 {
            c.step(None);
        }
        let out = c.end();
        let (id, samples, _) = asked(&out).expect("a transcription at the stop");
        c.stt(id, samples, "Hi, you've reached Erin.");
        // The end event comes 6 frames (120 ms) after the last voiced frame.
        ends.push(frames_to_end(&mut c, 100).map(|n| (n + 7) * 20));
    }
    assert_eq!(
        ends,
        [Some(800), Some(200)],
        "ms of quiet before the turn ends: screening, talking"
    );
}
