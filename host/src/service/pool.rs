//! One budget for every check a server runs (`[checks] max_running`,
//! default the number of cores): a checkpoint's rules run only while it
//! holds one of the pool's slots, whether its request waits for it or not.
//! Checks started with `wait: false` wait in a queue, run by at most
//! `max_running` worker threads, so a flood of them adds neither threads
//! nor programs; a waiting request blocks its own thread until a slot is
//! free. Slots are handed out in the order asked.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A check that runs apart from its request, once a worker takes it.
type Job = Box<dyn FnOnce() + Send>;

/// The pool.
pub(crate) struct Pool {
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    /// Checks holding a slot.
    running: usize,
    /// Tickets waiting for a slot, first first.
    waiting: VecDeque<u64>,
    next_ticket: u64,
    /// Detached checks not yet taken by a worker: (check id, job).
    queued: VecDeque<(String, Job)>,
    /// Worker threads alive.
    workers: usize,
    /// Most checks that ever held slots at once.
    high_water: usize,
}

/// How the pool stands, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Slots.
    pub max_running: usize,
    /// Checks running now.
    pub running: usize,
    /// Detached checks queued.
    pub queued: usize,
    /// Most checks that ran at once since the server started.
    pub high_water: usize,
    /// Worker threads alive.
    pub workers: usize,
}

/// A held slot; dropping it frees it.
pub(crate) struct Slot<'a>(&'a Pool);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.running -= 1;
        drop(state);
        self.0.freed.notify_all();
    }
}

impl Pool {
    /// A pool of `max` slots (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a slot, behind those who asked before.
    pub(crate) fn acquire(&self) -> Slot<'_> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back(ticket);
        while state.running >= self.max || state.waiting.front() != Some(&ticket) {
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.waiting.pop_front();
        state.running += 1;
        state.high_water = state.high_water.max(state.running);
        drop(state);
        // The next in line may fit too.
        self.freed.notify_all();
        Slot(self)
    }

    /// Queues `job` (the check `check_id`) for a worker, starting one when
    /// fewer than `max_running` are alive. An error when no thread could
    /// be started and none is alive to take it.
    pub(crate) fn submit(self: &Arc<Self>, check_id: &str, job: Job) -> std::io::Result<()> {
        let mut state = self.lock();
        state.queued.push_back((check_id.to_owned(), job));
        if state.workers >= self.max {
            return Ok(());
        }
        state.workers += 1;
        drop(state);
        let pool = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("checkrail-check".to_owned())
            .spawn(move || pool.work());
        if let Err(e) = started {
            let mut state = self.lock();
            state.workers -= 1;
            if state.workers == 0 {
                state.queued.retain(|(id, _)| id != check_id);
                return Err(e);
            }
        }
        Ok(())
    }

    /// A worker: takes queued checks until none is left.
    fn work(&self) {
        loop {
            let job = {
                let mut state = self.lock();
                match state.queued.pop_front() {
                    Some((_, job)) => job,
                    None => {
                        state.workers -= 1;
                        return;
                    }
                }
            };
            // The job takes its slot where its rules run.
            job();
        }
    }

    /// How many detached checks are ahead of `check_id` in the queue
    /// (`None` once a worker took it).
    pub(crate) fn ahead_of(&self, check_id: &str) -> Option<usize> {
        self.lock().queued.iter().position(|(id, _)| id == check_id)
    }

    /// How the pool stands.
    pub(crate) fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            max_running: self.max,
            running: state.running,
            queued: state.queued.len(),
            high_water: state.high_water,
            workers: state.workers,
        }
    }

    /// Slots.
    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_flood_runs_at_most_max_at_once_on_at_most_max_workers() {
        let pool = Arc::new(Pool::new(2));
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..50 {
            let (p, now, most, done) = (pool.clone(), now.clone(), most.clone(), done.clone());
            pool.submit(
                &format!("c{i}"),
                Box::new(move || {
                    let _slot = p.acquire();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    now.fetch_sub(1, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
            assert!(pool.stats().workers <= 2);
        }
        while done.load(Ordering::SeqCst) < 50 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert!(pool.stats().high_water <= 2);
    }

    #[test]
    fn slots_are_handed_out_in_order() {
        let pool = Arc::new(Pool::new(1));
        let held = pool.acquire();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..4 {
            let (p, order) = (pool.clone(), order.clone());
            waiters.push(std::thread::spawn(move || {
                let _slot = p.acquire();
                order.lock().unwrap().push(i);
            }));
            // Each asks after the one before.
            while pool.lock().waiting.len() < i + 1 {
                std::thread::yield_now();
            }
        }
        drop(held);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
    }
}
