//! The `<QueryRequest>` document of Query Blob Contents: the SQL expression and the input and
//! output serializations (delimited text, JSON, Arrow, Parquet).

use axum::http::StatusCode;
use roxmltree::Node;

use crate::blob::tags::invalid_xml;
use crate::errors::ServiceError;

/// A parsed `<QueryRequest>`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryRequest {
    /// The SQL text of `<Expression>`.
    pub expression: String,
    /// How the blob's content is read (delimited text when the request does not say).
    pub input: Format,
    /// How the results are written (delimited text when the request does not say).
    pub output: Format,
}

/// A serialization of records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Format {
    /// `<DelimitedTextConfiguration>`: CSV with the given separators.
    Delimited(Delimited),
    /// `<JsonTextConfiguration>`: one JSON object per record.
    Json {
        /// What follows each record.
        record_separator: u8,
    },
    /// `<ArrowConfiguration>` (output only): an Arrow IPC stream of the given fields.
    Arrow(Vec<ArrowField>),
    /// `<ParquetTextConfiguration>` (input only).
    Parquet,
}

/// The settings of delimited text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delimited {
    /// Between fields.
    pub column_separator: u8,
    /// Around a field that holds separators.
    pub field_quote: Option<u8>,
    /// After each record; `\n` also takes a `\r` before it.
    pub record_separator: u8,
    /// Before a quote (or itself) that is part of a quoted field.
    pub escape_char: Option<u8>,
    /// Whether the first record names the columns (input) or one is written (output).
    pub headers: bool,
}

impl Default for Delimited {
    /// The service's defaults: `,`, `"`, `\n`, no escape, no header.
    fn default() -> Self {
        Delimited {
            column_separator: b',',
            field_quote: Some(b'"'),
            record_separator: b'\n',
            escape_char: None,
            headers: false,
        }
    }
}

/// One field of an Arrow output schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrowField {
    /// `int64`, `bool`, `timestamp[ms]`, `string`, `double` or `decimal`.
    pub kind: String,
    /// The column's name.
    pub name: Option<String>,
    /// A decimal's precision.
    pub precision: Option<u8>,
    /// A decimal's scale.
    pub scale: Option<i8>,
}

/// `InvalidQueryParameterValue`-like refusal of a query document the service cannot run.
pub(crate) fn invalid_query(message: &str) -> ServiceError {
    ServiceError::new(StatusCode::BAD_REQUEST, "InvalidQuerySyntax", message)
}

/// Parses a `<QueryRequest>` document.
pub(crate) fn parse(text: &str) -> Result<QueryRequest, ServiceError> {
    let doc = roxmltree::Document::parse(text).map_err(|_| invalid_xml())?;
    let root = doc.root_element();
    if root.tag_name().name() != "QueryRequest" {
        return Err(invalid_xml());
    }
    if let Some(kind) = child_text(root, "QueryType")
        && !kind.eq_ignore_ascii_case("SQL")
    {
        return Err(invalid_query("QueryType must be SQL."));
    }
    let expression = child_text(root, "Expression")
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| invalid_query("The query expression is missing."))?
        .to_string();
    let input = match child(root, "InputSerialization") {
        Some(node) => format(node)?,
        None => Format::Delimited(Delimited::default()),
    };
    let output = match child(root, "OutputSerialization") {
        Some(node) => format(node)?,
        None => Format::Delimited(Delimited::default()),
    };
    if matches!(input, Format::Arrow(_)) {
        return Err(invalid_query("Arrow is not an input format."));
    }
    if matches!(output, Format::Parquet) {
        return Err(invalid_query("Parquet is not an output format."));
    }
    Ok(QueryRequest {
        expression,
        input,
        output,
    })
}

