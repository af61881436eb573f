//! The comparisons of a condition step.
//!
//! Each rule's `variable` is an expression evaluated strictly ([`Templates::eval`]: an undefined
//! variable is an error), except for `exists` / `not_exists`, which look it up leniently
//! ([`Templates::lookup`]). Its `value` is a template rendered with [`Templates::render`].
//!
//! Rules are evaluated in order and evaluation stops once the outcome is decided (the first
//! false rule of `all`, the first true rule of `any`), so an `exists` rule can guard the rules
//! after it. The recorded [`Evaluation`] lists the rules that were evaluated.
//!
//! Semantics (the right side is trimmed, except for `matches`):
//! - `equals` / `not_equals`: numerically when both sides are numbers (or strings that parse as
//!   finite numbers); a boolean against `true` / `false`; otherwise string equality
//!   (case-sensitive) of the trimmed left side's text (null is the empty string, lists and
//!   objects their JSON);
//! - `contains` / `not_contains`: substring of a string (or of a number's or bool's text),
//!   membership in a list (an element `equals` the value), a key of an object; null contains
//!   nothing;
//! - `greater` / `less`: numerically when both sides are numbers, else as times when both parse as
//!   RFC 3339, else an error;
//! - `exists` / `not_exists`: defined and not null;
//! - `matches`: a regular expression (the `regex` crate, [`REGEX_SIZE_LIMIT`]) searched in the left
//!   side's text; an invalid expression is an error.

use crate::model::{Match, Op, Rule};
use crate::template::{TemplateError, TemplateErrorKind, Templates};
use chrono::{DateTime, FixedOffset};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The compiled size limit of a `matches` regular expression.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The outcome of a condition step (its recorded output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub matched: bool,
    pub rules: Vec<RuleResult>,
}

/// One evaluated rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub variable: String,
    pub op: Op,
    /// The variable's value (null when it does not exist, for `exists` / `not_exists`).
    pub left: Value,
    /// The rendered `value` (empty for `exists` / `not_exists`).
    pub right: String,
    pub result: bool,
}

/// Evaluates a condition's rules against the run's variables.
pub fn evaluate(templates: &Templates, mode: Match, rules: &[Rule], vars: &Value) -> Result<Evaluation, TemplateError> {
    let mut results = Vec::with_capacity(rules.len());
    let mut matched = match mode {
        Match::All => true,
        Match::Any => false,
    };
    for (i, rule) in rules.iter().enumerate() {
        let at = |e: TemplateError| TemplateError {
            message: format!(
                "rule {} (`{}` {}): {}",
                i + 1,
                rule.variable,
                op_name(rule.op),
                e.message
            ),
            ..e
        };
        let r = evaluate_rule(templates, rule, vars).map_err(at)?;
        let result = r.result;
        results.push(r);
        match mode {
            Match::All if !result => {
                matched = false;
                break;
            }
            Match::Any if result => {
                matched = true;
                break;
            }
            _ => {}
        }
    }
    Ok(Evaluation {
        matched,
        rules: results,
    })
}

/// Evaluates one rule.
pub fn evaluate_rule(templates: &Templates, rule: &Rule, vars: &Value) -> Result<RuleResult, TemplateError> {
    let variable = rule.variable.trim();
    if matches!(rule.op, Op::Exists | Op::NotExists) {
        let left = templates.lookup(variable, vars)?.unwrap_or(Value::Null);
        let exists = !left.is_null();
        return Ok(RuleResult {
            variable: rule.variable.clone(),
            op: rule.op,
            left,
            right: String::new(),
            result: exists == (rule.op == Op::Exists),
        });
    }
    let left = templates.eval(variable, vars)?;
    let raw = templates.render(rule.value.as_deref().unwrap_or(""), vars)?;
    let right = if rule.op == Op::Matches {
        raw
    } else {
        raw.trim().to_string()
    };
    let result = compare(rule.op, &left, &right)?;
    Ok(RuleResult {
        variable: rule.variable.clone(),
        op: rule.op,
        left,
        right,
        result,
    })
}

