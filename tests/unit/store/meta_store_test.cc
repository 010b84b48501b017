// The MetaStore contract, run on every implementation: SQLite and PostgreSQL
// (store_backends.h says how the PostgreSQL cases find their database).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "store/name_keyed_database.h"
#include "store/sqlite_meta_store.h"
#include "store/store_backends.h"
#include "test_paths.h"

namespace kura::store {
namespace {

const std::string kBlobA = "sha256:" + std::string(64, 'a');
const std::string kBlobB = "sha256:" + std::string(64, 'b');
const std::string kManifest1 = "sha256:" + std::string(64, '1');
const std::string kManifest2 = "sha256:" + std::string(64, '2');

ManifestRecord MakeManifest(const std::string& digest, std::vector<std::string> blobs) {
  ManifestRecord m;
  m.digest = digest;
  m.media_type = "application/vnd.oci.image.manifest.v1+json";
  m.body = "{\"d\":\"" + digest + "\"}";
  m.blobs = std::move(blobs);
  return m;
}

template <class Database>
class MetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = Database::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    db_.emplace();
    store_ = db_->OpenMeta();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }
  ManifestRecord Manifest(const std::string& digest, std::vector<std::string> blobs) {
    return MakeManifest(digest, std::move(blobs));
  }

  std::optional<Database> db_;
  std::unique_ptr<MetaStore> store_;
  RepoKey repo_{"default", "library/app"};
};

TYPED_TEST_SUITE(MetaStoreTest, StoreBackends, BackendName);

TYPED_TEST(MetaStoreTest, BlobLinksArePerRepositoryAndInstance) {
  EXPECT_FALSE(this->store_->LinkedBlobSize(this->repo_, kBlobA));
  this->store_->LinkBlob(this->repo_, kBlobA, 42);
  this->store_->LinkBlob(this->repo_, kBlobA, 42);  // twice is harmless
  EXPECT_EQ(this->store_->LinkedBlobSize(this->repo_, kBlobA), 42u);
  EXPECT_FALSE(this->store_->LinkedBlobSize({"default", "other"}, kBlobA));
  EXPECT_FALSE(this->store_->LinkedBlobSize({"tenant2", "library/app"}, kBlobA));
  EXPECT_TRUE(this->store_->RepositoryExists(this->repo_));
  EXPECT_TRUE(this->store_->UnlinkBlob(this->repo_, kBlobA));
  EXPECT_FALSE(this->store_->UnlinkBlob(this->repo_, kBlobA));
  EXPECT_FALSE(this->store_->LinkedBlobSize(this->repo_, kBlobA));
}

TYPED_TEST(MetaStoreTest, ManifestNeedsEveryBlobAndStoresNothingOtherwise) {
  this->store_->LinkBlob(this->repo_, kBlobA, 1);
  auto missing =
      this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {kBlobA, kBlobB}), "v1");
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, kBlobB);
  EXPECT_FALSE(this->store_->GetManifest(this->repo_, kManifest1));
  EXPECT_FALSE(this->store_->GetTaggedManifest(this->repo_, "v1"));
  this->store_->LinkBlob(this->repo_, kBlobB, 2);
  EXPECT_FALSE(
      this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {kBlobA, kBlobB}), "v1"));
  auto byTag = this->store_->GetTaggedManifest(this->repo_, "v1");
  ASSERT_TRUE(byTag);
  EXPECT_EQ(byTag->digest, kManifest1);
  EXPECT_EQ(byTag->body, "{\"d\":\"" + kManifest1 + "\"}");
}

TYPED_TEST(MetaStoreTest, IndexNeedsItsChildren) {
  ManifestRecord index = this->Manifest(kManifest2, {});
  index.manifests = {kManifest1};
  EXPECT_EQ(this->store_->PutManifest(this->repo_, index, ""), kManifest1);
  EXPECT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {}), ""));
  EXPECT_FALSE(this->store_->PutManifest(this->repo_, index, ""));
}

