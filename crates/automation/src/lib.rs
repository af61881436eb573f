//! Automations: a trigger plus a workflow of steps, run durably on the job runner.
//!
//! - [`model`]: the automation as the API reads and writes it (trigger, steps, calling rules).
//! - [`template`]: the sandboxed template engine (minijinja) for `{{ trigger.payload.a.b[0] }}`.
//! - [`validate`]: the whole-graph check a save must pass; every problem located by step.
//! - [`bounds`]: the size bounds of an automation, checked before the validation's work.
//! - [`condition`]: the comparisons of a condition step.
//! - [`engine`]: the durable interpreter on the job runner (runs, trigger events, schedules).
//! - [`steps`]: what each step type does; [`calling`]: calling hours in the callee's zone;
//!   [`timing`]: durations and times of delays; [`state`]: a run's durable state.
//! - [`service`]: what the API does with automations (save, read, fire the webhook, runs).

pub mod bounds;
pub mod calling;
pub mod condition;
pub mod engine;
pub mod error;
pub mod model;
pub mod service;
pub mod state;
pub mod steps;
pub mod template;
pub mod timing;
pub mod validate;

pub use engine::{Engine, EngineConfig};
pub use error::AutomationError;
