//! Fault injection: the emulator misbehaves on purpose, as the real services do under load, so
//! that retries, token refresh and crash safety can be tested.
//!
//! A [`FaultPlan`] is set at start ([`crate::EmulatorConfig::faults`]) and replaced at run time
//! ([`crate::Emulator::set_faults`], or `PUT /faults` on the admin listener, see
//! [`crate::Emulator::admin_url`]). A layer in front of every service router asks the plan about each
//! request before it is processed.
//!
//! Faults never corrupt stored state: an error fault or `drop_request` answers before the
//! request is processed (an append or flush did not happen at all), while `drop_response` and
//! `slow` let it complete (it happened whole) and then break or delay the answer.

mod classify;
mod layer;
mod plan;
mod state;

pub(crate) use layer::wrap;
pub use plan::{
    Fault, FaultPlan, FaultPlanError, FaultRule, Operation, RuleMatch, Service, Trigger,
};
pub use state::FaultCounts;
pub(crate) use state::{Faults, TokenLifetime};
