// A database file as kura wrote it before instance data was keyed by incarnation, for the
// migration tests of the SQLite stores.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

namespace kura::store {

// A database as kura wrote it before instance data was keyed by incarnation: rows keyed by
// instance name, the plain registry's under "default".
inline void WriteNameKeyedDatabase(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql = R"sql(
CREATE TABLE repositories(
  instance TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(instance, name)) WITHOUT ROWID;
CREATE TABLE repository_blobs(
  instance TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY(instance, repo, digest)) WITHOUT ROWID;
CREATE TABLE manifests(
  instance TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL,
  body BLOB NOT NULL, subject TEXT, artifact_type TEXT NOT NULL, annotations TEXT NOT NULL,
  PRIMARY KEY(instance, repo, digest)) WITHOUT ROWID;
CREATE TABLE tags(
  instance TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  PRIMARY KEY(instance, repo, tag)) WITHOUT ROWID;
CREATE TABLE uploads(
  id TEXT PRIMARY KEY, instance TEXT NOT NULL, repo TEXT NOT NULL, offset INTEGER NOT NULL,
  touched_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE credentials(
  instance TEXT NOT NULL, user TEXT NOT NULL, hash TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY(instance, user, hash)) WITHOUT ROWID;
CREATE TABLE namespaces(
  instance TEXT NOT NULL, name TEXT NOT NULL, is_public INTEGER NOT NULL,
  PRIMARY KEY(instance, name)) WITHOUT ROWID;
INSERT INTO repositories VALUES('default', 'library/app'), ('acme', 'team/app'),
  ('gone', 'team/old');
INSERT INTO repository_blobs VALUES('default', 'library/app', 'sha256:d', 1),
  ('acme', 'team/app', 'sha256:a', 2), ('gone', 'team/old', 'sha256:g', 3);
INSERT INTO manifests VALUES('acme', 'team/app', 'sha256:m', 'mt', 'body', NULL, '', '{}');
INSERT INTO tags VALUES('acme', 'team/app', 'v1', 'sha256:m'), ('gone', 'team/old', 'v1', 'x');
INSERT INTO uploads VALUES('u-gone', 'gone', 'team/old', 0, 0), ('u-acme', 'acme', 'team/app', 0, 0);
INSERT INTO credentials VALUES('acme', 'dev', 'hash', 0), ('gone', 'dev', 'old-hash', 0);
INSERT INTO namespaces VALUES('acme', 'team', 1), ('gone', 'team', 1);
)sql";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

}  // namespace kura::store
