// SqliteAdminStore: instance keys, tombstones and the migration of name-keyed databases.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/name_keyed_database.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"
#include "test_paths.h"

namespace kura::store {
namespace {

TEST(AdminStore, DeletedInstanceKeyRefusesWritesInBothStoresOfOneFile) {
  const std::string path = kura::testing::ScratchPath("admin-store", ".db").string();
  std::filesystem::remove(path);
  {
    SqliteAdminStore admin(path);
    SqliteMetaStore meta(path);
    admin.SetPassword("inc", "dev", "hash");
    admin.PutNamespace("inc", {"team", true});
    admin.SetPassword("kept", "dev", "hash2");
    EXPECT_EQ(admin.ListInstanceKeys(), (std::vector<std::string>{"inc", "kept"}));
    // The registry side retires the key first: the admin side refuses from then on.
    meta.DeleteInstance("inc");
    EXPECT_THROW(admin.SetPassword("inc", "dev", "hash"), InstanceGone);
    EXPECT_THROW(admin.AddTemporaryPassword("inc", "tmp", "hash", 100, 1), InstanceGone);
    EXPECT_THROW(admin.PutNamespace("inc", {"other", false}), InstanceGone);
    admin.DeleteInstanceState("inc");
    EXPECT_TRUE(admin.FindCredentials("inc", "dev", 0).empty());
    EXPECT_FALSE(admin.FindNamespace("inc", "team"));
    EXPECT_EQ(admin.ListInstanceKeys(), std::vector<std::string>{"kept"});
    EXPECT_EQ(admin.FindCredentials("kept", "dev", 0).size(), 1u);
  }
  std::filesystem::remove(path);
}

TEST(AdminStore, WorldRevisionMovesOnEverySaveByAnyStoreOfTheFile) {
  const std::string path = kura::testing::ScratchPath("admin-revision", ".db").string();
  std::filesystem::remove(path);
  {
    SqliteAdminStore one(path);
    SqliteAdminStore two(path);
    EXPECT_EQ(one.WorldRevision(), 0u);
    one.SaveWorld("{}");
    const uint64_t first = two.WorldRevision();
    EXPECT_GT(first, 0u);
    two.SaveWorld("{\"a\":1}");
    EXPECT_GT(one.WorldRevision(), first);
    EXPECT_EQ(one.LoadWorld(), "{\"a\":1}");
  }
  std::filesystem::remove(path);
}

TEST(AdminStore, AWorldSavedBeforeRevisionsHasOne) {
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

TEST(AdminStore, MigratesCredentialsAndNamespacesKeyedByName) {
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
