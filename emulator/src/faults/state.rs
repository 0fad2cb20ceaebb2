//! The active fault plan with its counters and PRNG, and the run-time token lifetime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::plan::{Fault, FaultPlan, FaultPlanError, Operation, RuleMatch, Service, Trigger};

/// Faults injected since the plan was last replaced, by kind (`injected` in `GET /faults`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// 503 `ServerBusy` answers.
    pub server_busy: u64,
    /// 500 `OperationTimedOut` answers.
    pub operation_timed_out: u64,
    /// 500 `InternalError` answers.
    pub internal_error: u64,
    /// Connections closed before the request was processed.
    pub drop_request: u64,
    /// Connections closed after the request was processed.
    pub drop_response: u64,
    /// Delayed answers.
    pub slow: u64,
}

impl FaultCounts {
    /// All faults injected.
    pub fn total(&self) -> u64 {
        self.server_busy
            + self.operation_timed_out
            + self.internal_error
            + self.drop_request
            + self.drop_response
            + self.slow
    }

    fn add(&mut self, fault: &Fault) {
        let slot = match fault {
            Fault::ServerBusy { .. } => &mut self.server_busy,
            Fault::OperationTimedOut => &mut self.operation_timed_out,
            Fault::InternalError => &mut self.internal_error,
            Fault::DropRequest => &mut self.drop_request,
            Fault::DropResponse { .. } => &mut self.drop_response,
            Fault::Slow { .. } => &mut self.slow,
        };
        *slot += 1;
    }
}

/// How many requests one rule matched and how many faults it injected (`rules` in
/// `GET /faults`, in the plan's order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RuleCount {
    /// Requests its `match` selected.
    pub matched: u64,
    /// Faults it injected.
    pub injected: u64,
}

/// A request as the rules see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming<'a> {
    /// The listener it arrived on.
    pub service: Service,
    /// HTTP method.
    pub method: &'a str,
    /// What it does.
    pub operation: Operation,
    /// Percent-decoded URL path.
    pub path: &'a str,
}

impl RuleMatch {
    fn selects(&self, request: &Incoming<'_>) -> bool {
        (self.service == Service::Any || self.service == request.service)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(request.method))
            && self.operation.is_none_or(|op| op == request.operation)
            && self
                .path
                .as_deref()
                .is_none_or(|part| request.path.contains(part))
    }
}

/// SplitMix64: small, fast and good enough to draw fault triggers reproducibly.
#[derive(Debug, Clone)]
struct Prng(u64);

impl Prng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
struct Active {
    plan: FaultPlan,
    rules: Vec<RuleCount>,
    prng: Prng,
    counts: FaultCounts,
}

impl Active {
    fn new(plan: FaultPlan) -> Self {
        Self {
            rules: vec![RuleCount::default(); plan.rules.len()],
            prng: Prng(plan.seed),
            counts: FaultCounts::default(),
            plan,
        }
    }
}

/// The active plan, shared by every listener's fault layer and the admin listener.
#[derive(Debug)]
pub(crate) struct Faults {
    active: Mutex<Active>,
}

