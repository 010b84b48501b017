// What the SQLite stores share about instance keys (see meta_store.h): the tombstones of
// deleted keys, and the one-time move of databases keyed by instance name to incarnation keys.
//
// Tombstones live in table deleted_instances of the database file. kura serve keeps the
// registry metadata and the admin state in one file, so a key retired by either store is
// refused by both; a store on a file of its own has tombstones of its own.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite_db.h"

namespace kura::store::instance_keys {

// Creates the tables below if needed. Run once when a store opens its database.
//   deleted_instances(instance)      a key retired for good
//   store_format(store, keyed_by)    "incarnation" once a store's rows are keyed by incarnation
void EnsureSchema(SqliteConnection& c);

// Throws InstanceGone if `key` is retired. Call inside the transaction of every write that
// creates rows under a key, before writing.
void RefuseIfDeleted(SqliteConnection& c, std::string_view key);

// Retires `key` (inside the caller's transaction, with the deletion of its rows). Throws
// StoreError for kPlainRegistryKey: the plain registry is never retired.
void Retire(SqliteConnection& c, std::string_view key);

// Whether `store`'s rows are still keyed by instance name: no format row yet, and
// `any_row_sql` (a string literal: a query giving a row when the store holds any) gives one (a
// database of an earlier version). A store without rows is marked as keyed by incarnation.
bool KeyedByName(SqliteConnection& c, std::string_view store, const char* any_row_sql);

// Re-keys the rows of `tables` (each with an `instance` column) and marks `store` as keyed by
// incarnation, in one transaction: rows of a name in `key_of` get its key, rows of `fallback_name`
// (when given and not in key_of) get `fallback_key`, every other row is deleted.
void Rekey(SqliteConnection& c, std::string_view store, std::span<const char* const> tables,
           const std::map<std::string, std::string>& key_of, std::string_view fallback_name = {},
           std::string_view fallback_key = {});

}  // namespace kura::store::instance_keys
