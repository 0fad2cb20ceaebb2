//! The fault plan: rules that pick requests and the fault each injects, with their JSON form.

use serde::{Deserialize, Serialize};

/// Which requests fail, and how: rules tried in order, with the seed of the PRNG that draws
/// `rate` triggers (the same plan and the same request sequence inject the same faults).
///
/// JSON, as `PUT /faults` on the admin listener takes it and `GET /faults` shows it:
///
/// ```json
/// {
///   "seed": 42,
///   "rules": [
///     {"match": {"service": "dfs", "operation": "append"},
///      "fault": {"kind": "server_busy", "retry_after": 1},
///      "nth": [3, 5]},
///     {"match": {"service": "dfs", "method": "PATCH", "path": "exports/"},
///      "fault": {"kind": "drop_response"},
///      "rate": 0.1, "max": 2},
///     {"match": {"service": "login", "operation": "token"},
///      "fault": {"kind": "slow", "ms": 1500},
///      "first": 1}
///   ]
/// }
/// ```
///
/// Every field is optional but a rule's `fault`: `seed` defaults to 0, `rules` to none, a
/// rule's `match` to every request and its trigger to every matching request. See
/// [`FaultRule`] for triggers, [`RuleMatch`] for `match` and [`Fault`] for the kinds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the PRNG that draws `rate` triggers.
    #[serde(default)]
    pub seed: u64,
    /// Rules, tried in order for every request.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// A plan of these rules, seed 0.
    pub fn new(rules: Vec<FaultRule>) -> Self {
        Self { seed: 0, rules }
    }

    /// The same plan with another PRNG seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every rule (rates within 0.0–1.0, `nth` counts from 1).
    pub fn validate(&self) -> Result<(), FaultPlanError> {
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check()
                .map_err(|e| FaultPlanError(format!("rule {}: {}", i + 1, e.0)))?;
        }
        Ok(())
    }
}

/// A fault plan that cannot be used; the message names the rule and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault plan: {0}")]
pub struct FaultPlanError(pub String);

/// One rule: the requests it selects (`match`), when it fires among them (the trigger, at most
/// one of `rate`, `nth`, `first`; none means every time), how often at most (`max`), and the
/// fault it injects.
///
/// Rules are tried in order and the first that fires injects its fault. Every rule counts the
/// requests its `match` selects, whether or not an earlier rule fired, so `nth` and `first`
/// count exactly the requests their own `match` describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RuleJson", into = "RuleJson")]
pub struct FaultRule {
    /// The requests this rule applies to (`match` in JSON).
    pub when: RuleMatch,
    /// When it fires among them.
    pub trigger: Trigger,
    /// At most this many faults from this rule (`max` in JSON).
    pub max: Option<u64>,
    /// What it does.
    pub fault: Fault,
}

/// When a rule fires among the requests it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Every time (no trigger field in JSON).
    Always,
    /// With this probability, 0.0 to 1.0, drawn from the plan's seeded PRNG (`"rate": 0.25`).
    Rate(f64),
    /// On these matching requests, counted from 1 (`"nth": [3, 5]`).
    Nth(Vec<u64>),
    /// On the first N matching requests (`"first": 2`).
    First(u64),
}

/// The requests a rule selects; every field left out matches everything.
///
/// JSON: `{"service": "dfs", "method": "PATCH", "operation": "append", "path": "out/"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    /// The listener (`any` by default).
    #[serde(default)]
    pub service: Service,
    /// HTTP method, compared case-insensitively (`PATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The operation the request performs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// A substring of the percent-decoded URL path (`/devstoreaccount1/writeback/out/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The emulator's service listeners (the admin listener never fails on purpose).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Any of the three.
    #[default]
    Any,
    /// The ADLS Gen2 DFS endpoint (and the Blob endpoint that shares its listener).
    Dfs,
    /// The Entra ID token endpoint.
    Login,
    /// The Domo API.
    Domo,
}

