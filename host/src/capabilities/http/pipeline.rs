//! The `http.pipeline` resource: requests started by `submit` run as tasks of their own, on
//! whichever runtime thread is free, at most `bound` at once, while the guest goes on
//! reading and cutting the next blocks; `next` hands back whichever finished first.
//! Dropping a pipeline aborts what it still has in flight.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{Id, JoinSet};

use crate::capabilities::bindings::errors::HttpError;
use crate::capabilities::bindings::http::Response;

/// What a request of a pipeline ends with.
pub type Outcome = Result<Response, HttpError>;

/// A bounded set of requests in flight.
pub struct Pipeline {
    tasks: JoinSet<Outcome>,
    /// The ticket of each task, to name a request whose task died.
    tickets: HashMap<Id, u64>,
    permits: Arc<Semaphore>,
    next_ticket: u64,
}

impl Pipeline {
    /// A pipeline running at most `bound` requests at once.
    pub fn new(bound: usize) -> Pipeline {
        Pipeline {
            tasks: JoinSet::new(),
            tickets: HashMap::new(),
            permits: Arc::new(Semaphore::new(bound.max(1))),
            next_ticket: 0,
        }
    }

    /// Starts `request` (waiting for a free slot on its own task); its ticket.
    pub fn submit<F>(&mut self, request: F) -> u64
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        let permits = self.permits.clone();
        let handle = self.tasks.spawn(async move {
            let _slot = permits.acquire_owned().await.expect("never closed");
            request.await
        });
        self.tickets.insert(handle.id(), ticket);
        ticket
    }

    /// The next request to finish, with its ticket; `None` when none is in flight.
    pub async fn next(&mut self) -> Option<(u64, Outcome)> {
        let (id, outcome) = match self.tasks.join_next_with_id().await? {
            Ok((id, outcome)) => (id, outcome),
            Err(failed) => (
                failed.id(),
                Err(HttpError::Connection(format!(
                    "the host's request task failed: {failed}"
                ))),
            ),
        };
        let ticket = self.tickets.remove(&id).expect("every task has a ticket");
        Some((ticket, outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn ok(status: u16) -> Outcome {
        Ok(Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        })
    }

    #[tokio::test]
    async fn outcomes_come_in_the_order_requests_finish() {
        let mut pipeline = Pipeline::new(4);
        let slow = pipeline.submit(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            ok(201)
        });
        let fast = pipeline.submit(async { ok(202) });
        let (first, outcome) = pipeline.next().await.unwrap();
        assert_eq!((first, outcome.unwrap().status), (fast, 202));
        let (second, outcome) = pipeline.next().await.unwrap();
        assert_eq!((second, outcome.unwrap().status), (slow, 201));
        assert!(pipeline.next().await.is_none());
    }

    #[tokio::test]
    async fn no_more_than_the_bound_run_at_once() {
        let mut pipeline = Pipeline::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        for _ in 0..12 {
            let (running, most) = (running.clone(), most.clone());
            pipeline.submit(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                ok(200)
            });
        }
        let mut tickets = Vec::new();
        while let Some((ticket, _)) = pipeline.next().await {
            tickets.push(ticket);
        }
        tickets.sort();
        assert_eq!(tickets, (1..=12).collect::<Vec<u64>>());
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn requests_run_while_nobody_waits_on_them() {
        let mut pipeline = Pipeline::new(2);
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let done = done.clone();
            pipeline.submit(async move {
                done.fetch_add(1, Ordering::SeqCst);
                ok(200)
            });
        }
        // Without a call to `next`: the tasks run on their own.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while done.load(Ordering::SeqCst) < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the requests never ran"
            );
            tokio::task::yield_now().await;
        }
    }
}
