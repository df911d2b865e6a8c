//! Destination strings parsed once and mapped to small ids for the hot path.

use crate::destination::{Destination, InvalidDestination};
use crate::shard::DestId;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct Interner {
    ids: HashMap<String, DestId>,
    dests: Vec<Arc<Destination>>,
}

impl Interner {
    /// The id of `input`, and whether it was new.
    pub fn intern(&mut self, input: &str) -> Result<(DestId, bool), InvalidDestination> {
        if let Some(&id) = self.ids.get(input) {
            return Ok((id, false));
        }
        let dest = Destination::parse(input)?;
        // "Example.com:80" and "example.com:80" are one destination: one pool of connections.
        let canonical = dest.to_string();
        if let Some(&id) = self.ids.get(&canonical) {
            self.ids.insert(input.to_owned(), id);
            return Ok((id, false));
        }
        let id = self.dests.len() as DestId;
        self.dests.push(Arc::new(dest));
        self.ids.insert(canonical, id);
        self.ids.insert(input.to_owned(), id);
        Ok((id, true))
    }

    pub fn lookup(&self, input: &str) -> Option<DestId> {
        self.ids.get(input).copied()
    }

    pub fn get(&self, id: DestId) -> Option<Arc<Destination>> {
        self.dests.get(id as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_destination_share_an_id() {
        let mut i = Interner::default();
        let (a, new_a) = i.intern("Example.COM:80").unwrap();
        let (b, new_b) = i.intern("example.com:80").unwrap();
        let (c, new_c) = i.intern("example.com:81").unwrap();
        assert!(new_a && !new_b && new_c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(i.lookup("Example.COM:80"), Some(a));
        assert!(i.intern("example.com").is_err());
    }
}
