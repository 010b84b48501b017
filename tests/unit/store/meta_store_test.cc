// The MetaStore contract, run on every implementation (SQLite today).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>

#include "store/name_keyed_database.h"
#include "store/sqlite_meta_store.h"
#include "test_paths.h"

namespace kura::store {
namespace {

const std::string kBlobA = "sha256:" + std::string(64, 'a');
const std::string kBlobB = "sha256:" + std::string(64, 'b');
const std::string kManifest1 = "sha256:" + std::string(64, '1');
const std::string kManifest2 = "sha256:" + std::string(64, '2');

class MetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("meta");
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::make_unique<SqliteMetaStore>((dir_ / "kura.db").string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  ManifestRecord Manifest(const std::string& digest, std::vector<std::string> blobs) {
    ManifestRecord m;
    m.digest = digest;
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.body = "{\"d\":\"" + digest + "\"}";
    m.blobs = std::move(blobs);
    return m;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteMetaStore> store_;
  RepoKey repo_{"default", "library/app"};
};

TEST_F(MetaStoreTest, BlobLinksArePerRepositoryAndInstance) {
  EXPECT_FALSE(store_->LinkedBlobSize(repo_, kBlobA));
  store_->LinkBlob(repo_, kBlobA, 42);
  store_->LinkBlob(repo_, kBlobA, 42);  // twice is harmless
  EXPECT_EQ(store_->LinkedBlobSize(repo_, kBlobA), 42u);
  EXPECT_FALSE(store_->LinkedBlobSize({"default", "other"}, kBlobA));
  EXPECT_FALSE(store_->LinkedBlobSize({"tenant2", "library/app"}, kBlobA));
  EXPECT_TRUE(store_->RepositoryExists(repo_));
  EXPECT_TRUE(store_->UnlinkBlob(repo_, kBlobA));
  EXPECT_FALSE(store_->UnlinkBlob(repo_, kBlobA));
  EXPECT_FALSE(store_->LinkedBlobSize(repo_, kBlobA));
}

TEST_F(MetaStoreTest, ManifestNeedsEveryBlobAndStoresNothingOtherwise) {
  store_->LinkBlob(repo_, kBlobA, 1);
  auto missing = store_->PutManifest(repo_, Manifest(kManifest1, {kBlobA, kBlobB}), "v1");
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, kBlobB);
  EXPECT_FALSE(store_->GetManifest(repo_, kManifest1));
  EXPECT_FALSE(store_->GetTaggedManifest(repo_, "v1"));
  store_->LinkBlob(repo_, kBlobB, 2);
  EXPECT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {kBlobA, kBlobB}), "v1"));
  auto byTag = store_->GetTaggedManifest(repo_, "v1");
  ASSERT_TRUE(byTag);
  EXPECT_EQ(byTag->digest, kManifest1);
  EXPECT_EQ(byTag->body, "{\"d\":\"" + kManifest1 + "\"}");
}

TEST_F(MetaStoreTest, IndexNeedsItsChildren) {
  ManifestRecord index = Manifest(kManifest2, {});
  index.manifests = {kManifest1};
  EXPECT_EQ(store_->PutManifest(repo_, index, ""), kManifest1);
  EXPECT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {}), ""));
  EXPECT_FALSE(store_->PutManifest(repo_, index, ""));
}

TEST_F(MetaStoreTest, DeleteManifestTakesItsTagsDeleteTagOnlyTheTag) {
  ASSERT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {}), "a"));
  ASSERT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {}), "b"));
  EXPECT_TRUE(store_->DeleteTag(repo_, "a"));
  EXPECT_FALSE(store_->DeleteTag(repo_, "a"));
  EXPECT_TRUE(store_->GetManifest(repo_, kManifest1));
  EXPECT_EQ(store_->ListTags(repo_, "", 10), std::vector<std::string>{"b"});
  EXPECT_TRUE(store_->DeleteManifest(repo_, kManifest1));
  EXPECT_FALSE(store_->DeleteManifest(repo_, kManifest1));
  EXPECT_TRUE(store_->ListTags(repo_, "", 10).empty());
}

