// The World as rows: how the admin side saves it in the admin store (store/admin_store.h), one
// row per thing, so that a change writes the few rows it changed and a node sharing the store
// reads just those.
//
//   kind       key                  body (JSON)
//   account    id                   {name}
//   region     id                   {name}
//   network    account/id           {id, account, region, cidrs}
//   subnet     id                   {network: {account, id}, cidr}
//   host       id                   {subnet, private_ip, public_ip?}
//   transit    id                   {networks: [{account, id}]}
//   instance   name                 {account, region, edition, incarnation, internet_enabled}
//   allow      name SP cidr         {cidr, description, position}
//   binding    name SP network      {network, subnet, private_ip}
//   zone       id                   {name, records: [{name, address}], attached_networks}
//
// An allowlist entry's `position` is its index in Allowlist::entries(), so the order the entries
// were given in survives. Adding or editing an entry writes one row; removing one also rewrites
// the positions of the entries after it (an allowlist is rebuilt whole in memory on every change
// anyway, allowlist.h).
//
// Reading rows replays the World's own operations, as a document did, so rows can never smuggle
// in a state the rules of EXPOSURE.md forbid.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "access/world.h"
#include "store/admin_store.h"

namespace kura::admin {

// Every row of `world`, in (kind, key) order.
std::vector<store::WorldRow> WorldToRows(const access::World& world);

// The rows that differ between `before` and `after` (a row without a body: the thing is gone),
// for the admin store to save `after` over `before`. Costs O(k log n) for k changed things of n,
// since the two Worlds share all they did not change (world.h).
std::vector<store::WorldRow> WorldRowChanges(const access::World& before,
                                             const access::World& after);

// The kinds of rows in the order a World is restored from them (what each needs exists first).
const std::vector<std::string_view>& WorldRowKinds();

// An allowlist entry and its position (an allow row's body).
struct PositionedAllowlistEntry {
  size_t position;
  access::AllowlistEntry entry;
};

// Rebuilds a World from rows given one at a time, kind by kind in WorldRowKinds() order, each
// kind's in key order, so that start-up never holds a million rows at once. Add throws
// DocumentError naming the first row that cannot be restored.
//
// Instances are restored whole: their rows are held until their allow rows (which follow, in
// the same order of names) have been read, and each goes into the World in one step
// (World::RestoreInstance) rather than in three.
class WorldRestorer {
 public:
  explicit WorldRestorer(const std::string& domain);
  ~WorldRestorer();
  void Add(const store::WorldRow& row);
  access::World Finish();

 private:
  struct PendingInstance;
  void AddRow(const store::WorldRow& row);
  void AddAllowRow(const store::WorldRow& row);
  void RestorePending(PendingInstance& instance);
  void FlushInstances();

  access::World world_;
  std::vector<PendingInstance> instances_;  // read, not yet in world_, in name order
  // instances_[i] for i < allow_at_ are in world_ (their allow rows were all read).
  size_t allow_at_ = 0;
};

// Reads the World saved in `store` (AdminStore::ReadWorldRows of WorldRowKinds()) into
// `restorer`. The store is read on a thread of its own, a few batches of rows ahead of the
// restorer, so that on two cores start-up takes about the longer of reading and restoring
// rather than their sum. Returns what ReadWorldRows returns; what the store or the restorer
// throws is thrown (the other side stops first).
store::WorldRows ReadSavedWorld(store::AdminStore& store, WorldRestorer& restorer);

// Rebuilds a World under `domain` from every row of one. Throws DocumentError
// (world_document.h) naming the first row that cannot be restored.
access::World WorldFromRows(const std::vector<store::WorldRow>& rows, const std::string& domain);

// Applies rows another node saved (AdminStore::LoadWorldChanges) to `world`, through the
// World's operations. Returns false, leaving `world` in an unspecified state, when a change
// cannot be made that way (something the admin API never does, such as a network's blocks
// changing): the caller then loads every row.
bool ApplyWorldRowChanges(access::World& world, const std::vector<store::WorldRow>& changes);

// Saves `world` in place of whatever World `store` holds (what `kura lab` writes into a data
// directory): its rows, and the removal of every saved row it lacks. Throws StoreError if another
// writer keeps saving at the same time.
void ReplaceSavedWorld(store::AdminStore& store, const access::World& world);

// The incarnation of every instance in the rows of a World (what `kura fsck` needs to know which
// instance keys are live), without restoring the World.
std::vector<std::string> IncarnationsOfRows(const std::vector<store::WorldRow>& rows);

}  // namespace kura::admin
