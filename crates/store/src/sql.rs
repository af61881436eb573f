//! A small query assembler for filters chosen at run time (list endpoints). SQL text comes only
//! from fixed fragments in this crate; every user value is a bound argument with its own `$N`.

use sqlx::any::AnyArguments;
use sqlx::query::Query as SqlxQuery;
use sqlx::Any;

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
