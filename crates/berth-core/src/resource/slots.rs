//! The slot table: each resource's state and times, by a small id that is reused once the
//! owner reports the slot gone (so the owner can keep its resources in a dense array).

pub type SlotId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotState {
    Creating,
    Idle,
    InUse,
    Destroying,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub state: SlotState,
    /// Clock ms at which it retires; `u64::MAX` when resources live forever.
    pub expires_ms: u64,
    /// Clock ms it last went idle.
    pub released_ms: u64,
    /// Times handed out: a hand-out with `uses > 0` is a reuse.
    pub uses: u64,
}

#[derive(Default)]
pub(crate) struct Slots {
    entries: Vec<Option<Slot>>,
    free: Vec<SlotId>,
}

impl Slots {
    /// A new slot being created. May allocate: creates are not the hot path.
    pub fn insert_creating(&mut self) -> SlotId {
        let slot = Slot {
            state: SlotState::Creating,
            expires_ms: u64::MAX,
            released_ms: 0,
            uses: 0,
        };
        match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(slot);
                id
            }
            None => {
                self.entries.push(Some(slot));
                (self.entries.len() - 1) as SlotId
            }
        }
    }

    pub fn get_mut(&mut self, id: SlotId) -> Option<&mut Slot> {
        self.entries.get_mut(id as usize)?.as_mut()
    }

    /// The slot, if it is in `state`.
    pub fn in_state(&mut self, id: SlotId, state: SlotState) -> Option<&mut Slot> {
        self.get_mut(id).filter(|s| s.state == state)
    }

    pub fn remove(&mut self, id: SlotId) -> Option<Slot> {
        let slot = self.entries.get_mut(id as usize)?.take()?;
        self.free.push(id);
        Some(slot)
    }
}
