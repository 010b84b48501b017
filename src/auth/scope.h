// Scopes of the Docker registry token protocol: what a client asks the token endpoint for
// ("repository:library/alpine:pull,push", "registry:catalog:*") and what a token grants.
// The grammar is that of the distribution "Token Scope Documentation"; the choices it leaves
// open are written above each function. Pure functions: no I/O.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kura::auth {

// Actions of the protocol. Others may appear in a scope (see ParseScope) but imply none of these.
inline constexpr std::string_view kActionPull = "pull";
inline constexpr std::string_view kActionPush = "push";
inline constexpr std::string_view kActionDelete = "delete";
inline constexpr std::string_view kActionAll = "*";  // every action on the resource

// Actions on a resource, looked up by string_view (every request checks its token's actions).
using Actions = std::set<std::string, std::less<>>;

// One resource and the actions asked for or granted on it, e.g. {"repository", "foo/bar",
// {"pull", "push"}}. The same shape is the "access" entry of a token.
struct Access {
  std::string type;  // "repository", "registry", ...
  std::string name;  // "foo/bar", "localhost:5000/foo", "catalog"
  Actions actions;   // never empty after ParseScope

  bool operator==(const Access&) const = default;
};

// True for "pull", "push", "delete" and "*".
bool IsKnownAction(std::string_view action);

// Parses the value of one `scope` query parameter (already percent-decoded): one or more
// resource scopes separated by spaces, each `type:name:action[,action]*`.
//  - type is up to the first ':' and must match [a-z0-9]+; a class suffix as in
//    "repository(plugin)" is accepted and dropped (access does not depend on it).
//  - actions are after the last ':', so a name may hold a registry host with a port
//    ("repository:localhost:5000/foo:pull"). Each action is [a-z]+ or "*"; empty items
//    ("pull,,push", "pull,") are skipped, but at least one action must remain.
//  - unknown actions ("pull,frobnicate") are kept: parsing is syntax only. A token server
//    grants the intersection with what the user may do, and Allows() never lets an
//    unknown action stand for a known one.
//  - name must be non-empty and made of [A-Za-z0-9._/:-] (no spaces, quotes, commas or
//    backslashes, so a parsed scope is always safe to put back into a header).
//  - entries for the same type and name are merged (union of actions), in first-seen order.
// Returns nullopt if the value is empty or only spaces, or any resource scope is malformed.
std::optional<std::vector<Access>> ParseScope(std::string_view scope);

// Parses every `scope` query parameter of a request (clients send several, or one with
// spaces) as one list, merged as in ParseScope. A parameter that is exactly empty
// ("scope=") counts as absent, as for no parameters at all: the result is an empty list.
// Returns nullopt if any other parameter is malformed (ParseScope returns nullopt).
std::optional<std::vector<Access>> ParseScopeParams(const std::vector<std::string>& params);

// Formats one entry as "type:name:a1,a2" with the actions in sorted order.
std::string FormatAccess(const Access& access);

// Formats entries as ParseScope reads them: FormatAccess of each, separated by one space.
// ParseScope(FormatScope(x)) == x for every x that ParseScope returned.
std::string FormatScope(const std::vector<Access>& access);

// Quotes `value` as an HTTP quoted-string: wraps it in '"', escapes '"' and '\' with '\',
// and drops control characters (CR/LF could otherwise split the header).
std::string QuoteHeaderValue(std::string_view value);

// Value of a WWW-Authenticate header sending a client to the token endpoint, e.g.
//   Bearer realm="https://r.example/token",service="r.example",scope="repository:foo:pull"
// followed by `,error="insufficient_scope"` when `error` is given. Every value is quoted
// with QuoteHeaderValue; an absent or empty scope or error is left out.
std::string BearerChallenge(std::string_view realm, std::string_view service,
                            std::optional<std::string_view> scope = std::nullopt,
                            std::optional<std::string_view> error = std::nullopt);

}  // namespace kura::auth
