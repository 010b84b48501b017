// What the PostgreSQL stores share about instance keys (see meta_store.h): the tombstones of
// deleted keys, in table deleted_instances, shared by PgMetaStore and PgAdminStore on one
// database (a key retired by either is refused by both).
//
// On SQLite one writer at a time makes "check the tombstone, then write" safe; here writers run
// at once, so a write and the retirement of its key are ordered by an advisory lock on the key:
// writes take it shared, Retire exclusive, each inside its own transaction until commit. A write
// that got the lock first commits before the retirement deletes the key's rows (and so loses
// them with the rest); one that got it after sees the tombstone (READ COMMITTED: each statement
// sees what committed before it began) and throws InstanceGone.
#pragma once

#include <string_view>

#include "store/pg_db.h"

namespace kura::store::pg_instance_keys {

// Inside the transaction of every write that creates rows under `key`, before writing: takes the
// key's lock shared, then throws InstanceGone if the key is retired.
void LockForWrite(PgConnection& c, std::string_view key);

// Throws InstanceGone if `key` is retired (no lock: for a write that changed nothing and tells
// why).
void RefuseIfDeleted(PgConnection& c, std::string_view key);

// Inside the caller's transaction, before deleting the key's rows: takes the key's lock
// exclusive and retires it. Throws StoreError for kPlainRegistryKey.
void Retire(PgConnection& c, std::string_view key);

}  // namespace kura::store::pg_instance_keys
