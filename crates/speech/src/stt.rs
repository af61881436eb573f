//! (owned by the STT work)
