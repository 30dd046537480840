//! The leases this instance holds: every message it claimed whose result is not yet written to the
//! database, whether its delivery is still running or its completion is waiting for the completer (for
//! example while the database is unreachable). The lease keeper extends all of them, and this instance's
//! rescuer never rescues one of them: a message is only taken back from a live instance by another
//! instance, and only after its lease truly lapsed.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct HeldLeases {
    /// id → attempt of the claim.
    held: Mutex<HashMap<String, i32>>,
}

impl HeldLeases {
    pub fn hold(&self, id: &str, attempt: i32) {
        self.lock().insert(id.to_string(), attempt);
    }

    /// Lets go of the lease once the attempt's result is written (or the attempt was claimed again).
    pub fn release(&self, id: &str, attempt: i32) {
        let mut held = self.lock();
        if held.get(id) == Some(&attempt) {
            held.remove(id);
        }
    }

    /// (id, attempt) of every lease held now.
    pub fn claims(&self) -> Vec<(String, i32)> {
        self.lock().iter().map(|(id, attempt)| (id.clone(), *attempt)).collect()
    }

    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.held.lock().expect("the held-leases lock is never poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::HeldLeases;

    #[test]
    fn a_lease_is_held_until_its_own_attempt_is_released() {
        let leases = HeldLeases::default();
        leases.hold("m1", 1);
        leases.hold("m2", 3);
        leases.release("m2", 2);
        assert_eq!(leases.len(), 2, "releasing another attempt keeps the lease");
        leases.release("m2", 3);
        assert_eq!(leases.claims(), vec![("m1".to_string(), 1)]);
        assert_eq!(leases.ids(), vec!["m1".to_string()]);
    }
}
