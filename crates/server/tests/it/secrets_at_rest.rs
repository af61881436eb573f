//! Secrets at rest: teams' webhook signing secrets and LLM keys are encrypted in the database,
//! bound to their row, under a key from the environment or a 0600 key file; a start with a
//! missing or different key is refused; plaintext left by an older version is encrypted at
//! start; the data dir and its files are private whatever the umask.

use crate::common;
use common::process::{run_to_exit, Deployment};
use common::{events, eventually, fresh_database, settings, temp_dir, Client, Db, Receiver, TestServer};
use parley_core::webhook::verify_signature;
use parley_store::secrets::{SecretError, SecretKey};
use parley_store::teams::TeamLlm;
use parley_store::{Store, StoreError};
use reqwest::StatusCode;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

on_both_databases!(
    secret_columns_hold_fresh_ciphertext_never_plaintext,
    webhooks_are_signed_with_the_decrypted_secret,
    swapped_ciphertexts_do_not_decrypt,
    an_old_database_with_plaintext_secrets_is_encrypted_on_first_start,
    a_start_with_another_key_or_none_is_refused,
    the_data_dir_is_private_whatever_the_umask_and_tightened_at_start,
    the_cli_seals_a_teams_llm_key,
);

/// A secret column's value as stored.
async fn raw(store: &Store, column: &str, team_id: &str) -> String {
    sqlx::query_scalar::<_, String>(&format!("SELECT {column} FROM teams WHERE id = $1"))
        .bind(team_id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn set_raw(store: &Store, column: &str, team_id: &str, value: &str) {
    sqlx::query(&format!("UPDATE teams SET {column} = $1 WHERE id = $2"))
        .bind(value)
        .bind(team_id)
        .execute(store.pool())
        .await
        .unwrap();
}

#[track_caller]
fn assert_sealed(stored: &str, plaintext: &str) {
    assert!(stored.starts_with("enc:v1:"), "not sealed: {stored}");
    assert_ne!(stored, plaintext);
    let core = plaintext.trim_start_matches("whsec_").trim_start_matches("sk-");
    assert!(!stored.contains(core), "{stored} holds the plaintext");
}

async fn signing_secret(c: &Client) -> String {
    c.get("/webhooks/signing_secret").await.ok()["signing_secret"]
        .as_str()
        .unwrap()
        .to_string()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Places a call to a number no network serves (it fails at once) and returns the
/// `CALL_PROGRESS` deliveries the receiver got for it, each with its signature header.
async fn signed_deliveries(c: &Client, rx: &Receiver) -> Vec<(String, String)> {
    c.post("/webhooks/subscribe", json!({"type": "CALL_PROGRESS", "url": rx.url}))
        .await
        .ok();
    let agent = c.agent().await;
    let contact = c.contact("+12125551100").await;
    c.post(
        "/contact/call",
        json!({"contact_id": contact["id"], "agent_id": agent["id"]}),
    )
    .await
    .ok();
    eventually(20, "3 CALL_PROGRESS deliveries", || async {
        (events(rx, "CALL_PROGRESS").len() >= 3).then_some(())
    })
    .await;
    rx.received()
        .into_iter()
        .map(|r| (r.headers["x-parley-signature"].to_str().unwrap().to_string(), r.body))
        .collect()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn secret_columns_hold_fresh_ciphertext_never_plaintext(db: Db) {
    let ts = TestServer::start(db).await;
    let (a, b) = (ts.team().await, ts.team().await);
    let (sa, sb) = (signing_secret(&a).await, signing_secret(&b).await);
    assert!(sa.starts_with("whsec_") && sb.starts_with("whsec_") && sa != sb);
    assert_sealed(&raw(ts.store(), "signing_secret", &a.team_id).await, &sa);
    assert_sealed(&raw(ts.store(), "signing_secret", &b.team_id).await, &sb);

    // The same LLM key set twice: two different ciphertexts, both opening to it.
    let llm = TeamLlm {
        base_url: "https://llm.example.com/v1".into(),
        api_key: Some("sk-live-0123456789".into()),
        model: None,
    };
    ts.store().set_team_llm(&a.team_id, Some(&llm)).await.unwrap();
    let first = raw(ts.store(), "llm_api_key", &a.team_id).await;
    assert_eq!(ts.store().team(&a.team_id).await.unwrap().llm.as_ref(), Some(&llm));
    ts.store().set_team_llm(&a.team_id, Some(&llm)).await.unwrap();
    let second = raw(ts.store(), "llm_api_key", &a.team_id).await;
    assert_sealed(&first, "sk-live-0123456789");
    assert_sealed(&second, "sk-live-0123456789");
    assert_ne!(first, second, "a random nonce per value");
    assert_eq!(ts.store().team(&a.team_id).await.unwrap().llm, Some(llm));
    // No key set: the column stays empty ("not set"), and reads as none.
    ts.store()
        .set_team_llm(
            &b.team_id,
            Some(&TeamLlm {
                base_url: "https://llm.example.com/v1".into(),
                api_key: None,
                model: None,
            }),
        )
        .await
        .unwrap();
    assert_eq!(raw(ts.store(), "llm_api_key", &b.team_id).await, "");
    assert_eq!(ts.store().team(&b.team_id).await.unwrap().llm.unwrap().api_key, None);
}

async fn webhooks_are_signed_with_the_decrypted_secret(db: Db) {
    let ts = TestServer::start(db).await;
    let c = ts.team().await;
    let rx = Receiver::start(0).await;
    let secret = signing_secret(&c).await;
    let stored = raw(ts.store(), "signing_secret", &c.team_id).await;
    let got = signed_deliveries(&c, &rx).await;
    for (sig, body) in &got {
        assert!(
            verify_signature(&secret, sig, body.as_bytes(), now_unix(), 300),
            "{sig}"
        );
        assert!(!verify_signature(&stored, sig, body.as_bytes(), now_unix(), 300));
    }
}

async fn swapped_ciphertexts_do_not_decrypt(db: Db) {
    let ts = TestServer::start(db).await;
    let (a, b) = (ts.team().await, ts.team().await);
    let (sa, sb) = (signing_secret(&a).await, signing_secret(&b).await);
    let store = ts.store();
    let (ra, rb) = (
        raw(store, "signing_secret", &a.team_id).await,
        raw(store, "signing_secret", &b.team_id).await,
    );
    set_raw(store, "signing_secret", &a.team_id, &rb).await;
    set_raw(store, "signing_secret", &b.team_id, &ra).await;
    for (c, other) in [(&a, &sb), (&b, &sa)] {
        match store.team(&c.team_id).await {
            Err(StoreError::Secret(SecretError::DoesNotOpen(_))) => {}
            other => panic!("another team's ciphertext opened: {other:?}"),
        }
        let r = c.get("/webhooks/signing_secret").await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
        assert!(!r.body.to_string().contains(other.as_str()));
    }
    // Nor does a value moved to another column of the same row.
    set_raw(store, "signing_secret", &a.team_id, &ra).await;
    assert_eq!(signing_secret(&a).await, sa);
    store
        .set_team_llm(
            &a.team_id,
            Some(&TeamLlm {
                base_url: "https://llm.example.com/v1".into(),
                api_key: Some("sk-a".into()),
                model: None,
            }),
        )
        .await
        .unwrap();
    set_raw(store, "llm_api_key", &a.team_id, &ra).await;
    assert!(matches!(
        store.team(&a.team_id).await,
        Err(StoreError::Secret(SecretError::DoesNotOpen(_)))
    ));
}

async fn an_old_database_with_plaintext_secrets_is_encrypted_on_first_start(db: Db) {
    let dir = temp_dir();
    let db_url = fresh_database(db, &dir.0).await;
    // The database as an older version left it: secrets in plaintext, no key recorded.
    let (team_id, token) = (uuid::Uuid::new_v4().to_string(), parley_core::ids::new_api_token());
    let secret = parley_core::ids::new_signing_secret();
    let old = Store::connect(&db_url, 1).await.unwrap();
    old.migrate().await.unwrap();
    let mut w = old.begin_write().await.unwrap();
    sqlx::query(
        "INSERT INTO teams (id, name, signing_secret, allow_premium, max_concurrent_calls, created, \
         llm_base_url, llm_api_key, llm_model) VALUES ($1, 'old', $2, 0, 10, 0, 'https://llm.example.com/v1', 'sk-old-0123456789', '')",
    )
    .bind(&team_id)
    .bind(&secret)
    .execute(&mut *w.tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO api_tokens (id, team_id, token_hash, prefix, created) VALUES ($1, $2, $3, $4, 0)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&team_id)
        .bind(&token.hash)
        .bind(&token.prefix)
        .execute(&mut *w.tx)
        .await
        .unwrap();
    w.commit().await.unwrap();
    old.close().await;

    let s = settings(&db_url, &dir.0);
    assert!(!s.secret_key_path().exists());
    let store = s.open_store().await.unwrap();
    assert_eq!(mode(&s.secret_key_path()), 0o600);
    let sealed = raw(&store, "signing_secret", &team_id).await;
    let sealed_llm = raw(&store, "llm_api_key", &team_id).await;
    assert_sealed(&sealed, &secret);
    assert_sealed(&sealed_llm, "sk-old-0123456789");
    let running = parley_server::start(&s, store).await.unwrap();
    let c = Client {
        base: format!("http://{}", running.addr),
        token: token.secret,
        team_id: team_id.clone(),
        http: reqwest::Client::new(),
    };
    assert_eq!(signing_secret(&c).await, secret);
    let rx = Receiver::start(0).await;
    for (sig, body) in signed_deliveries(&c, &rx).await {
        assert!(
            verify_signature(&secret, &sig, body.as_bytes(), now_unix(), 300),
            "not signed with the team's original secret: {sig}"
        );
    }
    running.stop().await;

    // A second start changes nothing: the values are already sealed.
    let store = s.open_store().await.unwrap();
    assert_eq!(raw(&store, "signing_secret", &team_id).await, sealed);
    assert_eq!(raw(&store, "llm_api_key", &team_id).await, sealed_llm);
    let team = store.team(&team_id).await.unwrap();
    assert_eq!(team.signing_secret, secret);
    assert_eq!(team.llm.unwrap().api_key.as_deref(), Some("sk-old-0123456789"));
    store.close().await;
}

/// `parley serve` with the deployment's settings, changed by `tweak`, run until it exits.
fn refused_start(d: &Deployment, tweak: impl FnOnce(&mut std::process::Command)) -> String {
    let mut cmd = d.command();
    cmd.arg("serve")
        .env("PARLEY_BIND", "127.0.0.1:0")
        .env("PARLEY_RUN_JOBS", "0");
    tweak(&mut cmd);
    let (status, stderr) = run_to_exit(cmd, 60);
    assert!(!status.success(), "parley serve started:\n{stderr}");
    stderr
}

async fn a_start_with_another_key_or_none_is_refused(db: Db) {
    let mut d = Deployment::new(db).await;
    let team = d.team(); // `parley team create`: the first start, which makes the key file
    let key_file = d.dir.0.join("data").join("secret.key");
    let key = SecretKey::from_base64(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let other = SecretKey::generate();

    // Another key, from the environment.
    let err = refused_start(&d, |c| {
        c.env("PARLEY_SECRET_KEY", other.to_base64().as_str());
    });
    assert!(
        err.contains(&format!(
            "Error: the database's secrets are encrypted with key {}",
            key.id()
        )) && err.contains(&format!("the configured key (PARLEY_SECRET_KEY) is key {}", other.id()))
            && err.contains("restore the key file from your backup"),
        "{err}"
    );
    // Another key file.
    let other_file = d.dir.0.join("other.key");
    std::fs::write(&other_file, other.to_base64().as_bytes()).unwrap();
    let err = refused_start(&d, |c| {
        c.env("PARLEY_SECRET_KEY_FILE", &other_file);
    });
    assert!(
        err.contains(&format!("encrypted with key {}", key.id())) && err.contains(&other_file.display().to_string()),
        "{err}"
    );
    // No key at all (the key file lost): refused, and no new key is made in its place.
    let backup = d.dir.0.join("backup.key");
    std::fs::rename(&key_file, &backup).unwrap();
    let err = refused_start(&d, |_| {});
    assert!(
        err.contains(&format!("encrypted with key {}, and no key is configured", key.id()))
            && err.contains(&key_file.display().to_string())
            && err.contains("Restore the key file from your backup"),
        "{err}"
    );
    assert!(!key_file.exists(), "a new key was made over the lost one");
    // A malformed key: named, not echoed.
    let err = refused_start(&d, |c| {
        c.env("PARLEY_SECRET_KEY", "c2hvcnQga2V5");
    });
    assert!(
        err.contains("PARLEY_SECRET_KEY is not a secret key") && !err.contains("c2hvcnQga2V5"),
        "{err}"
    );

    // The key restored from the backup, or given in the environment: the server starts and
    // serves the team's secret.
    std::fs::rename(&backup, &key_file).unwrap();
    let p = d
        .serve_with("restored", |c| {
            c.env("PARLEY_RUN_JOBS", "0");
        })
        .await;
    let secret = signing_secret(&p.client(&team)).await;
    assert!(secret.starts_with("whsec_"));
    drop(p);
    std::fs::remove_file(&key_file).unwrap();
    let p = d
        .serve_with("from-env", |c| {
            c.env("PARLEY_RUN_JOBS", "0")
                .env("PARLEY_SECRET_KEY", key.to_base64().as_str());
        })
        .await;
    assert_eq!(signing_secret(&p.client(&team)).await, secret);
}

async fn the_data_dir_is_private_whatever_the_umask_and_tightened_at_start(db: Db) {
    let mut d = Deployment::new(db).await;
    let data = d.dir.0.join("data");
    let start = |c: &mut std::process::Command| {
        if db == Db::Sqlite {
            c.env_remove("PARLEY_DATABASE_URL"); // the default: parley.db in the data dir
        }
        c.env("PARLEY_RUN_JOBS", "0");
        // SAFETY: umask is async-signal-safe and touches only the child.
        #[allow(unsafe_code)] // pre_exec is unsafe by signature
        unsafe {
            c.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
    };
    let db_files: Vec<_> = ["parley.db", "parley.db-wal", "parley.db-shm"]
        .iter()
        .map(|f| data.join(f))
        .collect();
    let p = d.serve_with("first", start).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("secret.key")), 0o600);
    if db == Db::Sqlite {
        for f in &db_files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    }
    drop(p);

    // A data dir left readable by others (an older version, a copy by hand) is tightened at
    // start, and the change is logged.
    let recordings = data.join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    std::fs::write(recordings.join("old.wav"), b"RIFF").unwrap();
    let loose: Vec<(std::path::PathBuf, u32)> = [
        (data.clone(), 0o755),
        (data.join("secret.key"), 0o644),
        (recordings.clone(), 0o755),
        (recordings.join("old.wav"), 0o644),
    ]
    .into_iter()
    .chain(db_files.iter().filter(|f| f.exists()).map(|f| (f.clone(), 0o644)))
    .collect();
    for (path, m) in &loose {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(*m)).unwrap();
    }
    let p = d.serve_with("second", start).await;
    for (path, m) in &loose {
        let want = if *m == 0o755 { 0o700 } else { 0o600 };
        assert_eq!(mode(path), want, "{}", path.display());
    }
    let log = p.log_tail(200);
    assert!(
        log.contains("tightened permissions") && log.contains("secret.key") && log.contains("recordings"),
        "{log}"
    );
}

async fn the_cli_seals_a_teams_llm_key(db: Db) {
    let d = Deployment::new(db).await;
    let team = d.team();
    let set = |args: &[&str]| {
        let out = d
            .command()
            .args(["team", "set", "--team-id", &team.team_id])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-cli-0123456789"));
    };
    set(&[
        "--llm-base-url",
        "https://llm.example.com/v1",
        "--llm-api-key",
        "sk-cli-0123456789",
    ]);
    set(&["--llm-model", "m2"]); // reads the team (opening its key) and writes it back

    let store = settings(&d.db_url, &d.dir.0.join("data")).open_store().await.unwrap();
    assert_sealed(&raw(&store, "llm_api_key", &team.team_id).await, "sk-cli-0123456789");
    assert_eq!(
        store.team(&team.team_id).await.unwrap().llm,
        Some(TeamLlm {
            base_url: "https://llm.example.com/v1".into(),
            api_key: Some("sk-cli-0123456789".into()),
            model: Some("m2".into()),
        })
    );
    store.close().await;
}