/// The `<Format>` of an `<InputSerialization>` or `<OutputSerialization>`.
fn format(serialization: Node) -> Result<Format, ServiceError> {
    let format = child(serialization, "Format").ok_or_else(invalid_xml)?;
    let kind = child_text(format, "Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match kind.as_str() {
        "delimited" => {
            let mut settings = Delimited::default();
            if let Some(config) = child(format, "DelimitedTextConfiguration") {
                if let Some(c) = separator(config, "ColumnSeparator")? {
                    settings.column_separator = c;
                }
                if let Some(text) = child_text(config, "FieldQuote") {
                    settings.field_quote = one_byte(text)?;
                }
                if let Some(c) = separator(config, "RecordSeparator")? {
                    settings.record_separator = c;
                }
                if let Some(text) = child_text(config, "EscapeChar") {
                    settings.escape_char = one_byte(text)?;
                }
                settings.headers = child_text(config, "HasHeaders")
                    .is_some_and(|h| h.trim().eq_ignore_ascii_case("true"));
            }
            Ok(Format::Delimited(settings))
        }
        "json" => {
            let record_separator = match child(format, "JsonTextConfiguration") {
                Some(config) => separator(config, "RecordSeparator")?.unwrap_or(b'\n'),
                None => b'\n',
            };
            Ok(Format::Json { record_separator })
        }
        "arrow" => {
            let config = child(format, "ArrowConfiguration").ok_or_else(invalid_xml)?;
            let schema = child(config, "Schema").ok_or_else(invalid_xml)?;
            let fields = schema
                .children()
                .filter(|n| n.is_element() && n.tag_name().name() == "Field")
                .map(|field| ArrowField {
                    kind: child_text(field, "Type")
                        .unwrap_or_default()
                        .to_ascii_lowercase(),
                    name: child_text(field, "Name").map(str::to_string),
                    precision: child_text(field, "Precision").and_then(|p| p.trim().parse().ok()),
                    scale: child_text(field, "Scale").and_then(|s| s.trim().parse().ok()),
                })
                .collect();
            Ok(Format::Arrow(fields))
        }
        "parquet" => Ok(Format::Parquet),
        _ => Err(invalid_query("Unknown serialization format type.")),
    }
}

/// A one-character setting; `None` when the element is absent or empty.
fn separator(config: Node, name: &str) -> Result<Option<u8>, ServiceError> {
    match child_text(config, name) {
        None => Ok(None),
        Some(text) => one_byte(text),
    }
}

/// The single ASCII character of `text`; `None` for an empty text.
fn one_byte(text: &str) -> Result<Option<u8>, ServiceError> {
    match text.as_bytes() {
        [] => Ok(None),
        [b] if b.is_ascii() => Ok(Some(*b)),
        _ => Err(invalid_query(
            "Separators, quotes and escapes must be one ASCII character.",
        )),
    }
}

/// The first child element of `node` named `name`.
fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The text of the first child element named `name` (`""` for an empty element).
fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name).map(|n| n.text().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_delimited_and_json_settings() {
        let text = "<?xml version='1.0' encoding='utf-8'?>\n<QueryRequest><QueryType>SQL</QueryType>\
            <Expression>SELECT * from BlobStorage</Expression><InputSerialization><Format>\
            <Type>delimited</Type><DelimitedTextConfiguration><ColumnSeparator>,</ColumnSeparator>\
            <FieldQuote>&quot;</FieldQuote><RecordSeparator>\n</RecordSeparator><EscapeChar />\
            <HasHeaders>true</HasHeaders></DelimitedTextConfiguration></Format></InputSerialization>\
            <OutputSerialization><Format><Type>json</Type><JsonTextConfiguration>\
            <RecordSeparator>;</RecordSeparator></JsonTextConfiguration></Format>\
            </OutputSerialization></QueryRequest>";
        let request = parse(text).unwrap();
        assert_eq!(request.expression, "SELECT * from BlobStorage");
        let Format::Delimited(input) = request.input else {
            panic!("not delimited")
        };
        assert_eq!(input.field_quote, Some(b'"'));
        assert_eq!(input.record_separator, b'\n');
        assert_eq!(input.escape_char, None);
        assert!(input.headers);
        assert_eq!(
            request.output,
            Format::Json {
                record_separator: b';'
            }
        );
    }

    #[test]
    fn defaults_and_arrow_schema() {
        let text = "<QueryRequest><QueryType>SQL</QueryType><Expression>SELECT _2 from \
            BlobStorage</Expression><OutputSerialization><Format><Type>arrow</Type>\
            <ArrowConfiguration><Schema><Field><Type>decimal</Type><Name>abc</Name>\
            <Precision>4</Precision><Scale>2</Scale></Field></Schema></ArrowConfiguration>\
            </Format></OutputSerialization></QueryRequest>";
        let request = parse(text).unwrap();
        assert_eq!(request.input, Format::Delimited(Delimited::default()));
        let Format::Arrow(fields) = request.output else {
            panic!("not arrow")
        };
        assert_eq!(fields[0].kind, "decimal");
        assert_eq!(fields[0].precision, Some(4));
        assert_eq!(fields[0].scale, Some(2));
    }

    #[test]
    fn refuses_parquet_output() {
        let text = "<QueryRequest><Expression>SELECT *</Expression><OutputSerialization>\
            <Format><Type>parquet</Type></Format></OutputSerialization></QueryRequest>";
        assert!(parse(text).is_err());
    }
}
