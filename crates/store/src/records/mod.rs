//! Rows and write statements that the repositories and the group-commit writers share: a
//! contact as a row and its write statements, runs and steps as rows and records. Leaves: they
//! depend on no repository and on no writer, so the run journal can write what the contacts and
//! automations repositories hand it while those repositories queue on the journal, without an
//! import cycle.

pub(crate) mod contact_writes;
pub(crate) mod contacts;
pub(crate) mod runs;