/// What a request does, as a rule names it (`"operation": "append"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// DFS `PATCH ?action=append` (also with `flush=true`); Blob `comp=block|appendblock`.
    Append,
    /// DFS `PATCH ?action=flush`; Blob `comp=blocklist`.
    Flush,
    /// DFS `PUT` of a file, directory or file system (not a rename); Blob `PUT` of a blob.
    Create,
    /// DFS `PUT` with `x-ms-rename-source`.
    Rename,
    /// DFS `GET` of a file's content; Blob Get Blob.
    Read,
    /// DFS `DELETE` of a path or file system; Blob Delete Blob and Delete Container.
    Delete,
    /// DFS `HEAD`, `PATCH` other than append/flush (set properties, access control); Blob
    /// `HEAD` (Get Blob Properties), Get Block List and other `GET`/`PUT` with a `comp` of a
    /// blob (a rule tells `HEAD` from Get Block List by its `method`).
    Properties,
    /// DFS listing of file systems or paths; Blob List Blobs and the account's information
    /// (`?restype=account&comp=properties`); Domo `GET /v1/datasets`.
    List,
    /// Entra ID `POST /{tenant}/oauth2/v2.0/token`; Domo `/oauth/token`.
    Token,
    /// Entra ID metadata (OpenID configuration, keys, instance discovery).
    Discovery,
    /// Domo `GET /v1/datasets/{id}`.
    Dataset,
    /// Domo `GET /v1/datasets/{id}/data` (the CSV export).
    Export,
    /// Domo instance API `GET /api/data/v3/datasources/{id}/permissions`.
    Permissions,
    /// Anything else.
    Other,
}

/// A fault, tagged by `kind` in JSON.
///
/// Error faults answer before the request is processed (its body is read and discarded), so a
/// failed append or flush did not happen. `drop_request` closes the connection before the
/// request is processed; `drop_response` and `slow` let it complete (an append or flush
/// happened whole) and then break or delay the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// 503 `ServerBusy`: `{"kind": "server_busy", "retry_after": 1}` (`Retry-After` optional).
    ServerBusy {
        /// `Retry-After` seconds, sent when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// 500 `OperationTimedOut`: `{"kind": "operation_timed_out"}`.
    OperationTimedOut,
    /// 500 `InternalError`: `{"kind": "internal_error"}`.
    InternalError,
    /// The connection closes without an answer, after at most the first chunk of the request
    /// body was read: `{"kind": "drop_request"}`.
    DropRequest,
    /// The request is processed, then the connection closes: `{"kind": "drop_response"}` sends
    /// no byte of the answer; with `"body_bytes": N` the head and up to N bytes of the body go
    /// first (for answers with a body, such as reads and exports).
    DropResponse {
        /// Bytes of the body sent before the connection closes (none: not even the head).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body_bytes: Option<u64>,
    },
    /// The request is processed, then the answer waits: `{"kind": "slow", "ms": 1500}`.
    Slow {
        /// Delay in milliseconds.
        ms: u64,
    },
}

impl FaultRule {
    /// A rule injecting `fault` into every request (narrow it with the other methods).
    pub fn new(fault: Fault) -> Self {
        Self {
            when: RuleMatch::default(),
            trigger: Trigger::Always,
            max: None,
            fault,
        }
    }

    /// Only requests to this listener.
    pub fn service(mut self, service: Service) -> Self {
        self.when.service = service;
        self
    }

    /// Only requests with this HTTP method.
    pub fn method(mut self, method: &str) -> Self {
        self.when.method = Some(method.to_string());
        self
    }

    /// Only requests performing this operation.
    pub fn operation(mut self, operation: Operation) -> Self {
        self.when.operation = Some(operation);
        self
    }

    /// Only requests whose decoded URL path contains `part`.
    pub fn path(mut self, part: &str) -> Self {
        self.when.path = Some(part.to_string());
        self
    }

    /// Fires with probability `rate` (0.0–1.0).
    pub fn rate(mut self, rate: f64) -> Self {
        self.trigger = Trigger::Rate(rate);
        self
    }

    /// Fires on these matching requests, counted from 1.
    pub fn nth(mut self, nth: impl IntoIterator<Item = u64>) -> Self {
        self.trigger = Trigger::Nth(nth.into_iter().collect());
        self
    }

    /// Fires on the first `n` matching requests.
    pub fn first(mut self, n: u64) -> Self {
        self.trigger = Trigger::First(n);
        self
    }

    /// Fires at most `max` times.
    pub fn max(mut self, max: u64) -> Self {
        self.max = Some(max);
        self
    }

    fn check(&self) -> Result<(), FaultPlanError> {
        let error = |message: String| Err(FaultPlanError(message));
        match &self.trigger {
            Trigger::Rate(rate) if !(0.0..=1.0).contains(rate) => {
                error(format!("rate {rate} is outside 0.0-1.0"))
            }
            Trigger::Nth(nth) if nth.contains(&0) => {
                error("nth counts matching requests from 1; remove the 0".to_string())
            }
            _ => Ok(()),
        }
    }
}

