// A registry whose metadata database cannot be reached answers 503 with Retry-After: the client
// may try the same request again (store::StoreUnavailable, meta_store.h).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>

#include "registry/registry.h"
#include "store/fs_blob_store.h"
#include "store/pg_meta_store.h"
#include "test_paths.h"

namespace kura::registry {
namespace {

class EmptyBody : public BodyReader {
 public:
  asio::awaitable<size_t> Read(char*, size_t) override { co_return 0; }
  std::optional<uint64_t> ContentLength() const override { return 0; }
};

// A loopback port with nothing listening.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(UnavailableDatabase, TheRegistryAnswers503WithRetryAfter) {
  const std::filesystem::path dir = kura::testing::ScratchPath("unavailable-db");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    store::FsBlobStore blobs(dir.string());
    store::PgMetaStore meta(store::PgDatabase::Connect(
        "postgresql://postgres@127.0.0.1:" + std::to_string(ClosedPort()) + "/kura"));
    Registry registry(blobs, meta, UploadLimits{});
    http::request_header<> header;
    header.method(http::verb::get);
    EmptyBody body;
    Request req{header, "/v2/library/app/manifests/v1", "", body, "inc", ""};
    asio::io_context io;
    auto answer = asio::co_spawn(io, registry.Handle(req), asio::use_future);
    io.run();
    Response r = answer.get();
    EXPECT_EQ(r.status, http::status::service_unavailable) << r.body;
    EXPECT_EQ(r.fields[http::field::retry_after], "1");
    EXPECT_NE(r.body.find("database is unavailable"), std::string::npos) << r.body;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kura::registry
