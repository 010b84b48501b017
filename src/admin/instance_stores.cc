#include "admin/instance_stores.h"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "admin/world_document.h"
#include "auth/token.h"

namespace kura::admin {
namespace {

// Re-keys stores keyed by instance name (step 2); returns whether it did. Null for stores that
// never were.
using RekeyByIncarnation = std::function<bool(const std::map<std::string, std::string>&)>;

ReconcileResult Reconcile(access::World& world, store::MetaStore& meta,
                          store::AdminStore& admin_store, const RekeyByIncarnation& rekey) {
  ReconcileResult result;
  std::vector<std::string> unnamed;
  for (const auto& [name, instance] : world.instances()) {
    if (instance.incarnation.empty()) unnamed.push_back(name);
  }
  for (const std::string& name : unnamed) {
    access::Status s = world.AssignIncarnation(name, auth::RandomSecret());
    if (!s.ok()) throw std::runtime_error(s.message());
    ++result.incarnations_assigned;
  }
  // Saved before any row is re-keyed: a crash in between re-keys with the same incarnations.
  if (result.incarnations_assigned > 0) admin_store.SaveWorld(WorldToDocument(world));

  std::map<std::string, std::string> incarnation_of;
  std::set<std::string, std::less<>> live = {std::string(store::kPlainRegistryKey)};
  for (const auto& [name, instance] : world.instances()) {
    incarnation_of[name] = instance.incarnation;
    live.insert(instance.incarnation);
  }
  if (rekey) result.migrated = rekey(incarnation_of);

  // The keys first, the World as saved now second: another node sharing the stores may have
  // created an instance since `world` was read, and a new instance is saved before any row of
  // it is written, so every key listed belongs to an instance of the World read after it, unless
  // that instance is gone.
  std::vector<std::string> meta_keys = meta.ListInstanceKeys();
  std::vector<std::string> admin_keys = admin_store.ListInstanceKeys();
  if (std::optional<std::string> saved = admin_store.LoadWorld()) {
    access::World now = WorldFromDocument(*saved, world.domain());
    for (const auto& [name, instance] : now.instances()) live.insert(instance.incarnation);
  }

  std::set<std::string> purged;
  for (const std::string& key : meta_keys) {
    if (live.contains(key)) continue;
    meta.DeleteInstance(key);
    purged.insert(key);
  }
  for (const std::string& key : admin_keys) {
    if (live.contains(key)) continue;
    admin_store.DeleteInstanceState(key);
    purged.insert(key);
  }
  result.keys_purged = static_cast<int>(purged.size());
  return result;
}

}  // namespace

ReconcileResult ReconcileInstanceStores(access::World& world, store::SqliteMetaStore& meta,
                                        store::SqliteAdminStore& admin_store) {
  return Reconcile(world, meta, admin_store,
                   [&](const std::map<std::string, std::string>& incarnation_of) {
                     if (!meta.KeyedByInstanceName() && !admin_store.KeyedByInstanceName()) {
                       return false;
                     }
                     meta.MigrateToIncarnationKeys(incarnation_of);
                     admin_store.MigrateToIncarnationKeys(incarnation_of);
                     return true;
                   });
}

ReconcileResult ReconcileInstanceStores(access::World& world, store::MetaStore& meta,
                                        store::AdminStore& admin_store) {
  return Reconcile(world, meta, admin_store, nullptr);
}

}  // namespace kura::admin
