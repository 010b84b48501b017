// Power loss under the embedded metadata store (power_loss_vfs.h): a sequence of metadata
// operations through the real SqliteMetaStore, with the power cut at every write, truncate, sync
// and delete SQLite makes in turn; then the files are reopened as the disk holds them. Every
// operation that returned must be there, the one in flight either whole or absent (the rows are
// those after some prefix of the operations, never anything in between), the database passes
// SQLite's integrity_check and kura fsck's consistency check, and the store works on.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/digest.h"
#include "registry/consistency_check.h"
#include "store/fs_blob_store.h"
#include "store/power_loss_vfs.h"
#include "store/sqlite_meta_store.h"
#include "test_paths.h"

namespace kura::store {
namespace {

using testing::PowerLossVfs;

// Every row of every table, as text, sorted; the times SQLite's clock wrote (touched_at,
// lease_until) left out. Read through the real VFS (the disk) unless told otherwise (nullptr: the
// default one). Empty when the file does not exist.
std::vector<std::string> Dump(const std::string& path, const char* vfs = "unix") {
  std::vector<std::string> rows;
  if (!std::filesystem::exists(path)) return rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, vfs) != SQLITE_OK) {
    sqlite3_close(db);
    ADD_FAILURE() << "cannot open " << path;
    return rows;
  }
  std::vector<std::string> tables;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1,
                     &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  for (const std::string& table : tables) {
    sqlite3_prepare_v2(db, ("SELECT * FROM " + table).c_str(), -1, &s, nullptr);
    while (sqlite3_step(s) == SQLITE_ROW) {
      std::string row = table;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        std::string column = sqlite3_column_name(s, i);
        if (column == "touched_at" || column == "lease_until") continue;
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_blob(s, i));
        row += "|" + column + "=" +
               (sqlite3_column_type(s, i) == SQLITE_NULL
                    ? std::string("NULL")
                    : std::string(text ? text : "", sqlite3_column_bytes(s, i)));
      }
      rows.push_back(row);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  std::sort(rows.begin(), rows.end());
  return rows;
}

// SQLite's own check of the file (through the real VFS), "ok" when it holds.
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, "unix") == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    result.clear();
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK) {
      while (sqlite3_step(s) == SQLITE_ROW) {
        result += reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      }
    } else {
      result = sqlite3_errmsg(db);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return result;
}

// Blobs and manifests the operations refer to, really stored in the blob store (which is not
// under the power-loss model: only the metadata is).
struct Content {
  std::string config = "{\"architecture\":\"amd64\"}";
  std::string layer = std::string(5000, 'l');
  std::string extra = "an unreferenced blob";

  static std::string Manifest(const std::string& config, const std::string& layer,
                              const std::string& note) {
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config",
                         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                          {"digest", core::Sha256Of(config).str()},
                          {"size", config.size()}}},
                        {"layers",
                         {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                           {"digest", core::Sha256Of(layer).str()},
                           {"size", layer.size()}}}},
                        {"annotations", {{"note", note}}}};
    return m.dump();
  }
  ManifestRecord Record(const std::string& note) const {
    std::string body = Manifest(config, layer, note);
    return ManifestRecord{core::Sha256Of(body).str(),
                          "application/vnd.oci.image.manifest.v1+json",
                          body,
                          {core::Sha256Of(config).str(), core::Sha256Of(layer).str()},
                          {},
                          "",
                          "",
                          "{\"note\":\"" + note + "\"}"};
  }
  void Store(FsBlobStore& blobs, const std::filesystem::path& dir) const {
    for (const std::string* b : {&config, &layer, &extra}) {
      std::string path = blobs.BlobPath(core::Sha256Of(*b));
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      std::ofstream(path, std::ios::binary) << *b;
    }
    std::filesystem::create_directories(dir / "uploads");
    std::ofstream(dir / "uploads" / "upload-1", std::ios::binary) << "12345";
  }
};

const RepoKey kApp{std::string(kPlainRegistryKey), "app"};
const RepoKey kOther{std::string(kPlainRegistryKey), "other/app"};
const RepoKey kTenant{"tenant-incarnation-1", "app"};

using Op = std::function<void(std::unique_ptr<SqliteMetaStore>&, const std::string& db_path)>;

