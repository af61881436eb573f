//! Group commit of automation run records: a run's start; and each later record of a run (the
//! steps that ended since its last record, its next state, the step it starts next with that
//! step's tag change); and of new contacts and the API's tag changes.
//!
//! Why: every record must be durable before the run goes on (a step that acts is recorded
//! before it acts, and after). One transaction each made the run engine a fraction of the API's
//! speed: on SQLite every statement is a round trip to sqlx's connection thread (two context
//! switches, which is where the time went, not in SQLite), on PostgreSQL one over the socket.
//! Here one writer takes every record that concurrent runs have queued, writes them in one
//! transaction with one multi-row statement per kind (insert runs, insert their jobs, update
//! runs, delete ended runs' jobs, update steps, insert steps that ran unrecorded, change tags,
//! upsert started steps), commits, and only then answers each caller. A record's meaning and
//! its durability are those of its own transaction; only the commit is shared.
//!
//! A batch that fails (a constraint, a lost connection) is rolled back and each of its records
//! is written again alone, so one bad record fails only its own caller. A run has at most one
//! record in flight (its task waits for the answer); a second record of the same run (or of the
//! same contact's tags) in one batch would make the multi-row statements ambiguous, so it waits
//! for the next batch.
//!
//! Parts: [`records`] (what callers queue and what they are answered), [`statements`] (one
//! batch written as multi-row statements); this module makes them a [`Batch`] for the generic
//! writer ([`crate::group_commit`]), which does the batching.

mod records;
mod statements;

pub(crate) use crate::sql::{list_sql, rows_sql, shapes};
pub(crate) use records::*;
pub(crate) use statements::unexpected;
use statements::write;

use crate::group_commit::{Batch, GroupCommit};
use crate::records::runs::StepRow;
use crate::{webhooks, Dialect, Result, StoreError};
use parley_core::contact::Contact;
use parley_core::webhook::EventType;
use sqlx::any::AnyArguments;
use sqlx::{Any, AnyConnection, Connection, Row, Transaction};
use std::collections::{HashMap, HashSet};

/// The run journal: automation run records, tag changes and (SQLite) new contacts, written by
/// one [`GroupCommit`] writer.
pub(crate) struct RunJournal;

pub(crate) type Journal = GroupCommit<RunJournal>;

impl Batch for RunJournal {
    type Record = Op;
    type Reply = Reply;
    const NAME: &'static str = "run journal";
    /// As many as one multi-row statement takes.
    const MAX_BATCH: usize = crate::sql::MAX_ROWS;

    fn keys(op: &Op) -> Vec<String> {
        op.keys().into_iter().flatten().collect()
    }

    async fn write(conn: &mut AnyConnection, d: Dialect, ops: &[&Op]) -> Result<Vec<Reply>> {
        match new_contacts_only(ops) {
            // One statement commits alone: no BEGIN and COMMIT round trips (contact creation
            // through the API, when no run is writing).
            Some(contacts) => crate::records::contact_writes::insert_new(conn, d, &contacts)
                .await
                .map(|inserted| {
                    let new = |c: &Contact| inserted.contains(&c.id.to_string());
                    contacts.iter().map(|c| Reply::Inserted(new(c))).collect()
                }),
            None => write(conn, d, ops).await,
        }
    }
}

