//! Name templates: `{token}`s in `output.directory` and `output.file_name`, filled in with
//! the dataset, the run and the run's start in the job's time zone.
//!
//! The values are made path-safe before they go in (no `/`, no `\`, no control
//! characters, never `.` or `..`), so whether a template stays inside its directory is
//! decided by its literal text alone; [`problem`] checks that text and the tokens.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

/// Every token a template may hold, as written between braces.
pub const TOKENS: &[&str] = &[
    "dataset_id",
    "dataset_name",
    "run_id",
    "date",
    "time",
    "yyyy",
    "mm",
    "dd",
    "hh",
    "part",
];

/// What the tokens stand for in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vars {
    /// `{dataset_id}`.
    pub dataset_id: String,
    /// `{dataset_name}`, as the source names the dataset (made path-safe when used).
    pub dataset_name: String,
    /// `{run_id}`.
    pub run_id: String,
    /// The run's start, milliseconds since the Unix epoch (UTC).
    pub started_at_ms: u64,
    /// The job's time zone's offset from UTC at that instant, in minutes.
    pub utc_offset_minutes: i32,
}

/// One piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Token(&'a str),
}

/// Splits `template` into text and tokens; the error says what is wrong.
fn parse(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                pieces.push(Piece::Text(rest));
                break;
            }
            Some(at) if rest.as_bytes()[at] == b'}' => {
                return Err("it has a `}` without its `{`".into());
            }
            Some(at) => {
                if at > 0 {
                    pieces.push(Piece::Text(&rest[..at]));
                }
                let after = &rest[at + 1..];
                let close = after
                    .find(['{', '}'])
                    .filter(|&c| after.as_bytes()[c] == b'}')
                    .ok_or_else(|| "it has a `{` that is never closed".to_owned())?;
                let token = &after[..close];
                if !TOKENS.contains(&token) {
                    return Err(format!(
                        "`{{{token}}}` is not a token: use {}",
                        TOKENS
                            .iter()
                            .map(|t| format!("{{{t}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                pieces.push(Piece::Token(token));
                rest = &after[close + 1..];
            }
        }
    }
    Ok(pieces)
}

/// Why `template` is not a valid template, if it is not one: an unknown token, an
/// unbalanced brace, or a token the field cannot hold (`{part}` where `allow_part` is
/// false).
pub fn problem(template: &str, allow_part: bool) -> Option<String> {
    match parse(template) {
        Err(why) => Some(why),
        Ok(pieces) if !allow_part && pieces.contains(&Piece::Token("part")) => {
            Some("`{part}` names a part's file, so it may appear in output.file_name only".into())
        }
        Ok(_) => None,
    }
}

/// Whether `template` holds the token `name`.
pub fn has_token(template: &str, name: &str) -> bool {
    parse(template).is_ok_and(|p| p.contains(&Piece::Token(name)))
}

/// `template` with its tokens filled in; `{part}` is the part number in five digits
/// (`00001` when `part` is `None`). An invalid template is returned as it is (validation
/// has refused it before any run).
pub fn render(template: &str, vars: &Vars, part: Option<u32>) -> String {
    let Ok(pieces) = parse(template) else {
        return template.to_owned();
    };
    let at = local_start(vars);
    let mut out = String::with_capacity(template.len() + 32);
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Token(token) => out.push_str(&match token {
                "dataset_id" => path_safe(&vars.dataset_id),
                "dataset_name" => path_safe(&vars.dataset_name),
                "run_id" => path_safe(&vars.run_id),
                "date" => format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day()),
                "time" => format!("{:02}{:02}{:02}", at.hour(), at.minute(), at.second()),
                "yyyy" => format!("{:04}", at.year()),
                "mm" => format!("{:02}", at.month()),
                "dd" => format!("{:02}", at.day()),
                "hh" => format!("{:02}", at.hour()),
                "part" => format!("{:05}", part.unwrap_or(1)),
                _ => unreachable!("parse admits known tokens only"),
            }),
        }
    }
    out
}

/// The run's start in the job's time zone.
fn local_start(vars: &Vars) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(vars.utc_offset_minutes.saturating_mul(60))
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero is a valid offset"));
    let utc = i64::try_from(vars.started_at_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default();
    utc.with_timezone(&offset)
}

/// `value` as one path segment: characters other than letters, digits, space, `-`, `_`
/// and `.` become `_`, surrounding spaces go, and a value of dots only (or nothing)
/// becomes `_`.
pub fn path_safe(value: &str) -> String {
    let safe: String = value
        .chars()
        .map(|c| match c {
            c if c.is_alphanumeric() => c,
            ' ' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    let safe = safe.trim();
    if safe.chars().all(|c| c == '.') {
        "_".into()
    } else {
        safe.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            dataset_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into(),
            dataset_name: "Sales / EMEA: Q1".into(),
            run_id: "20240301T230500Z-1a2b".into(),
            // 2024-03-01T23:05:09.250Z
            started_at_ms: 1_709_334_309_250,
            utc_offset_minutes: 0,
        }
    }

    #[test]
    fn tokens_are_filled_in() {
        let v = vars();
        let cases = [
            ("sales/{yyyy}/{mm}/{dd}", "sales/2024/03/01"),
            ("{date}_{time}", "2024-03-01_230509"),
            ("h{hh}", "h23"),
            ("{dataset_id}", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("{dataset_name}", "Sales _ EMEA_ Q1"),
            ("run-{run_id}", "run-20240301T230500Z-1a2b"),
            ("p{part}", "p00001"),
            ("plain", "plain"),
        ];
        for (template, want) in cases {
            assert_eq!(render(template, &v, None), want, "{template}");
        }
        assert_eq!(render("x-{part}", &v, Some(42)), "x-00042");
    }

    #[test]
    fn the_time_zone_moves_the_date() {
        let mut v = vars();
        // UTC+2 (Europe/Helsinki in winter): already the next day.
        v.utc_offset_minutes = 120;
        assert_eq!(render("{date} {hh}", &v, None), "2024-03-02 01");
        // UTC-5:30 (made up): still the 1st.
        v.utc_offset_minutes = -330;
        assert_eq!(render("{date} {time}", &v, None), "2024-03-01 173509");
    }

    #[test]
    fn bad_templates_are_named() {
        let cases = [
            ("{year}", "`{year}` is not a token"),
            ("a{", "never closed"),
            ("a}", "without its `{`"),
            ("{da{te}", "never closed"),
            ("{}", "`{}` is not a token"),
        ];
        for (template, want) in cases {
            let why = problem(template, true).unwrap_or_default();
            assert!(why.contains(want), "{template}: {why}");
        }
        assert!(
            problem("{part}", false)
                .unwrap()
                .contains("output.file_name")
        );
        assert_eq!(problem("{dataset_name}-{part}", true), None);
    }

    #[test]
    fn values_cannot_leave_their_segment() {
        for (value, want) in [
            ("..", "_"),
            (".", "_"),
            ("", "_"),
            ("a/../b", "a_.._b"),
            ("c:\\x", "c__x"),
            ("tab\there", "tab_here"),
            ("  Café  ", "Café"),
        ] {
            assert_eq!(path_safe(value), want, "{value:?}");
        }
    }
}