// Each acknowledged operation of a push, a retag, a delete and an upload, in order.
std::vector<Op> Operations(const Content& c) {
  std::string config = core::Sha256Of(c.config).str();
  std::string layer = core::Sha256Of(c.layer).str();
  std::string extra = core::Sha256Of(c.extra).str();
  auto link = [](const RepoKey& repo, std::string digest, uint64_t size) {
    return [=](std::unique_ptr<SqliteMetaStore>& s, const std::string&) {
      s->LinkBlob(repo, digest, size);
    };
  };
  auto put = [&c](const RepoKey& repo, std::string note, std::string tag) {
    ManifestRecord m = c.Record(note);
    return [=](std::unique_ptr<SqliteMetaStore>& s, const std::string&) {
      ASSERT_EQ(s->PutManifest(repo, m, tag), std::nullopt);
    };
  };
  std::vector<Op> ops = {
      link(kApp, config, c.config.size()),
      link(kApp, layer, c.layer.size()),
      put(kApp, "one", "v1"),
      put(kApp, "two", "v2"),
      put(kApp, "one", "latest"),
      [](auto& s, auto&) { ASSERT_TRUE(s->DeleteTag(kApp, "v2")); },
      [](auto& s, auto&) { s->CreateUpload(UploadSession{"upload-1", kApp, 0}); },
      [](auto& s, auto&) {
        UploadSession got;
        ASSERT_EQ(s->LeaseUpload("upload-1", kApp, "holder-a", 60, &got), LeaseOutcome::kLeased);
      },
      [](auto& s, auto&) { ASSERT_TRUE(s->SetUploadOffset("upload-1", kApp, "holder-a", 5, "")); },
      // A restart: the last connection checkpoints the WAL into the database and deletes it.
      [](auto& s, const std::string& path) {
        s.reset();
        s = std::make_unique<SqliteMetaStore>(path);
      },
      link(kOther, config, c.config.size()),
      link(kOther, layer, c.layer.size()),
      put(kOther, "three", "v3"),
      put(kApp, "two", "v1"),  // v1 moves to "two"
      [](auto& s, auto&) { s->ReleaseUploadLease("upload-1", "holder-a"); },
      [](auto& s, auto&) { s->CreateUpload(UploadSession{"upload-2", kApp, 0}); },
      [](auto& s, auto&) { s->DeleteUpload("upload-2"); },
      link(kApp, extra, c.extra.size()),
      [extra](auto& s, auto&) { ASSERT_TRUE(s->UnlinkBlob(kApp, extra)); },
      [&c](auto& s, auto&) { ASSERT_TRUE(s->DeleteManifest(kApp, c.Record("one").digest)); },
      link(kTenant, config, c.config.size()),
      link(kTenant, layer, c.layer.size()),
      put(kTenant, "tenant", "t1"),
      [](auto& s, auto&) { s->DeleteInstance(kTenant.instance); },
  };
  return ops;
}

