//! Fair shares of delivery capacity. Each destination host may hold at most `per_host` of this instance's
//! deliveries in flight; a host at its share is left out of the next claims (an exclusion list that is empty
//! in the common case, so the claim costs the same); a claimed message over its host's share waits in
//! memory for a place (or, when too many wait, is handed back without spending an attempt). The bytes of bodies held by deliveries in flight are bounded too.
//! Both are in memory: no database round trip per message. With several instances, each keeps its own
//! shares, so a host holds at most the same fraction of the whole cluster's capacity.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::wake::Wake;
use crate::store::Message;

/// Deliveries in flight per destination host, each at most `cap`.
pub struct HostShares {
    cap: usize,
    counts: Mutex<HashMap<String, usize>>,
    /// Messages claimed over their host's share and waiting in [`Waiting`] for a place.
    waiting: AtomicUsize,
    /// The dispatcher's wake for freed places, woken when a place frees that someone may be waiting for: a
    /// host falls below its share (its due messages were left out of claims until now), or any message
    /// waits in memory.
    wake: Arc<Wake>,
}

/// One delivery's place in its host's share; dropping it frees the place.
pub struct HostSlot {
    shares: Arc<HostShares>,
    host: String,
}

impl HostShares {
    pub fn new(cap: usize, wake: Arc<Wake>) -> Arc<HostShares> {
        Arc::new(HostShares {
            cap: cap.max(1),
            counts: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
            wake,
        })
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Hosts at their share: the claim leaves their messages for later (or for other instances).
    pub fn saturated(&self) -> Vec<String> {
        let counts = self.counts.lock().expect("host shares lock is never poisoned");
        counts
            .iter()
            .filter(|(_, n)| **n >= self.cap)
            .map(|(host, _)| host.clone())
            .collect()
    }

    /// A place for one more delivery to `host`, or `None` when it already holds its share.
    pub fn try_admit(self: &Arc<Self>, host: &str) -> Option<HostSlot> {
        let mut counts = self.counts.lock().expect("host shares lock is never poisoned");
        let count = counts.entry(host.to_string()).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(HostSlot {
            shares: self.clone(),
            host: host.to_string(),
        })
    }

    pub fn in_flight(&self, host: &str) -> usize {
        let counts = self.counts.lock().expect("host shares lock is never poisoned");
        counts.get(host).copied().unwrap_or(0)
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let was_full = {
            let mut counts = self.shares.counts.lock().expect("host shares lock is never poisoned");
            let Some(count) = counts.get_mut(&self.host) else {
                return;
            };
            let was_full = *count >= self.shares.cap;
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.host);
            }
            was_full
        };
        // Also when messages wait in memory: the host of one of them may have been below its share already
        // (places free one by one after it was full), and the dispatcher, which leaves that host out of its
        // claims, would otherwise not look at them again until its poll interval.
        if was_full || self.shares.waiting.load(Ordering::Acquire) > 0 {
            self.shares.wake.notify();
        }
    }
}

/// Claimed messages over their host's share, waiting here (leased, in claim order) for a place instead of
/// going back to the database: a host at its share would otherwise be claimed and handed back once for
/// every place it frees. Their hosts stay out of claims while any wait, so a claim never overtakes them.
pub struct Waiting {
    messages: Mutex<VecDeque<Message>>,
    /// Most messages waiting; beyond it they are handed back.
    limit: usize,
    /// Told how many wait, so that a freed place wakes the dispatcher for them.
    shares: Arc<HostShares>,
}

impl Waiting {
    pub fn new(limit: usize, shares: Arc<HostShares>) -> Waiting {
        Waiting {
            messages: Mutex::new(VecDeque::new()),
            limit,
            shares,
        }
    }

    fn count(&self, messages: &VecDeque<Message>) {
        self.shares.waiting.store(messages.len(), Ordering::Release);
    }

    /// Keeps `message` until its host has a place; gives it back when too many already wait.
    pub fn push(&self, message: Message) -> Option<Message> {
        let mut messages = self.messages.lock().expect("waiting lock is never poisoned");
        if messages.len() >= self.limit {
            return Some(message);
        }
        messages.push_back(message);
        self.count(&messages);
        None
    }

