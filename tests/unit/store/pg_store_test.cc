// What only the PostgreSQL stores have: a database that goes away (connections killed in the
// middle of a transaction or while idle, a server that refuses or never answers), the bounded
// pool, timeouts, the schema's versions and `kura db migrate`. The contract itself is tested on
// both backends by meta_store_test.cc and admin_store_test.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "admin/exposure_state.h"
#include "admin/world_document.h"
#include "admin/world_rows.h"
#include "big_world.h"
#include "cli/db_command.h"
#include "store/pg_admin_store.h"
#include "store/pg_db.h"
#include "store/pg_meta_store.h"
#include "store/pg_schema.h"
#include "store/store_backends.h"

// The tests' loopback forwarder writes to sockets the other side may have closed: a write there
// must fail with EPIPE, not kill the test program.
static const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

namespace kura::store {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

const std::string kBlob = "sha256:" + std::string(64, 'a');
const std::string kDigest = "sha256:" + std::string(64, '1');
const RepoKey kRepo{"inc", "team/app"};

ManifestRecord Manifest() {
  ManifestRecord m;
  m.digest = kDigest;
  m.media_type = "application/vnd.oci.image.manifest.v1+json";
  m.body = "{}";
  m.blobs = {kBlob};
  return m;
}

milliseconds Since(steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
}

// A loopback socket: listening (connections are queued and never answered) or closed again (a
// port with nothing behind it).
class LoopbackPort {
 public:
  explicit LoopbackPort(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (listen) {
      ::listen(fd_, 16);
    } else {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~LoopbackPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string Url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/kura";
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A loopback TCP forwarder to the test's PostgreSQL server, which a test can cut (every
// connection closed, the port refusing) and bring back on the same port: a database outage.
class Outage {
 public:
  Outage(std::string target_host, int target_port)
      : target_host_(std::move(target_host)), target_port_(target_port) {
    Up();
  }
  ~Outage() { Down(); }
  int port() const { return port_; }
  // The connections stay open and nothing goes through: a server gone silent.
  void Freeze() { frozen_ = true; }

  void Up() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "cannot bind the forwarder's port " << port_;
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(listener_, 16);
    stop_ = false;
    acceptor_ = std::thread([this] { Accept(); });
  }

  void Down() {
    if (listener_ < 0) return;
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    listener_ = -1;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : pipes_) t.join();
    pipes_.clear();
    std::lock_guard lock(mu_);
    for (int fd : open_) ::close(fd);
    open_.clear();
  }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      ::inet_pton(AF_INET, target_host_.c_str(), &addr.sin_addr);
      addr.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      {
        std::lock_guard lock(mu_);
        open_.push_back(client);
        open_.push_back(server);
      }
      pipes_.emplace_back([this, client, server] { Pipe(client, server); });
    }
  }

  // Copies bytes both ways until either side closes (holds them while frozen).
  void Pipe(int a, int b) {
    char buf[16384];
    for (;;) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (frozen_) {
        if (stop_) return;
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      if (::poll(p, 2, 50) < 0) return;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) return;
        if (::write(p[1 - i].fd, buf, static_cast<size_t>(n)) != n) return;
      }
    }
  }

  std::string target_host_;
  int target_port_;
  int port_ = 0;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::thread acceptor_;
  std::vector<std::thread> pipes_;
  std::mutex mu_;
  std::vector<int> open_;
};

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = PgTestDatabase::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    db_.emplace();
  }

  // The server process of the store connection that waits for a lock, once it does.
  int WaitForBlockedStoreBackend() {
    PgConnection watcher(TestPostgresUrl(), PgOptions{});
    const auto start = steady_clock::now();
    while (Since(start) < milliseconds(10000)) {
      PgResult r = PgQuery(watcher,
                           "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND "
                           "wait_event_type = 'Lock'")
                       .Bind(db_->schema())
                       .Run();
      if (r.rows() > 0) return static_cast<int>(r.Int(0, 0));
      std::this_thread::sleep_for(milliseconds(10));
    }
    ADD_FAILURE() << "no store connection waited for the lock";
    return 0;
  }

  std::optional<PgTestDatabase> db_;
};

