//! The loop that paces one source on its own thread.
//!
//! Generation is CPU work, so sources run on plain threads rather than on the async runtime's
//! workers. Each turn generates the next 100 ms bucket once the clock has passed its end, so no
//! record is ever stamped in the future, and offers the batches to the source's pipelines without
//! waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::clock::Clock;
use super::stats::ComponentStats;
use super::{Route, offer};
use crate::model::Batch;
use crate::sources::{BUCKET_NS, Source, Window};

/// Longest sleep between checks of the halt flag.
const MAX_NAP: Duration = Duration::from_millis(20);

/// Runs `source` until `halt` is set.
pub(crate) fn run(
    mut source: Box<dyn Source>,
    routes: Vec<Route>,
    stats: Arc<ComponentStats>,
    clock: Clock,
    halt: Arc<AtomicBool>,
) {
    let mut next = clock.now_ns().div_euclid(BUCKET_NS) * BUCKET_NS;
    let mut batches: Vec<Batch> = Vec::new();
    while !halt.load(Ordering::Relaxed) {
        let end = next + BUCKET_NS;
        let wait = clock.until(end);
        if !wait.is_zero() {
            std::thread::sleep(wait.min(MAX_NAP));
            continue;
        }
        source.generate(Window::new(next, end), &mut batches);
        for batch in batches.drain(..) {
            stats
                .delivery(batch.tenant(), batch.signal())
                .add_generated(batch.len() as u64);
            stats
                .delivery(batch.tenant(), batch.signal())
                .add_sent(batch.len() as u64);
            let signal = batch.signal();
            let matching: Vec<&Route> = routes.iter().filter(|r| r.signal == signal).collect();
            if let Some((last, rest)) = matching.split_last() {
                for route in rest {
                    offer(route, batch.clone());
                }
                offer(last, batch);
            }
        }
        next = end;
    }
}
