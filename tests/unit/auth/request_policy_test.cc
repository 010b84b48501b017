// The authorization table: one row per case of auth::DecideRequest, and one per case of
// auth::GrantToken.
#include "auth/request_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kura::auth {
namespace {

using Route = RequestFacts::Route;
using Method = RequestFacts::Method;
using Verdict = RequestDecision::Verdict;

// The instance's namespaces: "pub" is public, "priv" private, anything else does not exist.
// Counts lookups, so that rows can say none was needed.
class FakeNamespaces final : public NamespaceFacts {
 public:
  std::optional<bool> IsPublic(std::string_view name) const override {
    ++lookups;
    if (name == "pub") return true;
    if (name == "priv") return false;
    return std::nullopt;
  }
  mutable int lookups = 0;
};

Principal Anonymous() {
  return {};
}
Principal Password(std::string user = "alice") {
  return {Principal::Via::kPassword, std::move(user), nullptr};
}
Principal Token(std::vector<Access> access, std::string subject = "alice") {
  auto claims = std::make_shared<TokenClaims>();
  claims->subject = subject;
  claims->access = std::move(access);
  return {Principal::Via::kToken, std::move(subject), std::move(claims)};
}

RequestDecision Allow() {
  return {};
}
RequestDecision AllowCreating(std::string_view ns) {
  RequestDecision d;
  d.create_namespace = ns;
  return d;
}
RequestDecision AllowWithoutMount(std::string_view create = {}) {
  RequestDecision d;
  d.drop_mount = true;
  d.create_namespace = create;
  return d;
}
RequestDecision Challenge(std::string scope, std::string_view error = {}) {
  RequestDecision d;
  d.verdict = Verdict::kChallenge;
  d.scope = std::move(scope);
  d.error = error;
  return d;
}

struct Row {
  const char* name;
  RequestFacts request;
  Principal caller;
  RequestDecision want;
};

RequestFacts Req(Route route, Method method = Method::kRead, std::string_view repository = {},
                 std::string_view from = {}) {
  return {route, method, repository, from};
}

const std::vector<Access> kPullPubApp = {{"repository", "pub/app", {"pull"}}};
const std::vector<Access> kPushTeamApp = {{"repository", "team/app", {"push"}}};
const std::vector<Access> kAllTeamApp = {{"repository", "team/app", {"*"}}};
const std::vector<Access> kCatalog = {{"registry", "catalog", {"*"}}};

TEST(RequestPolicyTest, Table) {
  const std::vector<Row> rows = {
      // GET /v2/: signed in or challenged without a scope.
      {"base, anonymous", Req(Route::kBase), Anonymous(), Challenge("")},
      {"base, password", Req(Route::kBase), Password(), Allow()},
      {"base, token with a subject", Req(Route::kBase), Token({}), Allow()},
      {"base, anonymous token", Req(Route::kBase), Token(kPullPubApp, ""), Challenge("")},
      // Unknown routes are the registry's 404.
      {"unknown route, anonymous", Req(Route::kUnknown), Anonymous(), Allow()},
      // Catalog.
      {"catalog, anonymous", Req(Route::kCatalog), Anonymous(), Challenge("registry:catalog:*")},
      {"catalog, password", Req(Route::kCatalog), Password(), Allow()},
      {"catalog, token granting it", Req(Route::kCatalog), Token(kCatalog), Allow()},
      {"catalog, token without it", Req(Route::kCatalog), Token(kAllTeamApp),
       Challenge("registry:catalog:*")},
      // Pull.
      {"pull public, anonymous", Req(Route::kRepository, Method::kRead, "pub/app"), Anonymous(),
       Allow()},
      {"pull private, anonymous", Req(Route::kRepository, Method::kRead, "priv/app"), Anonymous(),
       Challenge("repository:priv/app:pull")},
      {"pull missing namespace, anonymous", Req(Route::kRepository, Method::kRead, "none/app"),
       Anonymous(), Challenge("repository:none/app:pull")},
      {"pull private, password", Req(Route::kRepository, Method::kRead, "priv/app"), Password(),
       Allow()},
      {"pull, token granting pull", Req(Route::kRepository, Method::kRead, "pub/app"),
       Token(kPullPubApp), Allow()},
      {"pull, token granting *", Req(Route::kRepository, Method::kRead, "team/app"),
       Token(kAllTeamApp), Allow()},
      {"pull, token for another repository", Req(Route::kRepository, Method::kRead, "team/other"),
       Token(kAllTeamApp), Challenge("repository:team/other:pull", "insufficient_scope")},
      {"pull public, token for another repository",
       Req(Route::kRepository, Method::kRead, "pub/other"), Token(kAllTeamApp), Allow()},
      {"pull, token granting push only", Req(Route::kRepository, Method::kRead, "team/app"),
       Token(kPushTeamApp), Challenge("repository:team/app:pull", "insufficient_scope")},
      // Push (and namespaces created by a push).
      {"push public, anonymous", Req(Route::kUploadStart, Method::kWrite, "pub/app"), Anonymous(),
       Challenge("repository:pub/app:push")},
      {"push, token granting pull only", Req(Route::kUploadStart, Method::kWrite, "pub/app"),
       Token(kPullPubApp), Challenge("repository:pub/app:push", "insufficient_scope")},
      {"push existing namespace, password", Req(Route::kRepository, Method::kWrite, "priv/a"),
       Password(), Allow()},
      {"push new namespace, password", Req(Route::kRepository, Method::kWrite, "fresh/app"),
       Password(), AllowCreating("fresh")},
      {"push new namespace, token granting push",
       Req(Route::kUploadSession, Method::kWrite, "team/app"), Token(kPushTeamApp),
       AllowCreating("team")},
      {"push new namespace, anonymous token granting push",
       Req(Route::kUploadSession, Method::kWrite, "team/app"), Token(kPushTeamApp, ""), Allow()},
      {"cancel an upload is push, token granting push",
       Req(Route::kUploadSession, Method::kDelete, "team/app"), Token(kPushTeamApp),
       AllowCreating("team")},
      {"cancel an upload, anonymous", Req(Route::kUploadSession, Method::kDelete, "pub/app"),
       Anonymous(), Challenge("repository:pub/app:push")},
      // Delete.
      {"delete, password", Req(Route::kRepository, Method::kDelete, "priv/app"), Password(),
       Allow()},
      {"delete, token granting push", Req(Route::kRepository, Method::kDelete, "team/app"),
       Token(kPushTeamApp), Allow()},
      {"delete, token granting pull only", Req(Route::kRepository, Method::kDelete, "pub/app"),
       Token(kPullPubApp), Challenge("repository:pub/app:delete", "insufficient_scope")},
      {"delete public, anonymous", Req(Route::kRepository, Method::kDelete, "pub/app"), Anonymous(),
       Challenge("repository:pub/app:delete")},
      // Cross-repository mounts.
      {"mount from a pullable source, password",
       Req(Route::kUploadStart, Method::kWrite, "priv/copy", "priv/app"), Password(), Allow()},
      {"mount from a public source, token granting push",
       Req(Route::kUploadStart, Method::kWrite, "team/app", "pub/app"), Token(kPushTeamApp),
       AllowCreating("team")},
      {"mount from a private source, token granting push",
       Req(Route::kUploadStart, Method::kWrite, "team/app", "priv/app"), Token(kPushTeamApp),
       AllowWithoutMount("team")},
      {"mount from a private source, anonymous token granting push",
       Req(Route::kUploadStart, Method::kWrite, "team/app", "priv/app"), Token(kPushTeamApp, ""),
       AllowWithoutMount()},
  };
  for (const Row& row : rows) {
    FakeNamespaces namespaces;
    EXPECT_EQ(DecideRequest(row.request, row.caller, namespaces), row.want) << row.name;
  }
}

TEST(RequestPolicyTest, LooksUpNamespacesOnlyWhenARuleNeedsOne) {
  // The token pull path (every request of a client) does no lookup.
  FakeNamespaces namespaces;
  DecideRequest(Req(Route::kRepository, Method::kRead, "team/app"), Token(kAllTeamApp), namespaces);
  DecideRequest(Req(Route::kRepository, Method::kRead, "priv/app"), Password(), namespaces);
  DecideRequest(Req(Route::kBase), Token({}), namespaces);
  EXPECT_EQ(namespaces.lookups, 0);
  DecideRequest(Req(Route::kRepository, Method::kRead, "pub/app"), Anonymous(), namespaces);
  EXPECT_EQ(namespaces.lookups, 1);
}

TEST(RequestPolicyTest, NamespaceOf) {
  EXPECT_EQ(NamespaceOf("team/app"), "team");
  EXPECT_EQ(NamespaceOf("team/a/b"), "team");
  EXPECT_EQ(NamespaceOf("app"), "app");
}

struct GrantRow {
  const char* name;
  std::vector<Access> requested;
  Principal caller;
  std::string subject;
  std::vector<Access> granted;
};

TEST(RequestPolicyTest, TokenGrantTable) {
  const std::vector<GrantRow> rows = {
      {"password: every known action",
       {{"repository", "priv/app", {"pull", "push", "delete"}}},
       Password(),
       "alice",
       {{"repository", "priv/app", {"delete", "pull", "push"}}}},
      {"password: unknown actions dropped",
       {{"repository", "team/app", {"pull", "frobnicate"}}},
       Password(),
       "alice",
       {{"repository", "team/app", {"pull"}}}},
      {"password: catalog",
       {{"registry", "catalog", {"*"}}},
       Password(),
       "alice",
       {{"registry", "catalog", {"*"}}}},
      {"password: other resource types get nothing",
       {{"plugin", "x", {"pull"}}},
       Password(),
       "alice",
       {}},
      {"anonymous: pull of a public namespace",
       {{"repository", "pub/app", {"pull", "push"}}},
       Anonymous(),
       "",
       {{"repository", "pub/app", {"pull"}}}},
      {"anonymous: nothing of a private namespace",
       {{"repository", "priv/app", {"pull"}}},
       Anonymous(),
       "",
       {}},
      {"anonymous: nothing of a missing namespace",
       {{"repository", "none/app", {"pull"}}},
       Anonymous(),
       "",
       {}},
      {"anonymous: no catalog", {{"registry", "catalog", {"*"}}}, Anonymous(), "", {}},
      {"token caller: as anonymous",
       {{"repository", "priv/app", {"pull"}}, {"repository", "pub/app", {"pull"}}},
       Token(kAllTeamApp),
       "",
       {{"repository", "pub/app", {"pull"}}}},
      {"password: nothing asked", {}, Password(), "alice", {}},
  };
  for (const GrantRow& row : rows) {
    FakeNamespaces namespaces;
    TokenGrant grant = GrantToken(row.requested, row.caller, namespaces);
    EXPECT_EQ(grant.subject, row.subject) << row.name;
    EXPECT_EQ(grant.access, row.granted) << row.name;
  }
}

}  // namespace
}  // namespace kura::auth
