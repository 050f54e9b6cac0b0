//! Fetch: each planned fact once, concurrently, with the calls still in flight always known.
//!
//! Owns scheduling of reads and the record of pending calls (named when a deadline cuts a run
//! short). Decides nothing: results, errors included, go to `checks` as they are.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::aws::{CallerIdentity, FactSource, FetchError};
use crate::plan::{Fact, Plan};

/// The facts of one run; `None` where the plan did not ask for one.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub identity: Option<Result<CallerIdentity, FetchError>>,
    pub region: Option<String>,
}

/// The API calls in flight, so a run cut short can say what it was waiting for.
#[derive(Debug, Default)]
pub struct Pending {
    next: AtomicU64,
    calls: Mutex<BTreeMap<u64, &'static str>>,
}

/// Removes its call from [`Pending`] when dropped (finished or cancelled).
pub struct PendingGuard<'a> {
    pending: &'a Pending,
    id: u64,
}

impl Pending {
    /// Records `call` as in flight until the guard is dropped.
    pub fn track(&self, call: &'static str) -> PendingGuard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(id, call);
        }
        PendingGuard { pending: self, id }
    }

    /// The calls in flight now, in the order they started.
    pub fn snapshot(&self) -> Vec<&'static str> {
        self.calls.lock().map(|c| c.values().copied().collect()).unwrap_or_default()
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.pending.calls.lock() {
            calls.remove(&self.id);
        }
    }
}

/// Fetches every fact of `plan` from `source`.
pub async fn fetch<S: FactSource>(plan: &Plan, source: &S, pending: &Pending) -> Facts {
    let mut facts = Facts { region: source.region(), ..Facts::default() };
    if plan.facts.contains(&Fact::CallerIdentity) {
        let _guard = pending.track(Fact::CallerIdentity.call());
        facts.identity = Some(source.caller_identity().await);
    }
    facts
}
