// kura migrate's reading of an embedded installation: the blob files of its data directory
// (migrate_blobs.h) and its SQLite database, opened read-only (migrate_metadata.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cli/migrate_blobs.h"
#include "cli/migrate_metadata.h"
#include "core/digest.h"
#include "store/name_keyed_database.h"
#include "store/sqlite_admin_store.h"
#include "store/sqlite_meta_store.h"
#include "test_paths.h"

namespace kura::cli {
namespace {

namespace fs = std::filesystem;

class MigrateSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = kura::testing::ScratchPath("migrate-source");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  static std::string Contents(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
};

TEST_F(MigrateSourceTest, ListsBlobFilesByDigestAndTellsOtherFilesApart) {
  const std::string a = "blob a", b = "blob bb";
  const core::Digest da = core::Sha256Of(a), db = core::Sha256Of(b);
  const fs::path blobs = dir_ / "blobs";
  Write(blobs / "sha256" / std::string(da.hex().substr(0, 2)) / std::string(da.hex()), a);
  Write(blobs / "sha256" / std::string(db.hex().substr(0, 2)) / std::string(db.hex()), b);
  // Not where a blob of that digest is kept, not a digest, not sha256.
  Write(blobs / "sha256" / "00" / std::string(da.hex()), a);
  Write(blobs / "sha256" / std::string(da.hex().substr(0, 2)) / "notes.txt", "x");
  Write(blobs / "stray", "x");
  const std::string hex512(128, 'a');
  Write(blobs / "sha512" / "aa" / hex512, "x");

  BlobInventory inventory = ListBlobFiles(dir_.string());
  ASSERT_EQ(inventory.blobs.size(), 2u);
  EXPECT_EQ(inventory.bytes, a.size() + b.size());
  for (const BlobFile& f : inventory.blobs) {
    EXPECT_TRUE(f.digest == da || f.digest == db) << f.path;
    EXPECT_EQ(f.size, f.digest == da ? a.size() : b.size());
    EXPECT_EQ(fs::path(f.path).filename(), std::string(f.digest.hex()));
  }
  EXPECT_LT(inventory.blobs[0].path, inventory.blobs[1].path);
  EXPECT_EQ(inventory.ignored.size(), 3u);
  ASSERT_EQ(inventory.unverifiable.size(), 1u);
  EXPECT_EQ(fs::path(inventory.unverifiable[0]).filename(), hex512);
}

TEST_F(MigrateSourceTest, ADirectoryWithoutBlobsHasNone) {
  BlobInventory inventory = ListBlobFiles(dir_.string());
  EXPECT_TRUE(inventory.blobs.empty());
  EXPECT_TRUE(inventory.ignored.empty());
}

TEST_F(MigrateSourceTest, ReadsADatabaseOfThisKuraWithoutChangingIt) {
  const std::string path = (dir_ / "kura.db").string();
  {
    store::SqliteMetaStore meta(path);
    store::SqliteAdminStore admin(path);
    meta.LinkBlob({"inc-1", "team/app"}, "sha256:aa", 3);
    // A World an earlier kura saved as one document, at revision 2.
    store::SqliteDatabase db(path, "");
    store::Statement(db.Connection(),
                     "INSERT INTO exposure_world(id, document, revision) VALUES(1, ?, 2)")
        .Bind("{\"world\": 2}")
        .Run();
    store::UploadSession upload;
    upload.id = "u1";
    upload.repo = {"inc-1", "team/app"};
    meta.CreateUpload(upload);
  }
  const std::string before = Contents(path);
  {
    MigrationSource source(path);
    EXPECT_FALSE(source.KeyedByInstanceName());
    std::optional<MigrationSource::World> world = source.SavedWorld();
    ASSERT_TRUE(world);
    EXPECT_EQ(world->document, "{\"world\": 2}");
    EXPECT_TRUE(world->rows.empty());
    EXPECT_EQ(world->revision, 2);
    EXPECT_EQ(source.UploadSessions(), 1);
    EXPECT_TRUE(source.HasTable("repository_blobs"));
    EXPECT_FALSE(source.HasTable("no_such_table"));
  }
  EXPECT_TRUE(Contents(path) == before);
}

TEST_F(MigrateSourceTest, TellsADatabaseKeyedByInstanceNameAndLeavesItSo) {
  const std::string path = (dir_ / "kura.db").string();
  store::WriteNameKeyedDatabase(path);
  const std::string before = Contents(path);
  {
    MigrationSource source(path);
    EXPECT_TRUE(source.KeyedByInstanceName());
    EXPECT_FALSE(source.HasTable("store_format"));  // nothing was marked
    EXPECT_FALSE(source.SavedWorld().has_value());
  }
  EXPECT_TRUE(Contents(path) == before);
}

TEST_F(MigrateSourceTest, RefusesAMissingOrForeignFile) {
  EXPECT_THROW(MigrationSource((dir_ / "missing.db").string()), store::StoreError);
  const fs::path foreign = dir_ / "foreign.db";
  Write(foreign, std::string(4096, 'x'));
  EXPECT_THROW(
      {
        MigrationSource source(foreign.string());
        source.KeyedByInstanceName();
      },
      store::StoreError);
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
}

TEST(HumanBytesTest, SaysSizesInBinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 bytes");
  EXPECT_EQ(HumanBytes(1), "1 byte");
  EXPECT_EQ(HumanBytes(1023), "1023 bytes");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(uint64_t{1} << 30), "1.0 GiB");
  EXPECT_EQ(HumanBytes(uint64_t{3} << 40), "3.0 TiB");
}

}  // namespace
}  // namespace kura::cli
