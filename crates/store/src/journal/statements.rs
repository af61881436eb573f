//! One batch written in one transaction: a multi-row statement per kind of record.

use super::*;
use crate::records::contact_writes::TagEdit;
use crate::records::runs::{BeginStep, RunNext, StepEnd};
use parley_core::ids::new_row_id;
use serde_json::Value;

/// Writes `ops` in one transaction; one reply per op, in order.
pub(super) async fn write(conn: &mut AnyConnection, d: Dialect, ops: &[&Op]) -> Result<Vec<Reply>> {
    let mut tx = conn.begin().await?;

    let contacts: Vec<&Contact> = ops
        .iter()
        .filter_map(|op| match op {
            Op::NewContact(c) => Some(c),
            _ => None,
        })
        .collect();
    let mut inserted = HashSet::new();
    for rows in shapes(&contacts) {
        inserted.extend(crate::records::contact_writes::insert_new(&mut tx, d, rows).await?);
    }

    let starts: Vec<&StartRow> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Start(s) => Some(s),
            _ => None,
        })
        .collect();
    let mut started = HashSet::new();
    for rows in shapes(&starts) {
        started.extend(insert_runs(&mut tx, d, rows).await?);
    }
    let new_jobs: Vec<&StartRow> = starts.into_iter().filter(|s| started.contains(&s.run_id)).collect();
    for rows in shapes(&new_jobs) {
        insert_jobs(&mut tx, d, rows).await?;
    }

    let advances: Vec<&AdvanceRow> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Advance(a) => Some(a),
            _ => None,
        })
        .collect();
    let nexts: Vec<NextOf> = advances
        .iter()
        .filter_map(|a| Some((a.run_id(), a.advance.next.as_ref()?, a.now)))
        .collect();
    let mut moved = HashSet::new();
    for rows in shapes(&nexts) {
        moved.extend(update_runs(&mut tx, d, rows).await?);
    }
    let written = |a: &AdvanceRow| a.advance.next.is_none() || moved.contains(&a.run_id());
    let live: Vec<&AdvanceRow> = advances.iter().copied().filter(|a| written(a)).collect();

    let ended: Vec<&NextOf> = nexts
        .iter()
        .filter(|(run, next, _)| next.ends_run() && moved.contains(run))
        .collect();
    for rows in shapes(&ended) {
        delete_ended_jobs(&mut tx, d, rows).await?;
    }
    let step_ends = live
        .iter()
        .flat_map(|a| a.advance.ended.iter().map(move |e| (a.run_id(), e, a.now)));
    let (unrecorded, recorded): (Vec<EndOf>, Vec<EndOf>) = step_ends.partition(|(_, e, _)| e.unrecorded.is_some());
    for rows in shapes(&recorded) {
        update_steps(&mut tx, d, rows).await?;
    }
    for rows in shapes(&unrecorded) {
        insert_ended_steps(&mut tx, d, rows).await?;
    }
    for (run, next, _) in &ended {
        if let Some(payload) = &next.action_failed {
            action_failed(&mut tx, run, &payload.to_string()).await?;
        }
    }

    // Tag changes, in the order of their records: the API's, and those of the steps starting now.
    let tag_changes: Vec<&TagEdit> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Tags(t) => Some(t),
            Op::Advance(a) if written(a) => a.advance.tags.as_ref(),
            _ => None,
        })
        .collect();
    let mut tagged = crate::records::contact_writes::change_tags_batch(&mut tx, d, &tag_changes)
        .await?
        .into_iter();

    let begins: Vec<BeginOf> = live
        .iter()
        .filter_map(|a| Some((a.advance.begin.as_ref()?, a.now)))
        .collect();
    let mut begun = HashMap::new();
    for rows in shapes(&begins) {
        begun.extend(upsert_steps(&mut tx, d, rows).await?);
    }
    let waking: Vec<BeginOf> = begins.iter().copied().filter(|(b, _)| b.wake_run).collect();
    for rows in shapes(&waking) {
        wake_runs(&mut tx, d, rows).await?;
    }
    tx.commit().await?;

    let mut next_tagged = || {
        tagged
            .next()
            .ok_or_else(|| StoreError::Corrupt("a tag change was not answered".into()))
    };
    ops.iter()
        .map(|op| {
            Ok(match op {
                Op::NewContact(c) => Reply::Inserted(inserted.contains(&c.id.to_string())),
                Op::Tags(_) => Reply::Tagged(next_tagged()?),
                Op::Start(s) => Reply::Started(started.contains(&s.run_id)),
                Op::Advance(a) if !written(a) => Reply::Advanced {
                    written: false,
                    begun: None,
                    tagged: None,
                },
                Op::Advance(a) => Reply::Advanced {
                    written: true,
                    begun: a
                        .advance
                        .begin
                        .as_ref()
                        .map(|b| {
                            begun.remove(&(b.run_id.to_string(), b.seq)).ok_or_else(|| {
                                StoreError::Corrupt(format!("step {} of run {} was not returned", b.seq, b.run_id))
                            })
                        })
                        .transpose()?,
                    tagged: a.advance.tags.as_ref().map(|_| next_tagged()).transpose()?,
                },
            })
        })
        .collect()
}