TEST_F(MetaStoreTest, TagsAndRepositoriesPaginateInLexicalOrder) {
  for (const char* t : {"c", "a", "b", "d"}) {
    ASSERT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {}), t));
  }
  EXPECT_EQ(store_->ListTags(repo_, "", 2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(store_->ListTags(repo_, "b", 10), (std::vector<std::string>{"c", "d"}));
  store_->LinkBlob({"default", "z"}, kBlobA, 1);
  store_->LinkBlob({"default", "m"}, kBlobA, 1);
  store_->LinkBlob({"other", "q"}, kBlobA, 1);
  EXPECT_EQ(store_->ListRepositories("default", "", 10),
            (std::vector<std::string>{"library/app", "m", "z"}));
  EXPECT_EQ(store_->ListRepositories("default", "library/app", 1), (std::vector<std::string>{"m"}));
}

TEST_F(MetaStoreTest, ReferrersBySubject) {
  ManifestRecord sig = Manifest(kManifest2, {});
  sig.subject = kManifest1;
  sig.artifact_type = "application/x.sig";
  sig.annotations_json = R"({"k":"v"})";
  ASSERT_FALSE(store_->PutManifest(repo_, sig, ""));
  auto refs = store_->ListReferrers(repo_, kManifest1);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].digest, kManifest2);
  EXPECT_EQ(refs[0].artifact_type, "application/x.sig");
  EXPECT_EQ(refs[0].size, sig.body.size());
  EXPECT_EQ(refs[0].annotations_json, R"({"k":"v"})");
  EXPECT_TRUE(store_->ListReferrers(repo_, kManifest2).empty());
}

