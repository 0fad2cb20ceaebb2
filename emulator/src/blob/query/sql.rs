//! The SQL subset of Query Blob Contents: `SELECT * | column, … | COUNT(*) FROM BlobStorage
//! [WHERE condition] [LIMIT n]`, columns named `_1`, `_2`, … (by position), by header name or
//! JSON key (bare or `"quoted"`), conditions of comparisons (`= != <> < <= > >=`) between
//! columns and number or `'string'` literals joined by `AND`, `OR`, `NOT` and parentheses.

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    /// What each result record holds.
    pub projection: Projection,
    /// Which records are kept (all when `None`).
    pub filter: Option<Condition>,
    /// At most this many result records.
    pub limit: Option<u64>,
}

/// The `SELECT` list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Projection {
    /// `*`: the whole record.
    All,
    /// `COUNT(*)`: one record with the number of records kept.
    Count,
    /// The listed columns, in order.
    Columns(Vec<Column>),
}

/// A reference to a column of a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// `_N`: the N-th field (from 1).
    Position(usize),
    /// A header name or JSON key.
    Name(String),
}

impl Column {
    /// The name the column has in the results.
    pub(crate) fn label(&self) -> String {
        match self {
            Column::Position(n) => format!("_{n}"),
            Column::Name(name) => name.clone(),
        }
    }
}

/// A `WHERE` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// A comparison of two operands.
    Compare(Operand, Comparison, Operand),
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// A column's value.
    Column(Column),
    /// A number literal.
    Number(f64),
    /// A `'string'` literal.
    Text(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Comparison {
    /// `=`
    Equal,
    /// `!=` or `<>`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

/// A token of the query text.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(f64),
    Text(String),
    Symbol(&'static str),
}

/// Splits the query text into tokens.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let number: String = chars[start..i].iter().collect();
            let value = number.parse().map_err(|_| format!("bad number {number}"))?;
            tokens.push(Token::Number(value));
        } else if c == '\'' || c == '"' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quote".into()),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        value.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(if c == '\'' {
                Token::Text(value)
            } else {
                Token::Quoted(value)
            });
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = ["<=", ">=", "!=", "<>"]
                .into_iter()
                .find(|s| *s == two)
                .or_else(|| {
                    ["*", ",", "(", ")", ";", "=", "<", ">", "-"]
                        .into_iter()
                        .find(|s| s.starts_with(c))
                })
                .ok_or_else(|| format!("unexpected character {c}"))?;
            i += symbol.len();
            tokens.push(Token::Symbol(symbol));
        }
    }
    Ok(tokens)
}

/// A recursive-descent parser over the tokens.
struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    /// Takes the keyword `word` (any case) if it comes next.
    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        if found {
            self.at += 1;
        }
        found
    }

    /// Takes `symbol` if it comes next.
    fn symbol(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), String> {
        self.keyword(word)
            .then_some(())
            .ok_or_else(|| format!("expected {word}"))
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), String> {
        self.symbol(symbol)
            .then_some(())
            .ok_or_else(|| format!("expected {symbol}"))
    }

    fn projection(&mut self) -> Result<Projection, String> {
        if self.symbol("*") {
            return Ok(Projection::All);
        }
        if matches!(self.tokens.get(self.at + 1), Some(Token::Symbol("("))) && self.keyword("COUNT")
        {
            self.expect_symbol("(")?;
            self.expect_symbol("*")?;
            self.expect_symbol(")")?;
            return Ok(Projection::Count);
        }
        let mut columns = vec![self.column()?];
        while self.symbol(",") {
            columns.push(self.column()?);
        }
        Ok(Projection::Columns(columns))
    }

    fn column(&mut self) -> Result<Column, String> {
        match self.next() {
            Some(Token::Quoted(name)) => Ok(Column::Name(name)),
            Some(Token::Word(word)) if !is_reserved(&word) => Ok(column_of(word)),
            other => Err(format!("expected a column, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, String> {
        if self.keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        if self.symbol("(") {
            let inner = self.or()?;
            self.expect_symbol(")")?;
            return Ok(inner);
        }
        let left = self.operand()?;
        let comparison = match self.next() {
            Some(Token::Symbol("=")) => Comparison::Equal,
            Some(Token::Symbol("!=" | "<>")) => Comparison::NotEqual,
            Some(Token::Symbol("<")) => Comparison::Less,
            Some(Token::Symbol("<=")) => Comparison::LessOrEqual,
            Some(Token::Symbol(">")) => Comparison::Greater,
            Some(Token::Symbol(">=")) => Comparison::GreaterOrEqual,
            other => return Err(format!("expected a comparison, found {other:?}")),
        };
        Ok(Condition::Compare(left, comparison, self.operand()?))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Token::Number(n)) => Ok(Operand::Number(n)),
            Some(Token::Symbol("-")) => match self.next() {
                Some(Token::Number(n)) => Ok(Operand::Number(-n)),
                other => Err(format!("expected a number, found {other:?}")),
            },
            Some(Token::Text(text)) => Ok(Operand::Text(text)),
            Some(Token::Quoted(name)) => Ok(Operand::Column(Column::Name(name))),
            Some(Token::Word(word)) if !is_reserved(&word) => Ok(Operand::Column(column_of(word))),
            other => Err(format!("expected a value, found {other:?}")),
        }
    }
}