TEST_F(PgStoreTest, AConnectionKilledMidTransactionLeavesNothingAndTheNextCallReconnects) {
  PgMetaStore store(db_->OpenDatabase());
  store.LinkBlob(kRepo, kBlob, 1);
  // Another session holds the tag the manifest PUT will write: the PUT waits there, after its
  // manifest row is written and before it commits.
  PgConnection blocker(TestPostgresUrl(), PgOptions{});
  blocker.Exec("BEGIN");
  blocker.Exec(("INSERT INTO " + db_->schema() +
                ".tags(instance, repo, tag, digest) VALUES('inc', 'team/app', 'v1', 'x')")
                   .c_str());
  auto put =
      std::async(std::launch::async, [&] { return store.PutManifest(kRepo, Manifest(), "v1"); });
  const int pid = WaitForBlockedStoreBackend();
  PgConnection killer(TestPostgresUrl(), PgOptions{});
  PgQuery(killer, "SELECT pg_terminate_backend($1::int)").Bind(int64_t{pid}).Run();
  EXPECT_THROW(put.get(), StoreUnavailable);
  blocker.Exec("ROLLBACK");

  // Nothing of the killed transaction is visible; the next calls reconnect.
  EXPECT_FALSE(store.GetManifest(kRepo, kDigest));
  EXPECT_TRUE(store.ListTags(kRepo, "", 10).empty());
  EXPECT_FALSE(store.PutManifest(kRepo, Manifest(), "v1"));
  ASSERT_TRUE(store.GetTaggedManifest(kRepo, "v1"));
  EXPECT_EQ(store.GetTaggedManifest(kRepo, "v1")->digest, kDigest);
}

TEST_F(PgStoreTest, AnInstanceDeleteKilledHalfWayDeletesNothingAndRetiresNothing) {
  PgMetaStore store(db_->OpenDatabase());
  store.LinkBlob(kRepo, kBlob, 1);
  ASSERT_FALSE(store.PutManifest(kRepo, Manifest(), "v1"));
  store.CreateUpload({"u", kRepo, 0});
  // The delete retires the key and deletes tags, manifests, links and repositories, then waits
  // for the upload row that another session holds.
  PgConnection blocker(TestPostgresUrl(), PgOptions{});
  blocker.Exec("BEGIN");
  blocker.Exec(("SELECT 1 FROM " + db_->schema() + ".uploads WHERE id = 'u' FOR UPDATE").c_str());
  auto del = std::async(std::launch::async, [&] { store.DeleteInstance(kRepo.instance); });
  const int pid = WaitForBlockedStoreBackend();
  PgConnection killer(TestPostgresUrl(), PgOptions{});
  PgQuery(killer, "SELECT pg_terminate_backend($1::int)").Bind(int64_t{pid}).Run();
  EXPECT_THROW(del.get(), StoreError);
  blocker.Exec("ROLLBACK");

  EXPECT_TRUE(store.GetTaggedManifest(kRepo, "v1"));
  EXPECT_TRUE(store.LinkedBlobSize(kRepo, kBlob));
  EXPECT_TRUE(store.FindUpload("u"));
  store.LinkBlob({kRepo.instance, "other"}, kBlob, 1);  // not retired
  store.DeleteInstance(kRepo.instance);                 // and now it is, whole
  EXPECT_FALSE(store.RepositoryExists(kRepo));
  EXPECT_THROW(store.LinkBlob(kRepo, kBlob, 1), InstanceGone);
}