/// Applies `op` to a value and a (rendered) right side.
pub fn compare(op: Op, left: &Value, right: &str) -> Result<bool, TemplateError> {
    Ok(match op {
        Op::Equals => equals(left, right),
        Op::NotEquals => !equals(left, right),
        Op::Contains => contains(left, right),
        Op::NotContains => !contains(left, right),
        Op::Greater => order(left, right)?.is_gt(),
        Op::Less => order(left, right)?.is_lt(),
        Op::Exists => !left.is_null(),
        Op::NotExists => left.is_null(),
        Op::Matches => build_regex(right)
            .map_err(|e| TemplateError::new(TemplateErrorKind::Comparison, e))?
            .is_match(&text(left)),
    })
}

/// Compiles a `matches` pattern with the size limits.
pub fn build_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            // Parse errors are drawn over several lines; their last line says what is wrong.
            let text = e.to_string();
            let last = text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            format!(
                "invalid regular expression: {}",
                last.strip_prefix("error: ").unwrap_or(last)
            )
        })
}

fn op_name(op: Op) -> String {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The text of a value: strings as they are, null as nothing, lists and objects as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn equals(left: &Value, right: &str) -> bool {
    if let (Some(l), Some(r)) = (number(left), parse_number(right)) {
        return l == r;
    }
    if let Value::Bool(b) = left {
        match right {
            "true" => return *b,
            "false" => return !*b,
            _ => {}
        }
    }
    text(left).trim() == right
}

fn contains(left: &Value, right: &str) -> bool {
    match left {
        Value::Null => false,
        Value::Array(items) => items.iter().any(|i| equals(i, right)),
        Value::Object(map) => map.contains_key(right),
        other => text(other).contains(right),
    }
}

fn time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

fn order(left: &Value, right: &str) -> Result<std::cmp::Ordering, TemplateError> {
    if let (Some(l), Some(r)) = (number(left), parse_number(right)) {
        return Ok(l.total_cmp(&r));
    }
    if let (Some(l), Some(r)) = (left.as_str().and_then(time), time(right)) {
        return Ok(l.cmp(&r));
    }
    Err(TemplateError::new(
        TemplateErrorKind::Comparison,
        format!(
            "cannot compare {} and {:?} as numbers or times",
            shorten(&left.to_string()),
            right
        ),
    ))
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Value {
        json!({
            "trigger": {"payload": {"n": 5, "s": " 5.0 ", "name": "Alex Morgan", "flag": true,
                "tags": ["vip", "new", 3], "obj": {"k": 1}, "nil": null,
                "when": "2025-03-01T10:00:00Z", "email": "a@b.co"}},
            "steps": {"call": {"outcome": "confirmed", "status": "ENDED"}}
        })
    }

    fn rule(variable: &str, op: Op, value: Option<&str>) -> Rule {
        Rule {
            variable: variable.into(),
            op,
            value: value.map(str::to_string),
        }
    }

    fn check(variable: &str, op: Op, value: &str) -> bool {
        let t = Templates::new();
        let value = if op.needs_value() { Some(value) } else { None };
        evaluate_rule(&t, &rule(variable, op, value), &vars()).unwrap().result
    }

    fn fails(variable: &str, op: Op, value: &str) -> String {
        let t = Templates::new();
        evaluate_rule(&t, &rule(variable, op, Some(value)), &vars())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn equals_and_not_equals() {
        assert!(check("trigger.payload.n", Op::Equals, "5"));
        assert!(check("trigger.payload.n", Op::Equals, " 5.00 "));
        assert!(
            check("trigger.payload.s", Op::Equals, "5"),
            "numeric strings compare as numbers"
        );
        assert!(check("trigger.payload.flag", Op::Equals, "true"));
        assert!(!check("trigger.payload.flag", Op::Equals, "false"));
        assert!(check("steps.call.outcome", Op::Equals, "confirmed "));
        assert!(!check("steps.call.outcome", Op::Equals, "Confirmed"), "case-sensitive");
        assert!(check("steps.call.outcome", Op::NotEquals, "declined"));
        assert!(check("trigger.payload.nil", Op::Equals, ""));
        assert!(
            check("trigger.payload.name", Op::Equals, "{{ 'Alex' }} Morgan"),
            "the value is a template"
        );
        assert!(fails("trigger.payload.missing", Op::Equals, "x").contains("trigger.payload.missing is not defined"));
    }

    #[test]
    fn contains_and_not_contains() {
        assert!(check("trigger.payload.name", Op::Contains, "Morgan"));
        assert!(!check("trigger.payload.name", Op::Contains, "morgan"));
        assert!(check("trigger.payload.tags", Op::Contains, "vip"));
        assert!(check("trigger.payload.tags", Op::Contains, "3"));
        assert!(
            !check("trigger.payload.tags", Op::Contains, "vi"),
            "membership, not substring"
        );
        assert!(check("trigger.payload.obj", Op::Contains, "k"));
        assert!(check("trigger.payload.obj", Op::NotContains, "j"));
        assert!(check("trigger.payload.nil", Op::NotContains, "x"));
    }

    #[test]
    fn greater_and_less() {
        assert!(check("trigger.payload.n", Op::Greater, "4.5"));
        assert!(
            check("trigger.payload.n", Op::Less, "10"),
            "10 > 5 as numbers, not as text"
        );
        assert!(!check("trigger.payload.n", Op::Less, "5"));
        assert!(check("trigger.payload.when", Op::Greater, "2025-03-01T09:00:00Z"));
        assert!(check("trigger.payload.when", Op::Less, "2025-03-01T06:00:00-05:00"));
        let e = fails("trigger.payload.name", Op::Greater, "3");
        assert!(e.contains("cannot compare") && e.contains("as numbers or times"), "{e}");
    }

    #[test]
    fn exists_and_not_exists() {
        assert!(check("trigger.payload.n", Op::Exists, ""));
        assert!(!check("trigger.payload.nil", Op::Exists, ""), "null does not exist");
        assert!(check("trigger.payload.missing", Op::NotExists, ""));
        assert!(check("trigger.payload.missing.deeper", Op::NotExists, ""));
        assert!(check("contact.name", Op::NotExists, ""));
    }

    #[test]
    fn matches() {
        assert!(check("trigger.payload.email", Op::Matches, r"^[^@]+@[^@]+\.[a-z]+$"));
        assert!(!check("trigger.payload.name", Op::Matches, "^morgan"));
        assert!(check("trigger.payload.name", Op::Matches, "(?i)^alex"));
        let e = fails("trigger.payload.name", Op::Matches, "(unclosed");
        assert!(e.contains("invalid regular expression"), "{e}");
        let e = fails("trigger.payload.name", Op::Matches, r"\w{1000}{1000}");
        assert!(e.contains("invalid regular expression"), "size-limited: {e}");
    }

    #[test]
    fn modes_short_circuit_and_record_rules() {
        let t = Templates::new();
        let guarded = [
            rule("trigger.payload.missing", Op::Exists, None),
            rule("trigger.payload.missing", Op::Equals, Some("x")),
        ];
        let ev = evaluate(&t, Match::All, &guarded, &vars()).unwrap();
        assert!(!ev.matched);
        assert_eq!(ev.rules.len(), 1, "the guard stops evaluation");

        let rules = [
            rule("steps.call.outcome", Op::Equals, Some("declined")),
            rule("steps.call.status", Op::Equals, Some("ENDED")),
        ];
        let any = evaluate(&t, Match::Any, &rules, &vars()).unwrap();
        assert!(any.matched);
        let all = evaluate(&t, Match::All, &rules, &vars()).unwrap();
        assert!(!all.matched);
        let out = serde_json::to_value(&any).unwrap();
        assert_eq!(
            out["rules"][1],
            json!({"variable": "steps.call.status", "op": "equals", "left": "ENDED", "right": "ENDED", "result": true})
        );

        let e = evaluate(&t, Match::All, &[rule("steps.nope", Op::Equals, Some("x"))], &vars()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("rule 1 (`steps.nope` equals): undefined value: steps.nope"),
            "{e}"
        );
    }
}
