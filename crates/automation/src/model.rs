//! The automation model: one trigger and a graph of steps, as the API reads and writes it.
//!
//! The graph is a list of steps, each with a unique `slug` and its outgoing edges (`next`; a
//! condition's `then` / `else`; a loop's `body`). No edge means "the run ends here" (or, inside a
//! loop body, "the next item"). Branches rejoin by pointing at the same slug. Slugs are also the
//! names steps' outputs are read by in templates: `{{ steps.<slug>.<path> }}`.
//!
//! Decision: steps are parsed one by one from JSON (see [`parse_spec`]) rather than with one serde
//! call over the whole body, so a save with three broken steps answers with three problems, each
//! located by step, instead of serde's first error.

use parley_core::error::ValidationError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Draft automations store webhook samples and never start runs; live ones run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Draft,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Draft => "draft",
            Mode::Live => "live",
        }
    }
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// `POST /webhook/automation/{id}`; the JSON body is `trigger.payload`.
    Webhook {
        /// Require the team's `x-api-token` on the webhook request.
        #[serde(default)]
        verify_token: bool,
    },
    /// A call of the team ended; `trigger.payload` is the call object.
    CallCompleted {
        /// Agents whose calls fire it; empty: every agent.
        #[serde(default)]
        interview_ids: Vec<String>,
        /// Only calls that ended with one of these statuses (`ENDED`, `NO_ANSWER`, ...); empty: any.
        #[serde(default)]
        statuses: Vec<String>,
        /// Only calls with one of these outcomes; empty: any.
        #[serde(default)]
        outcomes: Vec<String>,
    },
    /// A recurring schedule in a time zone. Either `cron` (5 or 6 fields, seconds first when 6)
    /// or the simple form: `cadence` with `time` (`HH:MM`) and `days`.
    Schedule {
        /// IANA zone; the automation's zone when absent.
        #[serde(default)]
        time_zone: Option<String>,
        #[serde(default)]
        cadence: Option<Cadence>,
        /// `HH:MM` for daily/weekly cadences; the minute is used by hourly ones.
        #[serde(default)]
        time: Option<String>,
        /// Days it fires on (`mon` ... `sun`); empty: every day.
        #[serde(default)]
        days: Vec<String>,
        /// For the `minutes` cadence: every N minutes.
        #[serde(default)]
        every: Option<u32>,
        #[serde(default)]
        cron: Option<String>,
    },
    /// A contact was created (API or a step); `trigger.payload` is the contact.
    ContactCreated {},
    /// A tag was added to a contact; `trigger.payload` is `{contact, tag}`.
    TagAdded {
        /// Tags that fire it; empty: any tag.
        #[serde(default)]
        tags: Vec<String>,
    },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Webhook { .. } => "webhook",
            Trigger::CallCompleted { .. } => "call_completed",
            Trigger::Schedule { .. } => "schedule",
            Trigger::ContactCreated {} => "contact_created",
            Trigger::TagAdded { .. } => "tag_added",
        }
    }

    /// Whether runs of this trigger start with a contact (`{{ contact.* }}` exists from the start).
    pub fn has_contact(&self) -> bool {
        matches!(
            self,
            Trigger::CallCompleted { .. } | Trigger::ContactCreated {} | Trigger::TagAdded { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Minutes,
    Hourly,
    Daily,
    Weekly,
}

/// One step of the workflow graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Unique within the automation: `[a-z0-9_]`, starting with a letter.
    pub slug: String,
    /// A label for people (the builder shows it). Not `name`: contact steps have a `name` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(flatten)]
    pub kind: StepKind,
    /// The step after this one; none ends the run (or the loop item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// What a step does. Text fields are templates (`{{ trigger.payload.email }}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepKind {
    /// Creates a contact, or updates the team's contact with that number.
    CreateContact {
        phone_number: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        email: Option<String>,
        /// Country calling code for national numbers (`"1"`, `"44"`).
        #[serde(default)]
        country_code: Option<String>,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
        #[serde(default)]
        tags: Vec<String>,
    },
    /// Updates the run's contact (or the one whose id `contact` renders to).
    UpdateContact {
        #[serde(default)]
        contact: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        attributes: BTreeMap<String, String>,
    },
    /// Calls the run's contact (or `contact`) with an agent and waits for the call to end.
    CallContact {
        interview_id: String,
        #[serde(default)]
        contact: Option<String>,
        #[serde(default)]
        metadata: BTreeMap<String, String>,
        /// The team's number to call from (default: its `default_outbound` number).
        #[serde(default)]
        from_number: Option<String>,
    },
    /// Calls a number (a contact is created or found for it) and waits for the call to end.
    CallPhoneNumber {
        interview_id: String,
        phone_number: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        country_code: Option<String>,
        #[serde(default)]
        metadata: BTreeMap<String, String>,
        /// The team's number to call from (default: its `default_outbound` number).
        #[serde(default)]
        from_number: Option<String>,
    },
    AddTag {
        #[serde(default)]
        contact: Option<String>,
        tags: Vec<String>,
    },
    RemoveTag {
        #[serde(default)]
        contact: Option<String>,
        tags: Vec<String>,
    },
    /// Waits, e.g. `"2h 30m"`, `"90s"`, `"1day"`.
    Delay { duration: String },
    /// Waits until a time taken from a variable, shifted by `offset` (`"-24h"`).
    DelayUntil {
        at: String,
        #[serde(default)]
        offset: Option<String>,
        /// Zone of a time written without one: `contact` (the contact's, from its
        /// `time_zone` attribute or its number's country), `automation`, or an IANA name.
        #[serde(default)]
        time_zone: Option<String>,
        #[serde(default)]
        if_past: IfPast,
    },
    /// Compares variables; goes to `then` when the rules hold, else to `else`.
    Condition {
        #[serde(default)]
        mode: Match,
        rules: Vec<Rule>,
        #[serde(default)]
        then: Option<String>,
        #[serde(default, rename = "else")]
        otherwise: Option<String>,
    },
    /// An HTTP request; status, headers and JSON body become the step's output.
    HttpRequest {
        #[serde(default = "default_method")]
        method: String,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// JSON whose strings are templates, or one template string sent as it renders.
        #[serde(default)]
        body: Option<Value>,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
        /// Retries on 5xx and network errors, with exponential backoff.
        #[serde(default = "default_retries")]
        retries: u32,
    },
    /// Runs the `body` steps once per item of a list (at most `max_items`).
    Loop {
        /// An expression naming a list: `trigger.payload.leads`.
        items: String,
        body: String,
        #[serde(default = "default_max_items")]
        max_items: u32,
    },
    /// Ends the run, optionally with an outcome.
    End {
        #[serde(default)]
        outcome: Option<String>,
    },
}

fn default_method() -> String {
    "POST".into()
}
fn default_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    3
}
fn default_max_items() -> u32 {
    100
}

