// Start-up reconciliation of the World and the stores (admin/instance_stores.h).
#include "admin/instance_stores.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "admin/world_rows.h"
#include "store/name_keyed_database.h"
#include "store/store_backends.h"
#include "test_paths.h"

namespace kura::admin {
namespace {

const std::string kBlob = "sha256:" + std::string(64, 'b');

access::World TwoInstances() {
  access::World world("kura.test");
  EXPECT_TRUE(world.AddAccount({"A", "A"}).ok());
  EXPECT_TRUE(world.AddRegion({"r1", "r1"}).ok());
  EXPECT_TRUE(world.CreateInstance("acme", "A", "r1", access::Edition::kPersonal, "inc-acme").ok());
  EXPECT_TRUE(world.CreateInstance("beta", "A", "r1", access::Edition::kPersonal).ok());
  return world;
}

// `world` saved in `admin`, and the state a node loads from it.
std::unique_ptr<ExposureState> Saved(store::AdminStore& admin, const access::World& world) {
  ReplaceSavedWorld(admin, world);
  return std::make_unique<ExposureState>(admin, "kura.test");
}

class ReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = kura::testing::ScratchPath("reconcile", ".db").string();
    std::filesystem::remove(path_);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_;
};

TEST_F(ReconcileTest, KeysNoInstanceHoldsAreRetiredAndPurged) {
  store::SqliteMetaStore meta(path_);
  store::SqliteAdminStore admin(path_);
  // What a crash right after the World commit of "delete old" leaves.
  meta.LinkBlob({"inc-old", "team/app"}, kBlob, 1);
  meta.CreateUpload({"u-old", {"inc-old", "team/app"}, 0});
  admin.SetPassword("inc-old", "dev", "hash");
  admin.PutNamespace("inc-old", {"team", true});
  meta.LinkBlob({"inc-acme", "team/app"}, kBlob, 1);
  admin.SetPassword("inc-acme", "dev", "hash");
  meta.LinkBlob({std::string(store::kPlainRegistryKey), "library/app"}, kBlob, 1);

  auto exposure = Saved(admin, TwoInstances());
  ReconcileResult r = ReconcileInstanceStores(*exposure, meta, admin);
  EXPECT_EQ(r.keys_purged, 1);
  EXPECT_FALSE(r.migrated);
  EXPECT_FALSE(meta.RepositoryExists({"inc-old", "team/app"}));
  EXPECT_FALSE(meta.FindUpload("u-old"));
  EXPECT_TRUE(admin.FindCredentials("inc-old", "dev", 0).empty());
  EXPECT_FALSE(admin.FindNamespace("inc-old", "team"));
  EXPECT_THROW(meta.LinkBlob({"inc-old", "team/app"}, kBlob, 1), store::InstanceGone);
  // The live instance and the plain registry keep everything.
  EXPECT_TRUE(meta.RepositoryExists({"inc-acme", "team/app"}));
  EXPECT_EQ(admin.FindCredentials("inc-acme", "dev", 0).size(), 1u);
  EXPECT_TRUE(meta.RepositoryExists({std::string(store::kPlainRegistryKey), "library/app"}));
}

TEST(ReconcilePostgres, KeysNoInstanceHoldsArePurgedOnStoresNeverKeyedByName) {
  if (std::string why = store::PgTestDatabase::SkipReason(); !why.empty()) GTEST_SKIP() << why;
  store::PgTestDatabase db;
  std::unique_ptr<store::MetaStore> meta = db.OpenMeta();
  std::unique_ptr<store::AdminStore> admin = db.OpenAdmin();
  meta->LinkBlob({"inc-old", "team/app"}, kBlob, 1);
  admin->SetPassword("inc-old", "dev", "hash");
  meta->LinkBlob({"inc-acme", "team/app"}, kBlob, 1);
  auto exposure = Saved(*admin, TwoInstances());
  ReconcileResult r = ReconcileInstanceStores(*exposure, *meta, *admin);  // the generic overload
  EXPECT_EQ(r.keys_purged, 1);
  EXPECT_EQ(r.incarnations_assigned, 1);
  EXPECT_FALSE(r.migrated);
  EXPECT_FALSE(meta->RepositoryExists({"inc-old", "team/app"}));
  EXPECT_TRUE(admin->FindCredentials("inc-old", "dev", 0).empty());
  EXPECT_TRUE(meta->RepositoryExists({"inc-acme", "team/app"}));
  EXPECT_EQ(
      WorldFromRows(admin->LoadWorldRows().rows, "kura.test").FindInstance("beta")->incarnation,
      exposure->Snapshot()->FindInstance("beta")->incarnation);
}

TEST_F(ReconcileTest, InstancesWithoutIncarnationGetOneAndTheWorldIsSaved) {
  store::SqliteMetaStore meta(path_);
  store::SqliteAdminStore admin(path_);
  auto exposure = Saved(admin, TwoInstances());
  ReconcileResult r = ReconcileInstanceStores(*exposure, meta, admin);
  EXPECT_EQ(r.incarnations_assigned, 1);
  const std::string beta = exposure->Snapshot()->FindInstance("beta")->incarnation;
  EXPECT_TRUE(access::IsValidIncarnation(beta));
  EXPECT_EQ(exposure->Snapshot()->FindInstance("acme")->incarnation, "inc-acme");
  access::World saved = WorldFromRows(admin.LoadWorldRows().rows, "kura.test");
  EXPECT_EQ(saved.FindInstance("beta")->incarnation, beta);
  // Again: nothing to do.
  const uint64_t revision = admin.WorldRevision();
  r = ReconcileInstanceStores(*exposure, meta, admin);
  EXPECT_EQ(r.incarnations_assigned, 0);
  EXPECT_EQ(exposure->Snapshot()->FindInstance("beta")->incarnation, beta);
  EXPECT_EQ(admin.WorldRevision(), revision);
}

TEST_F(ReconcileTest, NameKeyedDatabaseIsMigratedWithTheWorldsIncarnations) {
  store::WriteNameKeyedDatabase(path_);
  store::SqliteMetaStore meta(path_);
  store::SqliteAdminStore admin(path_);
  auto exposure = Saved(admin, TwoInstances());  // acme and beta; "gone" is not in it
  ReconcileResult r = ReconcileInstanceStores(*exposure, meta, admin);
  EXPECT_TRUE(r.migrated);
  EXPECT_TRUE(meta.RepositoryExists({"inc-acme", "team/app"}));
  EXPECT_EQ(admin.FindCredentials("inc-acme", "dev", 0).size(), 1u);
  EXPECT_TRUE(meta.RepositoryExists({std::string(store::kPlainRegistryKey), "library/app"}));
  EXPECT_FALSE(meta.RepositoryExists({"gone", "team/old"}));
  EXPECT_FALSE(meta.RepositoryExists({"acme", "team/app"}));
  EXPECT_FALSE(meta.KeyedByInstanceName());
  EXPECT_FALSE(admin.KeyedByInstanceName());
}

}  // namespace
}  // namespace kura::admin
