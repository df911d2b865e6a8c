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
        let id = self.dests.len() as DestId;
        self.dests.push(Arc::new(dest));
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