TYPED_TEST(MetaStoreTest, DeleteManifestTakesItsTagsDeleteTagOnlyTheTag) {
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {}), "a"));
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {}), "b"));
  EXPECT_TRUE(this->store_->DeleteTag(this->repo_, "a"));
  EXPECT_FALSE(this->store_->DeleteTag(this->repo_, "a"));
  EXPECT_TRUE(this->store_->GetManifest(this->repo_, kManifest1));
  EXPECT_EQ(this->store_->ListTags(this->repo_, "", 10), std::vector<std::string>{"b"});
  EXPECT_TRUE(this->store_->DeleteManifest(this->repo_, kManifest1));
  EXPECT_FALSE(this->store_->DeleteManifest(this->repo_, kManifest1));
  EXPECT_TRUE(this->store_->ListTags(this->repo_, "", 10).empty());
}

TYPED_TEST(MetaStoreTest, TagsAndRepositoriesPaginateInLexicalOrder) {
  for (const char* t : {"c", "a", "b", "d"}) {
    ASSERT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {}), t));
  }
  EXPECT_EQ(this->store_->ListTags(this->repo_, "", 2), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(this->store_->ListTags(this->repo_, "b", 10), (std::vector<std::string>{"c", "d"}));
  this->store_->LinkBlob({"default", "z"}, kBlobA, 1);
  this->store_->LinkBlob({"default", "m"}, kBlobA, 1);
  this->store_->LinkBlob({"other", "q"}, kBlobA, 1);
  EXPECT_EQ(this->store_->ListRepositories("default", "", 10),
            (std::vector<std::string>{"library/app", "m", "z"}));
  EXPECT_EQ(this->store_->ListRepositories("default", "library/app", 1),
            (std::vector<std::string>{"m"}));
}

TYPED_TEST(MetaStoreTest, ReferrersBySubject) {
  ManifestRecord sig = this->Manifest(kManifest2, {});
  sig.subject = kManifest1;
  sig.artifact_type = "application/x.sig";
  sig.annotations_json = R"({"k":"v"})";
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, sig, ""));
  auto refs = this->store_->ListReferrers(this->repo_, kManifest1);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].digest, kManifest2);
  EXPECT_EQ(refs[0].artifact_type, "application/x.sig");
  EXPECT_EQ(refs[0].size, sig.body.size());
  EXPECT_EQ(refs[0].annotations_json, R"({"k":"v"})");
  EXPECT_TRUE(this->store_->ListReferrers(this->repo_, kManifest2).empty());
}

TYPED_TEST(MetaStoreTest, ReferrersKeepAnyArtifactTypeAndAnnotationsByteForByte) {
  // JSON may give a NUL ("\u0000") in a string the registry does not validate.
  ManifestRecord sig = this->Manifest(kManifest2, {});
  sig.subject = kManifest1;
  sig.artifact_type = std::string("application/x\0nul", 17);
  sig.annotations_json = R"({"k":"\u0000 \u00e9"})";
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, sig, ""));
  auto refs = this->store_->ListReferrers(this->repo_, kManifest1);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].artifact_type, sig.artifact_type);
  EXPECT_EQ(refs[0].annotations_json, sig.annotations_json);
}