/// A run's id, its next state, and the time of its record.
type NextOf<'a> = (String, &'a RunNext, i64);
/// A step's run id, its end, and the time of its record.
type EndOf<'a> = (String, &'a StepEnd, i64);
/// A step about to run, and the time of its record.
type BeginOf<'a> = (&'a BeginStep, i64);

/// A reply of another kind than the record asked for (a bug, reported rather than panicking).
pub(crate) fn unexpected(r: Reply) -> StoreError {
    StoreError::Corrupt(format!("the run journal answered {r:?}"))
}

type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// Inserts new runs; returns the ids inserted (a run whose trigger key fired already is not).
async fn insert_runs(tx: &mut Transaction<'_, Any>, d: Dialect, rows: &[&StartRow]) -> Result<HashSet<String>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "INSERT INTO automation_runs (id, team_id, automation_id, version, status, trigger_key, state, job_id, created, updated) \
         VALUES {} ON CONFLICT DO NOTHING RETURNING id",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)")
    );
    let mut q: Query = sqlx::query(&sql);
    for r in rows {
        q = q
            .bind(&r.run_id)
            .bind(&r.team_id)
            .bind(&r.automation_id)
            .bind(r.version)
            .bind(r.trigger_key.as_deref())
            .bind(&r.state)
            .bind(&r.job_id)
            .bind(r.now)
            .bind(r.now);
    }
    let out = q.fetch_all(&mut **tx).await?;
    out.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
}

async fn insert_jobs(tx: &mut Transaction<'_, Any>, d: Dialect, rows: &[&StartRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO jobs (id, kind, team_id, payload, run_at, attempts, created, locked_until, locked_by) VALUES {}",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
    );
    let mut q: Query = sqlx::query(&sql);
    for r in rows {
        // A claimed job counts its claim, as `claim_jobs` would have.
        let attempts: i64 = if r.claim.is_some() { 1 } else { 0 };
        q = q
            .bind(&r.job_id)
            .bind(r.job_kind)
            .bind(&r.team_id)
            .bind(&r.job_payload)
            .bind(r.now)
            .bind(attempts)
            .bind(r.now)
            .bind(r.claim.as_ref().map(|c| c.1))
            .bind(r.claim.as_ref().map(|c| c.0.as_str()));
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Writes each run's next state, unless it was canceled (or ended) meanwhile; returns the runs
/// written. `VALUES` columns are `column1…` on both databases.
async fn update_runs(tx: &mut Transaction<'_, Any>, d: Dialect, rows: &[NextOf<'_>]) -> Result<HashSet<String>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "UPDATE automation_runs SET status = v.column2, state = v.column3, waiting_call_id = v.column4, \
         wake_at = v.column5, error = v.column6, updated = v.column7, finished = v.column8 \
         FROM (VALUES {}) AS v \
         WHERE automation_runs.id = v.column1 AND automation_runs.status IN ('running', 'waiting') \
         RETURNING automation_runs.id",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, ?, ?, ?, ?)")
    );
    let mut q: Query = sqlx::query(&sql);
    for (run_id, r, now) in rows {
        q = q
            .bind(run_id.as_str())
            .bind(r.status.as_str())
            .bind(&r.state)
            .bind(r.waiting_call_id.as_deref())
            .bind(r.wake_at)
            .bind(r.error.as_deref())
            .bind(*now)
            .bind(r.ends_run().then_some(*now));
    }
    let out = q.fetch_all(&mut **tx).await?;
    out.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
}

