//! A single-threaded queue between tasks of one executor: producers push
//! without waiting, the consumer waits until something is there and then
//! takes everything at once, which is what batching wants.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

struct Inner<T> {
    items: VecDeque<T>,
    waiter: Option<Waker>,
    closed: bool,
}

/// A queue shared by the tasks of one executor (not `Send`: no locks).
pub struct Mailbox<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            inner: Rc::new(RefCell::new(Inner {
                items: VecDeque::new(),
                waiter: None,
                closed: false,
            })),
        }
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `item` and wakes the consumer.
    pub fn push(&self, item: T) {
        let mut inner = self.inner.borrow_mut();
        inner.items.push_back(item);
        if let Some(w) = inner.waiter.take() {
            w.wake();
        }
    }

    /// No more items will come: the consumer's wait ends.
    pub fn close(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.closed = true;
        if let Some(w) = inner.waiter.take() {
            w.wake();
        }
    }

    /// Whether [`Mailbox::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.borrow().closed
    }

    /// Waits until an item is queued or the mailbox is closed.
    pub async fn ready(&self) {
        poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            if !inner.items.is_empty() || inner.closed {
                Poll::Ready(())
            } else {
                inner.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Takes every queued item into `taken`, which the consumer emptied in
    /// its last round: the two buffers are swapped, so no item is copied and
    /// neither buffer is allocated afresh (a busy replica's inbox holds
    /// thousands of messages per round, each moved once more by `drain`).
    pub fn take_into(&self, taken: &mut VecDeque<T>) {
        let mut inner = self.inner.borrow_mut();
        if taken.is_empty() {
            std::mem::swap(&mut inner.items, taken);
        } else {
            taken.extend(inner.items.drain(..));
        }
        protocols::shrink::give_back_for(&mut inner.items, taken.len());
    }

    /// Takes every queued item.
    pub fn drain(&self) -> Vec<T> {
        let mut inner = self.inner.borrow_mut();
        let items: Vec<T> = inner.items.drain(..).collect();
        // A burst (a reconnect's backlog, a catch-up) grew the queue: give
        // the room back rather than hold it for good. A queue of the usual
        // size keeps its room (shrinking it would reallocate every drain).
        protocols::shrink::give_back_for(&mut inner.items, items.len());
        items
    }

    /// How many items wait.
    pub fn len(&self) -> usize {
        self.inner.borrow().items.len()
    }

    /// Whether `other` is this very mailbox.
    pub fn same_as(&self, other: &Mailbox<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_into_hands_over_everything_in_order_and_keeps_both_buffers() {
        let mailbox = Mailbox::new();
        let mut taken = VecDeque::new();
        for round in 0..3u32 {
            for i in 0..100 {
                mailbox.push(round * 1000 + i);
            }
            mailbox.take_into(&mut taken);
            assert!(mailbox.is_empty());
            let got: Vec<u32> = taken.drain(..).collect();
            assert_eq!(got, (0..100).map(|i| round * 1000 + i).collect::<Vec<_>>());
        }
        // Both buffers went through the mailbox and kept their room.
        assert!(taken.capacity() >= 100 && mailbox.inner.borrow().items.capacity() >= 100);
        // Left over from an unfinished round: the new items go after them.
        taken.push_back(7);
        mailbox.push(8);
        mailbox.take_into(&mut taken);
        assert_eq!(taken.into_iter().collect::<Vec<_>>(), vec![7, 8]);
    }
}
