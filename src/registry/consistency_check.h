// `kura fsck`: checks that the registry's data holds together, the way a demanding operator (or a
// test after an attack) wants to know it does:
//   - every tag points at a manifest of its repository;
//   - every manifest hashes to its digest, parses, and its blobs are linked to its repository and
//     stored, its child manifests stored in the same repository;
//   - every linked blob is stored, with the size the link says, and hashes to its digest;
//   - every upload session's file holds at least the bytes the session counts;
//   - no row outlives its instance (its key is one of `live_instances`).
// It only reads: it can run beside a live server (SQLite WAL readers see a consistent snapshot of
// each table; a push in flight may show as a blob stored but not yet linked, never as a problem).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "store/blob_store.h"

namespace kura::registry {

struct ConsistencyReport {
  std::vector<std::string> problems;  // one line each, naming the instance, repository and item
  uint64_t tags = 0;
  uint64_t manifests = 0;
  uint64_t blob_links = 0;
  uint64_t blobs_hashed = 0;
  uint64_t uploads = 0;
  bool ok() const { return problems.empty(); }
};

struct ConsistencyOptions {
  bool hash_blobs = true;  // read every linked blob and check its digest (reads all the bytes)
};

class MetadataRows;

// Checks the metadata that `rows` reads against `blobs`.
ConsistencyReport CheckConsistency(MetadataRows& rows, store::BlobStore& blobs,
                                   const std::set<std::string>& live_instances,
                                   ConsistencyOptions options = {});

// The same, on the SQLite database at `db_path`. `live_instances`: the keys under
// which instances (and the plain registry) keep their rows.
ConsistencyReport CheckConsistency(const std::string& db_path, store::BlobStore& blobs,
                                   const std::set<std::string>& live_instances,
                                   ConsistencyOptions options = {});

}  // namespace kura::registry
