// The World as one JSON document: how the admin side persists it in the metadata store.
// Restoring replays the World's own operations, so a document can never smuggle in a state the
// rules of EXPOSURE.md forbid.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "access/world.h"

namespace kura::admin {

class DocumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string WorldToDocument(const access::World& world);

// [{cidr, description}...] and [{network, subnet, private_ip}...]: as the document and the admin
// API both show them.
nlohmann::json AllowlistJson(const access::Allowlist& allowlist);
nlohmann::json BindingsJson(const access::VpcEndpointPolicy& vpc);

// The pieces the saved forms share (this document, and the rows of world_rows.h).
// [{account, id}...]: networks named by their key.
nlohmann::json NetworkRefs(const std::vector<access::NetworkKey>& networks);
// A CIDR or an address written as text; DocumentError saying why it does not parse.
core::Cidr CidrOf(const nlohmann::json& j);
core::IpAddress AddressOf(const nlohmann::json& j);
// DocumentError with the message of a World operation that refused what was saved.
void Check(const access::Status& s);

// Rebuilds a World under `domain` from a document. Throws DocumentError naming the first thing
// that cannot be restored.
access::World WorldFromDocument(const std::string& document, const std::string& domain);

}  // namespace kura::admin