TEST_F(MetaStoreTest, UploadSessionsSurviveReopening) {
  store_->CreateUpload({"u1", repo_, 0});
  UploadSession leased;
  ASSERT_EQ(store_->LeaseUpload("u1", repo_, "h", 30, &leased), LeaseOutcome::kLeased);
  EXPECT_TRUE(store_->SetUploadOffset("u1", repo_, "h", 100, {}));
  store_ = std::make_unique<SqliteMetaStore>((dir_ / "kura.db").string());
  auto u = store_->FindUpload("u1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->offset, 100u);
  EXPECT_EQ(u->repo.name, repo_.name);
  EXPECT_EQ(store_->ListUploadIds(), std::vector<std::string>{"u1"});
  store_->DeleteUpload("u1");
  EXPECT_FALSE(store_->FindUpload("u1"));
}

TEST_F(MetaStoreTest, UploadStateIsStoredWithTheOffset) {
  const std::string binary("multipart\0id\xff\x01", 15);
  store_->CreateUpload({"u", repo_, 0, binary});
  EXPECT_EQ(store_->FindUpload("u")->state, binary);
  UploadSession leased;
  ASSERT_EQ(store_->LeaseUpload("u", repo_, "h", 30, &leased), LeaseOutcome::kLeased);
  EXPECT_EQ(leased.state, binary);
  const std::string big(kMaxUploadStateBytes, '\x7f');
  EXPECT_TRUE(store_->SetUploadOffset("u", repo_, "h", 10, big));
  EXPECT_EQ(store_->FindUpload("u")->offset, 10u);
  EXPECT_EQ(store_->FindUpload("u")->state, big);
  // Not the holder: neither changes.
  EXPECT_FALSE(store_->SetUploadOffset("u", repo_, "other", 20, "x"));
  EXPECT_EQ(store_->FindUpload("u")->offset, 10u);
  EXPECT_EQ(store_->FindUpload("u")->state, big);
  EXPECT_THROW(store_->SetUploadOffset("u", repo_, "h", 30, big + "!"), StoreError);
  EXPECT_THROW(store_->CreateUpload({"v", repo_, 0, big + "!"}), StoreError);
  EXPECT_FALSE(store_->FindUpload("v"));
  EXPECT_TRUE(store_->SetUploadOffset("u", repo_, "h", 11, {}));
  EXPECT_EQ(store_->FindUpload("u")->state, "");
}

TEST_F(MetaStoreTest, AnUploadLeaseHasOneHolderAtATime) {
  store_->CreateUpload({"u", repo_, 0});
  UploadSession session;
  ASSERT_EQ(store_->LeaseUpload("u", repo_, "first", 30, &session), LeaseOutcome::kLeased);
  EXPECT_EQ(session.id, "u");
  EXPECT_EQ(session.offset, 0u);
  EXPECT_EQ(store_->LeaseUpload("u", repo_, "second", 30, &session), LeaseOutcome::kBusy);
  // Only the holder may change the session or extend the lease.
  EXPECT_FALSE(store_->SetUploadOffset("u", repo_, "second", 5, {}));
  EXPECT_FALSE(store_->RenewUploadLease("u", repo_, "second", 30));
  EXPECT_TRUE(store_->RenewUploadLease("u", repo_, "first", 30));
  EXPECT_TRUE(store_->SetUploadOffset("u", repo_, "first", 7, {}));
  store_->ReleaseUploadLease("u", "second");  // not its to give: nothing happens
  EXPECT_EQ(store_->LeaseUpload("u", repo_, "second", 30, &session), LeaseOutcome::kBusy);
  store_->ReleaseUploadLease("u", "first");
  ASSERT_EQ(store_->LeaseUpload("u", repo_, "second", 30, &session), LeaseOutcome::kLeased);
  EXPECT_EQ(session.offset, 7u);
  EXPECT_FALSE(store_->SetUploadOffset("u", repo_, "first", 9, {}));
}

TEST_F(MetaStoreTest, AnExpiredLeaseCanBeTakenAndTheOldHolderHasLostIt) {
  store_->CreateUpload({"u", repo_, 0});
  UploadSession session;
  ASSERT_EQ(store_->LeaseUpload("u", repo_, "dead-node", -1, &session), LeaseOutcome::kLeased);
  ASSERT_EQ(store_->LeaseUpload("u", repo_, "alive", 30, &session), LeaseOutcome::kLeased);
  EXPECT_FALSE(store_->RenewUploadLease("u", repo_, "dead-node", 30));
  EXPECT_FALSE(store_->SetUploadOffset("u", repo_, "dead-node", 1, {}));
}

TEST_F(MetaStoreTest, ALeaseHeldAcrossTheDeleteOfItsInstanceEndsInInstanceGone) {
  store_->CreateUpload({"u", repo_, 0});
  UploadSession session;
  ASSERT_EQ(store_->LeaseUpload("u", repo_, "h", 30, &session), LeaseOutcome::kLeased);
  store_->DeleteInstance(repo_.instance);
  EXPECT_THROW(store_->SetUploadOffset("u", repo_, "h", 10, {}), InstanceGone);
  EXPECT_THROW(store_->RenewUploadLease("u", repo_, "h", 30), InstanceGone);
  EXPECT_FALSE(store_->FindUpload("u"));
}

TEST_F(MetaStoreTest, ALeaseIsOfItsRepositoryOnly) {
  store_->CreateUpload({"u", repo_, 0});
  UploadSession session;
  EXPECT_EQ(store_->LeaseUpload("u", {repo_.instance, "other/repo"}, "h", 30, &session),
            LeaseOutcome::kUnknown);
  EXPECT_EQ(store_->LeaseUpload("u", {"another-instance", repo_.name}, "h", 30, &session),
            LeaseOutcome::kUnknown);
  EXPECT_EQ(store_->LeaseUpload("nope", repo_, "h", 30, &session), LeaseOutcome::kUnknown);
}

TEST_F(MetaStoreTest, TwoThreadsRacingForALeaseNeverBothWin) {
  for (int round = 0; round < 50; ++round) {
    std::string id = "race" + std::to_string(round);
    store_->CreateUpload({id, repo_, 0});
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        UploadSession s;
        if (store_->LeaseUpload(id, repo_, "t" + std::to_string(t), 30, &s) ==
            LeaseOutcome::kLeased) {
          ++winners;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(winners.load(), 1) << id;
  }
}

TEST_F(MetaStoreTest, ALeasedSessionDoesNotExpire) {
  store_->CreateUpload({"busy", repo_, 0});
  UploadSession session;
  ASSERT_EQ(store_->LeaseUpload("busy", repo_, "h", 30, &session), LeaseOutcome::kLeased);
  EXPECT_TRUE(store_->ExpireUploads(-10).empty());
  store_->ReleaseUploadLease("busy", "h");
  EXPECT_EQ(store_->ExpireUploads(-10), std::vector<std::string>{"busy"});
}

TEST_F(MetaStoreTest, IdleUploadSessionsExpire) {
  store_->CreateUpload({"fresh", repo_, 0});
  EXPECT_TRUE(store_->ExpireUploads(3600).empty());
  EXPECT_EQ(store_->ExpireUploads(-10), std::vector<std::string>{"fresh"});  // idle "in future"
  EXPECT_FALSE(store_->FindUpload("fresh"));
}

TEST_F(MetaStoreTest, DeleteInstanceTakesEverythingOfItOnly) {
  RepoKey other{"other", "library/app"};
  store_->LinkBlob(repo_, kBlobA, 1);
  store_->LinkBlob(other, kBlobA, 1);
  ASSERT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {kBlobA}), "v1"));
  store_->CreateUpload({"u", repo_, 0});
  store_->DeleteInstance("default");
  EXPECT_FALSE(store_->RepositoryExists(repo_));
  EXPECT_FALSE(store_->GetManifest(repo_, kManifest1));
  EXPECT_FALSE(store_->LinkedBlobSize(repo_, kBlobA));
  EXPECT_FALSE(store_->FindUpload("u"));
  EXPECT_TRUE(store_->LinkedBlobSize(other, kBlobA));
}

