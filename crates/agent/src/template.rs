//! `{{ … }}` placeholders in flow text, and the lookup of the names they (and branch
//! conditions) use.
//!
//! A flow's text is written once and spoken on many calls, so it names per-call data:
//! `{{metadata.KEY}}` (the call's metadata), `{{attributes.KEY}}` (the contact's attributes),
//! `{{contact.name}}` (also `phone_number`, `email`, `id`) and `{{variables.KEY}}` (what this call
//! captured so far). Paths may go into JSON values (`{{variables.order.items[0].name}}`).
//! A missing value renders as the empty string: a call must never stop because a contact lacks
//! an attribute, and the validator already refused names that cannot exist.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The per-call data a flow can read, besides the variables it captures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallContext {
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub contact_id: Option<String>,
    /// The contact's attributes (a JSON object; anything else reads as empty).
    pub attributes: Value,
    /// The call's metadata, as given when the call was placed.
    pub metadata: BTreeMap<String, String>,
}

/// What a template or a branch condition can see: the call's context and the captured variables.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub ctx: &'a CallContext,
    pub variables: &'a Map<String, Value>,
}

impl<'a> Scope<'a> {
    pub fn new(ctx: &'a CallContext, variables: &'a Map<String, Value>) -> Self {
        Scope { ctx, variables }
    }

    /// The value a name refers to: `metadata.K`, `attributes.K…`, `contact.FIELD`,
    /// `variables.K…`, or a bare `K…` meaning a captured variable. `None` when absent.
    pub fn lookup(&self, path: &str) -> Option<Value> {
        let path = path.trim();
        if let Some(key) = path.strip_prefix("metadata.") {
            return self.ctx.metadata.get(key).map(|v| Value::String(v.clone()));
        }
        if let Some(field) = path.strip_prefix("contact.") {
            let v = match field {
                "name" => &self.ctx.contact_name,
                "phone_number" | "phone" => &self.ctx.contact_phone,
                "email" => &self.ctx.contact_email,
                "id" => &self.ctx.contact_id,
                _ => return None,
            };
            return v.clone().map(Value::String);
        }
        if let Some(rest) = path.strip_prefix("attributes.") {
            return walk(&self.ctx.attributes, rest);
        }
        let rest = path.strip_prefix("variables.").unwrap_or(path);
        let (first, tail) = split_first(rest)?;
        let root = self.variables.get(first)?;
        if tail.is_empty() {
            Some(root.clone())
        } else {
            walk(root, tail)
        }
    }
}

/// Splits `a.b[0]` into the first key (`a`) and the rest (`b[0]`, or `[0]…` when it starts
/// with an index).
fn split_first(path: &str) -> Option<(&str, &str)> {
    let end = path.find(['.', '[']).unwrap_or(path.len());
    let (first, rest) = path.split_at(end);
    if first.is_empty() {
        return None;
    }
    Some((first, rest.strip_prefix('.').unwrap_or(rest)))
}

/// Follows a path of `.key` and `[index]` steps into a JSON value.
fn walk(root: &Value, path: &str) -> Option<Value> {
    let mut cur = root;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let idx: usize = after[..close].trim().parse().ok()?;
            cur = cur.get(idx)?;
            rest = &after[close + 1..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else {
            let (key, tail) = split_first(rest)?;
            cur = cur.get(key)?;
            rest = tail;
        }
    }
    Some(cur.clone())
}

/// How a value reads inside text: strings plain, `null` empty, numbers and booleans as JSON
/// text, an object with a `text` field (a captured date) as that text, anything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("text") {
            Some(Value::String(t)) => t.clone(),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// Renders every `{{ path }}` of `template`; missing values are empty. An unclosed `{{` is kept
