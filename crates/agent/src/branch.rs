//! Branch conditions: `{variable, op, value, handle}`, tried in order; the first that holds
//! names the way on, else `else`.
//!
//! Values are compared loosely, because they come from speech and from contact data typed by
//! people: numbers compare as numbers when both sides read as numbers ("25" equals 25),
//! booleans match yes/no words (a captured `true` equals "yes"), text compares without case,
//! and a captured date compares by its ISO form ("2026-11-26T15:00"), so `greater_than`
//! works on dates too. A missing value satisfies only `not_equals` and `not_exists`.

use crate::template::{render, Scope};
use serde_json::Value;

/// The handle of the first condition that holds, or `"else"`.
pub fn choose(conditions: &[Value], scope: &Scope<'_>) -> String {
    conditions
        .iter()
        .find(|c| holds(c, scope))
        .and_then(|c| c.get("handle").and_then(Value::as_str))
        .unwrap_or("else")
        .to_string()
}

/// Whether one condition holds. A string `value` is a template (`"{{metadata.plan}}"`).
pub fn holds(cond: &Value, scope: &Scope<'_>) -> bool {
    let var = cond.get("variable").and_then(Value::as_str).unwrap_or("");
    let op = cond.get("op").and_then(Value::as_str).unwrap_or("");
    let actual = scope.lookup(var).filter(|v| !v.is_null());
    let expected = match cond.get("value") {
        Some(Value::String(s)) => Value::String(render(s, scope)),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    compare(op, actual.as_ref(), &expected)
}

/// Applies `op` to a value (absent: `None`) and the condition's value.
pub fn compare(op: &str, actual: Option<&Value>, expected: &Value) -> bool {
    match op {
        "exists" => actual.is_some_and(present),
        "not_exists" => !actual.is_some_and(present),
        "equals" => actual.is_some_and(|a| equals(a, expected)),
        "not_equals" => !actual.is_some_and(|a| equals(a, expected)),
        "contains" => actual.is_some_and(|a| contains(a, expected)),
        "greater_than" => actual.is_some_and(|a| order(a, expected) == Some(std::cmp::Ordering::Greater)),
        "less_than" => actual.is_some_and(|a| order(a, expected) == Some(std::cmp::Ordering::Less)),
        "matches" => actual.is_some_and(|a| matches(a, expected)),
        _ => false,
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

/// The text forms a value can be compared by: a date has its ISO form, date and spoken text.
fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.trim().to_lowercase()],
        Value::Object(o) if o.contains_key("iso") || o.contains_key("text") => ["iso", "date", "text"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str))
            .map(|s| s.trim().to_lowercase())
            .collect(),
        other => vec![other.to_string().to_lowercase()],
    }
}

/// The one text a value is ordered and matched by.
fn main_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("iso")
            .or_else(|| o.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "true" | "yes" | "y" => Some(true),
            "false" | "no" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn equals(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x == y;
    }
    if a.is_boolean() || b.is_boolean() {
        return matches!((boolean(a), boolean(b)), (Some(x), Some(y)) if x == y);
    }
    let want = texts(b);
    texts(a).iter().any(|t| want.contains(t))
}

fn contains(a: &Value, b: &Value) -> bool {
    if let Value::Array(items) = a {
        return items.iter().any(|i| equals(i, b));
    }
    let Some(needle) = texts(b).into_iter().next() else {
        return false;
    };
    texts(a).iter().any(|t| t.contains(&needle))
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    let (x, y) = (main_text(a), main_text(b));
    if x.is_empty() || y.is_empty() {
        return None;
    }
    Some(x.cmp(&y))
}

