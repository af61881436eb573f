//! The voice agent's flow: a graph of nodes and edges (the shape a visual editor such as React
//! Flow saves), and its validation.
//!
//! Validation reports every problem at once, each located by node or edge, because the person
//! fixing a flow in an editor wants the whole list, not one error per save.

use crate::phone::{self, PhonePolicy};
use crate::ValidationError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// What a node does. The wire keeps `type` as text, so that a flow with an unknown type still
/// parses and validation can say which node is wrong; every reader of a node's type goes
/// through [`Node::node_kind`] and matches this enum, so a new type cannot be half handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Start,
    Speak,
    Question,
    Branch,
    Transfer,
    Webhook,
    End,
}
str_enum!(NodeKind {
    Start = "start",
    Speak = "speak",
    Question = "question",
    Branch = "branch",
    Transfer = "transfer",
    Webhook = "webhook",
    End = "end",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub position: Position,
    /// The node's settings, always a JSON object (an absent or `null` one reads as `{}`): even
    /// a draft saved mid-edit must read back in the shape the API documents.
    #[serde(default = "empty_object", deserialize_with = "object")]
    #[schema(value_type = Object)]
    pub data: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn object<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(empty_object()),
        v @ Value::Object(_) => Ok(v),
        other => Err(serde::de::Error::custom(format!(
            "a node's data must be an object, not {other}"
        ))),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Edge {
    pub id: String,
    pub source: String,
    #[serde(rename = "sourceHandle", default = "default_handle")]
    pub source_handle: String,
    pub target: String,
}

impl Node {
    /// The node's type, `None` when Parley has no such type (validation refuses the flow).
    pub fn node_kind(&self) -> Option<NodeKind> {
        NodeKind::parse(&self.kind)
    }
}

fn default_handle() -> String {
    "next".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Flow {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The most nodes of a flow.
pub const MAX_NODES: usize = 500;
/// The most edges of a flow: each node's outcomes, with room to spare.
pub const MAX_EDGES: usize = 2000;
/// The longest node id, edge id or `sourceHandle`.
pub const MAX_ID_CHARS: usize = 128;
/// The longest text anywhere in a node's `data` (a message, a question, a prompt, a URL).
pub const MAX_TEXT_CHARS: usize = 4000;
/// The most entries of a list or object anywhere in a node's `data` (choices, branch
/// conditions, webhook headers): each choice and condition is an outcome of the node.
pub const MAX_DATA_ENTRIES: usize = 50;
pub const QUESTION_KINDS: [&str; 5] = ["text", "yes_no", "number", "date", "choice"];
pub const BRANCH_OPS: [&str; 8] = [
    "equals",
    "not_equals",
    "contains",
    "greater_than",
    "less_than",
    "exists",
    "not_exists",
    "matches",
];
const HTTP_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const TEMPLATE_ROOTS: [&str; 4] = ["metadata.", "attributes.", "variables.", "contact."];
const CONTACT_FIELDS: [&str; 4] = ["name", "phone_number", "email", "id"];

impl Flow {
    /// The flow of an agent created without one: greet, then end.
    pub fn minimal() -> Flow {
        let node = |id: &str, kind: &str, data: Value, x: f64| Node {
            id: id.into(),
            kind: kind.into(),
            position: Position { x, y: 0.0 },
            data,
        };
        Flow {
            nodes: vec![
                node("start", "start", serde_json::json!({}), 0.0),
                node(
                    "end",
                    "end",
                    serde_json::json!({"outcome": "completed", "message": "Hello! Goodbye."}),
                    250.0,
                ),
            ],
            edges: vec![Edge {
                id: "e-start-end".into(),
                source: "start".into(),
                source_handle: "next".into(),
                target: "end".into(),
            }],
        }
    }

    /// Checks the whole graph; every problem is returned. `llm_configured` says whether prompt
    /// nodes can run (without an LLM they cannot, and saving them is refused).
    ///
    /// Sizes are checked first ([`Flow::check_size`]) and a flow over them is refused before
    /// anything else is looked at; within them every check is linear in the flow's size (the
    /// per-node lists are bounded by [`MAX_DATA_ENTRIES`]), so the largest flow accepted costs
    /// about a millisecond (see the `largest_flow_validates_quickly` test).
    pub fn validate(&self, llm_configured: bool) -> Result<(), Vec<ValidationError>> {
        self.check_size()?;
        let mut errs = Vec::new();
        let mut push =
            |field: String, msg: String| errs.push(ValidationError::new(field, msg).with_code("invalid_flow"));

        let mut handles: HashMap<&str, Vec<String>> = HashMap::new();
        let mut seen = HashSet::new();
        let mut starts = 0;
        let captured: HashSet<String> = self
            .nodes
            .iter()
            .filter_map(|n| match n.node_kind()? {
                NodeKind::Question => n.data.get("variable").and_then(Value::as_str).map(str::to_string),
                NodeKind::Webhook => n.data.get("save_as").and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
            .collect();

        for (i, n) in self.nodes.iter().enumerate() {
            let at = format!("flow.nodes[{i}]");
            if n.id.trim().is_empty() {
                push(format!("{at}.id"), "must not be empty".into());
            } else if !seen.insert(n.id.as_str()) {
                push(format!("{at}.id"), format!("'{}' is used by another node", n.id));
            }
            let mut problems = Vec::new();
            let allowed = node_handles(n, llm_configured, &captured, &mut problems);
            for (field, msg) in problems {
                push(
                    format!("{at}.data{field}"),
                    format!("{} node '{}': {msg}", n.kind, n.id),
                );
            }
            match allowed {
                Some(h) => {
                    if n.node_kind() == Some(NodeKind::Start) {
                        starts += 1;
                    }
                    handles.insert(n.id.as_str(), h);
                }
                None => push(
                    format!("{at}.type"),
                    format!(
                        "unknown node type '{}' (start, speak, question, branch, transfer, webhook, end)",
                        n.kind
                    ),
                ),
            }
        }
        if starts != 1 {
            push(
                "flow.nodes".into(),
                format!("a flow needs exactly one start node, found {starts}"),
            );
        }

        let mut edge_ids = HashSet::new();
        let mut used: HashSet<(&str, &str)> = HashSet::new();
        let mut has_out: HashSet<&str> = HashSet::new();
        for (i, e) in self.edges.iter().enumerate() {
            let at = format!("flow.edges[{i}]");
            if !edge_ids.insert(e.id.as_str()) {
                push(format!("{at}.id"), format!("'{}' is used by another edge", e.id));
            }
            if !seen.contains(e.target.as_str()) {
                push(format!("{at}.target"), format!("no node '{}'", e.target));
            }
            match handles.get(e.source.as_str()) {
                None if !seen.contains(e.source.as_str()) => {
                    push(format!("{at}.source"), format!("no node '{}'", e.source))
                }
                None => {}
                Some(allowed) if !allowed.iter().any(|h| h == &e.source_handle) => push(
                    format!("{at}.sourceHandle"),
                    if allowed.is_empty() {
                        format!("node '{}' ends the call and cannot have outgoing edges", e.source)
                    } else {
                        format!(
                            "'{}' is not an outcome of node '{}' (expected one of: {})",
                            e.source_handle,
                            e.source,
                            allowed.join(", ")
                        )
                    },
                ),
                Some(_) => {
                    has_out.insert(e.source.as_str());
                    if !used.insert((e.source.as_str(), e.source_handle.as_str())) {
                        push(
                            format!("{at}.sourceHandle"),
                            format!("node '{}' already has an edge for '{}'", e.source, e.source_handle),
                        );
                    }
                }
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let terminal = handles.get(n.id.as_str()).is_some_and(Vec::is_empty);
            if handles.contains_key(n.id.as_str()) && !terminal && !has_out.contains(n.id.as_str()) {
                push(
                    format!("flow.nodes[{i}]"),
                    format!(
                        "node '{}' has no outgoing edge: the conversation would stop there",
                        n.id
                    ),
                );
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

impl Flow {
    /// The bounds of a flow: counts of nodes and edges, length of ids, size of each node's
    /// `data`. Every problem found, or none; linear in the flow's size.
    pub fn check_size(&self) -> Result<(), Vec<ValidationError>> {
        let err = |field: String, msg: String| ValidationError::new(field, msg).with_code("invalid_flow");
        if self.nodes.len() > MAX_NODES {
            return Err(vec![err(
                "flow.nodes".into(),
                format!("at most {MAX_NODES} nodes (got {})", self.nodes.len()),
            )]);
        }
        if self.edges.len() > MAX_EDGES {
            return Err(vec![err(
                "flow.edges".into(),
                format!("at most {MAX_EDGES} edges (got {})", self.edges.len()),
            )]);
        }
        let mut errs = Vec::new();
        let mut id = |field: String, v: &str| {
            if v.len() > MAX_ID_CHARS && v.chars().count() > MAX_ID_CHARS {
                errs.push(err(field, format!("at most {MAX_ID_CHARS} characters")));
            }
        };
        for (i, n) in self.nodes.iter().enumerate() {
            id(format!("flow.nodes[{i}].id"), &n.id);
            id(format!("flow.nodes[{i}].type"), &n.kind);
        }
        for (i, e) in self.edges.iter().enumerate() {
            id(format!("flow.edges[{i}].id"), &e.id);
            id(format!("flow.edges[{i}].source"), &e.source);
            id(format!("flow.edges[{i}].target"), &e.target);
            id(format!("flow.edges[{i}].sourceHandle"), &e.source_handle);
        }
        for (i, n) in self.nodes.iter().enumerate() {
            data_size(&n.data, &mut format!("flow.nodes[{i}].data"), &mut errs);
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }
}

/// Refuses text longer than [`MAX_TEXT_CHARS`] and lists or objects of more than
/// [`MAX_DATA_ENTRIES`] entries anywhere in `v`, locating each.
fn data_size(v: &Value, at: &mut String, errs: &mut Vec<ValidationError>) {
    let err = |field: &str, msg: String| ValidationError::new(field, msg).with_code("invalid_flow");
    let len = at.len();
    match v {
        Value::String(s) if s.len() > MAX_TEXT_CHARS && s.chars().count() > MAX_TEXT_CHARS => {
            errs.push(err(at, format!("at most {MAX_TEXT_CHARS} characters")));
        }
        Value::Array(items) if items.len() > MAX_DATA_ENTRIES => {
            errs.push(err(
                at,
                format!("at most {MAX_DATA_ENTRIES} entries (got {})", items.len()),
            ));
        }
        Value::Object(m) if m.len() > MAX_DATA_ENTRIES => {
            errs.push(err(at, format!("at most {MAX_DATA_ENTRIES} entries (got {})", m.len())));
        }
        Value::Array(items) => {
            for (k, x) in items.iter().enumerate() {
                at.push_str(&format!("[{k}]"));
                data_size(x, at, errs);
                at.truncate(len);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                if k.len() > MAX_ID_CHARS {
                    errs.push(err(at, format!("a key is at most {MAX_ID_CHARS} characters")));
                    continue;
                }
                at.push('.');
                at.push_str(k);
                data_size(x, at, errs);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

type Problems = Vec<(String, String)>;

/// The outcomes (`sourceHandle`s) a node may have; `None` for an unknown type. Data problems are
/// appended to `p` as (field suffix, message).
fn node_handles(n: &Node, llm: bool, captured: &HashSet<String>, p: &mut Problems) -> Option<Vec<String>> {
    let d = &n.data;
    if !(d.is_object() || d.is_null()) {
        p.push((String::new(), "data must be an object".into()));
        return Some(vec![]);
    }
    let s = |k: &str| d.get(k).and_then(Value::as_str);
    let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let kind = n.node_kind()?;
    Some(match kind {
        NodeKind::Start => h(&["next"]),
        NodeKind::Speak => {
            match (
                s("message").filter(|m| !m.trim().is_empty()),
                s("prompt").filter(|m| !m.trim().is_empty()),
            ) {
                (Some(m), None) => check_template(".message", m, captured, p),
                (None, Some(pr)) => {
                    if !llm {
                        p.push((
                            ".prompt".into(),
                            "a prompt needs an LLM: set PARLEY_LLM_BASE_URL (or use a fixed message)".into(),
                        ));
                    }
                    check_template(".prompt", pr, captured, p);
                }
                (Some(_), Some(_)) => p.push((String::new(), "set either message or prompt, not both".into())),
                (None, None) => p.push((".message".into(), "a speak node needs a message (or a prompt)".into())),
            }
            h(&["next"])
        }
        NodeKind::Question => {
            match s("question").filter(|q| !q.trim().is_empty()) {
                Some(q) => check_template(".question", q, captured, p),
                None => p.push((".question".into(), "is required".into())),
            }
            if !s("variable").is_some_and(is_identifier) {
                p.push((
                    ".variable".into(),
                    "must be a name of letters, digits and _ (not starting with a digit)".into(),
                ));
            }
            if let Some(r) = s("reprompt") {
                check_template(".reprompt", r, captured, p);
            }
            if let Some(m) = d.get("max_attempts") {
                if !m.as_u64().is_some_and(|m| (1..=10).contains(&m)) {
                    p.push((".max_attempts".into(), "must be an integer from 1 to 10".into()));
                }
            }
            let kind = s("kind").unwrap_or("text");
            let mut out = match kind {
                "yes_no" => h(&["yes", "no"]),
                "choice" => {
                    let choices: Vec<String> = d
                        .get("choices")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                        .unwrap_or_default();
                    if choices.is_empty() || choices.iter().any(|c| c.trim().is_empty()) {
                        p.push((
                            ".choices".into(),
                            "a choice question needs a list of non-empty choices".into(),
                        ));
                    }
                    choices
                }
                k if QUESTION_KINDS.contains(&k) => h(&["next"]),
                other => {
                    p.push((
                        ".kind".into(),
                        format!("'{other}' is not one of {}", QUESTION_KINDS.join(", ")),
                    ));
                    h(&["next"])
                }
            };
            out.push("no_match".into());
            out
        }
        NodeKind::Branch => {
            let conds = d.get("conditions").and_then(Value::as_array);
            let mut out = Vec::new();
            match conds {
                None => p.push((".conditions".into(), "a branch needs a list of conditions".into())),
                Some(cs) => {
                    for (j, c) in cs.iter().enumerate() {
                        let at = format!(".conditions[{j}]");
                        let cs = |k: &str| c.get(k).and_then(Value::as_str);
                        if cs("variable").is_none_or(|v| v.trim().is_empty()) {
                            p.push((format!("{at}.variable"), "is required".into()));
                        }
                        match cs("op") {
                            Some(op) if BRANCH_OPS.contains(&op) => {}
                            _ => p.push((format!("{at}.op"), format!("must be one of {}", BRANCH_OPS.join(", ")))),
                        }
                        match cs("handle") {
                            Some(hd) if !hd.trim().is_empty() && hd != "else" && !out.iter().any(|o| o == hd) => {
                                out.push(hd.to_string())
                            }
                            _ => p.push((
                                format!("{at}.handle"),
                                "must be a non-empty name, unique in the branch, not 'else'".into(),
                            )),
                        }
                    }
                }
            }
            out.push("else".into());
            out
        }
        NodeKind::Transfer => {
            match s("phone_number") {
                Some(num) => {
                    if let Err(e) = phone::normalize("phone_number", num, 1, PhonePolicy::default()) {
                        p.push((".phone_number".into(), e.message));
                    }
                }
                None => p.push((".phone_number".into(), "is required".into())),
            }
            if let Some(m) = s("message") {
                check_template(".message", m, captured, p);
            }
            vec![]
        }
        NodeKind::Webhook => {
            match s("url").map(url_is_http) {
                Some(true) => check_template(".url", s("url").unwrap_or_default(), captured, p),
                _ => p.push((".url".into(), "must be an http(s) URL".into())),
            }
            let method = s("method").unwrap_or("POST");
            if !HTTP_METHODS.contains(&method) {
                p.push((".method".into(), format!("must be one of {}", HTTP_METHODS.join(", "))));
            }
            if let Some(hs) = d.get("headers") {
                if !hs.as_object().is_some_and(|o| o.values().all(Value::is_string)) {
                    p.push((".headers".into(), "must be an object of strings".into()));
                }
            }
            if let Some(v) = d.get("save_as") {
                if !v.as_str().is_some_and(is_identifier) {
                    p.push((".save_as".into(), "must be a variable name".into()));
                }
            }
            h(&["next", "error"])
        }
        NodeKind::End => {
            if s("outcome").is_none_or(|o| o.trim().is_empty()) {
                p.push((".outcome".into(), "is required (e.g. \"confirmed\")".into()));
            }
            if let Some(m) = s("message") {
                check_template(".message", m, captured, p);
            }
            vec![]
        }
    })
}

fn url_is_http(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://")) && u.len() > 8 && !u.contains(char::is_whitespace)
}

pub fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && s.len() <= 64
}

/// Checks `{{ … }}` placeholders: balanced braces, known roots, and `variables.X` only for
/// variables some node captures.
fn check_template(field: &str, text: &str, captured: &HashSet<String>, p: &mut Problems) {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            p.push((field.into(), "a '{{' is not closed by '}}'".into()));
            return;
        };
        let path = after[..close].trim();
        let ok = TEMPLATE_ROOTS
            .iter()
            .any(|r| path.strip_prefix(r).is_some_and(|k| !k.is_empty()));
        if !ok {
            p.push((field.into(), format!("'{{{{{path}}}}}' is not a known variable (use metadata.KEY, attributes.KEY, contact.name or variables.KEY)")));
        } else if let Some(v) = path.strip_prefix("variables.") {
            let name = v.split(['.', '[']).next().unwrap_or(v);
            if !captured.contains(name) {
                p.push((
                    field.into(),
                    format!("'{{{{{path}}}}}': no question or webhook node captures '{name}'"),
                ));
            }
        } else if let Some(f) = path.strip_prefix("contact.") {
            if !CONTACT_FIELDS.contains(&f) {
                p.push((
                    field.into(),
                    format!("'{{{{{path}}}}}': contacts have {}", CONTACT_FIELDS.join(", ")),
                ));
            }
        }
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        p.push((field.into(), "a '}}' has no matching '{{'".into()));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_node_type_the_error_names_parses() {
        for name in ["start", "speak", "question", "branch", "transfer", "webhook", "end"] {
            let kind = NodeKind::parse(name).unwrap();
            assert_eq!(kind.as_str(), name);
        }
        assert_eq!(NodeKind::parse("teleport"), None);
    }

    use super::*;
    use serde_json::json;

    fn flow(v: Value) -> Flow {
        serde_json::from_value(v).unwrap()
    }

    fn appointment() -> Value {
        json!({
          "nodes": [
            {"id": "s", "type": "start", "data": {}},
            {"id": "hi", "type": "speak", "data": {"message": "Hi {{contact.name}}, about {{metadata.appointment}}."}},
            {"id": "q", "type": "question", "data": {"question": "Can you make it?", "variable": "confirmed", "kind": "yes_no"}},
            {"id": "new", "type": "question", "data": {"question": "What time works?", "variable": "new_time", "kind": "text"}},
            {"id": "ok", "type": "end", "data": {"outcome": "confirmed", "message": "See you then."}},
            {"id": "moved", "type": "end", "data": {"outcome": "rescheduled", "message": "Noted: {{variables.new_time}}."}}
          ],
          "edges": [
            {"id": "1", "source": "s", "sourceHandle": "next", "target": "hi"},
            {"id": "2", "source": "hi", "sourceHandle": "next", "target": "q"},
            {"id": "3", "source": "q", "sourceHandle": "yes", "target": "ok"},
            {"id": "4", "source": "q", "sourceHandle": "no", "target": "new"},
            {"id": "5", "source": "new", "sourceHandle": "next", "target": "moved"}
          ]
        })
    }

    #[test]
    fn a_sound_flow_validates() {
        flow(appointment()).validate(false).unwrap();
        Flow::minimal().validate(false).unwrap();
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let mut v = appointment();
        v["nodes"][1]["data"] = json!({"message": "Hi {{nope.x}} {{variables.never}}"});
        v["nodes"][2]["data"]["kind"] = json!("colour");
        v["nodes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "x", "type": "teleport", "data": {}}));
        v["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "6", "source": "ok", "sourceHandle": "next", "target": "ghost"}));
        let errs = flow(v).validate(false).unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let has = |needle: &str| text.iter().any(|t| t.contains(needle));
        assert!(has("flow.nodes[1].data.message"), "{text:#?}");
        assert!(has("nope.x"), "{text:#?}");
        assert!(has("captures 'never'"), "{text:#?}");
        assert!(has("flow.nodes[2].data.kind"), "{text:#?}");
        assert!(has("unknown node type 'teleport'"), "{text:#?}");
        assert!(has("no node 'ghost'"), "{text:#?}");
        assert!(has("ends the call"), "{text:#?}");
    }

    #[test]
    fn prompts_need_an_llm() {
        let mut v = appointment();
        v["nodes"][1]["data"] = json!({"prompt": "Greet {{contact.name}} warmly."});
        let errs = flow(v.clone()).validate(false).unwrap_err();
        assert!(errs[0].to_string().contains("PARLEY_LLM_BASE_URL"), "{errs:?}");
        flow(v).validate(true).unwrap();
    }

    /// The largest flow the API accepts: the most nodes and edges, every node with the most
    /// choices, and texts full of placeholders up to the 1 MiB request body.
    fn largest_flow() -> Flow {
        let text = "{{contact.name}} ".repeat(27);
        let mut nodes = vec![json!({"id": "start", "type": "start", "data": {}})];
        let mut edges = vec![json!({"id": "e0", "source": "start", "sourceHandle": "next", "target": "q1"})];
        let choices: Vec<String> = (0..MAX_DATA_ENTRIES).map(|c| format!("choice {c}")).collect();
        let last = MAX_NODES - 1;
        // Each question gets one edge; the rest of the edge budget goes to the first ones.
        let mut spare = MAX_EDGES - 1 - (last - 1);
        for i in 1..last {
            let next = if i + 1 == last {
                "end".to_string()
            } else {
                format!("q{}", i + 1)
            };
            nodes.push(json!({"id": format!("q{i}"), "type": "question", "data": {
                "question": text, "reprompt": text, "variable": format!("v{i}"), "kind": "choice", "choices": choices}}));
            for (k, c) in choices.iter().enumerate() {
                if k > 0 {
                    if spare == 0 {
                        break;
                    }
                    spare -= 1;
                }
                edges.push(
                    json!({"id": format!("e{i}-{k}"), "source": format!("q{i}"), "sourceHandle": c, "target": next}),
                );
            }
        }
        nodes.push(json!({"id": "end", "type": "end", "data": {"outcome": "done", "message": text}}));
        let f = flow(json!({"nodes": nodes, "edges": edges}));
        assert_eq!(f.nodes.len(), MAX_NODES);
        f
    }

    #[test]
    fn largest_flow_validates_quickly() {
        let f = largest_flow();
        assert_eq!(f.edges.len(), MAX_EDGES);
        let size = serde_json::to_vec(&f).unwrap().len();
        assert!((900_000..1 << 20).contains(&size), "{size} bytes");
        let started = std::time::Instant::now();
        f.validate(false).unwrap();
        let took = started.elapsed();
        // Debug build, shared CI cores: generous, yet a quadratic pass over the edges or the
        // texts would take far longer.
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
        eprintln!(
            "largest flow: {} nodes, {} edges, {size} bytes, validated in {took:?}",
            f.nodes.len(),
            f.edges.len()
        );
    }

    #[test]
    fn sizes_are_refused_before_anything_else() {
        let node = |i: usize| json!({"id": format!("n{i}"), "type": "speak", "data": {"message": "x"}});
        let too_many = flow(json!({"nodes": (0..=MAX_NODES).map(node).collect::<Vec<_>>(), "edges": []}));
        let errs = too_many.validate(false).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].to_string(), "flow.nodes: at most 500 nodes (got 501)");
        let edge = |i: usize| json!({"id": format!("e{i}"), "source": "a", "target": "b"});
        let errs = flow(json!({"nodes": [], "edges": (0..=MAX_EDGES).map(edge).collect::<Vec<_>>()}))
            .validate(false)
            .unwrap_err();
        assert_eq!(errs[0].to_string(), "flow.edges: at most 2000 edges (got 2001)");

        let mut v = appointment();
        v["nodes"][1]["data"]["message"] = json!("x".repeat(MAX_TEXT_CHARS + 1));
        v["nodes"][2]["data"]["choices"] = json!(vec!["a"; MAX_DATA_ENTRIES + 1]);
        v["nodes"][3]["id"] = json!("n".repeat(MAX_ID_CHARS + 1));
        let errs = flow(v).validate(false).unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "flow.nodes[3].id: at most 128 characters",
                "flow.nodes[1].data.message: at most 4000 characters",
                "flow.nodes[2].data.choices: at most 50 entries (got 51)",
            ]
        );
    }

    #[test]
    fn structure_is_checked() {
        let mut v = appointment();
        v["nodes"][0]["type"] = json!("speak");
        v["nodes"][0]["data"] = json!({"message": "x"});
        let errs = flow(v).validate(false).unwrap_err();
        assert!(errs.iter().any(|e| e.message.contains("exactly one start")), "{errs:?}");

        let mut v = appointment();
        v["edges"].as_array_mut().unwrap().remove(4);
        let errs = flow(v).validate(false).unwrap_err();
        assert!(
            errs.iter().any(|e| e.message.contains("'new' has no outgoing edge")),
            "{errs:?}"
        );
    }
}
