#include "store/pg_instance_keys.h"

#include <string>

namespace kura::store::pg_instance_keys {

// The first key of the two-key advisory locks of instance keys ("kura"); the second is the
// key's hash (two keys of one hash only wait for each other).

void LockForWrite(PgConnection& c, std::string_view key) {
  PgQuery(c, "SELECT pg_advisory_xact_lock_shared(1802859105, hashtext($1))").Bind(key).Run();
  RefuseIfDeleted(c, key);
}

void RefuseIfDeleted(PgConnection& c, std::string_view key) {
  if (PgQuery(c, "SELECT 1 FROM deleted_instances WHERE instance = $1").Bind(key).Run().rows() >
      0) {
    throw InstanceGone();
  }
}

void Retire(PgConnection& c, std::string_view key) {
  if (key == kPlainRegistryKey) {
    throw StoreError("refusing to retire the instance key \"" + std::string(key) + "\"");
  }
  PgQuery(c, "SELECT pg_advisory_xact_lock(1802859105, hashtext($1))").Bind(key).Run();
  PgQuery(c, "INSERT INTO deleted_instances(instance) VALUES($1) ON CONFLICT DO NOTHING")
      .Bind(key)
      .Run();
}

}  // namespace kura::store::pg_instance_keys
