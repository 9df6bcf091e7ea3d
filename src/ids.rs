//! Text ids → a u32 each, compactly: the customers of a computation (their
//! segment combinations, kpi::engine) and of an import (their keys in
//! `customer_keys`, store::tables), for a million customers and more.

/// Ids → a u32 each: linear probing over 32-byte slots, at most 70 %
/// full, an id's bytes inline in its slot (longer ids in an arena), so
/// that a lookup touches one cache line.
pub struct IdTable {
    slots: Vec<Slot>,
    /// The bytes of the ids too long to be held inline.
    arena: Vec<u8>,
    len: usize,
}

/// Bytes of an id held in its slot.
const INLINE: usize = 26;
/// `Slot::len` of an empty slot, and of an id kept in the arena (its
/// slot's bytes: offset and length, u32 little-endian, then its first
/// bytes).
const EMPTY: u8 = u8::MAX;
const LONG: u8 = u8::MAX - 1;

#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Slot {
    id: [u8; INLINE],
    len: u8,
    value: u32,
}

impl IdTable {
    pub fn with_capacity(n: usize) -> IdTable {
        let slots = (n * 10 / 7 + 1).max(8);
        IdTable {
            slots: vec![
                Slot {
                    id: [0; INLINE],
                    len: EMPTY,
                    value: 0,
                };
                slots
            ],
            arena: Vec::new(),
            len: 0,
        }
    }

    fn home(&self, id: &[u8]) -> usize {
        use std::hash::Hasher;
        let mut h = rustc_hash::FxHasher::default();
        h.write(id);
        // Fibonacci-mixed, then scaled to the table (no power of two).
        let mixed = h.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((mixed as u128 * self.slots.len() as u128) >> 64) as usize
    }

    fn holds(&self, slot: &Slot, id: &[u8]) -> bool {
        if id.len() <= INLINE {
            usize::from(slot.len) == id.len() && &slot.id[..id.len()] == id
        } else if slot.len == LONG {
            let at = u32::from_le_bytes(slot.id[0..4].try_into().unwrap()) as usize;
            let n = u32::from_le_bytes(slot.id[4..8].try_into().unwrap()) as usize;
            n == id.len() && slot.id[8..] == id[..INLINE - 8] && &self.arena[at..at + n] == id
        } else {
            false
        }
    }

