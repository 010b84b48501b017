// ExposureState over a World saved by several nodes: a change saved after another node's is
// applied again to the World as that node left it (both changes hold), and Refresh publishes
// what another node saved.
#include "admin/exposure_state.h"

#include <gtest/gtest.h>

#include "admin/world_document.h"
#include "admin/world_rows.h"
#include "big_world.h"
#include "store/sqlite_admin_store.h"
#include "test_paths.h"

namespace kura::admin {
namespace {

class ExposureStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("exposure");
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    node_a_ = std::make_unique<store::SqliteAdminStore>((dir_ / "kura.db").string());
    node_b_ = std::make_unique<store::SqliteAdminStore>((dir_ / "kura.db").string());
    access::World world("kura.test");
    ASSERT_TRUE(world.AddAccount({"A", "A"}).ok());
    ASSERT_TRUE(world.AddRegion({"ap-northeast-1", "Tokyo"}).ok());
    ASSERT_TRUE(node_a_->SaveWorldChanges(WorldToRows(world), 0));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The state a node keeps over `store`, loaded from it.
  static std::unique_ptr<ExposureState> StateOf(store::AdminStore& store) {
    return std::make_unique<ExposureState>(store, "kura.test");
  }

  static access::Status Create(access::World& w, const std::string& name) {
    return w.CreateInstance(name, "A", "ap-northeast-1", access::Edition::kEnterprise,
                            "inc-" + name);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteAdminStore> node_a_, node_b_;
};

TEST_F(ExposureStateTest, ChangesMadeOnTwoNodesAtOnceBothHold) {
  auto a = StateOf(*node_a_);
  auto b = StateOf(*node_b_);  // both read the same World
  ASSERT_TRUE(a->Change([](access::World& w) { return Create(w, "alpha"); }).ok());
  // b's World predates a's change: its save loses, and it applies its change again on top.
  ASSERT_TRUE(b->Change([](access::World& w) { return Create(w, "beta"); }).ok());
  access::World saved = WorldFromRows(node_a_->LoadWorldRows().rows, "kura.test");
  EXPECT_TRUE(saved.FindInstance("alpha"));
  EXPECT_TRUE(saved.FindInstance("beta"));
  EXPECT_TRUE(b->Snapshot()->FindInstance("alpha"));
  // a does not see beta until it refreshes.
  EXPECT_FALSE(a->Snapshot()->FindInstance("beta"));
  EXPECT_TRUE(a->Refresh());
  EXPECT_TRUE(a->Snapshot()->FindInstance("beta"));
  EXPECT_FALSE(a->Refresh());  // nothing new
}

TEST_F(ExposureStateTest, AChangeRefusedOnTheNewerWorldIsNotSaved) {
  auto a = StateOf(*node_a_);
  auto b = StateOf(*node_b_);
  ASSERT_TRUE(a->Change([](access::World& w) { return Create(w, "same"); }).ok());
  uint64_t revision = node_a_->WorldRevision();
  // b's stale World has no "same": the first try passes, the retry on the saved World refuses.
  access::Status s = b->Change([](access::World& w) { return Create(w, "same"); });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(node_a_->WorldRevision(), revision);
  EXPECT_TRUE(b->Snapshot()->FindInstance("same"));  // b now holds the saved World
}

TEST_F(ExposureStateTest, AChangeThatChangesNothingIsNotSaved) {
  auto a = StateOf(*node_a_);
  const uint64_t revision = node_a_->WorldRevision();
  // Enabling a personal instance's Internet endpoint is a no-op (world.h).
  ASSERT_TRUE(a->Change([](access::World& w) {
                 return w.CreateInstance("p", "A", "ap-northeast-1", access::Edition::kPersonal,
                                         "inc-p");
               }).ok());
  EXPECT_EQ(node_a_->WorldRevision(), revision + 1);
  ASSERT_TRUE(a->Change([](access::World& w) { return w.SetInternetEnabled("p", true); }).ok());
  EXPECT_EQ(node_a_->WorldRevision(), revision + 1);
}

TEST_F(ExposureStateTest, RefreshAppliesJustWhatAnotherNodeChanged) {
  auto a = StateOf(*node_a_);
  auto b = StateOf(*node_b_);
  ASSERT_TRUE(a->Change([](access::World& w) { return Create(w, "alpha"); }).ok());
  ASSERT_TRUE(a->Change([](access::World& w) {
                 return w.AllowCidr("alpha", {*core::Cidr::Parse("203.0.113.0/24"), "office"});
               }).ok());
  ASSERT_TRUE(a->Change([](access::World& w) { return w.SetInternetEnabled("alpha", true); }).ok());
  EXPECT_TRUE(b->Refresh());
  const access::Instance* alpha = b->Snapshot()->FindInstance("alpha");
  ASSERT_TRUE(alpha);
  EXPECT_TRUE(alpha->internet.enabled);
  ASSERT_EQ(alpha->internet.allowlist.size(), 1u);
  EXPECT_EQ(alpha->internet.allowlist.entries()[0].description, "office");
  EXPECT_EQ(b->revision(), a->revision());
  ASSERT_TRUE(a->Change([](access::World& w) { return w.DeleteInstance("alpha"); }).ok());
  EXPECT_TRUE(b->Refresh());
  EXPECT_FALSE(b->Snapshot()->FindInstance("alpha"));
  EXPECT_EQ(WorldToRows(*b->Snapshot()), WorldToRows(*a->Snapshot()));
}

TEST_F(ExposureStateTest, AWorldSavedAsOneDocumentIsSavedAsRowsOnLoad) {
  access::World world("kura.test");
  ASSERT_TRUE(world.AddAccount({"B", "B"}).ok());
  ASSERT_TRUE(world.AddRegion({"r1", "r1"}).ok());
  ASSERT_TRUE(world.CreateInstance("old", "B", "r1", access::Edition::kEnterprise, "inc-old").ok());
  const std::filesystem::path path = dir_ / "legacy.db";
  {
    store::SqliteAdminStore store(path.string());
    store::SqliteDatabase db(path.string(), "");
    store::Statement(db.Connection(),
                     "INSERT INTO exposure_world(id, document, revision) VALUES(1, ?, 5)")
        .Bind(WorldToDocument(world))
        .Run();
  }
  store::SqliteAdminStore store(path.string());
  auto state = StateOf(store);
  EXPECT_TRUE(state->Snapshot()->FindInstance("old"));
  EXPECT_EQ(state->revision(), 6u);
  store::WorldRows saved = store.LoadWorldRows();
  EXPECT_FALSE(saved.legacy_document);
  EXPECT_EQ(saved.rows, WorldToRows(world));
}

// Start-up reads the rows on a thread of its own, batches ahead of the restoring. A bad row far
// into a big World stops both sides (the reader must not wait forever on a restorer that gave
// up), and a good World of that size comes back whole.
TEST_F(ExposureStateTest, ABadRowFarIntoABigWorldStopsStartUp) {
  const access::World world = kura::testing::BigWorld(3000);
  ReplaceSavedWorld(*node_a_, world);
  auto state = StateOf(*node_b_);
  EXPECT_EQ(WorldToRows(*state->Snapshot()), WorldToRows(world));

  // 33,000 rows, 16 batches of 2,048: the bad one is two thirds of the way in, when the reader
  // is 8 batches ahead and waiting.
  const uint64_t revision = node_a_->WorldRevision();
  ASSERT_TRUE(node_a_->SaveWorldChanges({{"allow", kura::testing::BigWorldAllowKey(2999, 9),
                                          R"({"cidr":"10.11.249.9/32","description":1})"}},
                                        revision));
  EXPECT_THROW(StateOf(*node_b_), DocumentError);
}

}  // namespace
}  // namespace kura::admin
