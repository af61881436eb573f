//! The two TwiML documents Parley answers with: connect the call to a media stream, or refuse it.
//!
//! Decision: string building with XML escaping, not an XML library. Parley emits two fixed
//! shapes whose only variable parts are attribute values; escaping those five characters is the
//! whole job. (The fake Twilio reads these shapes back with the equally small [`parse`].)

/// `<Response><Connect><Stream url="…">` with one `<Parameter>` per pair: a bidirectional
/// stream whose parameters arrive in the `start` message's `customParameters`.
pub fn connect_stream(url: &str, parameters: &[(&str, &str)]) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect>"#);
    out.push_str(&format!(r#"<Stream url="{}">"#, escape(url)));
    for (name, value) in parameters {
        out.push_str(&format!(
            r#"<Parameter name="{}" value="{}"/>"#,
            escape(name),
            escape(value)
        ));
    }
    out.push_str("</Stream></Connect></Response>");
    out
}

/// `<Response><Reject/></Response>`: refuses an inbound call without answering it (no charge).
pub fn reject() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>"#.to_string()
}

/// `<Response><Dial>number</Dial></Response>`: connects the caller to `number` (a blind
/// transfer once Parley's leg is gone).
pub fn dial(number: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial>{}</Dial></Response>"#,
        escape(number)
    )
}

/// The content type to answer TwiML with.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Escapes text for an XML attribute value or element content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// What a TwiML document tells Twilio to do, as far as the fake Twilio follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `<Connect><Stream url>` with its `<Parameter>`s.
    ConnectStream {
        url: String,
        parameters: Vec<(String, String)>,
    },
    /// `<Reject/>`.
    Reject,
    /// Anything else (`<Hangup/>`, an empty response, verbs the fake does not play).
    Other,
}

/// Reads the shapes [`connect_stream`] and [`reject`] produce (and the same with other spacing,
/// quotes or attribute order). Not a general XML parser: enough for a fake carrier.
pub fn parse(xml: &str) -> Instruction {
    if find_tag(xml, "Reject").is_some() {
        return Instruction::Reject;
    }
    let (Some(_), Some(stream)) = (find_tag(xml, "Connect"), find_tag(xml, "Stream")) else {
        return Instruction::Other;
    };
    let Some(url) = attribute(stream, "url") else {
        return Instruction::Other;
    };
    let mut parameters = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<Parameter") {
        let after = &rest[i + 1..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        if let (Some(n), Some(v)) = (attribute(tag, "name"), attribute(tag, "value")) {
            parameters.push((n, v));
        }
        rest = &after[end..];
    }
    Instruction::ConnectStream { url, parameters }
}

/// The inside of the first `<name …>` or `<name/>` tag.
fn find_tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        if after.starts_with(['>', '/', ' ', '\t', '\r', '\n']) {
            let end = after.find('>').unwrap_or(after.len());
            return Some(&after[..end]);
        }
        rest = after;
    }
    None
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(i) = rest.find(name) {
        let before_ok = i == 0 || rest[..i].ends_with([' ', '\t', '\r', '\n']);
        let after = rest[i + name.len()..].trim_start();
        if before_ok {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let quote = v.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let end = v[1..].find(quote)?;
                    return Some(unescape(&v[1..1 + end]));
                }
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_stream_escapes_and_round_trips() {
        let x = connect_stream(
            "wss://parley.example/twilio/stream?a=1&b=2",
            &[("call_id", "c\"1<>"), ("note", "Tom & Jerry's")],
        );
        assert_eq!(
            x,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect>"#,
                r#"<Stream url="wss://parley.example/twilio/stream?a=1&amp;b=2">"#,
                r#"<Parameter name="call_id" value="c&quot;1&lt;&gt;"/>"#,
                r#"<Parameter name="note" value="Tom &amp; Jerry&apos;s"/>"#,
                "</Stream></Connect></Response>"
            )
        );
        assert_eq!(
            parse(&x),
            Instruction::ConnectStream {
                url: "wss://parley.example/twilio/stream?a=1&b=2".into(),
                parameters: vec![
                    ("call_id".into(), "c\"1<>".into()),
                    ("note".into(), "Tom & Jerry's".into())
                ],
            }
        );
    }

    #[test]
    fn reject_and_others() {
        assert_eq!(
            reject(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>"#
        );
        assert_eq!(parse(&reject()), Instruction::Reject);
        assert_eq!(
            dial("+1212<5>"),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial>+1212&lt;5&gt;</Dial></Response>"#
        );
        assert_eq!(parse(&dial("+12125550100")), Instruction::Other);
        assert_eq!(
            parse("<Response><Reject reason=\"busy\" /></Response>"),
            Instruction::Reject
        );
        assert_eq!(parse("<Response><Hangup/></Response>"), Instruction::Other);
        assert_eq!(
            parse("<Response><Start><Stream url='wss://x'/></Start></Response>"),
            Instruction::Other
        );
        assert_eq!(
            parse("<Response>\n <Connect>\n  <Stream name='s' url='wss://x/y' />\n </Connect>\n</Response>"),
            Instruction::ConnectStream {
                url: "wss://x/y".into(),
                parameters: vec![]
            }
        );
    }
}
