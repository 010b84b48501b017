#include "auth/request_policy.h"

namespace kura::auth {
namespace {

using Route = RequestFacts::Route;
using Method = RequestFacts::Method;
using Via = Principal::Via;

bool SignedIn(const Principal& caller) {
  return caller.via != Via::kAnonymous && !caller.user.empty();
}

bool IsPublic(const NamespaceFacts& namespaces, std::string_view repository) {
  return namespaces.IsPublic(NamespaceOf(repository)).value_or(false);
}

// May `caller` do `action` on `repository`?
bool MayDo(const Principal& caller, const NamespaceFacts& namespaces, std::string_view repository,
           std::string_view action) {
  if (caller.via == Via::kPassword) return true;
  if (caller.via == Via::kToken && caller.claims) {
    if (Allows(*caller.claims, "repository", repository, action)) return true;
    if (action == kActionDelete && Allows(*caller.claims, "repository", repository, kActionPush)) {
      return true;
    }
  }
  return action == kActionPull && IsPublic(namespaces, repository);
}

RequestDecision Challenge(std::string scope, std::string_view error = {}) {
  RequestDecision d;
  d.verdict = RequestDecision::Verdict::kChallenge;
  d.scope = std::move(scope);
  d.error = error;
  return d;
}

}  // namespace

std::string_view NamespaceOf(std::string_view repository) {
  return repository.substr(0, repository.find('/'));
}

RequestDecision DecideRequest(const RequestFacts& request, const Principal& caller,
                              const NamespaceFacts& namespaces) {
  switch (request.route) {
    case Route::kUnknown:
      return {};
    case Route::kBase:
      if (SignedIn(caller)) return {};
      return Challenge({});
    case Route::kCatalog:
      if (caller.via == Via::kPassword) return {};
      if (caller.via == Via::kToken && caller.claims &&
          Allows(*caller.claims, "registry", "catalog", "*")) {
        return {};
      }
      return Challenge("registry:catalog:*");
    case Route::kRepository:
    case Route::kUploadStart:
    case Route::kUploadSession:
      break;
  }
  std::string_view action = kActionPush;
  if (request.method == Method::kRead) {
    action = kActionPull;
  } else if (request.method == Method::kDelete && request.route != Route::kUploadSession) {
    action = kActionDelete;  // cancelling an upload is part of pushing
  }
  if (!MayDo(caller, namespaces, request.repository, action)) {
    std::string scope = "repository:";
    scope.append(request.repository).append(1, ':').append(action);
    return Challenge(std::move(scope), caller.via == Via::kToken ? "insufficient_scope" : "");
  }
  RequestDecision d;
  if (request.route == Route::kUploadStart && action == kActionPush &&
      !request.mount_from.empty() && !MayDo(caller, namespaces, request.mount_from, kActionPull)) {
    d.drop_mount = true;
  }
  if (action == kActionPush && SignedIn(caller)) {
    std::string_view ns = NamespaceOf(request.repository);
    if (!namespaces.IsPublic(ns).has_value()) d.create_namespace = ns;
  }
  return d;
}

TokenGrant GrantToken(const std::vector<Access>& requested, const Principal& caller,
                      const NamespaceFacts& namespaces) {
  const bool password = caller.via == Via::kPassword;
  TokenGrant grant;
  if (password) grant.subject = caller.user;
  for (const Access& want : requested) {
    Access got{want.type, want.name, {}};
    if (want.type == "repository") {
      for (const std::string& action : want.actions) {
        if (!IsKnownAction(action)) continue;
        if (password || (action == kActionPull && IsPublic(namespaces, want.name))) {
          got.actions.insert(action);
        }
      }
    } else if (want.type == "registry" && want.name == "catalog" && password) {
      got.actions = want.actions;
    }
    if (!got.actions.empty()) grant.access.push_back(std::move(got));
  }
  return grant;
}

}  // namespace kura::auth
