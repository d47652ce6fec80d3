//! [`Formats`]: every known event schema, by ID and by `(system, name)`.

use std::collections::HashMap;

use super::types::Schema;

/// The schemas of one kernel (or one trace.dat), looked up by the event ID
/// in each record's `common_type`, or by name when setting up.
///
/// [`Formats::get`] runs for every record, so IDs index a vector directly
/// (kernel event IDs are small and dense: a few thousand at most).
#[derive(Debug, Clone, Default)]
pub struct Formats {
    by_id: Vec<Option<Box<Schema>>>,
    by_name: HashMap<String, HashMap<String, u16>>,
    len: usize,
}

impl Formats {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `s`, replacing any schema with the same ID (and dropping that
    /// one's name) or the same `(system, name)`.
    pub fn insert(&mut self, s: Schema) {
        let id = usize::from(s.id);
        if self.by_id.len() <= id {
            self.by_id.resize_with(id + 1, || None);
        }
        if let Some(old) = self.by_id[id].take() {
            self.len -= 1;
            self.forget_name(&old.system, &old.name, old.id);
        }
        let names = self.by_name.entry(s.system.clone()).or_default();
        if let Some(old_id) = names.insert(s.name.clone(), s.id) {
            // Same name under a new ID (an event re-created, e.g. a probe).
            if let Some(slot) = self.by_id.get_mut(usize::from(old_id)) {
                if slot.take().is_some() {
                    self.len -= 1;
                }
            }
        }
        self.by_id[id] = Some(Box::new(s));
        self.len += 1;
    }

    fn forget_name(&mut self, system: &str, name: &str, id: u16) {
        if let Some(names) = self.by_name.get_mut(system) {
            if names.get(name) == Some(&id) {
                names.remove(name);
            }
        }
    }

    /// The schema whose ID is `id`.
    #[inline]
    pub fn get(&self, id: u16) -> Option<&Schema> {
        self.by_id.get(usize::from(id))?.as_deref()
    }

    /// The schema of `system:name`, e.g. `("sched", "sched_switch")`.
    pub fn find(&self, system: &str, name: &str) -> Option<&Schema> {
        let id = *self.by_name.get(system)?.get(name)?;
        self.get(id)
    }

    /// Number of schemas.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no schemas.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All schemas, by increasing ID.
    pub fn iter(&self) -> impl Iterator<Item = &Schema> {
        self.by_id.iter().filter_map(|s| s.as_deref())
    }
}

impl Extend<Schema> for Formats {
    fn extend<I: IntoIterator<Item = Schema>>(&mut self, iter: I) {
        for s in iter {
            self.insert(s);
        }
    }
}

impl FromIterator<Schema> for Formats {
    fn from_iter<I: IntoIterator<Item = Schema>>(iter: I) -> Self {
        let mut f = Formats::new();
        f.extend(iter);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(system: &str, name: &str, id: u16) -> Schema {
        Schema {
            system: system.into(),
            name: name.into(),
            id,
            fields: vec![],
            print_fmt: String::new(),
        }
    }

    #[test]
    fn lookup_by_id_and_name() {
        let f: Formats = [
            schema("sched", "sched_switch", 372),
            schema("block", "block_rq_complete", 2107),
        ]
        .into_iter()
        .collect();
        assert_eq!(f.len(), 2);
        assert_eq!(f.get(372).unwrap().name, "sched_switch");
        assert_eq!(f.find("block", "block_rq_complete").unwrap().id, 2107);
        assert!(f.get(0).is_none());
        assert!(f.get(u16::MAX).is_none());
        assert!(f.find("sched", "nope").is_none());
        assert!(f.find("nope", "sched_switch").is_none());
        let ids: Vec<_> = f.iter().map(|s| s.id).collect();
        assert_eq!(ids, [372, 2107]);
        assert!(Formats::new().is_empty());
    }

    #[test]
    fn replacing_keeps_both_indexes_consistent() {
        let mut f = Formats::new();
        f.insert(schema("kprobes", "p1", 1500));
        // Same ID, new event: the old name goes away.
        f.insert(schema("kprobes", "p2", 1500));
        assert_eq!(f.len(), 1);
        assert!(f.find("kprobes", "p1").is_none());
        assert_eq!(f.find("kprobes", "p2").unwrap().id, 1500);
        // Same name, new ID: the old ID goes away.
        f.insert(schema("kprobes", "p2", 1501));
        assert_eq!(f.len(), 1);
        assert!(f.get(1500).is_none());
        assert_eq!(f.find("kprobes", "p2").unwrap().id, 1501);
        f.insert(schema("x", "max", u16::MAX));
        assert_eq!(f.get(u16::MAX).unwrap().name, "max");
        assert_eq!(f.len(), 2);
    }
}
