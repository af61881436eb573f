//! Which templates are plain variable look-ups, safe to render in the server's own process.
//!
//! A template made only of text and `{{ a.b[0]["c"] }}` placeholders reads values that already
//! exist (the run's variables) and prints them: its time and memory are linear in those values,
//! which are themselves bounded by the request and step size limits. Anything else (an operator,
//! a filter, a call, a `{% statement %}`) can build values far larger than its inputs
//! (`"x" * n`, `a ~ a` in a loop, `replace`), so it is rendered by an isolated worker process
//! instead (see [`super::isolation`]).
//!
//! The check is deliberately syntactic and conservative: whatever it does not recognise is sent
//! to the worker, so a mistake here costs a round trip, never safety.

/// Whether `template` is text with only plain look-up placeholders (`{{ path }}`).
pub fn is_plain_lookup_template(template: &str) -> bool {
    if template.contains("{%") || template.contains("{#") {
        return false;
    }
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return false; // a syntax error: let the engine report it
        };
        if !is_plain_path(trim_markers(&after[..close])) {
            return false;
        }
        rest = &after[close + 2..];
    }
    true
}

/// `{{- x -}}`'s whitespace-control markers and the spaces around the expression.
fn trim_markers(inner: &str) -> &str {
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    inner.trim()
}

/// Whether `expr` is a variable path: `name`, then any of `.name`, `[123]`, `["key"]`, `['key']`.
pub fn is_plain_path(expr: &str) -> bool {
    let b = expr.as_bytes();
    let ident = |i: usize| -> Option<usize> {
        let start = i;
        let mut i = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        (i > start && !b[start].is_ascii_digit()).then_some(i)
    };
    let Some(mut i) = ident(0) else {
        return false;
    };
    // Keywords and literals are not look-ups (`true`, `none`, ...): the engine handles them.
    if matches!(
        &expr[..i],
        "true" | "false" | "none" | "True" | "False" | "None" | "not" | "and" | "or" | "in" | "is" | "if" | "else"
    ) {
        return false;
    }
    while i < b.len() {
        match b[i] {
            b'.' => match ident(i + 1) {
                Some(j) => i = j,
                None => return false,
            },
            b'[' => {
                let j = i + 1;
                let end = match b.get(j) {
                    Some(q @ (b'"' | b'\'')) => {
                        // A quoted key without escapes.
                        let Some(len) = expr[j + 1..].find(*q as char) else {
                            return false;
                        };
                        let key = &expr[j + 1..j + 1 + len];
                        if key.contains('\\') {
                            return false;
                        }
                        j + 1 + len + 1
                    }
                    Some(d) if d.is_ascii_digit() => {
                        let mut k = j;
                        while k < b.len() && b[k].is_ascii_digit() {
                            k += 1;
                        }
                        k
                    }
                    _ => return false,
                };
                if b.get(end) != Some(&b']') {
                    return false;
                }
                i = end + 1;
            }
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_look_ups_are_recognised() {
        for t in [
            "",
            "plain text",
            "{{ trigger.payload.phone }}",
            "Hi {{contact.name}}, {{- steps.call.variables.day -}}!",
            "{{ trigger.payload.a.b[0] }}{{ trigger.payload[\"x-y\"] }}{{ steps['a b'].c }}",
        ] {
            assert!(is_plain_lookup_template(t), "{t}");
        }
    }

    #[test]
    fn everything_else_goes_to_the_worker() {
        for t in [
            "{{ 'x' * 10 }}",
            "{{ a ~ a }}",
            "{{ a | upper }}",
            "{{ a.b() }}",
            "{{ range(3) }}",
            "{{ a[b] }}",
            "{{ a[-1] }}",
            "{{ a[\"x\\\"\"] }}",
            "{{ a.1 }}",
            "{{ true }}",
            "{{ none }}",
            "{{ 3 }}",
            "{{ a }",
            "{{ a + 1 }}",
            "{% set a = 1 %}{{ a }}",
            "{# c #}{{ a }}",
            "{{ a if b }}",
            "{{ }}",
        ] {
            assert!(!is_plain_lookup_template(t), "{t}");
        }
    }
}