/// as written.
pub fn render(template: &str, scope: &Scope<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        out.push_str(&rest[..open]);
        if let Some(v) = scope.lookup(&after[..close]) {
            out.push_str(&value_text(&v));
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// Whether `template` names any per-call data (its rendering can differ between calls).
pub fn has_placeholders(template: &str) -> bool {
    template.find("{{").is_some_and(|i| template[i..].contains("}}"))
}

/// When a whole string is one placeholder (`"{{variables.order}}"`), the value itself, so a
/// JSON body keeps numbers, booleans and objects as they are.
pub fn sole_placeholder(template: &str, scope: &Scope<'_>) -> Option<Value> {
    let inner = template.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") {
        return None;
    }
    Some(scope.lookup(inner).unwrap_or(Value::Null))
}

/// Renders every string inside a JSON value (keys are kept as written).
pub fn render_json(v: &Value, scope: &Scope<'_>) -> Value {
    match v {
        Value::String(s) => sole_placeholder(s, scope).unwrap_or_else(|| Value::String(render(s, scope))),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_json(x, scope)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), render_json(x, scope))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> CallContext {
        CallContext {
            contact_name: Some("Alex Morgan".into()),
            contact_phone: Some("+12125550100".into()),
            contact_email: None,
            contact_id: Some("c-1".into()),
            attributes: json!({"plan": "gold", "visits": 3, "vip": true, "pets": [{"name": "Rex"}]}),
            metadata: [("appointment".to_string(), "Tuesday at 10".to_string())].into(),
        }
    }

    fn vars() -> Map<String, Value> {
        json!({
            "confirmed": true,
            "count": 2.5,
            "order": {"status": "shipped", "items": [{"sku": "A1"}]},
            "new_time": {"text": "Thursday at three pm", "date": "2026-11-26", "time": "15:00"}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn renders_every_root() {
        let (c, v) = (ctx(), vars());
        let s = Scope::new(&c, &v);
        assert_eq!(
            render("Hi {{contact.name}}, about {{ metadata.appointment }}.", &s),
            "Hi Alex Morgan, about Tuesday at 10."
        );
        assert_eq!(
            render("{{attributes.plan}} {{attributes.visits}} {{attributes.vip}}", &s),
            "gold 3 true"
        );
        assert_eq!(render("{{attributes.pets[0].name}}", &s), "Rex");
        assert_eq!(
            render("{{contact.phone_number}}/{{contact.id}}", &s),
            "+12125550100/c-1"
        );
        assert_eq!(render("{{variables.confirmed}} {{variables.count}}", &s), "true 2.5");
        assert_eq!(render("{{variables.order.items[0].sku}}", &s), "A1");
        assert_eq!(render("{{variables.order.status}}", &s), "shipped");
        assert_eq!(
            render("Noted: {{variables.new_time}}.", &s),
            "Noted: Thursday at three pm."
        );
    }

    #[test]
    fn missing_values_are_empty_and_odd_braces_are_kept() {
        let (c, v) = (ctx(), vars());
        let s = Scope::new(&c, &v);
        assert_eq!(render("[{{contact.email}}]", &s), "[]");
        assert_eq!(render("[{{metadata.nope}}][{{variables.nope.x}}]", &s), "[][]");
        assert_eq!(render("[{{attributes.pets[7].name}}]", &s), "[]");
        assert_eq!(render("a {{ b", &s), "a {{ b");
        assert_eq!(render("no braces", &s), "no braces");
        assert!(has_placeholders("Hi {{contact.name}}"));
        assert!(!has_placeholders("Hi there"));
        assert!(!has_placeholders("Hi {{ there"));
    }

    #[test]
    fn lookups_accept_bare_variable_names() {
        let (c, v) = (ctx(), vars());
        let s = Scope::new(&c, &v);
        assert_eq!(s.lookup("confirmed"), Some(json!(true)));
        assert_eq!(s.lookup("order.status"), Some(json!("shipped")));
        assert_eq!(s.lookup("variables.order.items[0]"), Some(json!({"sku": "A1"})));
        assert_eq!(s.lookup("contact.name"), Some(json!("Alex Morgan")));
        assert_eq!(s.lookup("contact.shoe_size"), None);
        assert_eq!(s.lookup("nothing"), None);
    }

    #[test]
    fn json_bodies_keep_types_of_sole_placeholders() {
        let (c, v) = (ctx(), vars());
        let s = Scope::new(&c, &v);
        let body = json!({"ok": "{{variables.confirmed}}", "who": "Name: {{contact.name}}", "n": 1, "list": ["{{attributes.visits}}"]});
        assert_eq!(
            render_json(&body, &s),
            json!({"ok": true, "who": "Name: Alex Morgan", "n": 1, "list": [3]})
        );
    }
}