class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("power-loss");
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string DbPath() const { return (dir_ / "kura.db").string(); }

  // A new data directory; the VFS forgets what its page cache held of the last one.
  void Fresh(PowerLossVfs& vfs) {
    vfs.LoseUnsynced(PowerLossVfs::Loss::kDropUnsynced);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    blobs_ = std::make_unique<FsBlobStore>(dir_.string());
    content_.Store(*blobs_, dir_);
  }

  // Runs the operations with the power cut at call `cut_at` (0: never). Returns how many
  // operations were started and how many returned; fills `states` (the rows after each prefix)
  // when asked.
  std::pair<size_t, size_t> Run(PowerLossVfs& vfs, int cut_at,
                                std::vector<std::vector<std::string>>* states) {
    Fresh(vfs);
    vfs.UseThisVfs();
    vfs.CutPowerAt(cut_at);
    std::vector<Op> ops = Operations(content_);
    size_t started = 0, acked = 0;
    std::unique_ptr<SqliteMetaStore> store;
    try {
      ++started;
      store = std::make_unique<SqliteMetaStore>(DbPath());
      ++acked;
      if (states) states->push_back(Snapshot());
      for (const Op& op : ops) {
        if (vfs.dead()) break;
        ++started;
        op(store, DbPath());
        if (::testing::Test::HasFatalFailure()) return {0, 0};
        ++acked;
        if (states) states->push_back(Snapshot());
      }
    } catch (const StoreError& e) {
      EXPECT_TRUE(vfs.dead()) << "operation " << started << " failed with the power on: "
                              << e.what();
    }
    store.reset();  // the connections close (their checkpoint fails when the power is off)
    return {started, acked};
  }

  // The rows as they stand, read beside the store through this VFS (the page cache's view).
  std::vector<std::string> Snapshot() const { return Dump(DbPath(), nullptr); }

  // After a power cut: the disk holds the rows of operations [0, k) for some acked <= k <=
  // started; the database is whole, passes fsck and takes writes.
  void CheckRecovered(const std::vector<std::vector<std::string>>& states, size_t started,
                      size_t acked, const std::string& where) {
    if (std::filesystem::exists(DbPath())) {
      ASSERT_EQ(IntegrityCheck(DbPath()), "ok") << where;
    } else {
      // Its creation never reached the disk: allowed only while nothing was acknowledged.
      ASSERT_EQ(acked, 0U) << where << ": kura.db is gone";
    }
    std::vector<std::string> rows = Dump(DbPath());
    if (acked == 0) {
      // Cut while the store was first created: reopening finishes creating it.
      SqliteMetaStore reopened(DbPath());
      rows = Dump(DbPath());
    }
    bool matched = false;
    for (size_t k = std::max<size_t>(acked, 1); k <= started && !matched; ++k) {
      matched = rows == states[k - 1];
    }
    if (!matched) {
      std::string shown;
      for (const std::string& r : rows) shown += "\n  " + r;
      ADD_FAILURE() << where << ": " << acked << " operations returned, " << started
                    << " started, but the rows after the power cut are those of none of them:"
                    << shown;
      return;
    }
    auto store = std::make_unique<SqliteMetaStore>(DbPath());
    store->LinkBlob(kApp, core::Sha256Of(content_.config).str(), content_.config.size());
    store->LinkBlob(kApp, core::Sha256Of(content_.layer).str(), content_.layer.size());
    ASSERT_EQ(store->PutManifest(kApp, content_.Record("after"), "after"), std::nullopt) << where;
    EXPECT_TRUE(store->GetTaggedManifest(kApp, "after")) << where;
    store.reset();
    registry::ConsistencyReport report = registry::CheckConsistency(
        DbPath(), *blobs_, {std::string(kPlainRegistryKey), kTenant.instance}, {});
    EXPECT_TRUE(report.ok()) << where << ": "
                             << (report.problems.empty() ? "" : report.problems.front());
  }

  std::filesystem::path dir_;
  Content content_;
  std::unique_ptr<FsBlobStore> blobs_;
};