impl Faults {
    /// Starts with `plan`.
    pub(crate) fn new(plan: FaultPlan) -> Result<Self, FaultPlanError> {
        plan.validate()?;
        Ok(Self {
            active: Mutex::new(Active::new(plan)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the plan; counters and the PRNG start over.
    pub(crate) fn replace(&self, plan: FaultPlan) -> Result<(), FaultPlanError> {
        plan.validate()?;
        *self.lock() = Active::new(plan);
        Ok(())
    }

    /// The plan, the faults injected by kind, and each rule's counts.
    pub(crate) fn status(&self) -> (FaultPlan, FaultCounts, Vec<RuleCount>) {
        let active = self.lock();
        (active.plan.clone(), active.counts, active.rules.clone())
    }

    /// Faults injected by kind.
    pub(crate) fn counts(&self) -> FaultCounts {
        self.lock().counts
    }

    /// The fault to inject into `request`, if any; counts it.
    pub(crate) fn decide(&self, request: &Incoming<'_>) -> Option<Fault> {
        let mut guard = self.lock();
        let Active {
            plan,
            rules,
            prng,
            counts,
        } = &mut *guard;
        let mut chosen = None;
        for (rule, count) in plan.rules.iter().zip(rules.iter_mut()) {
            if !rule.when.selects(request) {
                continue;
            }
            count.matched += 1;
            if rule.max.is_some_and(|max| count.injected >= max) {
                continue;
            }
            let fires = match &rule.trigger {
                Trigger::Always => true,
                Trigger::Rate(rate) => prng.next_f64() < *rate,
                Trigger::Nth(nth) => nth.contains(&count.matched),
                Trigger::First(n) => count.matched <= *n,
            };
            if fires && chosen.is_none() {
                count.injected += 1;
                counts.add(&rule.fault);
                chosen = Some(rule.fault.clone());
            }
        }
        chosen
    }
}

/// Lifetime of the tokens the Entra ID and Domo endpoints issue, changeable at run time.
#[derive(Debug, Clone)]
pub(crate) struct TokenLifetime(Arc<AtomicU64>);

impl TokenLifetime {
    /// Starts at `lifetime` (whole seconds).
    pub(crate) fn new(lifetime: Duration) -> Self {
        Self(Arc::new(AtomicU64::new(lifetime.as_secs())))
    }

    /// The lifetime of tokens issued now.
    pub(crate) fn get(&self) -> Duration {
        Duration::from_secs(self.0.load(Ordering::Relaxed))
    }

    /// Sets the lifetime of tokens issued from now on (whole seconds).
    pub(crate) fn set(&self, lifetime: Duration) {
        self.0.store(lifetime.as_secs(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::FaultRule;
    use super::*;

    fn append(path: &str) -> Incoming<'_> {
        Incoming {
            service: Service::Dfs,
            method: "PATCH",
            operation: Operation::Append,
            path,
        }
    }

    fn fired(faults: &Faults, requests: usize) -> Vec<usize> {
        (1..=requests)
            .filter(|_| faults.decide(&append("/a/fs/f")).is_some())
            .collect()
    }

    #[test]
    fn triggers() {
        let rule = |r: FaultRule| Faults::new(FaultPlan::new(vec![r])).unwrap();
        let busy = FaultRule::new(Fault::ServerBusy { retry_after: None });
        assert_eq!(fired(&rule(busy.clone().nth([3, 5])), 8), [3, 5]);
        assert_eq!(fired(&rule(busy.clone().first(2)), 5), [1, 2]);
        assert_eq!(fired(&rule(busy.clone().max(3)), 5), [1, 2, 3]);
        assert_eq!(
            fired(&rule(busy.clone().rate(0.0)), 50),
            Vec::<usize>::new()
        );
        assert_eq!(fired(&rule(busy.clone().rate(1.0)), 3), [1, 2, 3]);
        let other = rule(busy.service(Service::Login));
        assert!(fired(&other, 3).is_empty());
        assert_eq!(other.status().2[0].matched, 0);
    }

    #[test]
    fn rates_repeat_with_the_seed() {
        let plan = |seed| {
            FaultPlan::new(vec![FaultRule::new(Fault::InternalError).rate(0.3)]).with_seed(seed)
        };
        let a = fired(&Faults::new(plan(7)).unwrap(), 200);
        let b = fired(&Faults::new(plan(7)).unwrap(), 200);
        let c = fired(&Faults::new(plan(8)).unwrap(), 200);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((40..80).contains(&a.len()), "{}", a.len());
    }

    #[test]
    fn first_firing_rule_wins_and_every_rule_counts() {
        let faults = Faults::new(FaultPlan::new(vec![
            FaultRule::new(Fault::DropRequest).path("/x").nth([2]),
            FaultRule::new(Fault::InternalError).operation(Operation::Append),
        ]))
        .unwrap();
        let kinds: Vec<Option<Fault>> = ["/x", "/x", "/y"]
            .iter()
            .map(|p| faults.decide(&append(p)))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(Fault::InternalError),
                Some(Fault::DropRequest),
                Some(Fault::InternalError)
            ]
        );
        let (_, counts, rules) = faults.status();
        assert_eq!((counts.internal_error, counts.drop_request), (2, 1));
        assert_eq!(counts.total(), 3);
        let pairs: Vec<(u64, u64)> = rules.iter().map(|r| (r.matched, r.injected)).collect();
        assert_eq!(pairs, [(2, 1), (3, 2)]);
        faults.replace(FaultPlan::default()).unwrap();
        assert_eq!(faults.counts(), FaultCounts::default());
        assert!(faults.decide(&append("/x")).is_none());
    }

    #[test]
    fn token_lifetime_is_shared() {
        let lifetime = TokenLifetime::new(Duration::from_secs(3600));
        let clone = lifetime.clone();
        clone.set(Duration::from_secs(1));
        assert_eq!(lifetime.get(), Duration::from_secs(1));
    }
}