TEST_F(PgStoreTest, IdleConnectionsKilledByTheServerAreReplacedUnseen) {
  PgMetaStore store(db_->OpenDatabase());
  // Several pooled connections, all idle.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { store.LinkBlob({"inc", "r" + std::to_string(t)}, kBlob, 1); });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(db_->TerminateStoreConnections(), 0);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_TRUE(store.RepositoryExists({"inc", "r0"}));  // a read
  store.LinkBlob({"inc", "after"}, kBlob, 1);          // a write
  EXPECT_EQ(db_->TerminateStoreConnections(), 1);      // only the fresh one was left
  std::this_thread::sleep_for(milliseconds(100));
  store.LinkBlob({"inc", "again"}, kBlob, 1);
  EXPECT_TRUE(store.RepositoryExists({"inc", "again"}));
}

TEST_F(PgStoreTest, DuringAnOutageCallsFailFastAndAfterItTheStoreReconnects) {
  PgResult where = db_->Control().Exec("SELECT host(inet_server_addr()), inet_server_port()");
  if (where.rows() == 0 || where.IsNull(0, 0)) GTEST_SKIP() << "the test server is not on TCP";
  Outage outage(where.Text(0, 0), std::stoi(where.Text(0, 1)));
  const std::string url = WithConnectionParameters(
      db_->url(), {"host=127.0.0.1", "port=" + std::to_string(outage.port())});
  PgMetaStore store(PgDatabase::Open(url));
  store.LinkBlob(kRepo, kBlob, 1);

  outage.Down();
  auto start = steady_clock::now();
  EXPECT_THROW(store.LinkBlob({kRepo.instance, "during"}, kBlob, 1), StoreUnavailable);
  EXPECT_THROW(store.RepositoryExists(kRepo), StoreUnavailable);
  EXPECT_LT(Since(start), milliseconds(3000));

  outage.Up();
  start = steady_clock::now();
  bool back = false;
  while (!back && Since(start) < milliseconds(15000)) {
    try {
      back = store.RepositoryExists(kRepo);
    } catch (const StoreUnavailable&) {
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  EXPECT_TRUE(back) << "the store did not reconnect";
  EXPECT_LT(Since(start), milliseconds(7000));  // the backoff is at most 5 s
  store.LinkBlob({kRepo.instance, "after"}, kBlob, 1);
  EXPECT_TRUE(store.RepositoryExists({kRepo.instance, "after"}));
  EXPECT_FALSE(store.RepositoryExists({kRepo.instance, "during"}));
}

TEST_F(PgStoreTest, AServerGoneSilentIsUnavailableWithinTheDeadline) {
  PgResult where = db_->Control().Exec("SELECT host(inet_server_addr()), inet_server_port()");
  if (where.rows() == 0 || where.IsNull(0, 0)) GTEST_SKIP() << "the test server is not on TCP";
  Outage outage(where.Text(0, 0), std::stoi(where.Text(0, 1)));
  PgOptions options;
  options.statement_timeout = milliseconds(300);  // the client waits 5 s more for an answer
  PgMetaStore store(
      PgDatabase::Open(WithConnectionParameters(
                           db_->url(), {"host=127.0.0.1", "port=" + std::to_string(outage.port())}),
                       options));
  store.LinkBlob(kRepo, kBlob, 1);
  outage.Freeze();
  const auto start = steady_clock::now();
  EXPECT_THROW(store.PutManifest(kRepo, Manifest(), "v1"), StoreUnavailable);
  EXPECT_LT(Since(start), milliseconds(8000));
  outage.Down();
  EXPECT_FALSE(db_->OpenMeta()->GetManifest(kRepo, kDigest));
}

TEST_F(PgStoreTest, AStatementPastItsTimeoutIsRolledBackAndReportedUnavailable) {
  PgOptions options;
  options.statement_timeout = milliseconds(300);
  PgMetaStore store(db_->OpenDatabase(options));
  store.LinkBlob(kRepo, kBlob, 1);
  PgConnection blocker(TestPostgresUrl(), PgOptions{});
  blocker.Exec("BEGIN");
  blocker.Exec(("INSERT INTO " + db_->schema() +
                ".tags(instance, repo, tag, digest) VALUES('inc', 'team/app', 'v1', 'x')")
                   .c_str());
  const auto start = steady_clock::now();
  EXPECT_THROW(store.PutManifest(kRepo, Manifest(), "v1"), StoreUnavailable);
  EXPECT_LT(Since(start), milliseconds(5000));
  blocker.Exec("ROLLBACK");
  EXPECT_FALSE(store.GetManifest(kRepo, kDigest));
  EXPECT_FALSE(store.PutManifest(kRepo, Manifest(), "v1"));  // the same connection, reused
}

// COPY's binary rows, field by field: NULL and empty apart, bytes as stored. An error the
// server meets half-way through is the statement's error, and leaves the connection usable; a
// callback that throws leaves it in the middle of the COPY, so it is never used again (but it
// was not lost).
TEST_F(PgStoreTest, CopyOutHandsEachRowAsStoredAndEndsOnEveryError) {
  PgConnection c(TestPostgresUrl(), PgOptions{});
  std::vector<std::vector<std::optional<std::string>>> rows;
  auto keep = [&](PgConnection::CopyRow fields) {
    std::vector<std::optional<std::string>> row;
    for (const auto& f : fields) row.push_back(f ? std::optional<std::string>(*f) : std::nullopt);
    rows.push_back(std::move(row));
  };
  c.CopyOut(
      "COPY (SELECT * FROM (VALUES ('a', NULL, 1), ('', E'x\\ty\\n\\\\', 2)) v(s, t, n) "
      "ORDER BY n) TO STDOUT (FORMAT binary)",
      keep);
  using Field = std::optional<std::string>;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<Field>{"a", std::nullopt, std::string("\0\0\0\1", 4)}));
  EXPECT_EQ(rows[1], (std::vector<Field>{"", "x\ty\n\\", std::string("\0\0\0\2", 4)}));

  rows.clear();
  EXPECT_THROW(c.CopyOut("COPY (SELECT 10 / (5 - g) FROM generate_series(1, 9) g) TO STDOUT "
                         "(FORMAT binary)",
                         keep),
               StoreError);
  EXPECT_LE(rows.size(), 4u);
  EXPECT_TRUE(c.usable());
  EXPECT_EQ(c.Exec("SELECT 1").rows(), 1);

  struct GaveUp {};
  EXPECT_THROW(c.CopyOut("COPY (SELECT g FROM generate_series(1, 100000) g) TO STDOUT "
                         "(FORMAT binary)",
                         [](PgConnection::CopyRow) { throw GaveUp{}; }),
               GaveUp);
  EXPECT_FALSE(c.usable());
  EXPECT_FALSE(c.lost());

  PgConnection other(TestPostgresUrl(), PgOptions{});
  EXPECT_THROW(other.CopyOut("SELECT 1", keep), StoreError);
}