TEST_F(MetaStoreTest, ConcurrentWritersFromManyThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_FALSE(store_->PutManifest(repo_, Manifest(kManifest1, {}),
                                         "t" + std::to_string(t) + "-" + std::to_string(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->ListTags(repo_, "", 1000).size(), 200u);
}

TEST_F(MetaStoreTest, DeletedInstanceKeyRefusesEveryWrite) {
  RepoKey gone{"gone-incarnation", "library/app"};
  store_->LinkBlob(gone, kBlobA, 1);
  store_->DeleteInstance(gone.instance);
  // A request admitted before the delete, writing after it, stores nothing.
  EXPECT_THROW(store_->LinkBlob(gone, kBlobA, 1), InstanceGone);
  EXPECT_THROW(store_->PutManifest(gone, Manifest(kManifest1, {}), "v1"), InstanceGone);
  EXPECT_THROW(store_->CreateUpload({"u", gone, 0}), InstanceGone);
  EXPECT_FALSE(store_->RepositoryExists(gone));
  EXPECT_FALSE(store_->FindUpload("u"));
  EXPECT_TRUE(store_->ListRepositories(gone.instance, "", 10).empty());
  // Other keys are untouched; an InstanceGone is a StoreError to those who do not know it.
  store_->LinkBlob(repo_, kBlobA, 1);
  EXPECT_TRUE(store_->LinkedBlobSize(repo_, kBlobA));
  EXPECT_THROW(store_->LinkBlob(gone, kBlobA, 1), StoreError);
  EXPECT_THROW(store_->DeleteInstance(kPlainRegistryKey), StoreError);
}

TEST_F(MetaStoreTest, ListInstanceKeysNamesEveryKeyWithData) {
  store_->LinkBlob({"k1", "a"}, kBlobA, 1);
  store_->CreateUpload({"u", {"k2", "b"}, 0});
  store_->LinkBlob({std::string(kPlainRegistryKey), "c"}, kBlobA, 1);
  EXPECT_EQ(store_->ListInstanceKeys(),
            (std::vector<std::string>{std::string(kPlainRegistryKey), "k1", "k2"}));
  store_->DeleteInstance("k2");
  EXPECT_EQ(store_->ListInstanceKeys(),
            (std::vector<std::string>{std::string(kPlainRegistryKey), "k1"}));
}

TEST(MetaStoreMigration, NameKeyedRowsGoToIncarnationsAndThePlainRegistry) {
  const std::string path = kura::testing::ScratchPath("meta-migrate", ".db").string();
  std::filesystem::remove(path);
  WriteNameKeyedDatabase(path);
  {
    SqliteMetaStore store(path);
    ASSERT_TRUE(store.KeyedByInstanceName());
    store.MigrateToIncarnationKeys({{"acme", "inc-acme"}});
    EXPECT_FALSE(store.KeyedByInstanceName());
    const std::string plain(kPlainRegistryKey);
    EXPECT_EQ(store.LinkedBlobSize({plain, "library/app"}, "sha256:d"), 1u);
    EXPECT_EQ(store.LinkedBlobSize({"inc-acme", "team/app"}, "sha256:a"), 2u);
    ASSERT_TRUE(store.GetTaggedManifest({"inc-acme", "team/app"}, "v1"));
    EXPECT_EQ(store.FindUpload("u-acme")->repo.instance, "inc-acme");
    EXPECT_EQ(store.FindUpload("u-acme")->state, "");  // the column added to an old database
    // Nothing is left under a name; what an instance no longer in the World had is gone.
    EXPECT_FALSE(store.RepositoryExists({"acme", "team/app"}));
    EXPECT_FALSE(store.RepositoryExists({"default", "library/app"}));
    EXPECT_FALSE(store.FindUpload("u-gone"));
    EXPECT_EQ(store.ListInstanceKeys(), (std::vector<std::string>{plain, "inc-acme"}));
    // Once only.
    store.MigrateToIncarnationKeys({{"acme", "other"}});
    EXPECT_TRUE(store.RepositoryExists({"inc-acme", "team/app"}));
  }
  SqliteMetaStore reopened(path);
  EXPECT_FALSE(reopened.KeyedByInstanceName());
  std::filesystem::remove(path);
}

TEST(MetaStoreMigration, DefaultRowsOfAnInstanceNamedDefaultStayIts) {
  const std::string path = kura::testing::ScratchPath("meta-migrate", ".db").string();
  std::filesystem::remove(path);
  WriteNameKeyedDatabase(path);
  SqliteMetaStore store(path);
  store.MigrateToIncarnationKeys({{"default", "inc-default"}, {"acme", "inc-acme"}});
  EXPECT_TRUE(store.LinkedBlobSize({"inc-default", "library/app"}, "sha256:d"));
  EXPECT_FALSE(store.RepositoryExists({std::string(kPlainRegistryKey), "library/app"}));
  std::filesystem::remove(path);
}

TEST(MetaStoreMigration, NewDatabaseIsKeyedByIncarnationFromTheStart) {
  const std::string path = kura::testing::ScratchPath("meta-new", ".db").string();
  std::filesystem::remove(path);
  {
    SqliteMetaStore store(path);
    EXPECT_FALSE(store.KeyedByInstanceName());
    store.LinkBlob({"inc", "a"}, kBlobA, 1);
  }
  SqliteMetaStore reopened(path);
  EXPECT_FALSE(reopened.KeyedByInstanceName());
  EXPECT_TRUE(reopened.RepositoryExists({"inc", "a"}));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kura::store
