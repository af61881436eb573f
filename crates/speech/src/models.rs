//! (owned by the setup/STT work)