// The server goes away while start-up reads the World: the read fails as unavailable (not with
// the rows read so far taken for the World), and the next one reconnects and reads every row.
TEST_F(PgStoreTest, AConnectionKilledWhileTheWorldIsReadFailsTheReadAndTheNextReadsItWhole) {
  PgAdminStore store(db_->OpenDatabase());
  // 20 MB: more than the sockets between the server and the store hold.
  std::vector<WorldRow> rows;
  for (int i = 0; i < 20000; ++i) {
    rows.push_back({"allow", "k" + std::to_string(100000 + i), std::string(1000, 'b')});
  }
  ASSERT_TRUE(store.SaveWorldChanges(rows, 0));
  size_t visited = 0;
  EXPECT_THROW(store.ReadWorldRows({"instance", "allow"},
                                   [&](const WorldRow&) {
                                     if (visited++ == 0) {
                                       EXPECT_EQ(db_->TerminateStoreConnections(), 1);
                                     }
                                   }),
               StoreUnavailable);
  EXPECT_GE(visited, 1u);
  visited = 0;
  std::string last;
  store.ReadWorldRows({"allow"}, [&](const WorldRow& row) {
    EXPECT_LT(last, row.key);
    last = row.key;
    ++visited;
  });
  EXPECT_EQ(visited, rows.size());
}

