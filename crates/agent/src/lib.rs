//! The agent's turn (work in progress).
