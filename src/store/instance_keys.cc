#include "store/instance_keys.h"

#include "store/meta_store.h"

namespace kura::store::instance_keys {

void EnsureSchema(SqliteConnection& c) {
  c.Exec(R"sql(
CREATE TABLE IF NOT EXISTS deleted_instances(instance TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store_format(store TEXT PRIMARY KEY, keyed_by TEXT NOT NULL)
  WITHOUT ROWID;
)sql");
}

void RefuseIfDeleted(SqliteConnection& c, std::string_view key) {
  Statement s(c, "SELECT 1 FROM deleted_instances WHERE instance = ?");
  if (s.Bind(key).Step()) throw InstanceGone();
}

void Retire(SqliteConnection& c, std::string_view key) {
  if (key == kPlainRegistryKey) {
    throw StoreError("refusing to retire the instance key \"" + std::string(key) + "\"");
  }
  Statement(c, "INSERT OR IGNORE INTO deleted_instances(instance) VALUES(?)").Bind(key).Run();
}

bool KeyedByName(SqliteConnection& c, std::string_view store, const char* any_row_sql) {
  {
    Statement format(c, "SELECT keyed_by FROM store_format WHERE store = ?");
    if (format.Bind(store).Step()) return format.Text(0) != "incarnation";
  }
  {
    Statement any(c, any_row_sql);
    if (any.Step()) return true;
  }
  Statement(c, "INSERT OR IGNORE INTO store_format(store, keyed_by) VALUES(?, 'incarnation')")
      .Bind(store)
      .Run();
  return false;
}

void Rekey(SqliteConnection& c, std::string_view store, std::span<const char* const> tables,
           const std::map<std::string, std::string>& key_of, std::string_view fallback_name,
           std::string_view fallback_key) {
  Transaction tx(c);
  // One statement per table maps every row at once, through a table of (old, new) pairs: an
  // incarnation that happened to equal another instance's name is never mapped twice.
  c.Exec(
      "CREATE TEMP TABLE IF NOT EXISTS instance_key_map(old TEXT PRIMARY KEY, new TEXT);"
      "DELETE FROM temp.instance_key_map;");
  for (const auto& [name, key] : key_of) {
    Statement(c, "INSERT INTO temp.instance_key_map(old, new) VALUES(?, ?)")
        .Bind(name)
        .Bind(key)
        .Run();
  }
  if (!fallback_name.empty() && !key_of.contains(std::string(fallback_name))) {
    Statement(c, "INSERT INTO temp.instance_key_map(old, new) VALUES(?, ?)")
        .Bind(fallback_name)
        .Bind(fallback_key)
        .Run();
  }
  for (const char* table : tables) {
    const std::string t(table);
    c.Exec(("DELETE FROM " + t +
            " WHERE instance NOT IN (SELECT old FROM temp.instance_key_map);"
            "UPDATE " +
            t +
            " SET instance = "
            "(SELECT new FROM temp.instance_key_map WHERE old = " +
            t + ".instance);")
               .c_str());
  }
  c.Exec("DELETE FROM temp.instance_key_map;");
  Statement(c, "INSERT OR REPLACE INTO store_format(store, keyed_by) VALUES(?, 'incarnation')")
      .Bind(store)
      .Run();
  tx.Commit();
}

}  // namespace kura::store::instance_keys