TYPED_TEST(MetaStoreTest, UploadSessionsSurviveReopening) {
  this->store_->CreateUpload({"u1", this->repo_, 0});
  UploadSession leased;
  ASSERT_EQ(this->store_->LeaseUpload("u1", this->repo_, "h", 30, &leased), LeaseOutcome::kLeased);
  EXPECT_TRUE(this->store_->SetUploadOffset("u1", this->repo_, "h", 100, {}));

  auto u = this->store_->FindUpload("u1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->offset, 100u);
  EXPECT_EQ(u->repo.name, this->repo_.name);
  EXPECT_EQ(this->store_->ListUploadIds(), std::vector<std::string>{"u1"});
  this->store_->DeleteUpload("u1");
  EXPECT_FALSE(this->store_->FindUpload("u1"));
}

TYPED_TEST(MetaStoreTest, UploadStateIsStoredWithTheOffset) {
  const std::string binary("multipart\0id\xff\x01", 15);
  this->store_->CreateUpload({"u", this->repo_, 0, binary});
  EXPECT_EQ(this->store_->FindUpload("u")->state, binary);
  UploadSession leased;
  ASSERT_EQ(this->store_->LeaseUpload("u", this->repo_, "h", 30, &leased), LeaseOutcome::kLeased);
  EXPECT_EQ(leased.state, binary);
  const std::string big(kMaxUploadStateBytes, '\x7f');
  EXPECT_TRUE(this->store_->SetUploadOffset("u", this->repo_, "h", 10, big));
  EXPECT_EQ(this->store_->FindUpload("u")->offset, 10u);
  EXPECT_EQ(this->store_->FindUpload("u")->state, big);
  // Not the holder: neither changes.
  EXPECT_FALSE(this->store_->SetUploadOffset("u", this->repo_, "other", 20, "x"));
  EXPECT_EQ(this->store_->FindUpload("u")->offset, 10u);
  EXPECT_EQ(this->store_->FindUpload("u")->state, big);
  EXPECT_THROW(this->store_->SetUploadOffset("u", this->repo_, "h", 30, big + "!"), StoreError);
  EXPECT_THROW(this->store_->CreateUpload({"v", this->repo_, 0, big + "!"}), StoreError);
  EXPECT_FALSE(this->store_->FindUpload("v"));
  EXPECT_TRUE(this->store_->SetUploadOffset("u", this->repo_, "h", 11, {}));
  EXPECT_EQ(this->store_->FindUpload("u")->state, "");
}

TYPED_TEST(MetaStoreTest, AnUploadLeaseHasOneHolderAtATime) {
  this->store_->CreateUpload({"u", this->repo_, 0});
  UploadSession session;
  ASSERT_EQ(this->store_->LeaseUpload("u", this->repo_, "first", 30, &session),
            LeaseOutcome::kLeased);
  EXPECT_EQ(session.id, "u");
  EXPECT_EQ(session.offset, 0u);
  EXPECT_EQ(this->store_->LeaseUpload("u", this->repo_, "second", 30, &session),
            LeaseOutcome::kBusy);
  // Only the holder may change the session or extend the lease.
  EXPECT_FALSE(this->store_->SetUploadOffset("u", this->repo_, "second", 5, {}));
  EXPECT_FALSE(this->store_->RenewUploadLease("u", this->repo_, "second", 30));
  EXPECT_TRUE(this->store_->RenewUploadLease("u", this->repo_, "first", 30));
  EXPECT_TRUE(this->store_->SetUploadOffset("u", this->repo_, "first", 7, {}));
  this->store_->ReleaseUploadLease("u", "second");  // not its to give: nothing happens
  EXPECT_EQ(this->store_->LeaseUpload("u", this->repo_, "second", 30, &session),
            LeaseOutcome::kBusy);
  this->store_->ReleaseUploadLease("u", "first");
  ASSERT_EQ(this->store_->LeaseUpload("u", this->repo_, "second", 30, &session),
            LeaseOutcome::kLeased);
  EXPECT_EQ(session.offset, 7u);
  EXPECT_FALSE(this->store_->SetUploadOffset("u", this->repo_, "first", 9, {}));
}

TYPED_TEST(MetaStoreTest, AnExpiredLeaseCanBeTakenAndTheOldHolderHasLostIt) {
  this->store_->CreateUpload({"u", this->repo_, 0});
  UploadSession session;
  ASSERT_EQ(this->store_->LeaseUpload("u", this->repo_, "dead-node", -1, &session),
            LeaseOutcome::kLeased);
  ASSERT_EQ(this->store_->LeaseUpload("u", this->repo_, "alive", 30, &session),
            LeaseOutcome::kLeased);
  EXPECT_FALSE(this->store_->RenewUploadLease("u", this->repo_, "dead-node", 30));
  EXPECT_FALSE(this->store_->SetUploadOffset("u", this->repo_, "dead-node", 1, {}));
}

TYPED_TEST(MetaStoreTest, ALeaseHeldAcrossTheDeleteOfItsInstanceEndsInInstanceGone) {
  this->store_->CreateUpload({"u", this->repo_, 0});
  UploadSession session;
  ASSERT_EQ(this->store_->LeaseUpload("u", this->repo_, "h", 30, &session), LeaseOutcome::kLeased);
  this->store_->DeleteInstance(this->repo_.instance);
  EXPECT_THROW(this->store_->SetUploadOffset("u", this->repo_, "h", 10, {}), InstanceGone);
  EXPECT_THROW(this->store_->RenewUploadLease("u", this->repo_, "h", 30), InstanceGone);
  EXPECT_FALSE(this->store_->FindUpload("u"));
}

TYPED_TEST(MetaStoreTest, ALeaseIsOfItsRepositoryOnly) {
  this->store_->CreateUpload({"u", this->repo_, 0});
  UploadSession session;
  EXPECT_EQ(this->store_->LeaseUpload("u", {this->repo_.instance, "other/repo"}, "h", 30, &session),
            LeaseOutcome::kUnknown);
  EXPECT_EQ(
      this->store_->LeaseUpload("u", {"another-instance", this->repo_.name}, "h", 30, &session),
      LeaseOutcome::kUnknown);
  EXPECT_EQ(this->store_->LeaseUpload("nope", this->repo_, "h", 30, &session),
            LeaseOutcome::kUnknown);
}

TYPED_TEST(MetaStoreTest, TwoThreadsRacingForALeaseNeverBothWin) {
  for (int round = 0; round < 50; ++round) {
    std::string id = "race" + std::to_string(round);
    this->store_->CreateUpload({id, this->repo_, 0});
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        UploadSession s;
        if (this->store_->LeaseUpload(id, this->repo_, "t" + std::to_string(t), 30, &s) ==
            LeaseOutcome::kLeased) {
          ++winners;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(winners.load(), 1) << id;
  }
}

TYPED_TEST(MetaStoreTest, ALeasedSessionDoesNotExpire) {
  this->store_->CreateUpload({"busy", this->repo_, 0});
  UploadSession session;
  ASSERT_EQ(this->store_->LeaseUpload("busy", this->repo_, "h", 30, &session),
            LeaseOutcome::kLeased);
  EXPECT_TRUE(this->store_->ExpireUploads(-10).empty());
  this->store_->ReleaseUploadLease("busy", "h");
  EXPECT_EQ(this->store_->ExpireUploads(-10), std::vector<std::string>{"busy"});
}

TYPED_TEST(MetaStoreTest, IdleUploadSessionsExpire) {
  this->store_->CreateUpload({"fresh", this->repo_, 0});
  EXPECT_TRUE(this->store_->ExpireUploads(3600).empty());
  EXPECT_EQ(this->store_->ExpireUploads(-10),
            std::vector<std::string>{"fresh"});  // idle "in future"
  EXPECT_FALSE(this->store_->FindUpload("fresh"));
}

TYPED_TEST(MetaStoreTest, DeleteInstanceTakesEverythingOfItOnly) {
  RepoKey other{"other", "library/app"};
  this->store_->LinkBlob(this->repo_, kBlobA, 1);
  this->store_->LinkBlob(other, kBlobA, 1);
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {kBlobA}), "v1"));
  this->store_->CreateUpload({"u", this->repo_, 0});
  this->store_->DeleteInstance("default");
  EXPECT_FALSE(this->store_->RepositoryExists(this->repo_));
  EXPECT_FALSE(this->store_->GetManifest(this->repo_, kManifest1));
  EXPECT_FALSE(this->store_->LinkedBlobSize(this->repo_, kBlobA));
  EXPECT_FALSE(this->store_->FindUpload("u"));
  EXPECT_TRUE(this->store_->LinkedBlobSize(other, kBlobA));
}

