//! The sandboxed template engine: `{{ trigger.payload.a.b[0] }}`, `{{ steps.call.outcome }}`.
//!
//! A thin wrapper over one [`minijinja::Environment`], built once ([`Templates::new`]) and shared:
//!
//! - strict undefined: a variable that does not exist is an error naming its path
//!   (`undefined value: trigger.payload.email is not defined`), never a silent empty string;
//! - no loader (`include`, `import`, `extends` are not even part of the syntax: minijinja is
//!   built without `multi_template`), no file or network access;
//! - bounded work: fuel ([`FUEL`] instructions per render or evaluation) and a recursion limit;
//! - bounded memory and time in the server: see *Memory* below;
//! - bounded output: [`MAX_OUTPUT`] bytes per render;
//! - auto-escape off (the output goes to phone numbers, URLs, JSON bodies, not HTML).
//!
//! Printing: `none` (JSON null) prints as nothing, maps and lists print as compact JSON (so
//! `{{ trigger.payload }}` inside a request body is usable), everything else as minijinja prints
//! it. The builtin filters and tests (`default`, `upper`, `lower`, `tojson`, `urlencode`, `is
//! defined`, ...) are available, and the builtin functions (`range`, `dict`, `namespace`).
//!
//! Variables a run exposes (see [`ROOTS`]): `trigger` (`{payload}`), `steps` (`{<slug>: output}`),
//! `contact`, `automation` (`{id, name, time_zone}`), `run` (`{id, started}`), `loop`
//! (`{item, index}` in a loop body; note a template's own `{% for %}` shadows it with minijinja's
//! loop object) and `now` (RFC 3339).
//!
//! Memory: fuel counts template instructions, and one instruction can allocate without bound
//! (`"x" * n`, `a ~ a`, `replace`). So the server renders only plain look-ups in its own
//! process; every other template runs in a worker process under an operating-system memory
//! limit and a timeout ([`isolation`]; which templates are plain: [`simple`]).
//!
//! minijinja is built without `macros` and `multi_template`: no `{% macro %}`, `{% include %}`,
//! `{% import %}` or `{% extends %}` (they are syntax errors). (`macros` also has to stay off
//! because minijinja 2.24 does not compile with `fuel` + `macros` without `multi_template`.)

pub mod isolation;
pub mod simple;

use isolation::{Request, WorkerPool};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::sync::Arc;

/// Instructions one render or evaluation may execute.
pub const FUEL: u64 = 50_000;
/// Nesting depth of blocks, loops and macro calls.
pub const RECURSION_LIMIT: usize = 64;
/// The largest output one render may produce, in bytes.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// The variables a run exposes; every variable a template reads starts with one of them.
pub const ROOTS: [&str; 7] = ["trigger", "steps", "contact", "automation", "run", "loop", "now"];

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateErrorKind {
    /// The template or expression does not parse.
    Syntax,
    /// A variable (or an attribute or item of one) does not exist.
    Undefined,
    /// The template ran out of fuel (too much work).
    OutOfFuel,
    /// The output exceeded [`MAX_OUTPUT`].
    OutputTooLarge,
    /// The render needed more memory than its budget (it ran in an isolated worker, which
    /// was stopped; see [`isolation`]).
    OutOfMemory,
    /// Any other error while rendering (unknown filter, bad operation, ...).
    Render,
    /// A condition could not compare its two sides (see [`crate::condition`]).
    Comparison,
}

impl TemplateErrorKind {
    /// Whether the render was stopped for the resources it used, not for what it means.
    pub fn is_budget(self) -> bool {
        matches!(
            self,
            TemplateErrorKind::OutOfFuel | TemplateErrorKind::OutOfMemory | TemplateErrorKind::OutputTooLarge
        )
    }
}

/// A template that does not parse, or that failed to render or evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct TemplateError {
    pub kind: TemplateErrorKind,
    /// e.g. `undefined value: trigger.payload.email is not defined`.
    pub message: String,
    /// 1-based line of the template, when known.
    pub line: Option<usize>,
    /// The part of the template that failed (or its line), shortened.
    pub snippet: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (&self.snippet, self.line) {
            (Some(s), Some(l)) => write!(f, " (line {l}: `{s}`)"),
            (Some(s), None) => write!(f, " (in `{s}`)"),
            (None, Some(l)) if l > 1 => write!(f, " (line {l})"),
            _ => Ok(()),
        }
    }
}

