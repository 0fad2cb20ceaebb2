//! The admin listener: controls the emulator's misbehaviour at run time, apart from the service
//! listeners (its requests never get faults and need no token).
//!
//! - `PUT /faults` with a [`FaultPlan`] as JSON replaces the plan (counters start over) and
//!   answers like `GET /faults`; a bad plan answers 400 `{"error": "..."}` naming the problem.
//! - `GET /faults`: the plan, faults injected by kind since it was set, and per rule (in the
//!   plan's order) the requests it matched and the faults it injected:
//!
//!   ```json
//!   {"plan": {"seed": 0, "rules": [{"match": {"service": "dfs", "operation": "append"},
//!                                   "fault": {"kind": "server_busy"}, "nth": [2]}]},
//!    "injected": {"server_busy": 1, "operation_timed_out": 0, "internal_error": 0,
//!                 "drop_request": 0, "drop_response": 0, "slow": 0},
//!    "rules": [{"matched": 3, "injected": 1}]}
//!   ```
//! - `DELETE /faults`: no more faults (204).
//! - `PUT /token-lifetime` with `{"seconds": N}`: lifetime of the Entra ID and Domo tokens
//!   issued from now on (0 issues tokens that are already expired); answers `{"seconds": N}`.
//!   `GET /token-lifetime` answers the same.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::faults::{FaultPlan, Faults, TokenLifetime};

/// State of the admin listener.
#[derive(Debug, Clone)]
pub(crate) struct AdminState {
    /// The active fault plan.
    pub faults: Arc<Faults>,
    /// Lifetime of issued tokens.
    pub token_lifetime: TokenLifetime,
}

/// `{"seconds": N}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lifetime {
    seconds: u64,
}

/// Routes of the admin listener.
pub(crate) fn router(state: AdminState) -> Router {
    Router::new()
        .route(
            "/faults",
            get(show_faults).put(put_faults).delete(delete_faults),
        )
        .route("/token-lifetime", get(show_lifetime).put(put_lifetime))
        .fallback(|| async {
            bad(
                StatusCode::NOT_FOUND,
                "no such admin route: use /faults or /token-lifetime",
            )
        })
        .with_state(state)
}

fn bad(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

async fn show_faults(State(state): State<AdminState>) -> Response {
    let (plan, injected, rules) = state.faults.status();
    axum::Json(json!({"plan": plan, "injected": injected, "rules": rules})).into_response()
}

async fn put_faults(State(state): State<AdminState>, body: Bytes) -> Response {
    let plan: FaultPlan = match serde_json::from_slice(&body) {
        Ok(plan) => plan,
        Err(e) => return bad(StatusCode::BAD_REQUEST, &format!("invalid fault plan: {e}")),
    };
    if let Err(e) = state.faults.replace(plan) {
        return bad(StatusCode::BAD_REQUEST, &e.to_string());
    }
    show_faults(State(state)).await
}

async fn delete_faults(State(state): State<AdminState>) -> StatusCode {
    // The empty plan is always valid.
    let _ = state.faults.replace(FaultPlan::default());
    StatusCode::NO_CONTENT
}

async fn show_lifetime(State(state): State<AdminState>) -> Response {
    let seconds = state.token_lifetime.get().as_secs();
    axum::Json(Lifetime { seconds }).into_response()
}

async fn put_lifetime(State(state): State<AdminState>, body: Bytes) -> Response {
    match serde_json::from_slice::<Lifetime>(&body) {
        Ok(lifetime) => {
            state
                .token_lifetime
                .set(Duration::from_secs(lifetime.seconds));
            show_lifetime(State(state)).await
        }
        Err(e) => bad(
            StatusCode::BAD_REQUEST,
            &format!("expected {{\"seconds\": N}}: {e}"),
        ),
    }
}
