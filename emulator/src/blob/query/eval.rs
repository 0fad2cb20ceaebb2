//! Running a [`Statement`] on one input record: the `WHERE` condition and the projected
//! values.

use serde_json::{Map, Value as Json};

use super::sql::{Column, Comparison, Condition, Operand, Projection, Statement};

/// One record of the blob's content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// The fields of a delimited-text record.
    Fields(Vec<String>),
    /// A JSON object.
    Object(Map<String, Json>),
}

/// A value a column has in a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A JSON key the record does not have.
    Missing,
    /// A delimited-text field.
    Text(String),
    /// A JSON value.
    Json(Json),
}

impl Value {
    /// The value as a number, when it is one or is text of one.
    fn number(&self) -> Option<f64> {
        match self {
            Value::Missing => None,
            Value::Text(text) => text.trim().parse().ok(),
            Value::Json(Json::Number(n)) => n.as_f64(),
            Value::Json(Json::String(s)) => s.trim().parse().ok(),
            Value::Json(_) => None,
        }
    }

    /// The value as text, when it is text.
    fn text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            Value::Json(Json::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// A record-level (non-fatal) error: the record is skipped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordError {
    /// The error's name.
    pub name: &'static str,
    /// What went wrong.
    pub description: String,
}

/// A column a delimited record does not have.
fn missing_column(column: &Column) -> RecordError {
    RecordError {
        name: "InvalidColumnOrdinal",
        description: format!(
            "The record has no column {}: it has fewer fields than the query refers to.",
            column.label()
        ),
    }
}

/// The column names of delimited text with a header row.
pub(crate) type Header = Option<Vec<String>>;

/// The value of `column` in `record`.
fn lookup(record: &Record, header: &Header, column: &Column) -> Result<Value, RecordError> {
    match record {
        Record::Fields(fields) => {
            let index = match column {
                Column::Position(n) => Some(n - 1),
                Column::Name(name) => header
                    .as_ref()
                    .and_then(|h| h.iter().position(|c| c.eq_ignore_ascii_case(name))),
            };
            index
                .and_then(|i| fields.get(i))
                .map(|f| Value::Text(f.clone()))
                .ok_or_else(|| missing_column(column))
        }
        Record::Object(object) => {
            let found = match column {
                Column::Name(name) => object.get(name),
                Column::Position(n) => object.values().nth(n - 1),
            };
            Ok(found.map_or(Value::Missing, |v| Value::Json(v.clone())))
        }
    }
}

/// Whether `condition` holds for `record`.
fn holds(condition: &Condition, record: &Record, header: &Header) -> Result<bool, RecordError> {
    Ok(match condition {
        Condition::And(a, b) => holds(a, record, header)? && holds(b, record, header)?,
        Condition::Or(a, b) => holds(a, record, header)? || holds(b, record, header)?,
        Condition::Not(a) => !holds(a, record, header)?,
        Condition::Compare(lhs, comparison, rhs) => {
            let value = |operand: &Operand| match operand {
                Operand::Column(column) => lookup(record, header, column),
                Operand::Number(n) => Ok(Value::Json(
                    serde_json::Number::from_f64(*n).map_or(Json::Null, Json::Number),
                )),
                Operand::Text(text) => Ok(Value::Text(text.clone())),
            };
            let (left, right) = (value(lhs)?, value(rhs)?);
            let numeric = |o: &Operand| matches!(o, Operand::Number(_));
            let order = if numeric(lhs) || numeric(rhs) {
                match (left.number(), right.number()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                }
            } else {
                match (left.text(), right.text()) {
                    (Some(a), Some(b)) => Some(a.cmp(b)),
                    _ => match (left.number(), right.number()) {
                        (Some(a), Some(b)) => a.partial_cmp(&b),
                        _ => None,
                    },
                }
            };
            let Some(order) = order else {
                return Ok(*comparison == Comparison::NotEqual);
            };
            match comparison {
                Comparison::Equal => order.is_eq(),
                Comparison::NotEqual => order.is_ne(),
                Comparison::Less => order.is_lt(),
                Comparison::LessOrEqual => order.is_le(),
                Comparison::Greater => order.is_gt(),
                Comparison::GreaterOrEqual => order.is_ge(),
            }
        }
    })
}

/// What a record gives the results.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The condition does not hold: nothing.
    Skipped,
    /// The record as it is (`SELECT *`).
    Whole,
    /// The projected columns: (label, value) in order.
    Columns(Vec<(String, Value)>),
    /// Counted (`COUNT(*)`).
    Counted,
}

/// Runs `statement` on `record`.
pub(crate) fn evaluate(
    statement: &Statement,
    record: &Record,
    header: &Header,
) -> Result<Outcome, RecordError> {
    if let Some(filter) = &statement.filter
        && !holds(filter, record, header)?
    {
        return Ok(Outcome::Skipped);
    }
    Ok(match &statement.projection {
        Projection::All => Outcome::Whole,
        Projection::Count => Outcome::Counted,
        Projection::Columns(columns) => {
            let mut values = Vec::with_capacity(columns.len());
            for column in columns {
                values.push((column.label(), lookup(record, header, column)?));
            }
            Outcome::Columns(values)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::sql::parse;
    use super::*;

    fn fields(values: &[&str]) -> Record {
        Record::Fields(values.iter().map(|v| v.to_string()).collect())
    }

    #[test]
    fn filters_numbers_of_text_fields() {
        let query = parse("SELECT _2 from BlobStorage WHERE _1 > 250").unwrap();
        let low = evaluate(&query, &fields(&["100", "200"]), &None).unwrap();
        assert_eq!(low, Outcome::Skipped);
        let high = evaluate(&query, &fields(&["300", "400"]), &None).unwrap();
        assert_eq!(
            high,
            Outcome::Columns(vec![("_2".into(), Value::Text("400".into()))])
        );
    }

    #[test]
    fn names_columns_by_header_and_reports_short_records() {
        let query = parse("SELECT RepoPath from BlobStorage").unwrap();
        let header = Some(vec!["Service".to_string(), "RepoPath".to_string()]);
        let ok = evaluate(&query, &fields(&["a", "b"]), &header).unwrap();
        assert_eq!(
            ok,
            Outcome::Columns(vec![("RepoPath".into(), Value::Text("b".into()))])
        );
        assert!(evaluate(&query, &fields(&["Event Hubs"]), &header).is_err());
    }

    #[test]
    fn json_keys_may_be_missing() {
        let query = parse("SELECT name from BlobStorage WHERE id < 2 OR id != 5").unwrap();
        let Json::Object(object) = serde_json::json!({"name2": "x"}) else {
            unreachable!()
        };
        let outcome = evaluate(&query, &Record::Object(object), &None).unwrap();
        assert_eq!(
            outcome,
            Outcome::Columns(vec![("name".into(), Value::Missing)])
        );
    }
}