/// The largest `max_items` a loop may ask for.
pub const MAX_LOOP_ITEMS: u32 = 1000;

impl StepKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::CreateContact { .. } => "create_contact",
            StepKind::UpdateContact { .. } => "update_contact",
            StepKind::CallContact { .. } => "call_contact",
            StepKind::CallPhoneNumber { .. } => "call_phone_number",
            StepKind::AddTag { .. } => "add_tag",
            StepKind::RemoveTag { .. } => "remove_tag",
            StepKind::Delay { .. } => "delay",
            StepKind::DelayUntil { .. } => "delay_until",
            StepKind::Condition { .. } => "condition",
            StepKind::HttpRequest { .. } => "http_request",
            StepKind::Loop { .. } => "loop",
            StepKind::End { .. } => "end",
        }
    }

    /// Whether the step needs a contact and would take the run's one.
    pub fn uses_run_contact(&self) -> bool {
        matches!(
            self,
            StepKind::UpdateContact { contact: None, .. }
                | StepKind::CallContact { contact: None, .. }
                | StepKind::AddTag { contact: None, .. }
                | StepKind::RemoveTag { contact: None, .. }
        )
    }

    /// Whether this step sets the run's contact (later steps may use `{{ contact.* }}`).
    pub fn sets_run_contact(&self) -> bool {
        matches!(self, StepKind::CreateContact { .. } | StepKind::CallPhoneNumber { .. })
    }
}

/// What a past `delay_until` time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IfPast {
    /// Go on at once.
    #[default]
    Run,
    /// Skip to the end of the run.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    #[default]
    All,
    Any,
}

/// One comparison of a condition: `variable` is a path (`steps.call.outcome`), `value` a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub variable: String,
    pub op: Op,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    NotContains,
    Greater,
    Less,
    Exists,
    NotExists,
    Matches,
}

impl Op {
    /// Whether the rule compares against a `value`.
    pub fn needs_value(self) -> bool {
        !matches!(self, Op::Exists | Op::NotExists)
    }
}

/// When and how often the automation's call steps may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallingRules {
    /// Local time of the callee (`HH:MM`) from which calls may start.
    #[serde(default = "default_start")]
    pub start: String,
    /// Local time of the callee (`HH:MM`) after which no call starts.
    #[serde(default = "default_end")]
    pub end: String,
    /// Days calls may be placed on (`mon` ... `sun`); empty: every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Call at any hour (the window above is ignored).
    #[serde(default)]
    pub any_time: bool,
    /// Extra attempts for a call that is not answered (no answer, busy, failed to connect).
    #[serde(default)]
    pub retries: u32,
    /// Time between attempts (`"30m"`).
    #[serde(default = "default_spacing")]
    pub retry_spacing: String,
}

fn default_start() -> String {
    "09:00".into()
}
fn default_end() -> String {
    "20:00".into()
}
fn default_spacing() -> String {
    "1h".into()
}

