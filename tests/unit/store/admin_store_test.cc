// The AdminStore contract, run on every implementation: SQLite and PostgreSQL
// (store_backends.h says how the PostgreSQL cases find their database); then the SQLite
// stores' migrations of databases of earlier versions.
#include "store/admin_store.h"

#include <gtest/gtest.h>

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

// Two nodes saving at once from the same revision: exactly one save is taken; the other learns
// it lost and nothing of its document is stored.
TYPED_TEST(AdminStoreTest, AConditionalSaveOfTheWorldLosesToAnEarlierOne) {
  EXPECT_FALSE(this->store_->LoadWorldAt());
  ASSERT_TRUE(this->store_->SaveWorldAt("{\"v\":1}", 0));
  EXPECT_FALSE(this->store_->SaveWorldAt("{\"v\":\"late first\"}", 0));
  auto saved = this->store_->LoadWorldAt();
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->document, "{\"v\":1}");
  EXPECT_EQ(saved->revision, this->store_->WorldRevision());
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  std::atomic<int> won{0};
  std::vector<std::thread> nodes;
  for (int t = 0; t < 4; ++t) {
    nodes.emplace_back([&, t] {
      AdminStore& store = t % 2 ? *other : *this->store_;
      if (store.SaveWorldAt("{\"t\":" + std::to_string(t) + "}", saved->revision)) ++won;
    });
  }
  for (auto& n : nodes) n.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(this->store_->WorldRevision(), saved->revision + 1);
  EXPECT_EQ(this->store_->LoadWorldAt()->revision, saved->revision + 1);
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

TYPED_TEST(AdminStoreTest, TheWorldIsReplacedWholeAndItsRevisionMovesOnEverySave) {
  EXPECT_FALSE(this->store_->LoadWorld());
  EXPECT_EQ(this->store_->WorldRevision(), 0u);
  this->store_->SaveWorld("{}");
  const uint64_t first = this->store_->WorldRevision();
  EXPECT_GT(first, 0u);
  EXPECT_EQ(this->store_->LoadWorld(), "{}");
  this->store_->SaveWorld("{}");  // the same document again still moves it
  EXPECT_GT(this->store_->WorldRevision(), first);
}

TYPED_TEST(AdminStoreTest, ASaveByAnotherNodeMovesTheRevisionHere) {
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  this->store_->SaveWorld("{\"n\":1}");
  const uint64_t seen = other->WorldRevision();
  other->SaveWorld("{\"n\":2}");
  EXPECT_GT(this->store_->WorldRevision(), seen);
  EXPECT_EQ(this->store_->LoadWorld(), "{\"n\":2}");
}

TYPED_TEST(AdminStoreTest, ConcurrentSavesEachMoveTheRevision) {
  std::unique_ptr<AdminStore> other = this->db_->OpenAdmin();
  AdminStore* nodes[] = {this->store_.get(), other.get()};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) nodes[t % 2]->SaveWorld("{\"t\":" + std::to_string(t) + "}");
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(this->store_->WorldRevision(), 40u);
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

TEST(SqliteAdminStore, AWorldSavedBeforeRevisionsHasOne) {
  const std::string path = kura::testing::ScratchPath("admin-old-world", ".db").string();
  std::filesystem::remove(path);
  {
    SqliteDatabase old(path, R"sql(
CREATE TABLE exposure_world(id INTEGER PRIMARY KEY CHECK (id = 1), document TEXT NOT NULL);
INSERT INTO exposure_world VALUES(1, '{"old":true}');
)sql");
  }
  SqliteAdminStore admin(path);
  EXPECT_EQ(admin.LoadWorld(), "{\"old\":true}");
  const uint64_t before = admin.WorldRevision();
  EXPECT_GT(before, 0u);
  admin.SaveWorld("{}");
  EXPECT_GT(admin.WorldRevision(), before);
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
