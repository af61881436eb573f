//! (owned by the TTS work)