impl Default for CallingRules {
    fn default() -> Self {
        CallingRules {
            start: default_start(),
            end: default_end(),
            days: Vec::new(),
            any_time: false,
            retries: 0,
            retry_spacing: default_spacing(),
        }
    }
}

/// An automation as clients send it (create and update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    #[serde(default)]
    pub mode: Mode,
    /// IANA zone of the automation (schedules, `delay_until` fallbacks).
    #[serde(default = "default_zone")]
    pub time_zone: String,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    /// The first step's slug; the first listed step when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default)]
    pub calling: CallingRules,
}

fn default_zone() -> String {
    "UTC".into()
}

impl Spec {
    /// The slug the run starts at.
    pub fn start_slug(&self) -> Option<&str> {
        self.start
            .as_deref()
            .or_else(|| self.steps.first().map(|s| s.slug.as_str()))
    }

    pub fn step(&self, slug: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.slug == slug)
    }
}

/// Parses a client's JSON into a [`Spec`], reporting every field and step that does not parse
/// (located as `steps[i]` with the slug when there is one), instead of serde's first error.
pub fn parse_spec(body: &Value) -> Result<Spec, Vec<ValidationError>> {
    let Some(obj) = body.as_object() else {
        return Err(vec![ValidationError::new("", "the automation must be a JSON object")]);
    };
    let mut problems = Vec::new();
    let mut head = obj.clone();
    let raw_steps = head.remove("steps");
    head.insert("steps".into(), Value::Array(Vec::new()));
    let mut spec = match serde_json::from_value::<Spec>(Value::Object(head)) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(serde_problem("", &e));
            None
        }
    };
    let mut steps = Vec::new();
    match raw_steps {
        None => problems.push(ValidationError::new(
            "steps",
            "missing: an automation needs at least one step",
        )),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = step_location(i, item);
                match serde_json::from_value::<Step>(item.clone()) {
                    Ok(s) => steps.push(s),
                    Err(e) => problems.push(serde_problem(&at, &e)),
                }
            }
        }
        Some(_) => problems.push(ValidationError::new("steps", "must be a list of steps")),
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut spec = spec.take().expect("parsed when there are no problems");
    spec.steps = steps;
    Ok(spec)
}

/// `steps[3] (notify)`: where a problem of one step is reported.
pub fn step_location(index: usize, item: &Value) -> String {
    match item.get("slug").and_then(Value::as_str) {
        Some(slug) => format!("steps[{index}] ({slug})"),
        None => format!("steps[{index}]"),
    }
}

fn serde_problem(at: &str, e: &serde_json::Error) -> ValidationError {
    // serde's messages name the field or variant ("missing field `url`", "unknown variant
    // `sms`, expected one of ..."): clear enough once located.
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    ValidationError::new(at, msg)
}

/// The stored automation: the spec plus identity and bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Automation {
    pub id: String,
    #[serde(flatten)]
    pub spec: Spec,
    pub version: i64,
    /// The last body posted to a draft automation's webhook (to build templates against).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_payload: Option<Value>,
    pub created: parley_core::time::Timestamp,
    pub updated: parley_core::time::Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_workflow_and_reports_every_broken_step() {
        let ok = json!({
            "name": "lead", "trigger": {"type": "webhook"},
            "steps": [
                {"slug": "c", "type": "create_contact", "phone_number": "{{ trigger.payload.phone }}", "next": "call"},
                {"slug": "call", "type": "call_contact", "interview_id": "abcd1234"}
            ]
        });
        let spec = parse_spec(&ok).unwrap();
        assert_eq!(spec.start_slug(), Some("c"));
        assert_eq!(spec.mode, Mode::Draft);
        assert_eq!(spec.calling, CallingRules::default());

        let bad = json!({
            "name": "lead", "trigger": {"type": "webhook"},
            "steps": [
                {"slug": "a", "type": "sms", "to": "x"},
                {"slug": "b", "type": "http_request"},
                {"slug": "c", "type": "end"}
            ]
        });
        let errs = parse_spec(&bad).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].field, "steps[0] (a)");
        assert!(errs[0].message.contains("unknown variant `sms`"), "{}", errs[0].message);
        assert_eq!(errs[1].field, "steps[1] (b)");
        assert!(errs[1].message.contains("missing field `url`"), "{}", errs[1].message);
    }

    #[test]
    fn a_step_round_trips_with_its_type_tag() {
        let s = Step {
            slug: "check".into(),
            label: None,
            kind: StepKind::Condition {
                mode: Match::Any,
                rules: vec![Rule {
                    variable: "steps.call.outcome".into(),
                    op: Op::Equals,
                    value: Some("confirmed".into()),
                }],
                then: Some("ok".into()),
                otherwise: None,
            },
            next: None,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["type"], "condition");
        assert_eq!(v["rules"][0]["op"], "equals");
        assert_eq!(serde_json::from_value::<Step>(v).unwrap(), s);
    }
}