// The model itself: what was not synced is gone after the cut, what was synced stays.
TEST_F(PowerLossTest, WhatWasNotSyncedIsLost) {
  PowerLossVfs vfs;
  Fresh(vfs);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(DbPath().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; "
                         "CREATE TABLE t(x); INSERT INTO t VALUES(1);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(vfs.syncs(), 0) << "synchronous=OFF syncs nothing";
  sqlite3_close(db);  // the checkpoint at close: synchronous=OFF syncs nothing either
  vfs.LoseUnsynced(PowerLossVfs::Loss::kDropUnsynced);
  vfs.UseRealVfs();
  EXPECT_TRUE(Dump(DbPath()).empty()) << "the database file was never synced: nothing is left";
  vfs.UseThisVfs();
  ASSERT_EQ(sqlite3_open_v2(DbPath().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                         "CREATE TABLE t(x); INSERT INTO t VALUES(1);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_GT(vfs.syncs(), 0);
  vfs.CutPowerAt(1);  // the power goes before anything else is written
  EXPECT_NE(sqlite3_exec(db, "INSERT INTO t VALUES(2)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  vfs.LoseUnsynced(PowerLossVfs::Loss::kDropUnsynced);
  vfs.UseRealVfs();
  EXPECT_EQ(Dump(DbPath()), std::vector<std::string>{"t|x=1"});
}

// Every call SQLite makes, cut in turn; what was left unsynced dropped, or kept in part.
TEST_F(PowerLossTest, EveryAcknowledgedOperationSurvivesACutAtAnyCall) {
  PowerLossVfs vfs;
  std::vector<std::vector<std::string>> states;
  auto [started, acked] = Run(vfs, 0, &states);
  ASSERT_EQ(acked, started);
  ASSERT_EQ(states.size(), Operations(content_).size() + 1);
  // The whole sequence, counted without snapshots (which close and reopen the store).
  Run(vfs, 0, nullptr);
  const int calls = vfs.calls();
  ASSERT_GT(calls, 50);
  ASSERT_LT(calls, 5000);
  vfs.UseRealVfs();
  EXPECT_EQ(Dump(DbPath()), states.back());
  for (int cut = 1; cut <= calls; ++cut) {
    SCOPED_TRACE("cut at call " + std::to_string(cut));
    for (auto how : {PowerLossVfs::Loss::kDropUnsynced, PowerLossVfs::Loss::kSomeUnsynced}) {
      auto [s, a] = Run(vfs, cut, nullptr);
      ASSERT_FALSE(HasFatalFailure());
      ASSERT_TRUE(vfs.dead()) << "cut " << cut;
      vfs.LoseUnsynced(how, static_cast<uint32_t>(cut));
      vfs.UseRealVfs();
      CheckRecovered(states, s, a,
                     "cut at call " + std::to_string(cut) + " of " + std::to_string(calls) +
                         (how == PowerLossVfs::Loss::kDropUnsynced ? " (unsynced dropped)"
                                                                   : " (some unsynced kept)"));
      if (HasFailure()) return;
    }
  }
}

// Tag PUTs from several threads at once, the power cut in the middle: every PUT that returned
// is there, whatever the writers were grouped or serialised into.
TEST_F(PowerLossTest, ConcurrentTagPutsThatReturnedSurvive) {
  PowerLossVfs vfs;
  constexpr int kThreads = 4;
  constexpr int kPuts = 6;
  int calls = 0;
  for (int round = 0; round <= 8; ++round) {
    const int cut = round * calls / 8;  // round 0: no cut, counting the calls
    if (round > 0 && cut == 0) continue;
    Fresh(vfs);
    vfs.UseThisVfs();
    vfs.CutPowerAt(0);
    auto store = std::make_unique<SqliteMetaStore>(DbPath());
    store->LinkBlob(kApp, core::Sha256Of(content_.config).str(), content_.config.size());
    store->LinkBlob(kApp, core::Sha256Of(content_.layer).str(), content_.layer.size());
    ManifestRecord m = content_.Record("one");
    vfs.CutPowerAt(cut);
    std::vector<std::vector<std::string>> acked(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPuts; ++i) {
          std::string tag = "t" + std::to_string(t) + "-" + std::to_string(i);
          try {
            if (store->PutManifest(kApp, m, tag) == std::nullopt) acked[t].push_back(tag);
          } catch (const StoreError&) {
            return;
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    if (round == 0) calls = vfs.calls();
    store.reset();
    EXPECT_EQ(vfs.dead(), round > 0) << "cut at " << cut << " of " << calls;
    vfs.LoseUnsynced(PowerLossVfs::Loss::kSomeUnsynced, static_cast<uint32_t>(cut));
    vfs.UseRealVfs();
    ASSERT_EQ(IntegrityCheck(DbPath()), "ok") << "cut at " << cut;
    SqliteMetaStore reopened(DbPath());
    std::vector<std::string> tags = reopened.ListTags(kApp, "", 1000);
    std::set<std::string> have(tags.begin(), tags.end());
    size_t total = 0;
    for (int t = 0; t < kThreads; ++t) {
      for (const std::string& tag : acked[t]) {
        EXPECT_TRUE(have.count(tag)) << "cut at " << cut << ": " << tag << " was acknowledged";
      }
      // At most the one PUT in flight per thread beyond those acknowledged.
      auto mine = static_cast<size_t>(std::count_if(tags.begin(), tags.end(), [&](const auto& g) {
        return g.rfind("t" + std::to_string(t) + "-", 0) == 0;
      }));
      EXPECT_LE(mine, acked[t].size() + 1) << "cut at " << cut;
      total += acked[t].size();
    }
    if (round == 0) {
      EXPECT_EQ(total, size_t{kThreads * kPuts});
    }
  }
}

}  // namespace
}  // namespace kura::store
