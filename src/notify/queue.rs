//! The bounded queue between the notice stream and the delivery loop. When
//! the receiver is slow the oldest notice goes first: the newest news is the
//! most useful, and memory stays bounded whatever the receiver does.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct DropOldest<T> {
    state: Mutex<State<T>>,
    ready: Notify,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> DropOldest<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            ready: Notify::new(),
            capacity,
        }
    }

    /// Add an item; counts one in `dropped` if the oldest had to go.
    pub(crate) fn push(&self, item: T, dropped: &AtomicU64) {
        {
            let mut state = self.lock();
            if state.items.len() >= self.capacity {
                state.items.pop_front();
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            state.items.push_back(item);
        }
        self.ready.notify_one();
    }

    /// Items waiting now.
    pub(crate) fn len(&self) -> u64 {
        u64::try_from(self.lock().items.len()).unwrap_or(u64::MAX)
    }

    /// No more items will come; `pop` returns `None` once it is empty.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// The oldest item, waiting for one; `None` when closed and drained.
    pub(crate) async fn pop(&self) -> Option<T> {
        loop {
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            // notify_one keeps a permit if nobody waits yet, so a push
            // between the check above and this await is not missed.
            self.ready.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // The lock is never held across a panic point that matters: a
        // poisoned queue is still a valid queue.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drops_the_oldest_when_full() {
        let dropped = AtomicU64::new(0);
        let q = DropOldest::new(2);
        for i in 0..5 {
            q.push(i, &dropped);
        }
        assert_eq!(q.len(), 2);
        q.close();
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
        assert_eq!(q.pop().await, Some(3));
        assert_eq!(q.pop().await, Some(4));
        assert_eq!(q.pop().await, None);
    }
}