/// The contacts of a batch of new contacts alone.
fn new_contacts_only<'a>(ops: &[&'a Op]) -> Option<Vec<&'a Contact>> {
    ops.iter()
        .map(|op| match op {
            Op::NewContact(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::contact_writes::{TagEdit, Tagged};
    use crate::records::runs::{Advance, BeginStep, RunNext, StepEnd, UnrecordedStep};
    use crate::Store;
    use parley_core::run::{RunStatus, StepStatus};
    use tokio::sync::oneshot;

    /// A fresh SQLite store in a temporary file, and a team to own runs.
    async fn store() -> (Store, String, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("parley-journal-{}.db", uuid::Uuid::new_v4()));
        let mut store = Store::connect(&format!("sqlite://{}", path.display()), 2)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let key = crate::secrets::SecretKey::generate();
        store.unlock(crate::secrets::SecretBox::new(key)).await.unwrap();
        let (team, _) = store.create_team("journal").await.unwrap();
        (store, team.id, path)
    }

    fn start(team: &str) -> StartRow {
        let run = uuid::Uuid::new_v4().to_string();
        StartRow {
            run_id: run.clone(),
            team_id: team.into(),
            automation_id: "a1".into(),
            version: 1,
            trigger_key: None,
            state: "{}".into(),
            job_id: uuid::Uuid::new_v4().to_string(),
            job_kind: "automation_run",
            job_payload: format!("{{\"run_id\":\"{run}\"}}"),
            now: 1,
            claim: None,
        }
    }

    fn begin(run_id: &str, seq: i64) -> BeginStep {
        BeginStep {
            run_id: run_id.parse().unwrap(),
            seq,
            slug: "s".into(),
            step_type: "end".into(),
            input: serde_json::json!({}),
            wake_run: false,
        }
    }

    /// Writes `ops` in one transaction of their own (shadows the journal's `write`).
    async fn write(pool: &sqlx::AnyPool, d: Dialect, ops: &[&Op]) -> Result<Vec<Reply>> {
        crate::group_commit::Conn::shared(pool.clone())
            .write::<RunJournal>(d, ops)
            .await
    }

    /// A record that only starts a step (a run's first).
    fn starting(b: BeginStep) -> Op {
        Op::Advance(AdvanceRow {
            advance: Advance {
                run_id: b.run_id,
                ended: Vec::new(),
                next: None,
                begin: Some(b),
                tags: None,
            },
            now: 2,
        })
    }

    #[tokio::test]
    async fn a_failing_record_fails_alone() {
        let (store, team, path) = store().await;
        let good = start(&team);
        let good_run = good.run_id.clone();
        // A step of a run that does not exist breaks the steps' foreign key: the whole batch is
        // rolled back, then each record is written alone.
        let orphan = begin(&uuid::Uuid::new_v4().to_string(), 1);
        let (a, ra) = oneshot::channel();
        let (b, rb) = oneshot::channel();
        crate::group_commit::commit_batch::<RunJournal>(
            &mut crate::group_commit::Conn::shared(store.write_pool().clone()),
            Dialect::Sqlite,
            vec![(Op::Start(good), a), (starting(orphan), b)],
        )
        .await;
        assert!(matches!(ra.await.unwrap(), Ok(Reply::Started(true))));
        assert!(rb.await.unwrap().is_err(), "the orphan step must fail");
        let run = store.run_for_worker(good_run.parse().unwrap()).await.unwrap().run;
        assert_eq!(run.status, RunStatus::Running);
        store.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn one_batch_answers_each_record() {
        let (store, team, path) = store().await;
        let (r1, r2) = (start(&team), start(&team));
        let (id1, id2) = (r1.run_id.clone(), r2.run_id.clone());
        let replies = write(store.write_pool(), Dialect::Sqlite, &[&Op::Start(r1), &Op::Start(r2)])
            .await
            .unwrap();
        assert!(matches!(replies[..], [Reply::Started(true), Reply::Started(true)]));
        // Two begins of different runs in one batch; a step begun again counts an attempt.
        let replies = write(
            store.write_pool(),
            Dialect::Sqlite,
            &[&starting(begin(&id1, 1)), &starting(begin(&id2, 1))],
        )
        .await
        .unwrap();
        for (reply, id) in replies.iter().zip([&id1, &id2]) {
            let Reply::Advanced {
                written: true,
                begun: Some(step),
                ..
            } = reply
            else {
                panic!("{reply:?}")
            };
            assert_eq!((step.run_id.to_string().as_str(), step.attempt), (id.as_str(), 1));
        }
        let again = write(store.write_pool(), Dialect::Sqlite, &[&starting(begin(&id1, 1))])
            .await
            .unwrap();
        assert!(matches!(&again[0], Reply::Advanced { begun: Some(s), .. } if s.attempt == 2));
        store.close().await;
        let _ = std::fs::remove_file(path);
    }

    fn contact(phone: &str, tags: &[&str]) -> crate::records::contacts::ContactWrite {
        crate::records::contacts::ContactWrite {
            phone_number: phone.into(),
            name: None,
            email: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            attributes: Default::default(),
            lead_source: parley_core::contact::LeadSource::ApiUpload,
        }
    }

    fn tags_row(
        team: &str,
        id: uuid::Uuid,
        f: impl Fn(&[String]) -> std::result::Result<Vec<String>, parley_core::ValidationError> + Send + Sync + 'static,
    ) -> TagEdit {
        TagEdit {
            team_id: team.into(),
            contact_id: id,
            change: Box::new(f),
        }
    }

    fn tags(
        team: &str,
        id: uuid::Uuid,
        f: impl Fn(&[String]) -> std::result::Result<Vec<String>, parley_core::ValidationError> + Send + Sync + 'static,
    ) -> Op {
        Op::Tags(tags_row(team, id, f))
    }

    async fn tag_rows(store: &Store, id: uuid::Uuid) -> Vec<String> {
        sqlx::query_scalar("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
            .bind(id.to_string())
            .fetch_all(store.write_pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn one_batch_changes_each_contacts_tags() {
        let (store, team, path) = store().await;
        let (other, _) = store.create_team("other").await.unwrap();
        let a = store
            .upsert_contact(&team, &contact("+12125550101", &["old", "keep"]))
            .await
            .unwrap()
            .contact;
        let b = store
            .upsert_contact(&team, &contact("+12125550102", &[]))
            .await
            .unwrap()
            .contact;
        let theirs = store
            .upsert_contact(&other.id, &contact("+12125550103", &[]))
            .await
            .unwrap()
            .contact;
        let add = |t: &'static str| {
            move |old: &[String]| {
                let mut v = old.to_vec();
                v.push(t.to_string());
                Ok(v)
            }
        };
        let replies = write(
            store.write_pool(),
            Dialect::Sqlite,
            &[
                // Adds one tag and removes another.
                &tags(&team, a.id, |old: &[String]| {
                    Ok(old
                        .iter()
                        .filter(|t| *t != "old")
                        .cloned()
                        .chain(["new".to_string()])
                        .collect())
                }),
                &tags(&team, b.id, |_: &[String]| {
                    Err(parley_core::ValidationError::new("tags", "refused"))
                }),
                // Another team's contact is answered as a missing one, and left alone.
                &tags(&team, theirs.id, add("x")),
                &tags(&team, uuid::Uuid::new_v4(), add("x")),
            ],
        )
        .await
        .unwrap();
        let Reply::Tagged(Tagged::Changed(Ok(changed))) = &replies[0] else {
            panic!("{:?}", replies[0])
        };
        assert_eq!(changed.tags, ["keep", "new"]);
        assert_eq!(changed.version, a.version + 1);
        assert!(matches!(&replies[1], Reply::Tagged(Tagged::Changed(Err(e))) if e.message == "refused"));
        assert!(matches!(replies[2], Reply::Tagged(Tagged::NoContact)));
        assert!(matches!(replies[3], Reply::Tagged(Tagged::NoContact)));
        let stored = store.contact(&team, a.id).await.unwrap();
        assert_eq!(
            (stored.tags.clone(), stored.version),
            (changed.tags.clone(), changed.version)
        );
        assert_eq!(tag_rows(&store, a.id).await, ["keep", "new"]);
        assert_eq!(store.contact(&team, b.id).await.unwrap().version, b.version);
        assert!(tag_rows(&store, theirs.id).await.is_empty());
        assert_eq!(
            store.contact(&other.id, theirs.id).await.unwrap().version,
            theirs.version
        );
        store.close().await;
        let _ = std::fs::remove_file(path);
    }

    /// A record of run `run_id`: a condition that ran unrecorded, the run's next state, and a
    /// tag step starting with its change (adds `tag` to `contact`).
    fn advance(team: &str, run_id: &str, contact: uuid::Uuid, tag: &'static str) -> Op {
        Op::Advance(AdvanceRow {
            advance: Advance {
                run_id: run_id.parse().unwrap(),
                ended: vec![StepEnd {
                    seq: 1,
                    status: StepStatus::Completed,
                    output: Some(serde_json::json!({ "matched": true })),
                    error: None,
                    state: None,
                    due_at: None,
                    unrecorded: Some(UnrecordedStep {
                        slug: "hot".into(),
                        step_type: "condition".into(),
                        input: serde_json::json!({ "mode": "all" }),
                        started: 4,
                    }),
                }],
                next: Some(RunNext {
                    status: RunStatus::Running,
                    state: "{\"seq\":2}".into(),
                    waiting_call_id: None,
                    wake_at: None,
                    error: None,
                    action_failed: None,
                }),
                begin: Some(BeginStep {
                    step_type: "add_tag".into(),
                    ..begin(run_id, 2)
                }),
                tags: Some(tags_row(team, contact, move |old: &[String]| {
                    let mut v = old.to_vec();
                    v.push(tag.to_string());
                    Ok(v)
                })),
            },
            // One record, one time: the ended condition finishes and the tag step starts at 5.
            now: 5,
        })
    }

    async fn steps_of(store: &Store, run_id: &str) -> Vec<(i64, String, String, Option<i64>, Option<i64>)> {
        store
            .run_steps(run_id.parse().unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|s| {
                (
                    s.seq,
                    s.step_type,
                    s.status.as_str().to_string(),
                    Some(s.started),
                    s.finished,
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn a_record_writes_unrecorded_steps_whole_and_a_tag_change_with_its_start() {
        let (store, team, path) = store().await;
        let c = store
            .upsert_contact(&team, &contact("+12125550111", &[]))
            .await
            .unwrap()
            .contact;
        let run = start(&team);
        let run_id = run.run_id.clone();
        write(store.write_pool(), Dialect::Sqlite, &[&Op::Start(run)])
            .await
            .unwrap();
        let replies = write(
            store.write_pool(),
            Dialect::Sqlite,
            &[&advance(&team, &run_id, c.id, "hot")],
        )
        .await
        .unwrap();
        let Reply::Advanced {
            written: true,
            begun: Some(step),
            tagged: Some(Tagged::Changed(Ok(changed))),
        } = &replies[0]
        else {
            panic!("{:?}", replies[0])
        };
        assert_eq!((step.seq, step.status.as_str(), step.attempt), (2, "running", 1));
        assert_eq!(changed.tags, ["hot"]);
        assert_eq!(tag_rows(&store, c.id).await, ["hot"]);
        // The condition's row is whole: its start, its end, its input and output.
        assert_eq!(
            steps_of(&store, &run_id).await,
            [
                (1, "condition".into(), "completed".into(), Some(4), Some(5)),
                (2, "add_tag".into(), "running".into(), Some(5), None),
            ]
        );
        let rows = store.run_steps(run_id.parse().unwrap()).await.unwrap();
        assert_eq!(rows[0].input, Some(serde_json::json!({"mode": "all"})));
        assert_eq!(rows[0].output, Some(serde_json::json!({"matched": true})));
        let r = store.run_for_worker(run_id.parse().unwrap()).await.unwrap().run;
        assert_eq!(r.state, serde_json::json!({"seq": 2}));
        store.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_record_of_a_canceled_run_writes_nothing_not_even_its_tag_change() {
        let (store, team, path) = store().await;
        let c = store
            .upsert_contact(&team, &contact("+12125550112", &["old"]))
            .await
            .unwrap()
            .contact;
        let run = start(&team);
        let run_id = run.run_id.clone();
        write(store.write_pool(), Dialect::Sqlite, &[&Op::Start(run)])
            .await
            .unwrap();
        store.cancel_run(&team, run_id.parse().unwrap()).await.unwrap();
        let replies = write(
            store.write_pool(),
            Dialect::Sqlite,
            &[&advance(&team, &run_id, c.id, "new")],
        )
        .await
        .unwrap();
        assert!(
            matches!(
                replies[0],
                Reply::Advanced {
                    written: false,
                    begun: None,
                    tagged: None
                }
            ),
            "{:?}",
            replies[0]
        );
        assert!(steps_of(&store, &run_id).await.is_empty());
        assert_eq!(tag_rows(&store, c.id).await, ["old"]);
        assert_eq!(store.contact(&team, c.id).await.unwrap().version, c.version);
        store.close().await;
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn new_contacts_of_one_number_in_one_batch_make_one_row() {
        let (store, team, path) = store().await;
        let (other, _) = store.create_team("other").await.unwrap();
        let new = |team: &str| crate::records::contacts::new_contact(team, &contact("+12125550121", &[]));
        let (first, second, theirs) = (new(&team), new(&team), new(&other.id));
        let replies = write(
            store.write_pool(),
            Dialect::Sqlite,
            &[
                &Op::NewContact(first.clone()),
                &Op::NewContact(second),
                // The same number in another team is another contact.
                &Op::NewContact(theirs.clone()),
                // A tag change in the same batch finds the contact just inserted.
                &tags(&team, first.id, |_: &[String]| Ok(vec!["new".to_string()])),
            ],
        )
        .await
        .unwrap();
        assert!(
            matches!(
                replies[..],
                [
                    Reply::Inserted(true),
                    Reply::Inserted(false),
                    Reply::Inserted(true),
                    Reply::Tagged(Tagged::Changed(Ok(_)))
                ]
            ),
            "{replies:?}"
        );
        assert_eq!(store.contact(&team, first.id).await.unwrap().tags, ["new"]);
        assert_eq!(
            store.contact(&other.id, theirs.id).await.unwrap().phone_number,
            "+12125550121"
        );
        // A batch of new contacts alone is one statement without a transaction around it.
        let lone = |n: &str| crate::records::contacts::new_contact(&team, &contact(n, &[]));
        let (a, b, again) = (lone("+12125550122"), lone("+12125550122"), lone("+12125550121"));
        let replies = write(
            store.write_pool(),
            Dialect::Sqlite,
            &[&Op::NewContact(a.clone()), &Op::NewContact(b), &Op::NewContact(again)],
        )
        .await
        .unwrap();
        assert!(
            matches!(
                replies[..],
                [Reply::Inserted(true), Reply::Inserted(false), Reply::Inserted(false)]
            ),
            "{replies:?}"
        );
        assert_eq!(store.contact(&team, a.id).await.unwrap().phone_number, "+12125550122");
        store.close().await;
        let _ = std::fs::remove_file(path);
    }
}
