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

ReconcileResult Reconcile(ExposureState& exposure, store::MetaStore& meta,
                          store::AdminStore& admin_store, const RekeyByIncarnation& rekey) {
  ReconcileResult result;
  // Saved before any row is re-keyed: a crash in between re-keys with the same incarnations.
  access::Status assigned = exposure.Change([&](access::World& world) {
    std::vector<std::string> unnamed;
    for (const auto& [name, instance] : world.instances()) {
      if (instance.incarnation.empty()) unnamed.push_back(name);
    }
    result.incarnations_assigned = 0;
    for (const std::string& name : unnamed) {
      access::Status s = world.AssignIncarnation(name, auth::RandomSecret());
      if (!s.ok()) return s;
      ++result.incarnations_assigned;
    }
    return access::Status::Ok();
  });
  if (!assigned.ok()) throw std::runtime_error(assigned.message());

  const std::shared_ptr<const access::World> world = exposure.Snapshot();
  std::map<std::string, std::string> incarnation_of;
  std::set<std::string, std::less<>> live = {std::string(store::kPlainRegistryKey)};
  for (const auto& [name, instance] : world->instances()) {
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
  exposure.Refresh();
  for (const auto& [name, instance] : exposure.Snapshot()->instances()) {
    live.insert(instance.incarnation);
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

ReconcileResult ReconcileInstanceStores(ExposureState& exposure, store::SqliteMetaStore& meta,
                                        store::SqliteAdminStore& admin_store) {
  return Reconcile(exposure, meta, admin_store,
                   [&](const std::map<std::string, std::string>& incarnation_of) {
                     if (!meta.KeyedByInstanceName() && !admin_store.KeyedByInstanceName()) {
                       return false;
                     }
                     meta.MigrateToIncarnationKeys(incarnation_of);
                     admin_store.MigrateToIncarnationKeys(incarnation_of);
                     return true;
                   });
}

ReconcileResult ReconcileInstanceStores(ExposureState& exposure, store::MetaStore& meta,
                                        store::AdminStore& admin_store) {
  return Reconcile(exposure, meta, admin_store, nullptr);
}

}  // namespace kura::admin
