//! The demo platform's in-memory store: tables of records with a unique folded key, an
//! `external_ref` index and membership links.

use std::collections::hash_map::{Entry, HashMap};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::bodies::Paging;
use super::records::{Group, Record, Stamp, User, fold};
use super::response::ApiError;

#[derive(Default)]
pub(super) struct Store {
    pub(super) users: Table<User>,
    pub(super) groups: Table<Group>,
    /// Users by folded `username` (unique, like the e-mail).
    pub(super) usernames: HashMap<String, u64>,
}

impl Store {
    pub(super) fn add_member(&mut self, group_id: u64, user_id: u64) -> Result<(), ApiError> {
        let group = self
            .groups
            .rows
            .get_mut(&group_id)
            .ok_or(ApiError::NotFound)?;
        let user = self
            .users
            .rows
            .get_mut(&user_id)
            .ok_or_else(|| ApiError::invalid("user_id", "unknown user"))?;
        if !group.links.insert(user_id) {
            return Err(ApiError::Conflict("already_member"));
        }
        user.links.insert(group_id);
        Ok(())
    }

    pub(super) fn remove_member(&mut self, group_id: u64, user_id: u64) -> Result<(), ApiError> {
        let group = self
            .groups
            .rows
            .get_mut(&group_id)
            .ok_or(ApiError::NotFound)?;
        if !group.links.remove(&user_id) {
            return Err(ApiError::NotFound);
        }
        if let Some(user) = self.users.rows.get_mut(&user_id) {
            user.links.remove(&group_id);
        }
        Ok(())
    }

    /// Deletes a user and its memberships: `O(g log n)` for a user in `g` groups.
    pub(super) fn delete_user(&mut self, id: u64) -> Result<(), ApiError> {
        let row = self.users.remove(id).ok_or(ApiError::NotFound)?;
        self.usernames.remove(&*fold(&row.record.username));
        for group_id in &row.links {
            if let Some(group) = self.groups.rows.get_mut(group_id) {
                group.links.remove(&id);
            }
        }
        Ok(())
    }

    pub(super) fn delete_group(&mut self, id: u64) -> Result<(), ApiError> {
        let row = self.groups.remove(id).ok_or(ApiError::NotFound)?;
        for user_id in &row.links {
            if let Some(user) = self.users.rows.get_mut(user_id) {
                user.links.remove(&id);
            }
        }
        Ok(())
    }
}

/// One record plus its links: a user's groups or a group's members, each side the mirror of the
/// other, so membership changes and deletions never scan.
pub(super) struct Row<T> {
    record: Arc<T>,
    /// The record's unique key in folded form, as stored in `Table::by_key`.
    key: String,
    pub(super) links: BTreeSet<u64>,
}

/// Returned by [`Table::insert`] when another record holds the key.
#[derive(Debug)]
pub(super) struct Taken {
    pub(super) holder: u64,
}

/// Records by id, with a unique index on a case-folded key and a multi-index on `external_ref`.
pub(super) struct Table<T> {
    last_id: u64,
    rows: BTreeMap<u64, Row<T>>,
    pub(super) by_key: HashMap<String, u64>,
    by_external_ref: HashMap<String, BTreeSet<u64>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            last_id: 0,
            rows: BTreeMap::new(),
            by_key: HashMap::new(),
            by_external_ref: HashMap::new(),
        }
    }
}

impl<T: Record> Table<T> {
    pub(super) fn next_id(&self) -> u64 {
        self.last_id + 1
    }

    pub(super) fn reserve(&mut self, additional: usize) {
        self.by_key.reserve(additional);
    }

    pub(super) fn row(&self, id: u64) -> Option<&Row<T>> {
        self.rows.get(&id)
    }

    pub(super) fn get(&self, id: u64) -> Option<Arc<T>> {
        self.row(id).map(|row| Arc::clone(&row.record))
    }

