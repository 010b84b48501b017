#include "admin/world_document.h"

#include <nlohmann/json.hpp>

namespace kura::admin {

using nlohmann::json;

namespace {

// A network named in a document: {"account", "id"}, or (a document saved before network ids
// were scoped by account, when they were unique) a bare id.
access::NetworkKey NetworkRefOf(const access::World& w, const json& j) {
  if (j.is_object()) return {j.at("account").get<std::string>(), j.at("id").get<std::string>()};
  const std::string id = j.get<std::string>();
  for (const auto& [key, network] : w.networks()) {
    if (key.id == id) return key;
  }
  throw DocumentError("the saved exposure state names an unknown network " + id);
}

}  // namespace

nlohmann::json NetworkRefs(const std::vector<access::NetworkKey>& networks) {
  json out = json::array();
  for (const auto& n : networks) out.push_back({{"account", n.account}, {"id", n.id}});
  return out;
}

core::Cidr CidrOf(const json& j) {
  std::string why;
  auto c = core::Cidr::Parse(j.get<std::string>(), &why);
  if (!c) throw DocumentError(why);
  return *c;
}

core::IpAddress AddressOf(const json& j) {
  std::string why;
  auto a = core::IpAddress::Parse(j.get<std::string>(), &why);
  if (!a) throw DocumentError(why);
  return *a;
}

void Check(const access::Status& s) {
  if (!s.ok()) throw DocumentError(s.message());
}

nlohmann::json AllowlistJson(const access::Allowlist& allowlist) {
  json out = json::array();
  for (const auto& e : allowlist.entries()) {
    out.push_back({{"cidr", e.cidr.ToString()}, {"description", e.description}});
  }
  return out;
}

nlohmann::json BindingsJson(const access::VpcEndpointPolicy& vpc) {
  json out = json::array();
  for (const auto& b : vpc.bindings) {
    out.push_back(
        {{"network", b.network}, {"subnet", b.subnet}, {"private_ip", b.private_ip.ToString()}});
  }
  return out;
}

std::string WorldToDocument(const access::World& world) {
  json doc = {{"version", 1}, {"domain", world.domain()}};
  json& accounts = doc["accounts"] = json::array();
  for (const auto& [id, a] : world.accounts()) accounts.push_back({{"id", id}, {"name", a.name}});
  json& regions = doc["regions"] = json::array();
  for (const auto& [id, r] : world.regions()) regions.push_back({{"id", id}, {"name", r.name}});
  json& networks = doc["networks"] = json::array();
  for (const auto& [key, n] : world.networks()) {
    json cidrs = json::array();
    for (const auto& c : n.cidrs) cidrs.push_back(c.ToString());
    networks.push_back(
        {{"id", n.id}, {"account", n.account}, {"region", n.region}, {"cidrs", cidrs}});
  }
  json& subnets = doc["subnets"] = json::array();
  for (const auto& [id, s] : world.subnets()) {
    subnets.push_back({{"id", id},
                       {"network", {{"account", s.network.account}, {"id", s.network.id}}},
                       {"cidr", s.cidr.ToString()}});
  }
  json& hosts = doc["hosts"] = json::array();
  for (const auto& [id, h] : world.hosts()) {
    json host = {{"id", id}, {"subnet", h.subnet}, {"private_ip", h.private_ip.ToString()}};
    if (h.public_ip) host["public_ip"] = h.public_ip->ToString();
    hosts.push_back(host);
  }
  json& transits = doc["transit_networks"] = json::array();
  for (const auto& [id, t] : world.transit_networks()) {
    transits.push_back({{"id", id}, {"networks", NetworkRefs(t.networks)}});
  }
  json& instances = doc["instances"] = json::array();
  for (const auto& [name, i] : world.instances()) {
    json allowlist = AllowlistJson(i.internet.allowlist);
    json bindings = BindingsJson(i.vpc);
    instances.push_back({{"name", name},
                         {"account", i.account},
                         {"region", i.region},
                         {"edition", access::EditionName(i.edition)},
                         {"incarnation", i.incarnation},
                         {"internet_enabled", i.internet.enabled},
                         {"allowlist", allowlist},
                         {"bindings", bindings}});
  }
  json& zones = doc["zones"] = json::array();
  for (const auto& [id, z] : world.zones()) {
    json records = json::array();
    for (const auto& r : z.records) {
      records.push_back({{"name", r.name}, {"address", r.address.ToString()}});
    }
    zones.push_back({{"id", id},
                     {"name", z.name},
                     {"records", records},
                     {"attached_networks", NetworkRefs(z.attached_networks)}});
  }
  return doc.dump();
}

access::World WorldFromDocument(const std::string& document, const std::string& domain) {
  json doc = json::parse(document, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("version", 0) != 1) {
    throw DocumentError("the saved exposure state is not a version 1 document");
  }
  access::World w(domain);
  try {
    for (const auto& a : doc["accounts"]) Check(w.AddAccount({a["id"], a["name"]}));
    for (const auto& r : doc["regions"]) Check(w.AddRegion({r["id"], r["name"]}));
    for (const auto& n : doc["networks"]) {
      access::Network network{n["id"], n["account"], n["region"], {}};
      for (const auto& c : n["cidrs"]) network.cidrs.push_back(CidrOf(c));
      Check(w.AddNetwork(std::move(network)));
    }
    for (const auto& s : doc["subnets"]) {
      Check(w.AddSubnet({s["id"], NetworkRefOf(w, s["network"]), CidrOf(s["cidr"])}));
    }
    for (const auto& h : doc["hosts"]) {
      access::Host host{h["id"], h["subnet"], AddressOf(h["private_ip"]), std::nullopt};
      if (h.contains("public_ip")) host.public_ip = AddressOf(h["public_ip"]);
      Check(w.AddHost(std::move(host)));
    }
    for (const auto& t : doc["transit_networks"]) {
      access::TransitNetwork transit{t["id"], {}};
      for (const auto& n : t["networks"]) transit.networks.push_back(NetworkRefOf(w, n));
      Check(w.AddTransitNetwork(std::move(transit)));
    }
    for (const auto& i : doc["instances"]) {
      auto edition = access::ParseEdition(i["edition"].get<std::string>());
      if (!edition) throw DocumentError("unknown edition " + i["edition"].dump());
      std::string name = i["name"];
      Check(w.CreateInstance(name, i["account"], i["region"], *edition,
                             i.value("incarnation", std::string())));
      if (*edition == access::Edition::kEnterprise) {
        std::vector<access::AllowlistEntry> entries;
        for (const auto& e : i["allowlist"])
          entries.push_back({CidrOf(e["cidr"]), e["description"]});
        Check(w.ReplaceAllowlist(name, std::move(entries)));
        Check(w.SetInternetEnabled(name, i["internet_enabled"].get<bool>()));
      }
      for (const auto& b : i["bindings"]) {
        const access::NetworkKey network{i["account"], b["network"].get<std::string>()};
        Check(w.Bind(name, network, b["subnet"].get<std::string>(), nullptr,
                     AddressOf(b["private_ip"])));
      }
    }
    // Zones last: Bind made the zones of bindings; the document is the truth for every zone.
    for (const auto& z : doc["zones"]) {
      std::string id = z["id"];
      if (!w.FindZone(id)) Check(w.CreatePrivateZone(id, z["name"]));
      for (const auto& n : z["attached_networks"]) {
        const access::PrivateDnsZone* zone = w.FindZone(id);
        const access::NetworkKey network = NetworkRefOf(w, n);
        if (std::find(zone->attached_networks.begin(), zone->attached_networks.end(), network) ==
            zone->attached_networks.end()) {
          Check(w.AttachZone(id, network));
        }
      }
      std::vector<std::string> keep;
      for (const auto& r : z["records"]) {
        Check(w.SetRecord(id, {r["name"], AddressOf(r["address"])}));
        keep.push_back(r["name"]);
      }
      std::vector<std::string> stale;
      for (const auto& r : w.FindZone(id)->records) {
        if (std::find(keep.begin(), keep.end(), r.name) == keep.end()) stale.push_back(r.name);
      }
      for (const auto& name : stale) Check(w.RemoveRecord(id, name));
    }
  } catch (const json::exception& e) {
    throw DocumentError(std::string("the saved exposure state is malformed: ") + e.what());
  }
  return w;
}

}  // namespace kura::admin
