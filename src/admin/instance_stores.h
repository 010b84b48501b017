// The stores and the World agree on which instances exist, after any crash.
//
// Deleting an instance (AdminApi, DELETE /api/v1/instances/N) commits three times, in this
// order: the World without the instance (from then on no request is admitted for it), then
// in the registry metadata and then in the admin state a tombstone of its incarnation together
// with the deletion of its rows (a request admitted before the delete that writes after the
// tombstone is refused inside its own transaction: store::InstanceGone). A crash between two
// commits leaves rows under an incarnation that the saved World no longer holds; nothing can
// reach them (a new instance always has a fresh incarnation), and the next start deletes them
// here. The design note: docs/design/instance-fencing.md.
#pragma once

#include <string>

#include "admin/exposure_state.h"
#include "store/admin_store.h"
#include "store/meta_store.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"

namespace kura::admin {

struct ReconcileResult {
  int incarnations_assigned = 0;  // instances of an old saved World that had none
  bool migrated = false;          // a database keyed by instance name was re-keyed
  int keys_purged = 0;            // instance keys that no instance of the World holds
};

// Run at start-up, before any request:
//  1. every instance of the World without an incarnation gets a fresh one, saved (a World saved
//     before incarnations existed, or written by `kura lab`);
//  2. stores whose rows are keyed by instance name (a database of an earlier kura) are re-keyed
//     by incarnation; the plain registry's rows, under "default", go to store::kPlainRegistryKey
//     unless an instance named default holds them (it did, then, see them);
//  3. every instance key with rows that no instance of the World holds (what a crash in the
//     middle of a delete leaves) is retired and its rows deleted.
// Throws StoreError (or DocumentError) if the stores cannot be read or written.
ReconcileResult ReconcileInstanceStores(ExposureState& exposure, store::SqliteMetaStore& meta,
                                        store::SqliteAdminStore& admin_store);

// Steps 1 and 3 only, for stores that were never keyed by instance name (PostgreSQL: kura wrote
// none before incarnations existed).
ReconcileResult ReconcileInstanceStores(ExposureState& exposure, store::MetaStore& meta,
                                        store::AdminStore& admin_store);

}  // namespace kura::admin