/// The JSON shape of a rule: the trigger as one of three optional fields.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    #[serde(rename = "match", default)]
    when: RuleMatch,
    fault: Fault,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nth: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
}

impl TryFrom<RuleJson> for FaultRule {
    type Error = FaultPlanError;

    fn try_from(json: RuleJson) -> Result<Self, Self::Error> {
        let trigger = match (json.rate, json.nth, json.first) {
            (None, None, None) => Trigger::Always,
            (Some(rate), None, None) => Trigger::Rate(rate),
            (None, Some(nth), None) => Trigger::Nth(nth),
            (None, None, Some(first)) => Trigger::First(first),
            _ => {
                return Err(FaultPlanError(
                    "give at most one of `rate`, `nth` and `first`".to_string(),
                ));
            }
        };
        let rule = Self {
            when: json.when,
            trigger,
            max: json.max,
            fault: json.fault,
        };
        rule.check()?;
        Ok(rule)
    }
}

impl From<FaultRule> for RuleJson {
    fn from(rule: FaultRule) -> Self {
        let (mut rate, mut nth, mut first) = (None, None, None);
        match rule.trigger {
            Trigger::Always => {}
            Trigger::Rate(r) => rate = Some(r),
            Trigger::Nth(n) => nth = Some(n),
            Trigger::First(f) => first = Some(f),
        }
        Self {
            when: rule.when,
            fault: rule.fault,
            rate,
            nth,
            first,
            max: rule.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let text = r#"{"seed": 42, "rules": [
            {"match": {"service": "dfs", "operation": "append"},
             "fault": {"kind": "server_busy", "retry_after": 1}, "nth": [3, 5]},
            {"match": {"method": "PATCH", "path": "out/"},
             "fault": {"kind": "drop_response"}, "rate": 0.1, "max": 2},
            {"fault": {"kind": "slow", "ms": 1500}, "first": 1},
            {"fault": {"kind": "internal_error"}}
        ]}"#;
        let plan: FaultPlan = serde_json::from_str(text).unwrap();
        let expected = FaultPlan::new(vec![
            FaultRule::new(Fault::ServerBusy {
                retry_after: Some(1),
            })
            .service(Service::Dfs)
            .operation(Operation::Append)
            .nth([3, 5]),
            FaultRule::new(Fault::DropResponse { body_bytes: None })
                .method("PATCH")
                .path("out/")
                .rate(0.1)
                .max(2),
            FaultRule::new(Fault::Slow { ms: 1500 }).first(1),
            FaultRule::new(Fault::InternalError),
        ])
        .with_seed(42);
        assert_eq!(plan, expected);
        let again: FaultPlan =
            serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
        assert_eq!(again, plan);
    }

    #[test]
    fn bad_plans_name_the_problem() {
        let cases = [
            (r#"{"rules":[{"fault":{"kind":"x"}}]}"#, "unknown variant"),
            (
                r#"{"rules":[{"fault":{"kind":"internal_error"},"rate":0.5,"first":1}]}"#,
                "at most one",
            ),
            (
                r#"{"rules":[{"fault":{"kind":"internal_error"},"rate":1.5}]}"#,
                "outside 0.0-1.0",
            ),
            (
                r#"{"rules":[{"fault":{"kind":"internal_error"},"nth":[0]}]}"#,
                "from 1",
            ),
            (
                r#"{"rules":[{"fault":{"kind":"slow"}}]}"#,
                "missing field `ms`",
            ),
            (
                r#"{"rules":[{"match":{"operation":"upload"},"fault":{"kind":"slow","ms":1}}]}"#,
                "unknown variant `upload`",
            ),
            (r#"{"rule":[]}"#, "unknown field `rule`"),
        ];
        for (text, expected) in cases {
            let error = serde_json::from_str::<FaultPlan>(text).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
        let plan = FaultPlan::new(vec![
            FaultRule::new(Fault::InternalError),
            FaultRule::new(Fault::InternalError).rate(-0.1),
        ]);
        assert_eq!(
            plan.validate().unwrap_err().to_string(),
            "invalid fault plan: rule 2: rate -0.1 is outside 0.0-1.0"
        );
    }
}