    /// The slot of `id`, or the empty one where it would go.
    fn find(&self, id: &[u8]) -> usize {
        let mut i = self.home(id);
        loop {
            let slot = &self.slots[i];
            if slot.len == EMPTY || self.holds(slot, id) {
                return i;
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    /// Reads the home slot of each id, so that their lookups right after
    /// find them in the processor's cache. The reads do not depend on one
    /// another, so the processor has many of them in flight at once, where
    /// one lookup at a time waits for memory each time (a million
    /// customers' slots are 46 MiB: a record's customer is a cache miss).
    pub fn warm<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut seen = 0u8;
        for id in ids {
            seen ^= self.slots[self.home(id.as_bytes())].len;
        }
        std::hint::black_box(seen);
    }

    pub fn get(&self, id: &str) -> Option<u32> {
        let slot = &self.slots[self.find(id.as_bytes())];
        (slot.len != EMPTY).then_some(slot.value)
    }

    /// Sets the value of `id` (added if new).
    pub fn insert(&mut self, id: &str, value: u32) {
        if (self.len + 1) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        let id = id.as_bytes();
        let i = self.find(id);
        if self.slots[i].len == EMPTY {
            self.slots[i] = self.slot_for(id);
            self.len += 1;
        }
        self.slots[i].value = value;
    }

    fn slot_for(&mut self, id: &[u8]) -> Slot {
        let mut slot = Slot {
            id: [0; INLINE],
            len: LONG,
            value: 0,
        };
        if id.len() <= INLINE {
            slot.id[..id.len()].copy_from_slice(id);
            slot.len = id.len() as u8;
        } else {
            let at = u32::try_from(self.arena.len()).expect("customer ids under 4 GiB");
            let n = u32::try_from(id.len()).expect("a customer id under 4 GiB");
            self.arena.extend_from_slice(id);
            slot.id[0..4].copy_from_slice(&at.to_le_bytes());
            slot.id[4..8].copy_from_slice(&n.to_le_bytes());
            slot.id[8..].copy_from_slice(&id[..INLINE - 8]);
        }
        slot
    }

    /// Twice the slots, every id placed again.
    fn grow(&mut self) {
        let mut bigger = IdTable::with_capacity(self.slots.len() * 2);
        bigger.arena = std::mem::take(&mut self.arena);
        for slot in self.slots.iter().filter(|s| s.len != EMPTY) {
            let i = bigger.find_slot_of(slot);
            bigger.slots[i] = *slot;
        }
        bigger.len = self.len;
        *self = bigger;
    }

    /// The empty slot where `slot` (an id of this table's arena) goes.
    fn find_slot_of(&self, slot: &Slot) -> usize {
        let id: &[u8] = if slot.len == LONG {
            let at = u32::from_le_bytes(slot.id[0..4].try_into().unwrap()) as usize;
            let n = u32::from_le_bytes(slot.id[4..8].try_into().unwrap()) as usize;
            &self.arena[at..at + n]
        } else {
            &slot.id[..usize::from(slot.len)]
        };
        self.find(id)
    }

    /// Every value, to be replaced by `f` of it.
    pub fn map_values(&mut self, f: impl Fn(u32) -> u32) {
        for slot in self.slots.iter_mut().filter(|s| s.len != EMPTY) {
            slot.value = f(slot.value);
        }
    }

    /// Bytes held: the slots and the arena.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>() + self.arena.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compact customer table: short ids inline, long ones (sharing
    /// their first bytes) in the arena, grown from empty; every id finds
    /// its value, an unknown one none; a few dozen bytes per customer.
    #[test]
    fn the_customer_table_finds_every_id_and_only_those() {
        let mut table = IdTable::with_capacity(0);
        // 8 bytes; long with a shared prefix; exactly a slot's bytes; one more.
        let id = |i: u32| match i % 4 {
            0 => format!("C{i:07}"),
            1 => format!("customer-with-a-long-shared-prefix-{i}"),
            2 => format!("{i:x>26}"),
            _ => format!("{i:y>27}"),
        };
        assert_eq!((id(2).len(), id(3).len()), (INLINE, INLINE + 1));
        for i in 0..20_000 {
            table.insert(&id(i), i);
        }
        table.insert(&id(7), 70); // again: replaced, not added
        assert_eq!(table.len, 20_000);
        for i in 0..20_000 {
            let want = if i == 7 { 70 } else { i };
            assert_eq!(table.get(&id(i)), Some(want), "{}", id(i));
        }
        for unknown in [
            "",
            "C",
            "C9999999",
            "customer-with-a-long-shared-prefix-",
            "customer-with-a-long-shared-prefix-20001",
            "c0000003",
        ] {
            assert_eq!(table.get(unknown), None, "{unknown}");
        }
        // Warming reads slots only: every id still finds its value after it.
        let warmed: Vec<String> = (0..20_000).map(id).collect();
        table.warm(warmed.iter().map(String::as_str).chain(["", "C9999999"]));
        assert_eq!(table.get(&id(7)), Some(70));
        assert_eq!(table.get(&id(19_999)), Some(19_999));
        IdTable::with_capacity(0).warm(["C0000001"].into_iter());
        table.insert("", 5);
        assert_eq!(table.get(""), Some(5), "an empty id is an id");
        table.map_values(|v| v + 1);
        assert_eq!(table.get(&id(3)), Some(4));
        let per_id = table.bytes() / table.len;
        assert!(per_id < 100, "{per_id} bytes per customer");
    }
}
