#include "registry/metadata_rows.h"

#include "store/pg_db.h"
#include "store/sqlite_db.h"

namespace kura::registry {
namespace {

using Query = MetadataRows::Query;

// The same questions of both schemas; the columns differ in a name (uploads.offset is
// byte_offset in PostgreSQL, where OFFSET is reserved) and in how numbers come back.
const char* SqliteSql(Query q) {
  switch (q) {
    case Query::kRepositoryInstances:
      return "SELECT DISTINCT instance FROM repositories";
    case Query::kBlobLinkInstances:
      return "SELECT DISTINCT instance FROM repository_blobs";
    case Query::kManifestInstances:
      return "SELECT DISTINCT instance FROM manifests";
    case Query::kTagInstances:
      return "SELECT DISTINCT instance FROM tags";
    case Query::kUploadInstances:
      return "SELECT DISTINCT instance FROM uploads";
    case Query::kBlobLinks:
      return "SELECT instance, repo, digest, CAST(size AS TEXT) FROM repository_blobs";
    case Query::kManifestKeys:
      return "SELECT instance, repo, digest FROM manifests";
    case Query::kManifests:
      return "SELECT instance, repo, digest, media_type, body FROM manifests";
    case Query::kTags:
      return "SELECT instance, repo, tag, digest FROM tags";
    case Query::kUploads:
      return "SELECT id, instance, repo, CAST(offset AS TEXT), state FROM uploads";
  }
  return "";
}

const char* PostgresSql(Query q) {
  switch (q) {
    case Query::kBlobLinks:
      return "SELECT instance, repo, digest, size::text FROM repository_blobs";
    case Query::kUploads:
      return "SELECT id, instance, repo, byte_offset::text, state FROM uploads";
    default:
      return SqliteSql(q);
  }
}

int ColumnsOf(Query q) {
  switch (q) {
    case Query::kManifests:
    case Query::kUploads:
      return 5;
    case Query::kBlobLinks:
    case Query::kTags:
      return 4;
    case Query::kManifestKeys:
      return 3;
    default:
      return 1;
  }
}

class SqliteMetadataRows final : public MetadataRows {
 public:
  explicit SqliteMetadataRows(const std::string& path) : db_(path, "") {}
  void Each(Query q, const std::function<void(const Row&)>& row) override {
    store::Statement s(db_.Connection(), SqliteSql(q));
    Row r;
    while (s.Step()) {
      r.clear();
      for (int i = 0; i < ColumnsOf(q); ++i) r.push_back(s.Blob(i));
      row(r);
    }
  }

 private:
  store::SqliteDatabase db_;
};

class PostgresMetadataRows final : public MetadataRows {
 public:
  explicit PostgresMetadataRows(std::shared_ptr<store::PgDatabase> db) : db_(std::move(db)) {}
  void Each(Query q, const std::function<void(const Row&)>& row) override {
    store::PgResult result =
        db_->Read([&](store::PgConnection& c) { return store::PgQuery(c, PostgresSql(q)).Run(); });
    Row r;
    for (int i = 0; i < result.rows(); ++i) {
      r.clear();
      for (int col = 0; col < ColumnsOf(q); ++col) r.push_back(result.Text(i, col));
      row(r);
    }
  }

 private:
  std::shared_ptr<store::PgDatabase> db_;
};

}  // namespace

std::unique_ptr<MetadataRows> SqliteRows(const std::string& path) {
  return std::make_unique<SqliteMetadataRows>(path);
}

std::unique_ptr<MetadataRows> PostgresRows(std::shared_ptr<store::PgDatabase> db) {
  return std::make_unique<PostgresMetadataRows>(std::move(db));
}

}  // namespace kura::registry
