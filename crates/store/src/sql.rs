//! SQL assembled at run time: a small query assembler for filters chosen at run time (list
//! endpoints), and the placeholders of multi-row statements (the journal's batches, the outbox's
//! events). SQL text comes only from fixed fragments in this crate; every user value is a bound
//! argument.

use sqlx::any::AnyArguments;
use sqlx::query::Query as SqlxQuery;
use sqlx::Any;

use crate::Dialect;

/// Rows per multi-row statement at most. The widest row binds 16 values: 128 rows stay far below
/// SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement.
pub(crate) const MAX_ROWS: usize = 128;

/// `rows` in chunks of 128, 64, …, 1 rows (largest first). A multi-row statement's text depends
/// on its row count; with any count, a dozen kinds of statement made hundreds of texts, each
/// prepared (SQLite) or parsed and planned (PostgreSQL) again as sqlx's per-connection cache of
/// 100 statements evicted it. In chunks, a kind has at most eight texts, and they stay cached.
/// Measured: SQLite's same-run ratio 0.19-0.20 -> 0.20-0.22; PostgreSQL's did not move.
pub(crate) fn shapes<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = (1usize << (usize::BITS - 1 - rest.len().leading_zeros())).min(MAX_ROWS);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// `n` rows of `row` (placeholders `?`) as `(?, …), (?, …)` on SQLite, `($1, …), ($k, …)` on
/// PostgreSQL. SQLite gets anonymous `?`: sqlx looks each numbered parameter up by name, and
/// SQLite finds a name by a linear scan, so `$N` costs O(n²) in a statement of n parameters (a
/// batch of a thousand spent more time there than in SQLite itself).
pub(crate) fn rows_sql(d: Dialect, n: usize, row: &str) -> String {
    let mut out = String::with_capacity(n * (row.len() + 16));
    let mut next = 1;
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        for ch in row.chars() {
            if ch == '?' && d == Dialect::Postgres {
                out.push('$');
                out.push_str(&next.to_string());
                next += 1;
            } else {
                out.push(ch);
            }
        }
    }
    out
}

/// `n` placeholders, as [`rows_sql`] writes them.
pub(crate) fn list_sql(d: Dialect, n: usize) -> String {
    rows_sql(d, n, "?")
}

#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
}

#[derive(Default)]
pub struct Query {
    pub sql: String,
    args: Vec<Arg>,
}

impl Query {
    pub fn new(sql: &str) -> Self {
        Query {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends a fixed SQL fragment.
    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }

    /// Binds a value and appends its placeholder.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.bind(Arg::Text(s.into()))
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        self.bind(Arg::Int(i))
    }

    pub fn build(&self) -> SqlxQuery<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// Callers lower-case both sides where the match is case-insensitive.
/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern, so a search for "50%" is literal.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Query {
    /// The same bound arguments under another statement (a COUNT and a page of one filter).
    pub fn with_sql(&self, sql: &str) -> Query {
        Query {
            sql: sql.to_string(),
            args: self.args.clone(),
        }
    }
}

impl Query {
    /// `SELECT COUNT(*)` over this query's `FROM … WHERE …` part, with the same arguments: the
    /// total that list endpoints report beside one page.
    pub async fn count(&self, pool: &sqlx::AnyPool) -> crate::Result<i64> {
        use sqlx::Row;
        let row = self
            .with_sql(&format!("SELECT COUNT(*) AS n{}", self.sql))
            .build()
            .fetch_one(pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_into_few_statement_shapes() {
        let sizes = |n: usize| shapes(&vec![0u8; n]).map(<[u8]>::len).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(127), [64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(sizes(128), [128]);
        assert_eq!(sizes(300), [128, 128, 32, 8, 4]);
    }

    #[test]
    fn placeholders_number_every_row() {
        assert_eq!(
            rows_sql(Dialect::Postgres, 2, "(?, 'x', ?)"),
            "($1, 'x', $2), ($3, 'x', $4)"
        );
        assert_eq!(rows_sql(Dialect::Sqlite, 2, "(?, 'x', ?)"), "(?, 'x', ?), (?, 'x', ?)");
        assert_eq!(list_sql(Dialect::Postgres, 3), "$1, $2, $3");
    }
}