TYPED_TEST(MetaStoreTest, ConcurrentWritersFromManyThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {}),
                                               "t" + std::to_string(t) + "-" + std::to_string(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(this->store_->ListTags(this->repo_, "", 1000).size(), 200u);
}

TYPED_TEST(MetaStoreTest, DeletedInstanceKeyRefusesEveryWrite) {
  RepoKey gone{"gone-incarnation", "library/app"};
  this->store_->LinkBlob(gone, kBlobA, 1);
  this->store_->DeleteInstance(gone.instance);
  // A request admitted before the delete, writing after it, stores nothing.
  EXPECT_THROW(this->store_->LinkBlob(gone, kBlobA, 1), InstanceGone);
  EXPECT_THROW(this->store_->PutManifest(gone, this->Manifest(kManifest1, {}), "v1"), InstanceGone);
  EXPECT_THROW(this->store_->CreateUpload({"u", gone, 0}), InstanceGone);
  EXPECT_FALSE(this->store_->RepositoryExists(gone));
  EXPECT_FALSE(this->store_->FindUpload("u"));
  EXPECT_TRUE(this->store_->ListRepositories(gone.instance, "", 10).empty());
  // Other keys are untouched; an InstanceGone is a StoreError to those who do not know it.
  this->store_->LinkBlob(this->repo_, kBlobA, 1);
  EXPECT_TRUE(this->store_->LinkedBlobSize(this->repo_, kBlobA));
  EXPECT_THROW(this->store_->LinkBlob(gone, kBlobA, 1), StoreError);
  EXPECT_THROW(this->store_->DeleteInstance(kPlainRegistryKey), StoreError);
}

