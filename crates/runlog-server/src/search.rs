//! `runs/search` with the part of MLflow's filter language that users
//! write: `metrics.loss < 0.5`, `params.lr = '3e-4'`, `tags.team = 'x'`,
//! `attributes.status = 'FINISHED'`, `attributes.run_name LIKE 'a%'`,
//! `attributes.start_time > 1700000000000`, joined with `AND`; `order_by`
//! on metrics, params, tags and attributes; `max_results` and page tokens.

use axum::Json;
use axum::extract::State;
use runlog::{RunFilter, RunSummary};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request::Req;
use crate::wire::{DELETED_TAG, find_experiment, lenient_i64, run_json, status_name};

/// One token of a filter.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Op(String),
}

fn tokens(filter: &str) -> ApiResult<Vec<Token>> {
    let mut out = Vec::new();
    let chars: Vec<char> = filter.chars().collect();
    let mut i = 0;
    let bad = |why: String| ApiError::invalid(format!("filter {filter:?}: {why}"));
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(bad("an unclosed quote".into())),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        text.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            out.push(Token::Text(text));
        } else if "<>=!".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = if ["<=", ">=", "!="].contains(&two.as_str()) {
                two
            } else {
                c.to_string()
            };
            if op == "!" {
                return Err(bad("`!` without `=`".into()));
            }
            i += op.len();
            out.push(Token::Op(op));
        } else {
            let mut word = String::new();
            while let Some(&w) = chars.get(i) {
                if w.is_whitespace() || "<>=!'\"".contains(w) {
                    break;
                }
                if w == '`' {
                    i += 1;
                    while let Some(&q) = chars.get(i) {
                        i += 1;
                        if q == '`' {
                            break;
                        }
                        word.push(q);
                    }
                    continue;
                }
                word.push(w);
                i += 1;
            }
            out.push(Token::Word(word));
        }
    }
    Ok(out)
}

/// What a clause compares.
#[derive(Clone, Debug, PartialEq)]
enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
}

/// One `entity.key op value` clause.
#[derive(Clone, Debug)]
struct Clause {
    entity: Entity,
    key: String,
    op: String,
    value: String,
}

fn entity(word: &str) -> Option<(Entity, &str)> {
    let (entity, key) = word.split_once('.')?;
    let entity = match entity.to_ascii_lowercase().as_str() {
        "metric" | "metrics" => Entity::Metric,
        "param" | "params" | "parameter" | "parameters" => Entity::Param,
        "tag" | "tags" => Entity::Tag,
        "attribute" | "attributes" | "attr" | "run" => Entity::Attribute,
        _ => return None,
    };
    Some((entity, key))
}

fn clauses(filter: &str) -> ApiResult<Vec<Clause>> {
    let tokens = tokens(filter)?;
    let bad = |why: &str| ApiError::invalid(format!("filter {filter:?}: {why}"));
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Token::Word(left) = &tokens[i] else {
            return Err(bad(
                "a clause starts with metrics., params., tags. or attributes.",
            ));
        };
        let (entity, key) =
            entity(left).ok_or_else(|| bad(&format!("unknown identifier {left:?}")))?;
        let (op, next) = match (tokens.get(i + 1), tokens.get(i + 2)) {
            (Some(Token::Op(op)), _) => (op.clone(), i + 2),
            (Some(Token::Word(w)), Some(Token::Word(like)))
                if w.eq_ignore_ascii_case("not") && like.to_ascii_uppercase().ends_with("LIKE") =>
            {
                (format!("NOT {}", like.to_ascii_uppercase()), i + 3)
            }
            (Some(Token::Word(w)), _) if w.to_ascii_uppercase().ends_with("LIKE") => {
                (w.to_ascii_uppercase(), i + 2)
            }
            _ => return Err(bad(&format!("{left:?} needs a comparison"))),
        };
        let (value, numeric) = match tokens.get(next) {
            Some(Token::Text(t)) => (t.clone(), false),
            Some(Token::Word(w)) => (w.clone(), true),
            _ => return Err(bad(&format!("{left:?} {op} needs a value"))),
        };
        if entity == Entity::Metric && (!numeric || value.parse::<f64>().is_err()) {
            return Err(bad(&format!(
                "metrics.{key} compares with a number, not {value:?}"
            )));
        }
        out.push(Clause {
            entity,
            key: key.to_string(),
            op,
            value,
        });
        i = next + 1;
        match tokens.get(i) {
            None => {}
            Some(Token::Word(and)) if and.eq_ignore_ascii_case("and") => i += 1,
            Some(other) => return Err(bad(&format!("expected AND, found {other:?}"))),
        }
    }
    Ok(out)
}

/// A run's value for a clause or an ordering: a number or a text.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Field {
    Number(f64),
    Text(String),
}

