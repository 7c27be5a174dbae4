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
        Mailbox { inner: self.inner.clone() }
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox { inner: Rc::new(RefCell::new(Inner { items: VecDeque::new(), waiter: None, closed: false })) }
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

    /// Takes every queued item.
    pub fn drain(&self) -> Vec<T> {
        let mut inner = self.inner.borrow_mut();
        let items: Vec<T> = inner.items.drain(..).collect();
        // A burst (a reconnect's backlog, a catch-up) grew the queue: give
        // the room back rather than hold it for good. A queue of the usual
        // size keeps its room (shrinking it would reallocate every drain).
        protocols::room::give_back_for(&mut inner.items, items.len());
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