// Start-up on PostgreSQL: a bad row far into a big World stops it (the reading thread, in the
// middle of a COPY, gives up too), and the pool serves the next start-up, which reads the World
// whole once the row is good again.
TEST_F(PgStoreTest, ABadRowFarIntoABigWorldStopsStartUpAndTheNextStartsWhole) {
  PgAdminStore store(db_->OpenDatabase());
  const access::World world = kura::testing::BigWorld(3000);
  admin::ReplaceSavedWorld(store, world);
  const uint64_t revision = store.WorldRevision();
  const std::string key = kura::testing::BigWorldAllowKey(2999, 9);
  ASSERT_EQ(key, "i2999 10.11.249.9/32");
  std::optional<std::string> good;
  store.ReadWorldRows({"allow"}, [&](const WorldRow& row) {
    if (row.key == key) good = row.body;
  });
  ASSERT_TRUE(good);
  ASSERT_TRUE(store.SaveWorldChanges(
      {{"allow", key, R"({"cidr":"10.11.249.9/32","description":1})"}}, revision));
  EXPECT_THROW(admin::ExposureState(store, "kura.test"), admin::DocumentError);
  ASSERT_TRUE(store.SaveWorldChanges({{"allow", key, good}}, revision + 1));
  admin::ExposureState state(store, "kura.test");
  EXPECT_EQ(admin::WorldToRows(*state.Snapshot()), admin::WorldToRows(world));
}

TEST_F(PgStoreTest, EveryConnectionBusyIsUnavailableAfterTheAcquireTimeout) {
  PgOptions options;
  options.max_connections = 1;
  options.acquire_timeout = milliseconds(200);
  std::shared_ptr<PgDatabase> db = db_->OpenDatabase(options);
  PgMetaStore store(db);
  {
    PgDatabase::Lease held = db->Acquire();
    const auto start = steady_clock::now();
    EXPECT_THROW(store.RepositoryExists(kRepo), StoreUnavailable);
    EXPECT_GE(Since(start), milliseconds(150));
    EXPECT_LT(Since(start), milliseconds(3000));
  }
  EXPECT_FALSE(store.RepositoryExists(kRepo));
}

TEST_F(PgStoreTest, TheSchemaMustBeMigratedBeforeUse) {
  PgTestDatabase fresh(false);
  try {
    PgDatabase::Open(fresh.url());
    ADD_FAILURE() << "an empty database was opened";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("kura db migrate"), std::string::npos) << e.what();
  }
  std::shared_ptr<PgDatabase> pool = PgDatabase::Connect(fresh.url());
  EXPECT_EQ(pg_schema::CurrentVersion(*pool), 0);
  pg_schema::MigrationResult first = pg_schema::Migrate(*pool, 1);
  EXPECT_EQ(first.from, 0);
  EXPECT_EQ(first.to, 1);
  EXPECT_THROW(PgDatabase::Open(fresh.url()), StoreError);  // older than this kura's
  PgOptions migrate;
  migrate.apply_migrations = true;
  PgMetaStore store(PgDatabase::Open(fresh.url(), migrate));
  EXPECT_EQ(pg_schema::CurrentVersion(*pool), pg_schema::LatestVersion());
  store.LinkBlob(kRepo, kBlob, 1);
  pg_schema::MigrationResult again = pg_schema::Migrate(*pool);
  EXPECT_EQ(again.from, again.to);
  PgDatabase::Open(fresh.url());
}