/// Keywords that cannot name a column.
fn is_reserved(word: &str) -> bool {
    ["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "LIMIT"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

/// `_N` by position, anything else by name.
fn column_of(word: String) -> Column {
    match word.strip_prefix('_').map(str::parse::<usize>) {
        Some(Ok(n)) if n > 0 => Column::Position(n),
        _ => Column::Name(word),
    }
}

/// Parses a query; the error says what is wrong with it.
pub(crate) fn parse(text: &str) -> Result<Statement, String> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    parser.expect_keyword("SELECT")?;
    let projection = parser.projection()?;
    parser.expect_keyword("FROM")?;
    if !parser.keyword("BlobStorage") {
        return Err("the table must be BlobStorage".into());
    }
    let filter = if parser.keyword("WHERE") {
        Some(parser.or()?)
    } else {
        None
    };
    let limit = if parser.keyword("LIMIT") {
        match parser.next() {
            Some(Token::Number(n)) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
            other => return Err(format!("expected a limit, found {other:?}")),
        }
    } else {
        None
    };
    while parser.symbol(";") {}
    match parser.peek() {
        None => Ok(Statement {
            projection,
            filter,
            limit,
        }),
        Some(token) => Err(format!("unexpected {token:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_star_columns_and_count() {
        let all = parse("SELECT * from BlobStorage").unwrap();
        assert_eq!(all.projection, Projection::All);
        assert_eq!(all.filter, None);
        let columns = parse("select RepoPath, _2, \"a b\" from blobstorage;").unwrap();
        assert_eq!(
            columns.projection,
            Projection::Columns(vec![
                Column::Name("RepoPath".into()),
                Column::Position(2),
                Column::Name("a b".into()),
            ])
        );
        let count = parse("SELECT COUNT(*) FROM BlobStorage LIMIT 3").unwrap();
        assert_eq!(count.projection, Projection::Count);
        assert_eq!(count.limit, Some(3));
    }

    #[test]
    fn parses_conditions() {
        let query =
            parse("SELECT _2 from BlobStorage WHERE _1 > 250 AND NOT (name = 'o''k' OR id <= -1)")
                .unwrap();
        let expected = Condition::And(
            Box::new(Condition::Compare(
                Operand::Column(Column::Position(1)),
                Comparison::Greater,
                Operand::Number(250.0),
            )),
            Box::new(Condition::Not(Box::new(Condition::Or(
                Box::new(Condition::Compare(
                    Operand::Column(Column::Name("name".into())),
                    Comparison::Equal,
                    Operand::Text("o'k".into()),
                )),
                Box::new(Condition::Compare(
                    Operand::Column(Column::Name("id".into())),
                    Comparison::LessOrEqual,
                    Operand::Number(-1.0),
                )),
            )))),
        );
        assert_eq!(query.filter, Some(expected));
    }

    #[test]
    fn refuses_other_tables_and_junk() {
        assert!(parse("SELECT * FROM Other").is_err());
        assert!(parse("SELECT * FROM BlobStorage WHERE").is_err());
        assert!(parse("SELECT FROM BlobStorage").is_err());
        assert!(parse("SELECT * FROM BlobStorage extra").is_err());
    }
}