fn field(run: &RunSummary, entity: &Entity, key: &str) -> Option<Field> {
    let info = &run.info;
    match entity {
        Entity::Metric => run.metric(key).map(|s| Field::Number(s.last_value)),
        Entity::Param => info.params.get(key).cloned().map(Field::Text),
        Entity::Tag => info.tags.get(key).cloned().map(Field::Text),
        Entity::Attribute => match key {
            "status" => Some(Field::Text(status_name(info.status).into())),
            "run_name" | "name" => Some(Field::Text(info.name.clone())),
            "run_id" => Some(Field::Text(info.id.0.to_string())),
            "start_time" => Some(Field::Number(info.start_ms as f64)),
            "end_time" => info.end_ms.map(|t| Field::Number(t as f64)),
            _ => None,
        },
    }
}

/// SQL `LIKE`: `%` any run, `_` one character.
fn like(pattern: &str, text: &str, fold: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if fold {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|k| go(&p[1..], &t[k..])),
            Some('_') => !t.is_empty() && go(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

fn matches(run: &RunSummary, clause: &Clause) -> bool {
    let Some(left) = field(run, &clause.entity, &clause.key) else {
        return false;
    };
    let right = match &left {
        Field::Number(_) => match clause.value.parse::<f64>() {
            Ok(n) => Field::Number(n),
            Err(_) => return false,
        },
        Field::Text(_) => Field::Text(clause.value.clone()),
    };
    compare(&clause.op, &left, &right)
}

/// `left op right`.
fn compare(op: &str, left: &Field, right: &Field) -> bool {
    match (op, left, right) {
        (op, Field::Text(l), Field::Text(r)) if op.ends_with("LIKE") => {
            like(r, l, op.ends_with("ILIKE")) != op.starts_with("NOT")
        }
        ("=", l, r) => l == r,
        ("!=", l, r) => l != r,
        ("<", l, r) => l < r,
        ("<=", l, r) => l <= r,
        (">", l, r) => l > r,
        (">=", l, r) => l >= r,
        _ => false,
    }
}

/// A filter on experiment names (`name = 'x'`, `name LIKE 'x%'`).
pub struct NameFilter(Vec<Clause>);

impl NameFilter {
    /// Reads `filter` (empty: every name).
    pub fn parse(filter: &str) -> ApiResult<NameFilter> {
        if filter.trim().is_empty() {
            return Ok(NameFilter(Vec::new()));
        }
        clauses(&format!("attributes.{}", filter.trim())).map(NameFilter)
    }

    /// Whether `name` passes.
    pub fn accepts(&self, name: &str) -> bool {
        let left = Field::Text(name.to_string());
        self.0
            .iter()
            .all(|c| compare(&c.op, &left, &Field::Text(c.value.clone())))
    }
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    run_view_type: Value,
    #[serde(default, deserialize_with = "lenient_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default)]
    page_token: String,
}

/// `runs/search`.
pub async fn search(State(app): State<AppState>, Req(req): Req<Search>) -> ApiResult<Json<Value>> {
    let clauses = clauses(&req.filter)?;
    let mut experiments = Vec::new();
    for id in &req.experiment_ids {
        experiments.push(find_experiment(&app.db, id)?.name);
    }
    let view = match &req.run_view_type {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_u64() {
            Some(2) => "DELETED_ONLY".into(),
            Some(3) => "ALL".into(),
            _ => "ACTIVE_ONLY".into(),
        },
        _ => "ACTIVE_ONLY".into(),
    };
    let mut runs: Vec<RunSummary> = app
        .db
        .runs(&RunFilter::default())
        .into_iter()
        .filter(|r| experiments.is_empty() || experiments.contains(&r.info.experiment))
        .filter(|r| {
            let deleted = r.info.tags.contains_key(DELETED_TAG);
            match view.as_str() {
                "DELETED_ONLY" => deleted,
                "ALL" => true,
                _ => !deleted,
            }
        })
        .filter(|r| clauses.iter().all(|c| matches(r, c)))
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.info.start_ms));
    for term in req.order_by.iter().rev() {
        let mut words = term.split_whitespace();
        let target = words.next().unwrap_or("");
        let descending = words.next().is_some_and(|w| w.eq_ignore_ascii_case("desc"));
        let (entity, key) = entity(target)
            .ok_or_else(|| ApiError::invalid(format!("order_by {term:?}: unknown identifier")))?;
        runs.sort_by(|a, b| {
            let (x, y) = (field(a, &entity, key), field(b, &entity, key));
            match (x, y) {
                (Some(x), Some(y)) => {
                    let order = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                    if descending { order.reverse() } else { order }
                }
                (x, y) => x.is_none().cmp(&y.is_none()),
            }
        });
    }
    let offset = crate::page_offset(&req.page_token)?;
    let limit = usize::try_from(req.max_results.unwrap_or(1000).clamp(1, 50_000)).unwrap_or(1000);
    let page = runs
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| run_json(&app.db, r.info.id))
        .collect::<ApiResult<Vec<_>>>()?;
    let mut out = json!({"runs": page});
    if offset + limit < runs.len() {
        out["next_page_token"] = json!((offset + limit).to_string());
    }
    Ok(Json(out))
}