TEST_F(PgStoreTest, ASchemaNewerThanThisKuraIsRefused) {
  db_->Control().Exec(("INSERT INTO " + db_->schema() +
                       ".schema_version(version, description) VALUES(1000, 'from the future')")
                          .c_str());
  try {
    PgDatabase::Open(db_->url());
    ADD_FAILURE() << "a newer schema was opened";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pg_schema::Migrate(*PgDatabase::Connect(db_->url())), StoreError);
}

TEST_F(PgStoreTest, NodesMigratingAtOnceApplyEachMigrationOnce) {
  PgTestDatabase fresh(false);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] { pg_schema::Migrate(*PgDatabase::Connect(fresh.url())); });
  }
  for (auto& th : threads) th.join();
  PgResult rows = PgQuery(fresh.Control(),
                          "SELECT count(*) FROM pg_namespace n JOIN pg_class c "
                          "ON c.relnamespace = n.oid WHERE n.nspname = $1 AND "
                          "c.relname = 'schema_version'")
                      .Bind(fresh.schema())
                      .Run();
  EXPECT_EQ(rows.Int(0, 0), 1);
  PgResult versions = fresh.Control().Exec(
      ("SELECT version FROM " + fresh.schema() + ".schema_version ORDER BY version").c_str());
  EXPECT_EQ(versions.rows(), pg_schema::LatestVersion());
}

TEST_F(PgStoreTest, KuraDbMigrateReportsTheVersionAndExitsZero) {
  PgTestDatabase fresh(false);
  std::ostringstream out, err;
  EXPECT_EQ(cli::MigrateDatabase(fresh.url(), out, err), 0) << err.str();
  EXPECT_NE(out.str().find("version " + std::to_string(pg_schema::LatestVersion())),
            std::string::npos)
      << out.str();
  std::ostringstream again;
  EXPECT_EQ(cli::MigrateDatabase(fresh.url(), again, err), 0);
  EXPECT_NE(again.str().find("nothing to do"), std::string::npos) << again.str();
}

// Without a database: these need libpq only.

TEST(PgUnreachable, ARefusedConnectionIsUnavailableAtOnceAndRetriesBackOff) {
  LoopbackPort nothing(false);
  std::shared_ptr<PgDatabase> db = PgDatabase::Connect(nothing.Url());
  PgMetaStore store(db);
  auto start = steady_clock::now();
  EXPECT_THROW(store.RepositoryExists(kRepo), StoreUnavailable);
  EXPECT_LT(Since(start), milliseconds(3000));
  // The next attempt waits for the backoff: the call in between fails at once, saying so.
  start = steady_clock::now();
  try {
    store.LinkBlob(kRepo, kBlob, 1);
    ADD_FAILURE() << "stored without a database";
  } catch (const StoreUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("next attempt"), std::string::npos) << e.what();
  }
  EXPECT_LT(Since(start), milliseconds(50));
  EXPECT_THROW(PgDatabase::Open(nothing.Url()), StoreUnavailable);
}

TEST(PgUnreachable, AServerThatNeverAnswersIsUnavailableWithinTheConnectTimeout) {
  LoopbackPort silent(true);
  PgOptions options;
  options.connect_timeout_seconds = 2;
  const auto start = steady_clock::now();
  EXPECT_THROW(PgDatabase::Open(silent.Url(), options), StoreUnavailable);
  EXPECT_LT(Since(start), milliseconds(6000));
}

TEST(PgUnreachable, KuraDbMigrateSaysWhyInOneLineAndExitsOne) {
  LoopbackPort nothing(false);
  std::ostringstream out, err;
  EXPECT_EQ(cli::MigrateDatabase(nothing.Url(), out, err), 1);
  const std::string line = err.str();
  EXPECT_TRUE(line.starts_with("kura db migrate: cannot connect to PostgreSQL: ")) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
}

}  // namespace
}  // namespace kura::store