fn matches(a: &Value, pattern: &Value) -> bool {
    let Some(p) = pattern.as_str() else { return false };
    match regex::RegexBuilder::new(p).size_limit(1 << 20).build() {
        Ok(re) => re.is_match(&main_text(a)),
        Err(e) => {
            tracing::warn!(pattern = p, error = %e, "branch condition: invalid regular expression");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::CallContext;
    use serde_json::{json, Map};

    fn check(op: &str, actual: Value, expected: Value) -> bool {
        let a = (!actual.is_null()).then_some(actual);
        compare(op, a.as_ref(), &expected)
    }

    #[test]
    fn ops() {
        assert!(check("equals", json!("Yes"), json!("yes")));
        assert!(check("equals", json!(25), json!("25")));
        assert!(check("equals", json!("25.0"), json!(25)));
        assert!(check("equals", json!(true), json!("yes")));
        assert!(check("equals", json!(false), json!(false)));
        assert!(!check("equals", json!(true), json!("no")));
        assert!(!check("equals", Value::Null, json!("")));
        assert!(check("not_equals", json!("gold"), json!("silver")));
        assert!(check("not_equals", Value::Null, json!("x")));
        assert!(check("contains", json!("Thursday at three"), json!("THURSDAY")));
        assert!(check("contains", json!(["a", "b"]), json!("b")));
        assert!(!check("contains", json!(["a", "b"]), json!("c")));
        assert!(check("greater_than", json!(10), json!(9)));
        assert!(
            check("greater_than", json!("10"), json!("9")),
            "numeric, not lexicographic"
        );
        assert!(!check("greater_than", json!(3), json!(3)));
        assert!(check("less_than", json!(2.5), json!(3)));
        assert!(!check("less_than", Value::Null, json!(3)));
        assert!(check("exists", json!("x"), Value::Null));
        assert!(check("exists", json!(false), Value::Null));
        assert!(!check("exists", json!("  "), Value::Null));
        assert!(!check("exists", Value::Null, Value::Null));
        assert!(check("not_exists", Value::Null, Value::Null));
        assert!(check("not_exists", json!([]), Value::Null));
        assert!(check("matches", json!("ORD-1234"), json!(r"^ORD-\d+$")));
        assert!(!check("matches", json!("ord-1234"), json!(r"^ORD-\d+$")));
        assert!(check("matches", json!("ord-1234"), json!(r"(?i)^ORD-\d+$")));
        assert!(!check("matches", json!("x"), json!("(unclosed")));
        assert!(!check("teleport", json!("x"), json!("x")));
    }

    #[test]
    fn dates_compare_by_iso_and_text() {
        let d =
            json!({"text": "Thursday at three pm", "date": "2026-11-26", "time": "15:00", "iso": "2026-11-26T15:00"});
        assert!(check("equals", d.clone(), json!("2026-11-26")));
        assert!(check("equals", d.clone(), json!("thursday at three pm")));
        assert!(check("greater_than", d.clone(), json!("2026-11-26T09:00")));
        assert!(check("less_than", d.clone(), json!("2026-12-01")));
        assert!(check("contains", d.clone(), json!("15:00")));
        assert!(check("matches", d, json!(r"T15:\d\d$")));
    }

    #[test]
    fn choose_reads_every_kind_of_name() {
        let ctx = CallContext {
            contact_name: Some("Alex".into()),
            attributes: json!({"plan": "gold", "visits": 7}),
            metadata: [("region".to_string(), "west".to_string())].into(),
            ..Default::default()
        };
        let vars: Map<String, Value> = json!({"confirmed": false, "count": 3}).as_object().unwrap().clone();
        let s = Scope::new(&ctx, &vars);
        let conds = |v: Value| v.as_array().unwrap().clone();
        let c = conds(json!([
            {"variable": "confirmed", "op": "equals", "value": true, "handle": "yes"},
            {"variable": "variables.count", "op": "greater_than", "value": 5, "handle": "many"},
            {"variable": "attributes.visits", "op": "greater_than", "value": 5, "handle": "regular"}
        ]));
        assert_eq!(choose(&c, &s), "regular");
        let c = conds(json!([
            {"variable": "metadata.region", "op": "equals", "value": "{{attributes.region_override}}west", "handle": "w"}
        ]));
        assert_eq!(choose(&c, &s), "w", "values are templates");
        let c = conds(json!([{"variable": "contact.email", "op": "exists", "handle": "email"}]));
        assert_eq!(choose(&c, &s), "else");
        assert_eq!(choose(&[], &s), "else");
    }
}
