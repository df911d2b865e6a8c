//! Destination strings parsed once and mapped to ids for the hot path.
//!
//! Bounded by what the pool holds, not by history: a destination the pool forgets
//! (`forget`) takes its spellings with it, and each destination keeps at most
//! `MAX_SPELLINGS` of them (further spellings are parsed on every intern instead).

use crate::net::destination::{Destination, InvalidDestination};
use crate::pool::shard::DestId;
use std::collections::HashMap;
use std::sync::Arc;

/// Spellings remembered per destination ("Example.COM:80", "example.com:80", ...): enough for
/// every real caller, few enough that a stranger's case variants cannot grow the table.
const MAX_SPELLINGS: usize = 4;

struct Entry {
    target: Arc<Destination>,
    /// The keys of `Interner::ids` that lead here, canonical form first.
    spellings: Vec<String>,
}

#[derive(Default)]
pub struct Interner {
    ids: HashMap<String, DestId>,
    dests: HashMap<DestId, Entry>,
    /// Ids are handed out in order and never reused.
    next: DestId,
}

impl Interner {
    /// The id of `input` and its parsed form, and whether it was new.
    pub fn intern(
        &mut self,
        input: &str,
    ) -> Result<(DestId, Arc<Destination>, bool), InvalidDestination> {
        if let Some(found) = self.lookup(input) {
            return Ok((found.0, found.1, false));
        }
        let dest = Destination::parse(input)?;
        // "Example.com:80" and "example.com:80" are one destination: one pool of connections.
        let canonical = dest.to_string();
        if let Some(&id) = self.ids.get(&canonical) {
            if let Some(entry) = self.dests.get_mut(&id) {
                if entry.spellings.len() < MAX_SPELLINGS {
                    entry.spellings.push(input.to_owned());
                    self.ids.insert(input.to_owned(), id);
                }
                return Ok((id, Arc::clone(&entry.target), false));
            }
        }
        let id = self.next;
        self.next += 1;
        let target = Arc::new(dest);
        let mut spellings = vec![canonical.clone()];
        self.ids.insert(canonical.clone(), id);
        if input != canonical {
            spellings.push(input.to_owned());
            self.ids.insert(input.to_owned(), id);
        }
        self.dests.insert(
            id,
            Entry {
                target: Arc::clone(&target),
                spellings,
            },
        );
        Ok((id, target, true))
    }

    pub fn lookup(&self, input: &str) -> Option<(DestId, Arc<Destination>)> {
        let id = *self.ids.get(input)?;
        let entry = self.dests.get(&id)?;
        Some((id, Arc::clone(&entry.target)))
    }

    pub fn get(&self, id: DestId) -> Option<Arc<Destination>> {
        self.dests.get(&id).map(|e| Arc::clone(&e.target))
    }

    /// Drops `id` and every spelling of it.
    pub fn forget(&mut self, id: DestId) {
        if let Some(entry) = self.dests.remove(&id) {
            for spelling in entry.spellings {
                self.ids.remove(&spelling);
            }
        }
    }

    /// Destinations known: what the pool holds, plus any forgotten since the last sweep.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.dests.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_destination_share_an_id() {
        let mut i = Interner::default();
        let (a, _, new_a) = i.intern("Example.COM:80").unwrap();
        let (b, _, new_b) = i.intern("example.com:80").unwrap();
        let (c, _, new_c) = i.intern("example.com:81").unwrap();
        assert!(new_a && !new_b && new_c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(i.lookup("Example.COM:80").map(|(id, _)| id), Some(a));
        assert!(i.intern("example.com").is_err());
    }

    #[test]
    fn forgotten_destinations_leave_nothing_and_get_new_ids() {
        let mut i = Interner::default();
        let (a, _, _) = i.intern("Example.COM:80").unwrap();
        i.forget(a);
        assert_eq!(i.len(), 0);
        assert!(i.ids.is_empty());
        let (b, _, new) = i.intern("example.com:80").unwrap();
        assert!(new);
        assert_ne!(a, b, "an id is never reused");
    }

    #[test]
    fn spellings_per_destination_are_bounded() {
        let mut i = Interner::default();
        let variants = [
            "a.test:1", "A.test:1", "a.TEST:1", "A.TEST:1", "a.Test:1", "A.tEsT:1",
        ];
        let ids: Vec<DestId> = variants.iter().map(|v| i.intern(v).unwrap().0).collect();
        assert!(ids.iter().all(|&id| id == ids[0]));
        assert!(i.ids.len() <= MAX_SPELLINGS);
        i.forget(ids[0]);
        assert!(i.ids.is_empty());
    }
}