/// A run's job ends with it, in the same transaction (the runner need not delete it). The caller
/// passes only runs that ended.
async fn delete_ended_jobs(tx: &mut Transaction<'_, Any>, d: Dialect, ended: &[&NextOf<'_>]) -> Result<()> {
    if ended.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM jobs WHERE id IN (SELECT job_id FROM automation_runs WHERE id IN ({}))",
        list_sql(d, ended.len())
    );
    let mut q: Query = sqlx::query(&sql);
    for (run_id, _, _) in ended {
        q = q.bind(run_id.as_str());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Ends (or pauses) steps recorded as started.
async fn update_steps(tx: &mut Transaction<'_, Any>, d: Dialect, rows: &[EndOf<'_>]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE automation_steps SET status = v.column3, output = v.column4, error = v.column5, \
         state = COALESCE(v.column6, automation_steps.state), due_at = COALESCE(v.column7, automation_steps.due_at), \
         finished = v.column8 \
         FROM (VALUES {}) AS v WHERE automation_steps.run_id = v.column1 AND automation_steps.seq = v.column2",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, ?, ?, ?, ?)")
    );
    let mut q: Query = sqlx::query(&sql);
    for (run_id, r, now) in rows {
        q = q
            .bind(run_id.as_str())
            .bind(r.seq)
            .bind(r.status.as_str())
            .bind(r.output.as_ref().map(Value::to_string))
            .bind(r.error.as_deref())
            .bind(r.state.as_ref().map(Value::to_string))
            .bind(r.due_at)
            .bind(r.finished(*now));
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Inserts the whole rows of steps that ran without being recorded as started. A row already
/// there (an older build recorded the step's start, then its process died) becomes this one,
/// with the attempt counted.
async fn insert_ended_steps(tx: &mut Transaction<'_, Any>, d: Dialect, rows: &[EndOf<'_>]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO automation_steps \
         (id, run_id, seq, slug, step_type, attempt, status, input, output, error, state, due_at, started, finished) \
         VALUES {} \
         ON CONFLICT (run_id, seq) DO UPDATE SET attempt = automation_steps.attempt + 1, \
           status = excluded.status, input = excluded.input, output = excluded.output, error = excluded.error, \
           started = excluded.started, finished = excluded.finished",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)")
    );
    let mut q: Query = sqlx::query(&sql);
    for (run_id, r, now) in rows {
        let Some(u) = &r.unrecorded else {
            return Err(StoreError::Corrupt(format!(
                "step {} of run {run_id} has no row to insert",
                r.seq
            )));
        };
        q = q
            .bind(new_row_id().to_string())
            .bind(run_id.as_str())
            .bind(r.seq)
            .bind(&u.slug)
            .bind(&u.step_type)
            .bind(r.status.as_str())
            .bind(u.input.to_string())
            .bind(r.output.as_ref().map(Value::to_string))
            .bind(r.error.as_deref())
            .bind(r.state.as_ref().map(Value::to_string))
            .bind(r.due_at)
            .bind(u.started)
            .bind(r.finished(*now));
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Tells the team's `ACTION_FAILED` subscribers (rare: one statement pair per failed run).
async fn action_failed(tx: &mut Transaction<'_, Any>, run_id: &str, payload: &str) -> Result<()> {
    let team: String = sqlx::query("SELECT team_id FROM automation_runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("team_id")?;
    webhooks::fan_out(tx, &team, None, EventType::ActionFailed, payload).await?;
    Ok(())
}

/// Records steps as started. A step already recorded (the process died while it ran, or it was
/// waiting) is the same row with the attempt counted up (a resumed wait is not a new attempt);
/// its durable `state` is kept.
async fn upsert_steps(
    tx: &mut Transaction<'_, Any>,
    d: Dialect,
    rows: &[BeginOf<'_>],
) -> Result<HashMap<(String, i64), StepRow>> {
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "INSERT INTO automation_steps (id, run_id, seq, slug, step_type, attempt, status, input, started) \
         VALUES {} \
         ON CONFLICT (run_id, seq) DO UPDATE SET \
           attempt = CASE WHEN automation_steps.status = 'waiting' THEN automation_steps.attempt ELSE automation_steps.attempt + 1 END, \
           input = CASE WHEN automation_steps.status = 'waiting' THEN automation_steps.input ELSE excluded.input END, \
           status = 'running' \
         RETURNING {}",
        rows_sql(d, rows.len(), "(?, ?, ?, ?, ?, 1, 'running', ?, ?)"),
        crate::records::runs::STEP_COLUMNS
    );
    let mut q: Query = sqlx::query(&sql);
    for (r, now) in rows {
        q = q
            .bind(new_row_id().to_string())
            .bind(r.run_id.to_string())
            .bind(r.seq)
            .bind(&r.slug)
            .bind(&r.step_type)
            .bind(r.input.to_string())
            .bind(*now);
    }
    let out = q.fetch_all(&mut **tx).await?;
    out.iter()
        .map(|r| {
            let s = crate::records::runs::step_from_row(r)?;
            Ok(((s.run_id.to_string(), s.seq), s))
        })
        .collect()
}

/// Runs that were waiting show as running again. The caller passes only steps with `wake_run`.
async fn wake_runs(tx: &mut Transaction<'_, Any>, d: Dialect, waking: &[BeginOf<'_>]) -> Result<()> {
    if waking.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE automation_runs SET status = 'running', updated = {} WHERE status = 'waiting' AND id IN ({})",
        rows_sql(d, 1, "?"),
        // Numbered after the first on PostgreSQL.
        match d {
            Dialect::Sqlite => list_sql(d, waking.len()),
            Dialect::Postgres => (2..waking.len() + 2)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    );
    let mut q: Query = sqlx::query(&sql).bind(waking[0].1);
    for (b, _) in waking {
        q = q.bind(b.run_id.to_string());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
