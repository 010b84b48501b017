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
  auto c = LoadConfig(
      WriteConfig("listen: 0.0.0.0:6000\ndata: /srv/kura\nthreads: 3\n"
                  "tls: {certificate: /c.pem, key: /k.pem}\nauth: {htpasswd: /h, realm: r}\n"
                  "log: {access: true}\n"));
  EXPECT_EQ(c.registry.host, "0.0.0.0");
  EXPECT_EQ(c.registry.port, 6000);
  EXPECT_EQ(c.data_dir, "/srv/kura");
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.registry.tls_certificate, "/c.pem");
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
  EXPECT_THROW(LoadConfig(WriteConfig("threads: 100000\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("[1, 2\n")), ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("endpoints: [{listen: 1.2.3.4:5, endpoint: moon}]\n")),
               ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("endpoints: [{listen: 1.2.3.4:5, endpoint: vpc}]\n")),
               ConfigError);
  EXPECT_THROW(LoadConfig(WriteConfig("domain: Not_A_Domain\n")), ConfigError);
  EXPECT_THROW(
      LoadConfig(WriteConfig("admin: {listen: 1.2.3.4:5, accounts: {A: {token: short}}}\n")),
      ConfigError);
}

TEST(ConfigTest, UploadLimits) {
  auto defaults = LoadConfig(WriteConfig("data: /srv/kura\n"));
  EXPECT_EQ(defaults.max_uploads, 128u);
  EXPECT_EQ(defaults.max_uploads_per_instance, 32u);
  auto c = LoadConfig(WriteConfig("limits: {uploads: 7, uploads_per_instance: 3}\n"));
  EXPECT_EQ(c.max_uploads, 7u);
  EXPECT_EQ(c.max_uploads_per_instance, 3u);
  for (const char* bad :
       {"limits: {uploads: 0}\n", "limits: {uploads: -1}\n", "limits: {uploads: many}\n",
        "limits: {uploads_per_instance: 100001}\n", "limits: {upload: 3}\n", "limits: 5\n"}) {
    EXPECT_THROW(LoadConfig(WriteConfig(bad)), ConfigError) << bad;
  }
}

TEST(ConfigTest, ReadsEndpointsAndAdmin) {
  auto c = LoadConfig(WriteConfig(
      "listen: \"\"\ndomain: example.test\ntoken_ttl: 60\n"
      "endpoints:\n"
      "  - {listen: 198.51.100.5:80, endpoint: internet, proxy_protocol: [127.0.0.1/32]}\n"
      "  - {listen: 192.168.0.2:80, endpoint: vpc, network: vpc-a, network_account: A, "
      "netns: lab-a}\n"
      "admin: {listen: 127.0.0.1:5001, accounts: {A: {token: aaaaaaaaaaaaaaaaaaaa}}}\n"));
  EXPECT_FALSE(c.registry_enabled);
  EXPECT_EQ(c.domain, "example.test");
  EXPECT_EQ(c.token_ttl_seconds, 60);
  ASSERT_EQ(c.endpoints.size(), 2u);
  EXPECT_EQ(c.endpoints[0].role, ListenerRole::kInternet);
  ASSERT_EQ(c.endpoints[0].proxy_senders.size(), 1u);
  EXPECT_EQ(c.endpoints[1].role, ListenerRole::kVpc);
  EXPECT_EQ(c.endpoints[1].network, "vpc-a");
  EXPECT_EQ(c.endpoints[1].network_account, "A");
  EXPECT_EQ(c.endpoints[1].netns, "lab-a");
  EXPECT_TRUE(c.admin_enabled);
  EXPECT_EQ(c.admin.port, 5001);
  ASSERT_EQ(c.admin_accounts.size(), 1u);
  EXPECT_EQ(c.admin_accounts[0].id, "A");
}

TEST(ConfigTest, VpcListenerNamesTheOwnerOfItsNetwork) {
  auto refused = [](const std::string& endpoint) -> std::string {
    try {
      LoadConfig(WriteConfig("endpoints:\n  - " + endpoint + "\n"));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(refused("{listen: 1.2.3.4:80, endpoint: vpc, network: vpc-a}")
                .find("network vpc-a needs network_account"),
            std::string::npos);
  EXPECT_NE(refused("{listen: 1.2.3.4:80, endpoint: vpc, proxy_protocol: [10.0.0.0/8]}")
                .find("needs network_account"),
            std::string::npos);
  EXPECT_NE(refused("{listen: 1.2.3.4:80, endpoint: vpc, network: A/vpc-a, network_account: A}")
                .find("is not a network id"),
            std::string::npos);
  auto c = LoadConfig(WriteConfig(
      "endpoints:\n  - {listen: 1.2.3.4:80, endpoint: vpc, proxy_protocol: [10.0.0.0/8], "
      "network_account: B}\n"));
  EXPECT_EQ(c.endpoints[0].network, "");
  EXPECT_EQ(c.endpoints[0].network_account, "B");
}

TEST(ConfigTest, ListenForms) {
  ListenerConfig c;
  SetListen(c, "[::1]:5001");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 5001);
  SetListen(c, ":5002");
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_THROW(SetListen(c, "host:"), ConfigError);
}

TEST(ConfigTest, ReadsTheSharedStoresHealthAndProxyKeys) {
  auto c = LoadConfig(WriteConfig(
      "metadata: {postgres: 'postgresql://kura@db/kura'}\n"
      "blobs: {s3: {endpoint: 'http://127.0.0.1:7480', bucket: kura, prefix: reg, region: r1,"
      " access_key: K, secret_key: S}}\n"
      "health: {listen: 127.0.0.1:5002}\n"
      "proxy_protocol: [127.0.0.2/32]\n"));
  EXPECT_EQ(c.postgres, "postgresql://kura@db/kura");
  ASSERT_TRUE(c.s3);
  EXPECT_EQ(c.s3->endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(c.s3->bucket, "kura");
  EXPECT_EQ(c.s3->prefix, "reg/");  // a prefix names a folder
  EXPECT_EQ(c.s3->region, "r1");
  EXPECT_EQ(c.s3->access_key, "K");
  EXPECT_EQ(c.s3->secret_key, "S");
  EXPECT_TRUE(c.health_enabled);
  EXPECT_EQ(c.health.port, 5002);
  EXPECT_EQ(c.health.role, ListenerRole::kHealth);
  ASSERT_EQ(c.registry.proxy_senders.size(), 1u);
}

TEST(ConfigTest, RefusesBadSharedStoresHealthAndProxyKeys) {
  for (const char* bad : {
           "metadata: {}\n",
           "metadata: {postgres: ''}\n",
           "metadata: {sqlite: x}\n",
           "blobs: {}\n",
           "blobs: {s3: {endpoint: 'ftp://x', bucket: b}}\n",
           "blobs: {s3: {endpoint: 'http://x'}}\n",
           "blobs: {s3: {endpoint: 'http://x', bucket: b, colour: red}}\n",
           "health: {}\n",
           "health: {listen: nonsense}\n",
           "proxy_protocol: 127.0.0.1/32\n",
           "proxy_protocol: [not-a-cidr]\n",
       }) {
    EXPECT_THROW(LoadConfig(WriteConfig(bad)), ConfigError) << bad;
  }
}

}  // namespace
}  // namespace kura::server
