// `kura migrate`, first step: the blob files of an embedded installation (DATA/blobs/sha256/xx/hex,
// store/fs_blob_store.h) copied into the S3 store of a cluster, at the keys S3BlobStore reads
// them from (store/s3_blob_store.h).
//
// Every file is verified as it is read: its bytes must hash to the digest its name says, or it is
// refused (reported, not copied). A blob the target holds already with the same size is skipped
// without being read, so that running the migration again copies only what is missing. Files are
// streamed (S3BlobStore::PutBlobFromFile), a few blobs at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <set>
#include <string>
#include <vector>

#include "core/digest.h"
#include "store/s3_blob_store.h"
#include "store/s3_client.h"

namespace kura::cli {

// A file of the data directory's blob store, named by its digest.
struct BlobFile {
  core::Digest digest;
  std::string path;
  uint64_t size = 0;
};

// What DATA/blobs holds.
struct BlobInventory {
  std::vector<BlobFile> blobs;
  uint64_t bytes = 0;  // of `blobs`
  // Files that are no blob of kura's (their name is no digest, or not where a blob of that
  // digest is kept): left where they are, and said.
  std::vector<std::string> ignored;
  // Files named by a digest that this kura cannot verify (sha512: kura never writes them).
  std::vector<std::string> unverifiable;
};

// Lists the files under `data_dir`/blobs (none when it is missing). Throws std::runtime_error
// when the directory cannot be read.
BlobInventory ListBlobFiles(const std::string& data_dir);

struct BlobCopyReport {
  uint64_t copied = 0;  // dry run: verified, and would be copied
  uint64_t copied_bytes = 0;
  uint64_t replaced = 0;  // of `copied`: the target held an object of another size at the key
  uint64_t present = 0;   // the target holds them with the same size: neither read nor copied
  uint64_t present_bytes = 0;
  std::vector<std::string> refused;  // one line each: which file, and why it was not copied
  // The digests the target holds now (dry run: would hold), for the metadata step.
  std::set<std::string> in_target;
};

struct BlobCopyOptions {
  bool dry_run = false;  // read and verify, write nothing
  unsigned jobs = 4;     // blobs copied at once
};

// Copies the inventory's blobs. `client` is the target's S3 client (HEAD requests); `store` the
// target's blob store, or nullptr for a dry run. Writes a line to `out` for each refused file and
// a progress line every few seconds. Throws StoreError (or S3Error) when the target fails, after
// the blobs being copied have finished or been given up: blobs copied until then stay.
BlobCopyReport CopyBlobs(const BlobInventory& inventory, store::S3Client& client,
                         store::S3BlobStore* store, const BlobCopyOptions& options,
                         std::ostream& out);

// "1.5 GiB", "12 KiB", "37 bytes".
std::string HumanBytes(uint64_t bytes);

}  // namespace kura::cli
