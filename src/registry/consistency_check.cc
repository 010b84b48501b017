#include "registry/consistency_check.h"

#include <unistd.h>

#include <map>

#include "core/digest.h"
#include "registry/manifest.h"
#include "registry/upload_session_state.h"
#include "store/sqlite_db.h"

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
  ConsistencyReport report;
  store::SqliteDatabase db(db_path, "");
  store::SqliteConnection& c = db.Connection();
  auto problem = [&](std::string line) { report.problems.push_back(std::move(line)); };
  auto live = [&](const std::string& instance) { return live_instances.count(instance) > 0; };

  // Rows of instances that are gone.
  static constexpr const char* kOrphans[][2] = {
      {"repositories", "SELECT DISTINCT instance FROM repositories"},
      {"blob links", "SELECT DISTINCT instance FROM repository_blobs"},
      {"manifests", "SELECT DISTINCT instance FROM manifests"},
      {"tags", "SELECT DISTINCT instance FROM tags"},
      {"upload sessions", "SELECT DISTINCT instance FROM uploads"},
  };
  for (const auto& [what, sql] : kOrphans) {
    store::Statement s(c, sql);
    while (s.Step()) {
      std::string instance = s.Text(0);
      if (!live(instance))
        problem(std::string(what) + " of instance " + instance +
                ", which no longer exists, are still stored");
    }
  }

  // Blob links: stored, of the linked size, hashing to their digest.
  std::map<std::string, bool> blob_ok;  // digest -> stored and sound
  std::set<RepoDigest> links;
  {
    store::Statement s(c, "SELECT instance, repo, digest, size FROM repository_blobs");
    while (s.Step()) {
      ++report.blob_links;
      std::string instance = s.Text(0), repo = s.Text(1), digest = s.Text(2);
      auto size = static_cast<uint64_t>(s.Int(3));
      links.insert({instance + "/" + repo, digest});
      auto parsed = core::ParseDigest(digest);
      if (!parsed) {
        problem(Where(instance, repo) + " links a malformed digest " + digest);
        continue;
      }
      std::unique_ptr<store::BlobReader> blob = blobs.Open(*parsed);
      if (!blob) {
        problem(Where(instance, repo) + " links blob " + digest + ", which is not stored");
        continue;
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
    }
  }

  // Manifests: their digest, their references.
  std::set<RepoDigest> manifests;
  {
    store::Statement s(c, "SELECT instance, repo, digest FROM manifests");
    while (s.Step()) manifests.insert({s.Text(0) + "/" + s.Text(1), s.Text(2)});
  }
  {
    store::Statement s(c, "SELECT instance, repo, digest, media_type, body FROM manifests");
    while (s.Step()) {
      ++report.manifests;
      std::string instance = s.Text(0), repo = s.Text(1), digest = s.Text(2);
      std::string media_type = s.Text(3), body = s.Blob(4);
      std::string key = instance + "/" + repo;
      if (core::Sha256Of(body).str() != digest) {
        problem(Where(instance, repo) + " manifest " + digest + " does not hash to its digest");
      }
      ParsedManifest parsed = ParseManifest(body, media_type);
      if (!parsed.facts) {
        problem(Where(instance, repo) + " manifest " + digest +
                " does not parse: " + parsed.error->message);
        continue;
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
    }
  }

  // Tags.
  {
    store::Statement s(c, "SELECT instance, repo, tag, digest FROM tags");
    while (s.Step()) {
      ++report.tags;
      std::string instance = s.Text(0), repo = s.Text(1), tag = s.Text(2), digest = s.Text(3);
      if (!manifests.count({instance + "/" + repo, digest})) {
        problem(Where(instance, repo) + " tag " + tag + " points at " + digest +
                ", which the repository does not hold");
      }
    }
  }

  // Upload sessions hold the bytes they count.
  {
    store::Statement s(c, "SELECT id, instance, repo, offset, state FROM uploads");
    while (s.Step()) {
      ++report.uploads;
      std::string id = s.Text(0);
      auto offset = static_cast<uint64_t>(s.Int(3));
      UploadSessionState state = DecodeUploadSessionState(s.Blob(4));
      // A session being committed whose blob is stored has done its part; what is left of it
      // (the link, the session's removal) is finished by the same PUT again.
      auto committed = core::ParseDigest(state.committing);
      if (committed && blobs.Stat(*committed) == offset) continue;
      if (!blobs.HoldsUpload(id, offset, state.store)) {
        problem(Where(s.Text(1), s.Text(2)) + " upload " + id + " counts " +
                std::to_string(offset) + " bytes, which the blob store does not hold");
      }
    }
  }
  return report;
}

}  // namespace kura::registry
