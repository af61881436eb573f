//! Calls in a language other than English on the embedded engines: the agent's `lang` makes
//! Whisper hear that language and the agent speak it with that language's voice (Spanish: the
//! espeak-ng program, as no registry carries a Spanish Piper voice), and the API refuses a
//! language the engines do not speak.

use crate::common;
use common::{wait_final, Db, TestServer};
use reqwest::StatusCode;
use serde_json::json;

/// A Spanish agent asks a Spanish persona for its name: the persona hears nothing (it answers in
/// order), so what is checked is that the agent's question went out, and that Whisper, told
/// Spanish, wrote the persona's Spanish answer as Spanish words into the captured variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spanish_agent_hears_a_spanish_caller_and_french_is_refused() {
    let ts = TestServer::start_with(Db::Sqlite, |s| s.rate_limit_per_minute = 1_000_000).await;
    let c = ts.team().await;
    let flow = json!({
        "nodes": [
            {"id": "start", "type": "start", "data": {}},
            {"id": "ask", "type": "question", "data": {"question": "¿Cuál es su nombre completo, por favor?", "variable": "nombre", "kind": "text"}},
            {"id": "end", "type": "end", "data": {"outcome": "capturado", "message": "Muchas gracias. Adiós."}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "ask"},
            {"id": "e2", "source": "ask", "sourceHandle": "next", "target": "end"},
            {"id": "e3", "source": "ask", "sourceHandle": "no_match", "target": "end"}
        ]
    });
    // No embedded voice speaks French: refused, naming the field.
    let r = c
        .post(
            "/interview/create",
            json!({"title": "Francés", "lang": "fr-FR", "flow": flow}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.error().starts_with("lang: 'fr-FR' is not a language"), "{}", r.body);

    let agent = c
        .post(
            "/interview/create",
            json!({"title": "Recepción", "lang": "es-MX", "ai_name": "Lucía", "flow": flow}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(agent["lang"], "es-MX");
    let persona = c
        .post(
            "/sandbox/personas",
            json!({"name": "Carlos", "rings": 1, "lang": "es",
                   "steps": [{"action": "say", "text": "Quiero cancelar mi suscripción, por favor."}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        persona["script"]["lang"].as_str().or(persona["lang"].as_str()),
        Some("es"),
        "{persona}"
    );
    let number = "+12025550313";
    c.post(
        "/sandbox/numbers",
        json!({"phone_number": number, "persona_id": persona["id"]}),
    )
    .await
    .ok();
    let contact = c
        .post("/contact/create", json!({"phone_number": number, "name": "Carlos"}))
        .await
        .ok()
        .clone();
    let call = c
        .post(
            "/contact/call",
            json!({"contact_id": contact["id"], "interview_id": agent["id"]}),
        )
        .await
        .ok()
        .clone();
    let call = wait_final(&c, call["id"].as_str().unwrap(), 180).await;
    let transcript = call["transcript"].as_str().unwrap_or("").to_string();
    assert_eq!(call["status"], "ENDED", "{call}");
    assert_eq!(call["outcome"], "capturado", "{transcript}");
    assert!(transcript.contains("¿Cuál es su nombre completo"), "{transcript}");
    // Whisper told Spanish writes Spanish words (told English, it translates this very audio
    // into English: "I want to cancel my subscription"; see crates/speech/tests/languages.rs).
    let heard = call["variables"]["nombre"].as_str().unwrap_or("").to_lowercase();
    assert!(
        heard.contains("cancelar") && heard.contains("suscrip"),
        "heard {heard:?} in {transcript}"
    );
    assert!(
        call["engine_fallbacks"].as_array().is_none_or(|f| f.is_empty()),
        "{call}"
    );
}
