#include "registry/consistency_check.h"

#include <unistd.h>

#include <map>

#include "core/digest.h"
#include "registry/manifest.h"
#include "registry/metadata_rows.h"
#include "registry/upload_session_state.h"
#include "store/meta_store.h"

namespace kura::registry {

namespace {

using RepoDigest = std::pair<std::string, std::string>;  // ("instance/repo", digest)

std::string Where(const std::string& instance, const std::string& repo) {
  return "instance " + instance + " repository " + repo;
}

// SHA-256 of an open file's bytes.
std::optional<core::Digest> HashBlob(store::BlobReader& blob) {
  core::Sha256 hash;
  std::vector<char> buf(1 << 20);
  uint64_t at = 0;
  try {
    while (size_t n = blob.ReadAt(at, buf.data(), buf.size())) {
      hash.Update(buf.data(), n);
      at += n;
    }
  } catch (const store::StoreError&) {
    return std::nullopt;
  }
  return hash.Finish();
}

}  // namespace

ConsistencyReport CheckConsistency(const std::string& db_path, store::BlobStore& blobs,
                                   const std::set<std::string>& live_instances,
                                   ConsistencyOptions options) {
  return CheckConsistency(*SqliteRows(db_path), blobs, live_instances, options);
}

ConsistencyReport CheckConsistency(MetadataRows& rows, store::BlobStore& blobs,
                                   const std::set<std::string>& live_instances,
                                   ConsistencyOptions options) {
  using Query = MetadataRows::Query;
  using Row = MetadataRows::Row;
  ConsistencyReport report;
  auto problem = [&](std::string line) { report.problems.push_back(std::move(line)); };
  auto live = [&](const std::string& instance) { return live_instances.count(instance) > 0; };

  // Rows of instances that are gone.
  static constexpr std::pair<const char*, Query> kOrphans[] = {
      {"repositories", Query::kRepositoryInstances}, {"blob links", Query::kBlobLinkInstances},
      {"manifests", Query::kManifestInstances},      {"tags", Query::kTagInstances},
      {"upload sessions", Query::kUploadInstances},
  };
  for (const auto& orphan : kOrphans) {
    const char* what = orphan.first;  // not a structured binding: clang 14 cannot capture one
    rows.Each(orphan.second, [&](const Row& r) {
      if (!live(r[0])) {
        problem(std::string(what) + " of instance " + r[0] +
                ", which no longer exists, are still stored");
      }
    });
  }

  // Blob links: stored, of the linked size, hashing to their digest.
  std::map<std::string, bool> blob_ok;  // digest -> stored and sound
  std::set<RepoDigest> links;
  rows.Each(Query::kBlobLinks, [&](const Row& r) {
    ++report.blob_links;
    const std::string &instance = r[0], &repo = r[1], &digest = r[2];
    uint64_t size = std::stoull(r[3]);
    links.insert({instance + "/" + repo, digest});
    auto parsed = core::ParseDigest(digest);
    if (!parsed) {
      problem(Where(instance, repo) + " links a malformed digest " + digest);
      return;
    }
    std::unique_ptr<store::BlobReader> blob = blobs.Open(*parsed);
    if (!blob) {
      problem(Where(instance, repo) + " links blob " + digest + ", which is not stored");
      return;
    }
    if (blob->size() != size) {
      problem(Where(instance, repo) + " links blob " + digest + " as " + std::to_string(size) +
              " bytes; the stored blob has " + std::to_string(blob->size()));
    }
    if (options.hash_blobs && !blob_ok.count(digest)) {
      auto actual = HashBlob(*blob);
      ++report.blobs_hashed;
      blob_ok[digest] = actual && actual->str() == digest;
      if (!blob_ok[digest]) {
        problem("blob " + digest + " does not hash to its digest (" +
                (actual ? actual->str() : std::string("unreadable")) + ")");
      }
    }
  });

  // Manifests: their digest, their references.
  std::set<RepoDigest> manifests;
  rows.Each(Query::kManifestKeys, [&](const Row& r) {
    manifests.insert({r[0] + "/" + r[1], r[2]});
  });
  rows.Each(Query::kManifests, [&](const Row& r) {
    ++report.manifests;
    const std::string &instance = r[0], &repo = r[1], &digest = r[2];
    const std::string &media_type = r[3], &body = r[4];
    std::string key = instance + "/" + repo;
    if (core::Sha256Of(body).str() != digest) {
      problem(Where(instance, repo) + " manifest " + digest + " does not hash to its digest");
    }
    ParsedManifest parsed = ParseManifest(body, media_type);
    if (!parsed.facts) {
      problem(Where(instance, repo) + " manifest " + digest +
              " does not parse: " + parsed.error->message);
      return;
    }
    for (const core::Digest& blob : parsed.facts->blobs) {
      if (!links.count({key, blob.str()})) {
        problem(Where(instance, repo) + " manifest " + digest + " needs blob " + blob.str() +
                ", which the repository does not link");
      }
    }
    for (const core::Digest& child : parsed.facts->manifests) {
      if (!manifests.count({key, child.str()})) {
        problem(Where(instance, repo) + " index " + digest + " needs manifest " + child.str() +
                ", which the repository does not hold");
      }
    }
  });

  // Tags.
  rows.Each(Query::kTags, [&](const Row& r) {
    ++report.tags;
    const std::string &instance = r[0], &repo = r[1], &tag = r[2], &digest = r[3];
    if (!manifests.count({instance + "/" + repo, digest})) {
      problem(Where(instance, repo) + " tag " + tag + " points at " + digest +
              ", which the repository does not hold");
    }
  });

  // Upload sessions hold the bytes they count.
  rows.Each(Query::kUploads, [&](const Row& r) {
    ++report.uploads;
    const std::string& id = r[0];
    uint64_t offset = std::stoull(r[3]);
    UploadSessionState state = DecodeUploadSessionState(r[4]);
    // A session being committed whose blob is stored has done its part; what is left of it
    // (the link, the session's removal) is finished by the same PUT again.
    auto committed = core::ParseDigest(state.committing);
    if (committed && blobs.Stat(*committed) == offset) return;
    if (!blobs.HoldsUpload(id, offset, state.store)) {
      problem(Where(r[1], r[2]) + " upload " + id + " counts " + std::to_string(offset) +
              " bytes, which the blob store does not hold");
    }
  });
  return report;
}

}  // namespace kura::registry
