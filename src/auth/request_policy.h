// Who may do what on an instance's registry: the authorization decision of a request, and what a
// token request is granted. Pure: the caller gathers the facts (who is calling and how, what the
// request is, the instance's namespaces) and applies the answer; nothing here does I/O or knows
// HTTP. access::Admit decides beforehand whether the connection may reach the endpoint at all.
//
// The rules:
//  - GET /v2/ (the login check) needs a signed-in caller: a password, or a token with a subject.
//  - The catalog needs a password, or a token granting registry:catalog:*.
//  - A repository: a password may do everything in its instance; a token does what it grants
//    (DELETE is also allowed by push, as clients that delete ask for either); anyone may pull
//    from a public namespace. Otherwise the answer is a Bearer challenge naming the scope, with
//    error="insufficient_scope" for a token that lacks it.
//  - A cross-repository mount needs pull on the source too; without it the request goes on as a
//    plain upload session (the mount is dropped, as the distribution spec allows).
//  - A push by a signed-in caller into a namespace that does not exist creates it, private.
//  - Tokens: a password is granted every known action it asks for on repositories, and the
//    catalog; anyone else only pull of public namespaces. The subject is the password's user.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/scope.h"
#include "auth/token.h"

namespace kura::auth {

// Who is calling, and how they proved it.
struct Principal {
  enum class Via { kAnonymous, kPassword, kToken } via = Via::kAnonymous;
  std::string user;                           // empty when anonymous (and in anonymous tokens)
  std::shared_ptr<const TokenClaims> claims;  // kToken only
};

// What a request is, as far as authorization cares.
struct RequestFacts {
  enum class Route {
    kBase,           // /v2/
    kCatalog,        // /v2/_catalog
    kRepository,     // tags, manifests, blobs, referrers of `repository`
    kUploadStart,    // POST /v2/<repository>/blobs/uploads/
    kUploadSession,  // /v2/<repository>/blobs/uploads/<id>
    kUnknown,        // anything else: the registry answers 404, no authorization needed
  } route = Route::kUnknown;
  enum class Method { kRead, kDelete, kWrite } method = Method::kRead;  // GET/HEAD, DELETE, other
  std::string_view repository;
  std::string_view mount_from;  // the `from` of a mount (upload start), empty for none
};

// The namespaces of the instance a request is for, looked up only when a rule needs one.
class NamespaceFacts {
 public:
  virtual ~NamespaceFacts() = default;
  // Whether namespace `name` is public; nullopt when it does not exist.
  virtual std::optional<bool> IsPublic(std::string_view name) const = 0;
};

struct RequestDecision {
  enum class Verdict { kAllow, kChallenge } verdict = Verdict::kAllow;
  // kChallenge: the scope the client should ask a token for ("" for none) and the error of the
  // challenge ("" for none, or "insufficient_scope").
  std::string scope;
  std::string_view error;
  // kAllow: serve an upload start without its mount (no pull on the mount's source).
  bool drop_mount = false;
  // kAllow: create this namespace, private, before serving ("" for none).
  std::string_view create_namespace;

  bool operator==(const RequestDecision&) const = default;
};

// The decision for one request.
RequestDecision DecideRequest(const RequestFacts& request, const Principal& caller,
                              const NamespaceFacts& namespaces);

// What a token request gets: the subject and the access to put in the token.
struct TokenGrant {
  std::string subject;
  std::vector<Access> access;
};
// `requested` as ParseScopeParams returns it. Entries granted nothing are left out.
TokenGrant GrantToken(const std::vector<Access>& requested, const Principal& caller,
                      const NamespaceFacts& namespaces);

// The namespace of a repository: its first path component.
std::string_view NamespaceOf(std::string_view repository);

}  // namespace kura::auth
