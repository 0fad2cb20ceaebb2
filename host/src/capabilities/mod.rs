//! The host's capabilities, one module each, in the manner of Spin's factors: each owns
//! its configuration, its policy (what it grants this run), its per-run state and its
//! implementation of one WIT interface. The sandbox's store state
//! (`crate::sandbox::state::RunState`) holds one field per capability and nothing reaches
//! across.

pub mod auth;
pub mod bindings;
pub mod digest;
pub mod http;
pub mod log;
pub mod source;

/// What one run is granted.
pub struct Capabilities {
    /// Outbound HTTP to the job's origins.
    pub http: http::HttpCapability,
    /// The generation and renewal of the job's storage credential (never the credential).
    pub auth: auth::AuthCapability,
    /// The job's dataset.
    pub source: source::SourceCapability,
    /// Log lines and progress.
    pub log: log::LogCapability,
}

impl Capabilities {
    /// Grants nothing: for `validate`, which needs no imports.
    pub fn none() -> Self {
        Capabilities {
            http: http::HttpCapability::none(),
            auth: auth::AuthCapability::none(),
            source: source::SourceCapability::none(),
            log: log::LogCapability::new("validate", false),
        }
    }
}
