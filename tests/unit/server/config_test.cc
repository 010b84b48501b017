#include "server/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace kura::server {
namespace {

std::string WriteConfig(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("kura-config-" + std::to_string(::getpid()) + ".yml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(ConfigTest, ReadsEveryKey) {
  auto c = LoadConfig(WriteConfig(
      "listen: 0.0.0.0:6000\ndata: /srv/kura\nthreads: 3\n"
      "tls: {certificate: /c.pem, key: /k.pem}\nauth: {htpasswd: /h, realm: r}\n"
      "log: {access: true}\n"));
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 6000);
  EXPECT_EQ(c.data_dir, "/srv/kura");
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.tls_certificate, "/c.pem");
  EXPECT_EQ(c.htpasswd, "/h");
  EXPECT_EQ(c.realm, "r");
  EXPECT_TRUE(c.access_log);
}

TEST(ConfigTest, RefusesUnknownKeysAndBadValues) {
  EXPECT_THROW(LoadConfig(WriteConfig("lisen: 1.2.3.4:5\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("listen: nonsense\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("listen: 1.2.3.4:99999\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("tls: {certificate: /c.pem}\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("threads: many\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("[1, 2\n")), ConfigError);
}

TEST(ConfigTest, ListenForms) {
  ServerConfig c;
  SetListen(c, "[::1]:5001");
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 5001);
  SetListen(c, ":5002");
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_THROW(SetListen(c, "host:"), ConfigError);
}

}  // namespace
}  // namespace kura::server
