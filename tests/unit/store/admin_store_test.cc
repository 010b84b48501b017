// The AdminStore contract, run on every implementation: SQLite and PostgreSQL
// (store_backends.h says how the PostgreSQL cases find their database); then the SQLite
// stores' migrations of databases of earlier versions.
#include "store/admin_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/name_keyed_database.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"
#include "store/store_backends.h"
#include "test_paths.h"

namespace kura::store {
namespace {

template <class Database>
class AdminStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = Database::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    db_.emplace();
    store_ = db_->OpenAdmin();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  std::optional<Database> db_;
  std::unique_ptr<AdminStore> store_;
};

TYPED_TEST_SUITE(AdminStoreTest, StoreBackends, BackendName);

WorldRow Row(std::string kind, std::string key, std::optional<std::string> body) {
  return {std::move(kind), std::move(key), std::move(body)};
}

// Two nodes saving at once from the same revision: exactly one save is taken; the other learns
// it lost and nothing of its rows is stored.
TYPED_TEST(AdminStoreTest, AConditionalSaveOfTheWorldLosesToAnEarlierOne) {
  WorldRows empty = this->store_->LoadWorldRows();
  EXPECT_TRUE(empty.rows.empty());
  EXPECT_EQ(empty.revision, 0u);
  EXPECT_FALSE(empty.legacy_document);
  ASSERT_TRUE(this->store_->SaveWorldChanges({Row("account", "A", "{\"v\":1}")}, 0));
  EXPECT_FALSE(this->store_->SaveWorldChanges({Row("account", "late", "{}")}, 0));
  WorldRows saved = this->store_->LoadWorldRows();
  EXPECT_EQ(saved.rows, std::vector<WorldRow>{Row("account", "A", "{\"v\":1}")});
  EXPECT_EQ(saved.revision, 1u);
  EXPECT_EQ(saved.revision, this->store_->WorldRevision());
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  std::atomic<int> won{0};
  std::vector<std::thread> nodes;
  for (int t = 0; t < 4; ++t) {
    nodes.emplace_back([&, t] {
      AdminStore& store = t % 2 ? *other : *this->store_;
      if (store.SaveWorldChanges({Row("account", "t" + std::to_string(t), "{}")}, saved.revision)) {
        ++won;
      }
    });
  }
  for (auto& n : nodes) n.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(this->store_->WorldRevision(), saved.revision + 1);
  WorldRows now = this->store_->LoadWorldRows();
  EXPECT_EQ(now.revision, saved.revision + 1);
  EXPECT_EQ(now.rows.size(), 2u);
}

// A node reads just what changed since its revision: rows written after it, removed ones without
// a body; the live rows are the latest of each key, in (kind, key) order.
TYPED_TEST(AdminStoreTest, ChangesSinceARevisionAreTheRowsWrittenAfterIt) {
  AdminStore& store = *this->store_;
  ASSERT_TRUE(store.SaveWorldChanges(
      {Row("instance", "b", "{\"n\":1}"), Row("account", "A", "{}"), Row("instance", "a", "{}")},
      0));
  ASSERT_TRUE(store.SaveWorldChanges({Row("instance", "b", "{\"n\":2}")}, 1));
  ASSERT_TRUE(store.SaveWorldChanges({Row("instance", "a", std::nullopt)}, 2));
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();  // another node reads them
  WorldRows all = other->LoadWorldRows();
  EXPECT_EQ(all.revision, 3u);
  EXPECT_EQ(all.rows,
            (std::vector<WorldRow>{Row("account", "A", "{}"), Row("instance", "b", "{\"n\":2}")}));
  WorldRows since1 = other->LoadWorldChanges(1);
  EXPECT_TRUE(since1.complete);
  EXPECT_EQ(since1.revision, 3u);
  EXPECT_EQ(since1.rows, (std::vector<WorldRow>{Row("instance", "a", std::nullopt),
                                                Row("instance", "b", "{\"n\":2}")}));
  WorldRows since2 = other->LoadWorldChanges(2);
  EXPECT_EQ(since2.rows, std::vector<WorldRow>{Row("instance", "a", std::nullopt)});
  WorldRows none = other->LoadWorldChanges(3);
  EXPECT_TRUE(none.complete);
  EXPECT_TRUE(none.rows.empty());
  // A revision the store never reached is no base to build on.
  EXPECT_FALSE(other->LoadWorldChanges(7).complete);
  // Re-adding a removed row brings it back.
  ASSERT_TRUE(store.SaveWorldChanges({Row("instance", "a", "{\"again\":1}")}, 3));
  EXPECT_EQ(other->LoadWorldRows().rows.size(), 3u);
}

TYPED_TEST(AdminStoreTest, ARowWithoutKindOrKeyIsRefusedAndNothingIsSaved) {
  EXPECT_THROW(this->store_->SaveWorldChanges({Row("", "a", "{}")}, 0), StoreError);
  EXPECT_THROW(this->store_->SaveWorldChanges({Row("account", "", "{}")}, 0), StoreError);
  EXPECT_THROW(this->store_->SaveWorldChanges({Row("account", "a", "")}, 0), StoreError);
  EXPECT_EQ(this->store_->WorldRevision(), 0u);
  EXPECT_TRUE(this->store_->LoadWorldRows().rows.empty());
}

// Start-up reads kind by kind, each kind in key order (the restorer refuses rows out of
// order): the order of bytes, whatever a locale would say, and every body as saved, whatever
// bytes a text format would have to escape. Rows saved out of order; a removed one is not read.
TYPED_TEST(AdminStoreTest, EachKindIsReadInKeyOrderAndEveryBodyAsSaved) {
  const std::vector<std::string> keys = {
      "i1 x", "b", "B", "i10", "a b", "a-b", "a", "i1", "~", "A", "\xc3\xa9t\xc3\xa9"};
  const std::vector<std::string> bodies = {"{\"d\":\"tab\there\"}",
                                           "line\nbreak\r\n",
                                           "back\\slash \\N \\t \\\\",
                                           "quote ' and \" and ''",
                                           "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xa6",
                                           std::string(70000, 'x') + "\x7f",
                                           "\\.\n",
                                           "\x01\x1f"};
  std::vector<WorldRow> allow, instances, odd;
  for (size_t i = 0; i < keys.size(); ++i) {
    allow.push_back(Row("allow", keys[i], bodies[i % bodies.size()]));
    instances.push_back(
        Row("instance", keys[keys.size() - 1 - i], "{\"n\":" + std::to_string(i) + "}"));
  }
  // A kind is text too: one with a quote and a backslash is read as any other.
  odd.push_back(Row("it's \\odd", "k", "{}"));
  std::vector<WorldRow> saved = allow;
  saved.insert(saved.end(), instances.begin(), instances.end());
  saved.insert(saved.end(), odd.begin(), odd.end());
  saved.push_back(Row("allow", "gone", "{}"));
  ASSERT_TRUE(this->store_->SaveWorldChanges(saved, 0));
  ASSERT_TRUE(this->store_->SaveWorldChanges({Row("allow", "gone", std::nullopt)}, 1));

  auto by_key = [](std::vector<WorldRow> rows) {
    std::sort(rows.begin(), rows.end(),
              [](const WorldRow& a, const WorldRow& b) { return a.key < b.key; });
    return rows;
  };
  std::vector<WorldRow> expected = by_key(instances);
  for (const WorldRow& row : by_key(allow)) expected.push_back(row);
  expected.push_back(odd[0]);
  std::vector<WorldRow> read;
  WorldRows out = this->store_->ReadWorldRows({"instance", "nothing", "allow", "it's \\odd"},
                                              [&](const WorldRow& row) { read.push_back(row); });
  EXPECT_EQ(out.revision, 2u);
  EXPECT_TRUE(out.rows.empty());
  EXPECT_EQ(read, expected);

  // Every kind: in (kind, key) order.
  std::vector<WorldRow> all = by_key(allow);
  for (const WorldRow& row : by_key(instances)) all.push_back(row);
  all.push_back(odd[0]);
  EXPECT_EQ(this->store_->LoadWorldRows().rows, all);
}

// What `visit` throws ends the read (start-up's restorer giving up on a bad row) and comes out
// as it was thrown; the store serves the next call as before.
TYPED_TEST(AdminStoreTest, WhatTheVisitorThrowsEndsTheReadAndTheStoreGoesOn) {
  std::vector<WorldRow> rows;
  for (int i = 0; i < 5000; ++i) {
    rows.push_back(Row("allow", "k" + std::to_string(100000 + i), std::string(200, 'b')));
  }
  ASSERT_TRUE(this->store_->SaveWorldChanges(rows, 0));
  struct GaveUp {};
  int visited = 0;
  EXPECT_THROW(this->store_->ReadWorldRows({"allow"},
                                           [&](const WorldRow&) {
                                             if (++visited == 10) throw GaveUp{};
                                           }),
               GaveUp);
  EXPECT_EQ(visited, 10);
  ASSERT_TRUE(this->store_->SaveWorldChanges({Row("account", "A", "{}")}, 1));
  WorldRows after = this->store_->LoadWorldRows();
  EXPECT_EQ(after.revision, 2u);
  EXPECT_EQ(after.rows.size(), 5001u);
}

// Tombstones are kept for kWorldChangesKept revisions: a node further behind is told to load
// every row, and never misses a removal.
TYPED_TEST(AdminStoreTest, ANodeTooFarBehindIsToldToLoadEverything) {
  AdminStore& store = *this->store_;
  ASSERT_TRUE(store.SaveWorldChanges({Row("instance", "gone", "{}")}, 0));
  ASSERT_TRUE(store.SaveWorldChanges({Row("instance", "gone", std::nullopt)}, 1));
  // Many saves later: the removal is no longer kept.
  uint64_t revision = 2;
  for (; revision < 2 + kWorldChangesKept; ++revision) {
    ASSERT_TRUE(
        store.SaveWorldChanges({Row("account", "hot", std::to_string(revision))}, revision));
  }
  EXPECT_EQ(store.WorldRevision(), revision);
  EXPECT_FALSE(store.LoadWorldChanges(1).complete);
  EXPECT_TRUE(store.LoadWorldChanges(revision - 5).complete);
}

TYPED_TEST(AdminStoreTest, FailedLoginsAreCountedPerKeyAcrossStores) {
  EXPECT_EQ(this->store_->FindLoginFailures("source:a").failures, 0);
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();  // another node
  for (int i = 1; i <= 3; ++i) {
    AdminStore& node = i % 2 ? *this->store_ : *other;
    AdminStore::LoginFailures f = node.RecordLoginFailure("source:a", 60);
    EXPECT_EQ(f.failures, i);
    EXPECT_GT(f.seconds_left, 55);
    EXPECT_LE(f.seconds_left, 60);
  }
  EXPECT_EQ(other->FindLoginFailures("source:a").failures, 3);
  EXPECT_EQ(other->FindLoginFailures("source:b").failures, 0);
  this->store_->ClearLoginFailures("source:a");
  EXPECT_EQ(other->FindLoginFailures("source:a").failures, 0);
}

TYPED_TEST(AdminStoreTest, AnEndedLoginWindowStartsAgain) {
  this->store_->RecordLoginFailure("user:x", 1);
  this->store_->RecordLoginFailure("user:x", 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // the store counts in seconds
  EXPECT_EQ(this->store_->FindLoginFailures("user:x").failures, 0);
  EXPECT_EQ(this->store_->RecordLoginFailure("user:x", 60).failures, 1);
}

TYPED_TEST(AdminStoreTest, ConcurrentSavesEachMoveTheRevisionOnce) {
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  AdminStore* nodes[] = {this->store_.get(), other.get()};
  std::vector<std::thread> threads;
  std::atomic<int> saves{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Each thread saves 10 rows of its own, retrying from the revision it reads.
      for (int i = 0; i < 10;) {
        AdminStore& node = *nodes[t % 2];
        const uint64_t at = node.WorldRevision();
        if (node.SaveWorldChanges(
                {Row("account", std::to_string(t) + "-" + std::to_string(i), "{}")}, at)) {
          ++i;
          ++saves;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(saves.load(), 40);
  EXPECT_EQ(this->store_->WorldRevision(), 40u);
  EXPECT_EQ(this->store_->LoadWorldRows().rows.size(), 40u);
}

TYPED_TEST(AdminStoreTest, APermanentPasswordIsReplacedTemporaryOnesExpire) {
  this->store_->SetPassword("inc", "dev", "hash1");
  this->store_->SetPassword("inc", "dev", "hash2");
  this->store_->AddTemporaryPassword("inc", "dev", "tmp", 200, 100);
  std::vector<StoredCredential> creds = this->store_->FindCredentials("inc", "dev", 150);
  ASSERT_EQ(creds.size(), 2u);
  EXPECT_EQ(creds[0].hash, "hash2");  // permanent first
  EXPECT_EQ(creds[0].expires_at, 0);
  EXPECT_EQ(creds[1].hash, "tmp");
  EXPECT_EQ(creds[1].expires_at, 200);
  EXPECT_EQ(creds[1].user, "dev");
  EXPECT_EQ(this->store_->FindCredentials("inc", "dev", 200).size(), 1u);  // expired at 200
  EXPECT_TRUE(this->store_->FindCredentials("other", "dev", 0).empty());
  // Adding a temporary password purges the expired ones.
  this->store_->AddTemporaryPassword("inc", "ci", "tmp2", 400, 300);
  EXPECT_EQ(this->store_->FindCredentials("inc", "dev", 0).size(), 1u);
  this->store_->SetPassword("inc", "alice", "h");
  EXPECT_EQ(this->store_->ListUsers("inc"), (std::vector<std::string>{"alice", "dev"}));
}

TYPED_TEST(AdminStoreTest, ConcurrentPasswordChangesLeaveOnePermanentPassword) {
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  AdminStore* nodes[] = {this->store_.get(), other.get()};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        nodes[t % 2]->SetPassword("inc", "dev", "h" + std::to_string(t) + "-" + std::to_string(i));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(this->store_->FindCredentials("inc", "dev", 0).size(), 1u);
}

TYPED_TEST(AdminStoreTest, NamespacesAreCreatedUpdatedAndListed) {
  EXPECT_FALSE(this->store_->FindNamespace("inc", "team"));
  this->store_->PutNamespace("inc", {"team", false});
  this->store_->PutNamespace("inc", {"alpha", true});
  this->store_->PutNamespace("inc", {"team", true});
  this->store_->PutNamespace("other", {"zed", false});
  ASSERT_TRUE(this->store_->FindNamespace("inc", "team"));
  EXPECT_TRUE(this->store_->FindNamespace("inc", "team")->is_public);
  std::vector<StoredNamespace> all = this->store_->ListNamespaces("inc");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alpha");
  EXPECT_TRUE(all[0].is_public);
  EXPECT_EQ(all[1].name, "team");
  EXPECT_EQ(this->store_->ListInstanceKeys(), (std::vector<std::string>{"inc", "other"}));
}

TYPED_TEST(AdminStoreTest, ASecretIsMadeOnceAndEveryNodeGetsThatOne) {
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  AdminStore* nodes[] = {this->store_.get(), other.get()};
  std::atomic<int> made{0};
  std::vector<std::string> got(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      got[t] = nodes[t % 2]->Secret("token-key", [&] {
        ++made;
        return "secret-" + std::to_string(t);
      });
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(made.load(), 1);
  for (const std::string& g : got) EXPECT_EQ(g, got[0]);
  EXPECT_EQ(this->store_->Secret("token-key", [] { return std::string("never"); }), got[0]);
  EXPECT_EQ(this->store_->Secret("another", [] { return std::string("b"); }), "b");
}

TYPED_TEST(AdminStoreTest, DeletedInstanceKeyRefusesWritesOfBothStoresOfOneDatabase) {
  std::unique_ptr<MetaStore> meta = this->db_->OpenMeta();
  AdminStore& admin = *this->store_;
  admin.SetPassword("inc", "dev", "hash");
  admin.PutNamespace("inc", {"team", true});
  admin.SetPassword("kept", "dev", "hash2");
  EXPECT_EQ(admin.ListInstanceKeys(), (std::vector<std::string>{"inc", "kept"}));
  // The registry side retires the key first: the admin side refuses from then on.
  meta->DeleteInstance("inc");
  EXPECT_THROW(admin.SetPassword("inc", "dev", "hash"), InstanceGone);
  EXPECT_THROW(admin.AddTemporaryPassword("inc", "tmp", "hash", 100, 1), InstanceGone);
  EXPECT_THROW(admin.PutNamespace("inc", {"other", false}), InstanceGone);
  admin.DeleteInstanceState("inc");
  EXPECT_TRUE(admin.FindCredentials("inc", "dev", 0).empty());
  EXPECT_FALSE(admin.FindNamespace("inc", "team"));
  EXPECT_EQ(admin.ListInstanceKeys(), std::vector<std::string>{"kept"});
  EXPECT_EQ(admin.FindCredentials("kept", "dev", 0).size(), 1u);
  // And the other way round: a key the admin side retired is refused by the registry side.
  admin.DeleteInstanceState("kept");
  EXPECT_THROW(meta->LinkBlob({"kept", "a"}, "sha256:x", 1), InstanceGone);
  EXPECT_THROW(admin.DeleteInstanceState(kPlainRegistryKey), StoreError);
}

// A World an earlier kura saved as one document (before revisions: revision 1) is handed out
// as that document until the first save of rows, which replaces it.
TEST(SqliteAdminStore, AWorldSavedAsOneDocumentIsReadUntilRowsReplaceIt) {
  const std::string path = kura::testing::ScratchPath("admin-old-world", ".db").string();
  std::filesystem::remove(path);
  {
    SqliteDatabase old(path, R"sql(
CREATE TABLE exposure_world(id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL);
INSERT INTO exposure_world VALUES(1, '{"old":true}');
)sql");
  }
  SqliteAdminStore admin(path);
  WorldRows saved = admin.LoadWorldRows();
  EXPECT_EQ(saved.legacy_document, "{\"old\":true}");
  EXPECT_EQ(saved.revision, 1u);
  EXPECT_EQ(admin.WorldRevision(), 1u);
  EXPECT_FALSE(admin.LoadWorldChanges(0).complete);
  EXPECT_FALSE(admin.SaveWorldChanges({Row("account", "A", "{}")}, 0));  // not the revision
  ASSERT_TRUE(admin.SaveWorldChanges({Row("account", "A", "{}")}, 1));
  WorldRows now = admin.LoadWorldRows();
  EXPECT_FALSE(now.legacy_document);
  EXPECT_EQ(now.revision, 2u);
  EXPECT_EQ(now.rows, std::vector<WorldRow>{Row("account", "A", "{}")});
  // A node that read the document must load every row: what it had is gone.
  EXPECT_FALSE(admin.LoadWorldChanges(0).complete);
  EXPECT_TRUE(admin.LoadWorldChanges(1).complete);
  std::filesystem::remove(path);
}

TEST(SqliteAdminStore, MigratesCredentialsAndNamespacesKeyedByName) {
  const std::string path = kura::testing::ScratchPath("admin-migrate", ".db").string();
  std::filesystem::remove(path);
  WriteNameKeyedDatabase(path);
  SqliteAdminStore admin(path);
  ASSERT_TRUE(admin.KeyedByInstanceName());
  admin.MigrateToIncarnationKeys({{"acme", "inc-acme"}});
  EXPECT_FALSE(admin.KeyedByInstanceName());
  EXPECT_EQ(admin.FindCredentials("inc-acme", "dev", 0).size(), 1u);
  EXPECT_TRUE(admin.FindNamespace("inc-acme", "team"));
  EXPECT_TRUE(admin.FindCredentials("acme", "dev", 0).empty());
  EXPECT_EQ(admin.ListInstanceKeys(), std::vector<std::string>{"inc-acme"});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kura::store