impl TemplateError {
    pub fn new(kind: TemplateErrorKind, message: impl Into<String>) -> Self {
        TemplateError {
            kind,
            message: message.into(),
            line: None,
            snippet: None,
        }
    }
}

/// Whether `s` holds no template syntax (no `{{`, `{%` or `{#`): it renders as itself.
fn is_literal(s: &str) -> bool {
    !(s.contains("{{") || s.contains("{%") || s.contains("{#"))
}

/// The template engine, built once and shared (it is `Send + Sync`).
///
/// Built with [`Templates::new`] it renders everything in this process: for trusted templates
/// (tests, benchmarks) and for the worker itself. Built with [`Templates::isolated`] it renders
/// plain look-ups (`{{ trigger.payload.phone }}`, see [`simple`]) here and everything else in a
/// worker process with a memory limit ([`isolation`]); that is how the server runs.
#[derive(Debug, Clone)]
pub struct Templates {
    env: Environment<'static>,
    isolation: Option<Arc<WorkerPool>>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(true);
        env.set_debug(false);
        env.set_formatter(|out, state, value| {
            if value.is_none() || value.is_undefined() {
                // `none` (JSON null) and the silent undefined of `{{ x if c }}` print nothing.
                return Ok(());
            }
            if matches!(
                value.kind(),
                minijinja::value::ValueKind::Map | minijinja::value::ValueKind::Seq
            ) {
                if let Ok(json) = serde_json::to_string(value) {
                    return out
                        .write_str(&json)
                        .map_err(|_| minijinja::Error::from(ErrorKind::WriteFailure));
                }
            }
            minijinja::escape_formatter(out, state, value)
        });
        Templates { env, isolation: None }
    }

    /// An engine that renders anything beyond plain look-ups in `pool`'s worker processes.
    pub fn isolated(pool: Arc<WorkerPool>) -> Self {
        Templates {
            isolation: Some(pool),
            ..Self::new()
        }
    }

    /// The worker pool, when `source` must not run in this process.
    fn isolate(&self, plain: bool) -> Option<&WorkerPool> {
        self.isolation.as_deref().filter(|_| !plain)
    }

    /// Renders a template with the run's variables (a JSON object).
    pub fn render(&self, template: &str, vars: &Value) -> Result<String, TemplateError> {
        if is_literal(template) && template.len() <= MAX_OUTPUT {
            // Most fields of most steps (a tag, a URL, an outcome) hold no template at all: they
            // render as themselves, without compiling or converting the run's variables.
            return Ok(template.to_string());
        }
        if let Some(pool) = self.isolate(simple::is_plain_lookup_template(template)) {
            let value = pool.call(&Request::Render {
                source: template.to_string(),
                vars: vars.clone(),
            })?;
            return match value {
                Value::String(s) if s.len() <= MAX_OUTPUT => Ok(s),
                _ => Err(TemplateError::new(
                    TemplateErrorKind::Render,
                    "the template worker answered something other than text",
                )),
            };
        }
        let tmpl = self
            .env
            .template_from_str(template)
            .map_err(|e| convert(e, template, false, vars))?;
        let mut out = Limited {
            buf: Vec::new(),
            exceeded: false,
        };
        match tmpl.render_captured_to(vars, &mut out) {
            Ok(_) => Ok(String::from_utf8(out.buf).expect("templates write UTF-8")),
            Err(_) if out.exceeded => Err(TemplateError::new(
                TemplateErrorKind::OutputTooLarge,
                format!("the template's output exceeds {MAX_OUTPUT} bytes"),
            )),
            Err(e) => Err(convert(e, template, false, vars)),
        }
    }

    /// Renders every string leaf of a JSON value (object keys are kept as they are). A string
    /// that is one `{{ expr }}` and nothing else (surrounding whitespace aside) keeps the
    /// expression's JSON type: `"{{ trigger.payload.count }}"` becomes `3`, not `"3"`.
    pub fn render_value(&self, v: &Value, vars: &Value) -> Result<Value, TemplateError> {
        if let Some(pool) = self.isolate(all_plain(v)) {
            // One round trip for the whole value rather than one per field.
            return pool.call(&Request::RenderValue {
                value: v.clone(),
                vars: vars.clone(),
            });
        }
        Ok(match v {
            Value::String(s) => match sole_expression(s) {
                Some(expr) => self.eval(expr, vars)?,
                None => Value::String(self.render(s, vars)?),
            },
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.render_value(i, vars))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, i)| Ok((k.clone(), self.render_value(i, vars)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Evaluates an expression (`trigger.payload.leads`, `steps.a.count + 1`) to JSON. Strict: an
    /// undefined result is an error naming the path.
    pub fn eval(&self, expr: &str, vars: &Value) -> Result<Value, TemplateError> {
        if let Some(pool) = self.isolate(simple::is_plain_path(expr.trim())) {
            return pool.call(&Request::Eval {
                source: expr.to_string(),
                vars: vars.clone(),
            });
        }
        let compiled = self
            .env
            .compile_expression(expr)
            .map_err(|e| convert(e, expr, true, vars))?;
        let value = compiled.eval(vars).map_err(|e| convert(e, expr, true, vars))?;
        if value.is_undefined() {
            return Err(undefined_error(expr, true, vars, None));
        }
        serde_json::to_value(&value).map_err(|e| {
            TemplateError::new(
                TemplateErrorKind::Render,
                format!("the value of `{expr}` is not data: {e}"),
            )
        })
    }

    /// Evaluates an expression leniently: `Ok(None)` when it is undefined or fails to evaluate;
    /// `Ok(Some(Value::Null))` when it is defined as null. A render stopped for its budget
    /// (memory, time, output) is an error, not an absent value: the step must not go on as if
    /// the expression had simply been missing.
    pub fn lookup(&self, path: &str, vars: &Value) -> Result<Option<Value>, TemplateError> {
        match self.eval(path, vars) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind.is_budget() => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// Checks a template's syntax and returns the variable paths it reads, as far as they are
    /// attribute chains (`trigger.payload.a.b` for `trigger.payload.a.b[0]`; `steps` for
    /// `steps[x]`). Names the template assigns itself (`set`, `for`) are not included, nor are
    /// the builtin functions (`range`, `dict`, ...).
    pub fn variables(&self, template: &str) -> Result<BTreeSet<String>, TemplateError> {
        if let Some(pool) = self.isolate(simple::is_plain_lookup_template(template)) {
            return variables_of(pool.call(&Request::Variables {
                source: template.to_string(),
                expression: false,
            })?);
        }
        let tmpl = self
            .env
            .template_from_str(template)
            .map_err(|e| convert(e, template, false, &Value::Null))?;
        Ok(self.without_globals(tmpl.undeclared_variables(true)))
    }

    /// The same as [`Templates::variables`] for an expression.
    pub fn expression_variables(&self, expr: &str) -> Result<BTreeSet<String>, TemplateError> {
        if let Some(pool) = self.isolate(simple::is_plain_path(expr.trim())) {
            return variables_of(pool.call(&Request::Variables {
                source: expr.to_string(),
                expression: true,
            })?);
        }
        let compiled = self
            .env
            .compile_expression(expr)
            .map_err(|e| convert(e, expr, true, &Value::Null))?;
        Ok(self.without_globals(compiled.undeclared_variables(true)))
    }

    fn without_globals(&self, vars: impl IntoIterator<Item = String>) -> BTreeSet<String> {
        vars.into_iter()
            .filter(|v| {
                let root = v.split('.').next().unwrap_or(v);
                ROOTS.contains(&root) || !self.env.globals().any(|(name, _)| name == root)
            })
            .collect()
    }
}

/// A worker's list of variable names.
fn variables_of(v: Value) -> Result<BTreeSet<String>, TemplateError> {
    match v {
        Value::Array(items) => Ok(items
            .into_iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect()),
        _ => Err(TemplateError::new(
            TemplateErrorKind::Render,
            "the template worker answered something other than names",
        )),
    }
}

/// Whether every string leaf of `v` renders in this process (see [`simple`]).
fn all_plain(v: &Value) -> bool {
    match v {
        Value::String(s) => is_literal(s) || simple::is_plain_lookup_template(s),
        Value::Array(items) => items.iter().all(all_plain),
        Value::Object(map) => map.values().all(all_plain),
        _ => true,
    }
}

/// `{{ expr }}` alone (outer whitespace aside): the expression inside.
fn sole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if ["{{", "}}", "{%", "%}", "{#", "#}"].iter().any(|m| inner.contains(m)) || inner.trim().is_empty() {
        return None;
    }
    Some(inner.trim())
}

/// An `io::Write` that refuses to grow past [`MAX_OUTPUT`].
struct Limited {
    buf: Vec<u8>,
    exceeded: bool,
}

impl io::Write for Limited {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > MAX_OUTPUT {
            self.exceeded = true;
            return Err(io::Error::other("template output too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const SNIPPET_MAX: usize = 80;

fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= SNIPPET_MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(SNIPPET_MAX).collect();
        out.push('…');
        out
    }
}

/// The text of the failing span (or its line when the span is missing or long).
fn snippet_of(e: &minijinja::Error, source: &str) -> Option<String> {
    // A syntax error's span is one token; its line says more.
    let syntax = matches!(e.kind(), ErrorKind::SyntaxError | ErrorKind::BadEscape);
    if let Some(range) = e.range().filter(|_| !syntax) {
        if let Some(text) = source.get(range) {
            if !text.trim().is_empty() && !text.contains('\n') {
                return Some(shorten(text));
            }
        }
    }
    let line = e.line()?;
    source
        .lines()
        .nth(line.checked_sub(1)?)
        .map(shorten)
        .filter(|l| !l.is_empty())
}

fn convert(e: minijinja::Error, source: &str, is_expr: bool, vars: &Value) -> TemplateError {
    let line = e.line();
    let snippet = snippet_of(&e, source);
    let (kind, message) = match e.kind() {
        ErrorKind::SyntaxError | ErrorKind::BadEscape => (TemplateErrorKind::Syntax, describe(&e)),
        ErrorKind::UndefinedError => {
            let mut err = undefined_error(source, is_expr, vars, snippet.as_deref());
            err.line = line;
            return err;
        }
        ErrorKind::OutOfFuel => (
            TemplateErrorKind::OutOfFuel,
            "the template does too much work (ran out of fuel; loops are limited)".to_string(),
        ),
        _ => (TemplateErrorKind::Render, describe(&e)),
    };
    TemplateError {
        kind,
        message,
        line,
        snippet,
    }
}

/// `syntax error: unexpected end of input` (without minijinja's `(in <string>:1)`).
fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// Names the undefined variable: the first path the failing part reads (the error's span when
/// minijinja gives one, else the whole source) whose shortest undefined prefix is found in
/// `vars`.
fn undefined_error(source: &str, is_expr: bool, vars: &Value, span: Option<&str>) -> TemplateError {
    let mut err = TemplateError::new(TemplateErrorKind::Undefined, "undefined value");
    let named = span
        .and_then(|s| {
            let s = s.trim().trim_start_matches("{{").trim_end_matches("}}");
            first_undefined(s, true, vars).or_else(|| first_undefined(s, false, vars))
        })
        .or_else(|| first_undefined(source, is_expr, vars));
    match named {
        Some(path) => err.message = format!("undefined value: {path} is not defined"),
        None => err.snippet = span.map(str::to_string).or_else(|| Some(shorten(source))),
    }
    err
}

fn first_undefined(source: &str, is_expr: bool, vars: &Value) -> Option<String> {
    // The paths the source reads, in source order.
    let env = Environment::new();
    let paths = if is_expr {
        env.compile_expression(source).ok()?.undeclared_variables(true)
    } else {
        env.template_from_str(source).ok()?.undeclared_variables(true)
    };
    let mut paths: Vec<String> = paths.into_iter().collect();
    paths.sort_by_key(|p| (source.find(p.as_str()).unwrap_or(usize::MAX), p.clone()));
    paths.iter().find_map(|p| undefined_prefix(p, vars))
}

/// The shortest prefix of a dotted path that does not exist in `vars`.
fn undefined_prefix(path: &str, vars: &Value) -> Option<String> {
    let mut cur = vars;
    let mut end = 0;
    for (i, seg) in path.split('.').enumerate() {
        end += seg.len() + usize::from(i > 0);
        let next = match cur {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Some(path[..end].to_string()),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Value {
        json!({
            "trigger": {"payload": {"a": {"b": [10, 20]}, "email": "x@y.z", "n": 3, "flag": true,
                                    "leads": [{"phone": "+1"}, {"phone": "+2"}], "nothing": null}},
            "steps": {"call": {"outcome": "confirmed", "variables": {"day": "Thu"}}},
            "contact": {"name": "Alex"},
            "automation": {"id": "abc", "name": "A", "time_zone": "UTC"},
            "now": "2025-01-01T00:00:00Z"
        })
    }

    #[test]
    fn text_without_template_syntax_renders_as_the_engine_would() {
        let t = Templates::new();
        let v = vars();
        for text in [
            "",
            "bench",
            "https://x.test/hook?a=1&b={x}",
            "a } b { c }}",
            "line\r\nnext\n\n",
            "%} #}",
        ] {
            assert!(is_literal(text), "{text:?}");
            let engine = t.env.template_from_str(text).unwrap().render(&v).unwrap();
            assert_eq!(t.render(text, &v).unwrap(), engine, "{text:?}");
        }
        for text in ["{{ x }}", "a {% if true %}b{% endif %}", "{# note #}"] {
            assert!(!is_literal(text), "{text:?}");
        }
    }

    #[test]
    fn renders_nested_paths_and_indexes() {
        let t = Templates::new();
        let v = vars();
        assert_eq!(
            t.render("{{ trigger.payload.a.b[0] }}-{{ trigger.payload.a.b[1] }}", &v)
                .unwrap(),
            "10-20"
        );
        assert_eq!(
            t.render("{{ steps.call.variables.day }} {{ contact.name | upper }}", &v)
                .unwrap(),
            "Thu ALEX"
        );
        assert_eq!(t.render("{{ trigger.payload.leads[1].phone }}", &v).unwrap(), "+2");
        assert_eq!(
            t.render("{{ trigger.payload.missing | default('none') }}", &v).unwrap(),
            "none"
        );
        assert_eq!(t.render("[{{ trigger.payload.nothing }}]", &v).unwrap(), "[]");
        assert_eq!(t.render("{{ trigger.payload.a }}", &v).unwrap(), r#"{"b":[10,20]}"#);
        assert_eq!(
            t.render("{{ trigger.payload.a | tojson }}", &v).unwrap(),
            r#"{"b":[10,20]}"#
        );
        assert_eq!(
            t.render("<{{ '&' }}>\n", &v).unwrap(),
            "<&>\n",
            "no escaping, newline kept"
        );
        assert_eq!(
            t.render(
                "{% for l in trigger.payload.leads %}{{ loop.index }}{{ l.phone }};{% endfor %}",
                &v
            )
            .unwrap(),
            "1+1;2+2;"
        );
    }

    #[test]
    fn undefined_values_are_errors_naming_the_path() {
        let t = Templates::new();
        let v = vars();
        let e = t.render("Hi {{ trigger.payload.emial }}", &v).unwrap_err();
        assert_eq!(e.kind, TemplateErrorKind::Undefined);
        assert!(
            e.to_string()
                .starts_with("undefined value: trigger.payload.emial is not defined"),
            "{e}"
        );

        let e = t.render("{{ trigger.payload.x.y.z }}", &v).unwrap_err();
        assert!(e.to_string().contains("trigger.payload.x is not defined"), "{e}");

        let e = t
            .render("line\n{% if steps.nope.outcome == 'a' %}y{% endif %}", &v)
            .unwrap_err();
        assert!(e.to_string().contains("steps.nope is not defined"), "{e}");
        assert_eq!(e.line, Some(2));

        let e = t.eval("trigger.payload.leads[5]", &v).unwrap_err();
        assert_eq!(e.kind, TemplateErrorKind::Undefined);
        assert!(e.to_string().contains("trigger.payload.leads[5]"), "{e}");

        let e = t.render("{{ contact.name }}", &json!({"trigger": {}})).unwrap_err();
        assert!(e.to_string().contains("contact is not defined"), "{e}");
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let t = Templates::new();
        let started = std::time::Instant::now();
        let e = t
            .render(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                &vars(),
            )
            .unwrap_err();
        assert_eq!(e.kind, TemplateErrorKind::OutOfFuel, "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let e = t.render(
            "{% set ns = namespace(n=0) %}{% for i in range(60000) %}{% set ns.n = ns.n + i %}{% endfor %}",
            &vars(),
        );
        assert_eq!(e.unwrap_err().kind, TemplateErrorKind::OutOfFuel);
    }

    #[test]
    fn output_is_limited() {
        let t = Templates::new();
        let e = t.render("{{ 'x' * 70000 }}", &vars()).unwrap_err();
        assert_eq!(e.kind, TemplateErrorKind::OutputTooLarge, "{e}");
        assert!(e.to_string().contains("65536"), "{e}");
        assert_eq!(t.render("{{ 'x' * 1000 }}", &vars()).unwrap().len(), 1000);
    }

    #[test]
    fn there_is_no_loader() {
        let t = Templates::new();
        for src in [
            "{% include 'x.txt' %}",
            "{% import 'm' as m %}",
            "{% extends 'base' %}",
            "{% from 'a' import b %}",
        ] {
            let e = t.render(src, &vars()).unwrap_err();
            assert_eq!(e.kind, TemplateErrorKind::Syntax, "{src}: {e}");
            assert!(t.variables(src).is_err());
        }
    }

    #[test]
    fn render_value_keeps_types() {
        let t = Templates::new();
        let body = json!({
            "n": "{{ trigger.payload.n }}",
            "flag": " {{ trigger.payload.flag }} ",
            "obj": "{{ trigger.payload.a }}",
            "list": ["{{ trigger.payload.a.b }}", "#{{ trigger.payload.n }}", 5, null],
            "null": "{{ trigger.payload.nothing }}",
            "text": "{{ contact.name }} says {{ steps.call.outcome }}",
            "sum": "{{ trigger.payload.n + 1 }}",
        });
        let out = t.render_value(&body, &vars()).unwrap();
        assert_eq!(
            out,
            json!({
                "n": 3, "flag": true, "obj": {"b": [10, 20]},
                "list": [[10, 20], "#3", 5, null], "null": null,
                "text": "Alex says confirmed", "sum": 4,
            })
        );
        assert!(t
            .render_value(&json!({"x": "{{ trigger.payload.nope }}"}), &vars())
            .is_err());
    }

    #[test]
    fn eval_lookup_and_variables() {
        let t = Templates::new();
        let v = vars();
        assert_eq!(
            t.eval("trigger.payload.leads", &v).unwrap().as_array().unwrap().len(),
            2
        );
        assert_eq!(t.lookup("trigger.payload.nothing", &v), Ok(Some(Value::Null)));
        assert_eq!(t.lookup("trigger.payload.nope", &v), Ok(None));
        assert_eq!(t.lookup("trigger.payload.nope.deeper", &v), Ok(None));
        assert_eq!(t.lookup("steps.call.outcome", &v), Ok(Some(json!("confirmed"))));

        let vars = t
            .variables("{{ trigger.payload.a.b[0] }} {% for i in range(3) %}{{ i }}{% endfor %} {{ steps.x.body.y | default(contact.name) }}")
            .unwrap();
        assert_eq!(
            vars.into_iter().collect::<Vec<_>>(),
            ["contact.name", "steps.x.body.y", "trigger.payload.a.b"]
        );
        assert_eq!(
            t.expression_variables("loop.item.phone")
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["loop.item.phone"]
        );
        let e = t.variables("Hello {{ name").unwrap_err();
        assert_eq!(e.kind, TemplateErrorKind::Syntax);
        assert!(e.to_string().starts_with("syntax error"), "{e}");
        assert!(t.expression_variables("a..b").is_err());
    }
}
