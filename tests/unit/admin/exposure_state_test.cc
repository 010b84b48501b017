// ExposureState over a World saved by several nodes: a change saved after another node's is
// applied again to the World as that node left it (both changes hold), and Refresh publishes
// what another node saved.
#include "admin/exposure_state.h"

#include <gtest/gtest.h>

#include "admin/world_document.h"
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
    ASSERT_TRUE(node_a_->SaveWorldAt(WorldToDocument(world), 0));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The state a node keeps over `store`, loaded from it.
  std::unique_ptr<ExposureState> StateOf(store::AdminStore& store) {
    auto load = [&store]() -> std::optional<std::pair<access::World, uint64_t>> {
      auto saved = store.LoadWorldAt();
      if (!saved) return std::nullopt;
      return std::pair{WorldFromDocument(saved->document, "kura.test"), saved->revision};
    };
    auto initial = load();
    return std::make_unique<ExposureState>(
        std::move(initial->first), initial->second,
        WorldStorage{load,
                     [&store](const access::World& w, uint64_t expected) {
                       return store.SaveWorldAt(WorldToDocument(w), expected);
                     },
                     [&store] { return store.WorldRevision(); }});
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
  access::World saved = WorldFromDocument(*node_a_->LoadWorld(), "kura.test");
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

}  // namespace
}  // namespace kura::admin