    /// Hosts with messages waiting: left out of claims.
    pub fn hosts(&self) -> Vec<String> {
        let messages = self.messages.lock().expect("waiting lock is never poisoned");
        let mut hosts: Vec<String> = messages.iter().map(|m| m.url_host.clone()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// Up to `most` waiting messages whose hosts now have a place, in the order they were claimed.
    pub fn admissible(&self, most: usize) -> Vec<(Message, HostSlot)> {
        let shares = &self.shares;
        let mut messages = self.messages.lock().expect("waiting lock is never poisoned");
        if messages.is_empty() || most == 0 {
            return Vec::new();
        }
        let mut admitted = Vec::new();
        let mut kept = VecDeque::with_capacity(messages.len());
        for message in messages.drain(..) {
            if admitted.len() < most {
                if let Some(slot) = shares.try_admit(&message.url_host) {
                    admitted.push((message, slot));
                    continue;
                }
            }
            kept.push_back(message);
        }
        *messages = kept;
        self.count(&messages);
        admitted
    }

    pub fn drain(&self) -> Vec<Message> {
        let mut messages = self.messages.lock().expect("waiting lock is never poisoned");
        let drained = messages.drain(..).collect();
        self.count(&messages);
        drained
    }
}

/// The bytes of request and response bodies that deliveries in flight may hold, counted in KiB. Each
/// delivery reserves its request body plus the most of the response it keeps.
pub struct ByteBudget {
    semaphore: Arc<Semaphore>,
    total_kib: u32,
    /// Bytes of a response body a delivery may keep (the DLQ truncation).
    response_reserve: usize,
}

impl ByteBudget {
    pub fn new(total_bytes: usize, response_reserve: usize) -> ByteBudget {
        let total_kib = u32::try_from(total_bytes.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
        ByteBudget {
            semaphore: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
            response_reserve,
        }
    }

    /// KiB one delivery with a body of `body_len` bytes reserves; never more than the whole budget, so a
    /// message larger than it still goes (alone).
    fn kib_for(&self, body_len: usize) -> u32 {
        let kib = (body_len + self.response_reserve).div_ceil(1024).max(1);
        u32::try_from(kib).unwrap_or(u32::MAX).min(self.total_kib)
    }

    /// How many more deliveries with empty bodies fit now: a bound on the next claim.
    pub fn room(&self) -> usize {
        self.semaphore.available_permits() / self.kib_for(0) as usize
    }

    /// Waits until a delivery with an empty body would fit.
    pub async fn wait_for_room(&self) {
        let floor = self.kib_for(0);
        drop(
            self.semaphore
                .acquire_many(floor)
                .await
                .expect("the byte budget is never closed"),
        );
    }

    /// Reserves the bytes of one delivery, waiting while others hold the budget.
    pub async fn reserve(&self, body_len: usize) -> OwnedSemaphorePermit {
        self.semaphore
            .clone()
            .acquire_many_owned(self.kib_for(body_len))
            .await
            .expect("the byte budget is never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_gets_at_most_its_share_and_is_saturated_until_a_slot_frees() {
        let shares = HostShares::new(2, Arc::new(Wake::default()));
        let a1 = shares.try_admit("a.example").unwrap();
        let _b = shares.try_admit("b.example").unwrap();
        assert!(shares.saturated().is_empty());
        let _a2 = shares.try_admit("a.example").unwrap();
        assert!(
            shares.try_admit("a.example").is_none(),
            "a third for a.example is over its share"
        );
        assert_eq!(shares.saturated(), vec!["a.example".to_string()]);
        assert!(shares.try_admit("b.example").is_some(), "other hosts still get theirs");
        drop(a1);
        assert!(shares.saturated().is_empty());
        assert_eq!(shares.in_flight("a.example"), 1);
        assert!(shares.try_admit("a.example").is_some());
    }

    fn message(id: &str, host: &str) -> Message {
        Message::in_flight_to(id, host)
    }

    #[test]
    fn waiting_messages_start_in_claim_order_as_their_hosts_free_places() {
        let shares = HostShares::new(1, Arc::new(Wake::default()));
        let waiting = Waiting::new(3, shares.clone());
        let busy = shares.try_admit("a").unwrap();
        for (id, host) in [("a1", "a"), ("b1", "b"), ("a2", "a")] {
            assert!(waiting.push(message(id, host)).is_none());
        }
        assert!(
            waiting.push(message("c1", "c")).is_some(),
            "beyond the limit it is given back"
        );
        assert_eq!(waiting.hosts(), ["a", "b"]);
        let started: Vec<_> = waiting.admissible(10).into_iter().map(|(m, _)| m.id).collect();
        assert_eq!(started, ["b1"], "a is still at its share");
        drop(busy);
        let first = waiting.admissible(10);
        let ids: Vec<_> = first.iter().map(|(m, _)| m.id.as_str()).collect();
        assert_eq!(ids, ["a1"], "one place: the earlier message of a takes it");
        drop(first);
        assert_eq!(waiting.admissible(0).len(), 0, "no slots, nothing starts");
        let rest: Vec<_> = waiting.admissible(10).into_iter().map(|(m, _)| m.id).collect();
        assert_eq!(rest, ["a2"]);
        assert!(waiting.drain().is_empty());
    }

    #[test]
    fn a_place_freed_below_the_share_wakes_the_dispatcher_only_while_messages_wait() {
        use futures_util::FutureExt;
        let wake = Arc::new(Wake::default());
        let woken = || wake.notified().now_or_never().is_some();
        let shares = HostShares::new(3, wake.clone());
        let waiting = Waiting::new(10, shares.clone());
        let (a1, a2) = (shares.try_admit("a").unwrap(), shares.try_admit("a").unwrap());
        drop(a1);
        assert!(!woken(), "below its share and nothing waits: no need to look");
        assert!(waiting.push(message("a3", "a")).is_none());
        drop(a2);
        assert!(
            woken(),
            "a message waits for this host's places: the dispatcher must look now"
        );
        assert_eq!(waiting.admissible(10).len(), 1);
        let a4 = shares.try_admit("a").unwrap();
        drop(a4);
        assert!(!woken(), "nothing waits any more");
    }

    #[test]
    fn the_byte_budget_reserves_body_and_response_and_caps_one_message_at_the_whole() {
        let budget = ByteBudget::new(1024 * 1024, 64 * 1024);
        assert_eq!(budget.kib_for(0), 64);
        assert_eq!(budget.kib_for(1), 65);
        assert_eq!(budget.kib_for(10 * 1024 * 1024), 1024, "a huge body goes alone");
        assert_eq!(budget.room(), 16);
    }

    #[tokio::test]
    async fn reservations_hold_the_budget_until_dropped() {
        let budget = ByteBudget::new(256 * 1024, 64 * 1024);
        let big = budget.reserve(64 * 1024).await;
        assert_eq!(budget.room(), 2);
        drop(big);
        assert_eq!(budget.room(), 4);
    }
}
