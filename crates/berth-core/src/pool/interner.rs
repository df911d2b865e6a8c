//! Destination strings parsed once and mapped to ids for the hot path.
//!
//! Bounded by what the pool holds, not by history: a destination the pool forgets
//! (`forget`) takes its spellings with it, and each destination keeps at most
//! `MAX_SPELLINGS` of them (further spellings are parsed on every intern instead).
//!
//! A destination is an address plus a connection profile: JS's name for what runs on a new
//! connection before it is pooled (a TLS identity, a handshake). "" is a plain connection; two
//! profiles to one address are two destinations, so that a lease never receives a connection
//! made for another identity (Pingora and Envoy key their pools the same way).

use crate::net::destination::{Destination, InvalidDestination};
use crate::pool::shard::DestId;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Spellings remembered per destination ("Example.COM:80", "example.com:80", ...): enough for
/// every real caller, few enough that a stranger's case variants cannot grow the table.
const MAX_SPELLINGS: usize = 4;

struct Entry {
    target: Arc<Destination>,
    profile: Arc<str>,
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

/// What the interner knows of one destination.
pub struct Interned {
    pub id: DestId,
    pub target: Arc<Destination>,
    /// The connection profile ("" for plain connections).
    pub profile: Arc<str>,
}

/// The table key of an address spelling under a profile. NUL cannot occur in a destination
/// string (the parser refuses control characters), so keys of different profiles never meet.
fn key<'a>(input: &'a str, profile: &str) -> Cow<'a, str> {
    if profile.is_empty() {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(format!("{input}\0{profile}"))
    }
}

impl Interner {
    /// The id of `input` under `profile` and its parsed form, and whether it was new.
    pub fn intern(
        &mut self,
        input: &str,
        profile: &str,
    ) -> Result<(Interned, bool), InvalidDestination> {
        if let Some(found) = self.lookup(input, profile) {
            return Ok((found, false));
        }
        let dest = Destination::parse(input)?;
        // "Example.com:80" and "example.com:80" are one destination: one pool of connections.
        let canonical = key(&dest.to_string(), profile).into_owned();
        let spelling = key(input, profile).into_owned();
        if let Some(&id) = self.ids.get(&canonical) {
            if let Some(entry) = self.dests.get_mut(&id) {
                if entry.spellings.len() < MAX_SPELLINGS {
                    entry.spellings.push(spelling.clone());
                    self.ids.insert(spelling, id);
                }
                return Ok((Self::interned(id, entry), false));
            }
        }
        let id = self.next;
        self.next += 1;
        let mut spellings = vec![canonical.clone()];
        self.ids.insert(canonical.clone(), id);
        if spelling != canonical {
            spellings.push(spelling.clone());
            self.ids.insert(spelling, id);
        }
        let entry = Entry {
            target: Arc::new(dest),
            profile: Arc::from(profile),
            spellings,
        };
        let interned = Self::interned(id, &entry);
        self.dests.insert(id, entry);
        Ok((interned, true))
    }

    pub fn lookup(&self, input: &str, profile: &str) -> Option<Interned> {
        let id = *self.ids.get(key(input, profile).as_ref())?;
        let entry = self.dests.get(&id)?;
        Some(Self::interned(id, entry))
    }

    fn interned(id: DestId, entry: &Entry) -> Interned {
        Interned {
            id,
            target: Arc::clone(&entry.target),
            profile: Arc::clone(&entry.profile),
        }
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
        let (a, new_a) = i.intern("Example.COM:80", "").unwrap();
        let (b, new_b) = i.intern("example.com:80", "").unwrap();
        let (c, new_c) = i.intern("example.com:81", "").unwrap();
        assert!(new_a && !new_b && new_c);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(i.lookup("Example.COM:80", "").map(|d| d.id), Some(a.id));
        assert!(i.intern("example.com", "").is_err());
    }

    #[test]
    fn forgotten_destinations_leave_nothing_and_get_new_ids() {
        let mut i = Interner::default();
        let (a, _) = i.intern("Example.COM:80", "").unwrap();
        i.forget(a.id);
        assert_eq!(i.len(), 0);
        assert!(i.ids.is_empty());
        let (b, new) = i.intern("example.com:80", "").unwrap();
        assert!(new);
        assert_ne!(a.id, b.id, "an id is never reused");
    }

    #[test]
    fn spellings_per_destination_are_bounded() {
        let mut i = Interner::default();
        let variants = [
            "a.test:1", "A.test:1", "a.TEST:1", "A.TEST:1", "a.Test:1", "A.tEsT:1",
        ];
        let ids: Vec<DestId> = variants
            .iter()
            .map(|v| i.intern(v, "").unwrap().0.id)
            .collect();
        assert!(ids.iter().all(|&id| id == ids[0]));
        assert!(i.ids.len() <= MAX_SPELLINGS);
        i.forget(ids[0]);
        assert!(i.ids.is_empty());
    }

    #[test]
    fn profiles_of_one_address_are_distinct_destinations() {
        let mut i = Interner::default();
        let (plain, _) = i.intern("example.com:443", "").unwrap();
        let (tls, new) = i.intern("Example.com:443", "tls a").unwrap();
        let (other, _) = i.intern("example.com:443", "tls b").unwrap();
        let (again, new_again) = i.intern("example.com:443", "tls a").unwrap();
        assert!(new && !new_again);
        assert_ne!(plain.id, tls.id);
        assert_ne!(tls.id, other.id);
        assert_eq!(tls.id, again.id);
        assert_eq!(&*tls.profile, "tls a");
        assert_eq!(&*plain.profile, "");
        assert_eq!(tls.target.to_string(), plain.target.to_string());
        i.forget(tls.id);
        assert!(i.lookup("Example.com:443", "tls a").is_none());
        assert!(i.lookup("example.com:443", "").is_some());
    }
}