    /// Inserts the record `build(id)` under the folded `key`, unless another record holds it.
    pub(super) fn insert(
        &mut self,
        key: String,
        build: impl FnOnce(u64) -> T,
    ) -> Result<Arc<T>, Taken> {
        let slot = match self.by_key.entry(key) {
            Entry::Vacant(slot) => slot,
            Entry::Occupied(taken) => {
                return Err(Taken {
                    holder: *taken.get(),
                });
            }
        };
        let id = self.last_id + 1;
        let record = Arc::new(build(id));
        let key = slot.key().clone();
        slot.insert(id);
        self.last_id = id;
        if let Some(external_ref) = record.external_ref() {
            index_insert(&mut self.by_external_ref, external_ref, id);
        }
        let row = Row {
            record: Arc::clone(&record),
            key,
            links: BTreeSet::new(),
        };
        self.rows.insert(id, row);
        Ok(record)
    }

    /// Applies `apply` to a copy of record `id`, moves its `updated_at` forward and stores it,
    /// moving it to `key` in the unique index when given (409 if another record holds that key).
    pub(super) fn update(
        &mut self,
        id: u64,
        key: Option<String>,
        apply: impl FnOnce(&mut T),
    ) -> Result<Arc<T>, ApiError> {
        let row = self.rows.get_mut(&id).ok_or(ApiError::NotFound)?;
        let key = key.filter(|key| *key != row.key);
        if let Some(key) = &key
            && self.by_key.contains_key(key)
        {
            return Err(ApiError::Conflict(T::TAKEN));
        }
        let mut next = T::clone(&row.record);
        apply(&mut next);
        let updated_at = next.updated_at();
        *updated_at = Stamp::after(updated_at);
        if row.record.external_ref() != next.external_ref() {
            if let Some(old) = row.record.external_ref() {
                index_remove(&mut self.by_external_ref, old, id);
            }
            if let Some(new) = next.external_ref() {
                index_insert(&mut self.by_external_ref, new, id);
            }
        }
        if let Some(key) = key {
            self.by_key.remove(&row.key);
            self.by_key.insert(key.clone(), id);
            row.key = key;
        }
        row.record = Arc::new(next);
        Ok(Arc::clone(&row.record))
    }

    /// Removes record `id` from the table and its indexes; the caller unlinks its links.
    fn remove(&mut self, id: u64) -> Option<Row<T>> {
        let row = self.rows.remove(&id)?;
        self.by_key.remove(&row.key);
        if let Some(external_ref) = row.record.external_ref() {
            index_remove(&mut self.by_external_ref, external_ref, id);
        }
        Some(row)
    }

    /// One page of the records matching the filters (ascending id) and the number matching.
    /// A `key` filter is one hash lookup; an `external_ref` filter walks only its matches.
    pub(super) fn list(
        &self,
        key: Option<&str>,
        external_ref: Option<&str>,
        paging: Paging,
    ) -> (Vec<Arc<T>>, usize) {
        fn page<'a, T: 'a>(rows: impl Iterator<Item = &'a Row<T>>, paging: Paging) -> Vec<Arc<T>> {
            rows.skip(paging.offset())
                .take(paging.limit())
                .map(|row| Arc::clone(&row.record))
                .collect()
        }
        match (key, external_ref) {
            (Some(key), external_ref) => {
                let hit = self
                    .by_key
                    .get(key)
                    .and_then(|id| self.rows.get(id))
                    .filter(|row| {
                        external_ref.is_none_or(|e| row.record.external_ref() == Some(e))
                    });
                (page(hit.into_iter(), paging), usize::from(hit.is_some()))
            }
            (None, Some(external_ref)) => {
                let ids = self.by_external_ref.get(external_ref);
                let rows = ids.into_iter().flatten().filter_map(|id| self.rows.get(id));
                (page(rows, paging), ids.map_or(0, BTreeSet::len))
            }
            (None, None) => (page(self.rows.values(), paging), self.rows.len()),
        }
    }
}

fn index_insert(index: &mut HashMap<String, BTreeSet<u64>>, value: &str, id: u64) {
    match index.get_mut(value) {
        Some(ids) => {
            ids.insert(id);
        }
        None => {
            index.insert(value.to_owned(), BTreeSet::from([id]));
        }
    }
}

fn index_remove(index: &mut HashMap<String, BTreeSet<u64>>, value: &str, id: u64) {
    if let Some(ids) = index.get_mut(value) {
        ids.remove(&id);
        if ids.is_empty() {
            index.remove(value);
        }
    }
}