TYPED_TEST(MetaStoreTest, ListInstanceKeysNamesEveryKeyWithData) {
  this->store_->LinkBlob({"k1", "a"}, kBlobA, 1);
  this->store_->CreateUpload({"u", {"k2", "b"}, 0});
  this->store_->LinkBlob({std::string(kPlainRegistryKey), "c"}, kBlobA, 1);
  EXPECT_EQ(this->store_->ListInstanceKeys(),
            (std::vector<std::string>{std::string(kPlainRegistryKey), "k1", "k2"}));
  this->store_->DeleteInstance("k2");
  EXPECT_EQ(this->store_->ListInstanceKeys(),
            (std::vector<std::string>{std::string(kPlainRegistryKey), "k1"}));
}

TYPED_TEST(MetaStoreTest, TwoNodesRacingForALeaseNeverBothWin) {
  // Two stores on one database: two processes, or two nodes of a cluster.
  std::unique_ptr<MetaStore> other = this->db_->OpenMeta();
  MetaStore* nodes[] = {this->store_.get(), other.get()};
  for (int round = 0; round < 30; ++round) {
    const std::string id = "node-race" + std::to_string(round);
    this->store_->CreateUpload({id, this->repo_, 0});
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        UploadSession s;
        if (nodes[t % 2]->LeaseUpload(id, this->repo_, "n" + std::to_string(t), 30, &s) ==
            LeaseOutcome::kLeased) {
          ++winners;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(winners.load(), 1) << id;
  }
}

TYPED_TEST(MetaStoreTest, ExpiryRacingLeasesNeverTakesALeasedSession) {
  std::unique_ptr<MetaStore> other = this->db_->OpenMeta();
  constexpr int kSessions = 40;
  for (int i = 0; i < kSessions; ++i) {
    this->store_->CreateUpload({"x" + std::to_string(i), this->repo_, 0});
  }
  std::set<std::string> leased;
  std::set<std::string> expired;
  std::thread leaser([&] {
    for (int i = 0; i < kSessions; ++i) {
      UploadSession s;
      const std::string id = "x" + std::to_string(i);
      if (this->store_->LeaseUpload(id, this->repo_, "h", 30, &s) == LeaseOutcome::kLeased) {
        leased.insert(id);
      }
    }
  });
  std::thread expirer([&] {
    for (int i = 0; i < kSessions / 4; ++i) {
      // Every session is idle "since the future": only a running lease keeps it.
      for (const std::string& id : other->ExpireUploads(-10)) expired.insert(id);
    }
  });
  leaser.join();
  expirer.join();
  for (const std::string& id : leased) {
    EXPECT_FALSE(expired.contains(id)) << id << " was leased and expired";
    EXPECT_TRUE(this->store_->FindUpload(id)) << id;
  }
  EXPECT_EQ(leased.size() + expired.size(), static_cast<size_t>(kSessions));
}

TYPED_TEST(MetaStoreTest, AWriteRacingTheDeleteOfItsInstanceLeavesNothing) {
  for (int round = 0; round < 10; ++round) {
    const RepoKey doomed{"doomed-" + std::to_string(round), "team/app"};
    std::unique_ptr<MetaStore> other = this->db_->OpenMeta();
    this->store_->LinkBlob(doomed, kBlobA, 1);
    std::thread writer([&] {
      // Writes until one is refused: every write before it is deleted with the instance.
      for (int i = 0; i < 10000; ++i) {
        try {
          this->store_->LinkBlob({doomed.instance, "r" + std::to_string(i)}, kBlobA, 1);
          this->store_->CreateUpload({doomed.instance + "-u" + std::to_string(i), doomed, 0});
        } catch (const InstanceGone&) {
          return;
        }
        // SQLite's lock is not fair: a writer that never pauses can keep the delete out.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      ADD_FAILURE() << "no write was refused";
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    other->DeleteInstance(doomed.instance);
    writer.join();
    EXPECT_TRUE(this->store_->ListRepositories(doomed.instance, "", 10).empty()) << round;
    for (const std::string& key : this->store_->ListInstanceKeys()) EXPECT_NE(key, doomed.instance);
  }
}

TYPED_TEST(MetaStoreTest, ListUploadIdsNamesEverySession) {
  EXPECT_TRUE(this->store_->ListUploadIds().empty());
  this->store_->CreateUpload({"a", this->repo_, 0});
  this->store_->CreateUpload({"b", {"other", "x"}, 5});
  std::vector<std::string> ids = this->store_->ListUploadIds();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(this->store_->CreateUpload({"a", this->repo_, 0}), StoreError);  // ids are unique
}

TYPED_TEST(MetaStoreTest, ByteExactManifestBodies) {
  ManifestRecord m = this->Manifest(kManifest1, {});
  m.body = std::string("{\"a\":\"\xc3\xa9\"}\n\0tail", 16);
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, m, "v1"));
  EXPECT_EQ(this->store_->GetManifest(this->repo_, kManifest1)->body, m.body);
  EXPECT_EQ(this->store_->GetTaggedManifest(this->repo_, "v1")->body, m.body);
  // A second PUT of the digest replaces what the first stored.
  m.media_type = "application/vnd.oci.image.index.v1+json";
  ASSERT_FALSE(this->store_->PutManifest(this->repo_, m, ""));
  EXPECT_EQ(this->store_->GetManifest(this->repo_, kManifest1)->media_type, m.media_type);
}

TYPED_TEST(MetaStoreTest, TagsListInByteOrder) {
  // Byte order, as the distribution spec's lexical order: upper case before lower, '-' before
  // digits; no locale's collation.
  for (const char* t : {"b", "B", "a-1", "a1", "_x", "Z"}) {
    ASSERT_FALSE(this->store_->PutManifest(this->repo_, this->Manifest(kManifest1, {}), t));
  }
  EXPECT_EQ(this->store_->ListTags(this->repo_, "", 10),
            (std::vector<std::string>{"B", "Z", "_x", "a-1", "a1", "b"}));
  EXPECT_EQ(this->store_->ListTags(this->repo_, "Z", 2), (std::vector<std::string>{"_x", "a-1"}));
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
