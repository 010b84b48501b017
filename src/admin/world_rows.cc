#include "admin/world_rows.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "admin/world_document.h"

namespace kura::admin {

using nlohmann::json;
using store::WorldRow;

namespace {

// ---- Bodies.

json NetworkRef(const access::NetworkKey& n) {
  return {{"account", n.account}, {"id", n.id}};
}

std::string NamedBody(const std::string& name) {
  return json{{"name", name}}.dump();
}

std::string NetworkBody(const access::Network& n) {
  json cidrs = json::array();
  for (const auto& c : n.cidrs) cidrs.push_back(c.ToString());
  return json{{"id", n.id}, {"account", n.account}, {"region", n.region}, {"cidrs", cidrs}}.dump();
}

std::string SubnetBody(const access::Subnet& s) {
  return json{{"network", NetworkRef(s.network)}, {"cidr", s.cidr.ToString()}}.dump();
}

std::string HostBody(const access::Host& h) {
  json host = {{"subnet", h.subnet}, {"private_ip", h.private_ip.ToString()}};
  if (h.public_ip) host["public_ip"] = h.public_ip->ToString();
  return host.dump();
}

std::string TransitBody(const access::TransitNetwork& t) {
  return json{{"networks", NetworkRefs(t.networks)}}.dump();
}

std::string InstanceBody(const access::Instance& i) {
  return json{{"account", i.account},
              {"region", i.region},
              {"edition", access::EditionName(i.edition)},
              {"incarnation", i.incarnation},
              {"internet_enabled", i.internet.enabled}}
      .dump();
}

std::string AllowBody(const access::AllowlistEntry& e, size_t position) {
  return json{{"cidr", e.cidr.ToString()}, {"description", e.description}, {"position", position}}
      .dump();
}

std::string BindingBody(const access::VpcBinding& b) {
  return json{{"network", b.network}, {"subnet", b.subnet}, {"private_ip", b.private_ip.ToString()}}
      .dump();
}

std::string ZoneBody(const access::PrivateDnsZone& z) {
  json records = json::array();
  for (const auto& r : z.records) {
    records.push_back({{"name", r.name}, {"address", r.address.ToString()}});
  }
  return json{{"name", z.name},
              {"records", records},
              {"attached_networks", NetworkRefs(z.attached_networks)}}
      .dump();
}

// "name SP rest": the key of a row that belongs to an instance. Instance names hold no space.
std::string InstanceRowKey(const std::string& instance, const std::string& rest) {
  return instance + " " + rest;
}

// The instance an allow or binding row belongs to, and the rest of its key.
std::pair<std::string, std::string> SplitInstanceRowKey(const std::string& key) {
  size_t space = key.find(' ');
  if (space == std::string::npos) throw DocumentError("a saved World row has a bad key: " + key);
  return {key.substr(0, space), key.substr(space + 1)};
}

// The allow rows of an instance: key -> body.
std::map<std::string, std::string> AllowRows(const access::Instance& i) {
  std::map<std::string, std::string> rows;
  const auto& entries = i.internet.allowlist.entries();
  for (size_t p = 0; p < entries.size(); ++p) {
    rows[InstanceRowKey(i.name, entries[p].cidr.ToString())] = AllowBody(entries[p], p);
  }
  return rows;
}

std::map<std::string, std::string> BindingRows(const access::Instance& i) {
  std::map<std::string, std::string> rows;
  for (const auto& b : i.vpc.bindings) rows[InstanceRowKey(i.name, b.network)] = BindingBody(b);
  return rows;
}

// ---- Reading bodies.

json Parse(const WorldRow& row) {
  json j = json::parse(row.body.value_or(""), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw DocumentError("the saved World row " + row.kind + " " + row.key + " is not JSON");
  }
  return j;
}

access::NetworkKey NetworkRefOf(const json& j) {
  return {j.at("account").get<std::string>(), j.at("id").get<std::string>()};
}

access::Network NetworkOf(const json& n) {
  access::Network network{n.at("id"), n.at("account"), n.at("region"), {}};
  for (const auto& c : n.at("cidrs")) network.cidrs.push_back(CidrOf(c));
  return network;
}

access::Subnet SubnetOf(const std::string& id, const json& s) {
  return {id, NetworkRefOf(s.at("network")), CidrOf(s.at("cidr"))};
}

access::Host HostOf(const std::string& id, const json& h) {
  access::Host host{id, h.at("subnet"), AddressOf(h.at("private_ip")), std::nullopt};
  if (h.contains("public_ip")) host.public_ip = AddressOf(h.at("public_ip"));
  return host;
}

access::TransitNetwork TransitOf(const std::string& id, const json& t) {
  access::TransitNetwork transit{id, {}};
  for (const auto& n : t.at("networks")) transit.networks.push_back(NetworkRefOf(n));
  return transit;
}

struct InstanceFields {
  std::string account;
  std::string region;
  access::Edition edition = access::Edition::kEnterprise;
  std::string incarnation;
  bool internet_enabled = false;
};

InstanceFields InstanceOf(const json& i) {
  auto edition = access::ParseEdition(i.at("edition").get<std::string>());
  if (!edition) throw DocumentError("unknown edition " + i.at("edition").dump());
  return {i.at("account"), i.at("region"), *edition, i.value("incarnation", std::string()),
          i.at("internet_enabled").get<bool>()};
}

using PositionedEntry = PositionedAllowlistEntry;

PositionedEntry AllowOf(const json& a) {
  return {a.at("position").get<size_t>(), {CidrOf(a.at("cidr")), a.at("description")}};
}

bool ReadHex4(std::string_view s, size_t& i, uint32_t& out) {
  if (i + 4 > s.size()) return false;
  out = 0;
  for (int k = 0; k < 4; ++k) {
    const char c = s[i++];
    out <<= 4;
    if (c >= '0' && c <= '9') {
      out |= static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      out |= static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      out |= static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
  }
  return true;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// A JSON string at s[i] (the opening quote); false for anything this reader does not take.
bool ReadString(std::string_view s, size_t& i, std::string& out) {
  if (i >= s.size() || s[i] != '"') return false;
  ++i;
  while (i < s.size()) {
    // A run without escapes is copied at once.
    size_t run = i;
    while (run < s.size() && s[run] != '"' && s[run] != '\\' &&
           static_cast<unsigned char>(s[run]) >= 0x20) {
      // Bytes past ASCII are left to nlohmann::json, which checks that they are UTF-8 (a body
      // that is not would make every later save of the World throw).
      if (static_cast<unsigned char>(s[run]) >= 0x80) return false;
      ++run;
    }
    out.append(s, i, run - i);
    i = run;
    if (i >= s.size()) return false;
    const char c = s[i++];
    if (c == '"') return true;
    if (static_cast<unsigned char>(c) < 0x20) return false;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= s.size()) return false;
    switch (s[i++]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!ReadHex4(s, i, cp)) return false;
        if (cp >= 0xdc00 && cp <= 0xdfff) return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low = 0;
          if (i + 2 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return false;
          i += 2;
          if (!ReadHex4(s, i, low) || low < 0xdc00 || low > 0xdfff) return false;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        AppendUtf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return false;
}

// The fast path of start-up, which reads a row per allowlist entry (a million for 100,000
// instances): a body exactly as the writers above make it (nlohmann::json writes the fields in
// the order of their names, with no whitespace), read without building a json value. Anything
// else (another order, whitespace, an escaped key, a byte past ASCII, a float) fails here and is
// left to nlohmann::json, which reads every JSON text and says what is wrong with a bad one.
class BodyReader {
 public:
  explicit BodyReader(std::string_view s) : s_(s) {}

  // The next field is named `name`: `{"name":` for the first, `,"name":` for the others.
  bool Field(std::string_view name) {
    if (!Take(first_ ? '{' : ',')) return false;
    first_ = false;
    if (!Take('"') || s_.substr(i_, name.size()) != name) return false;
    i_ += name.size();
    return Take('"') && Take(':');
  }
  bool String(std::string& out) { return ReadString(s_, i_, out); }
  bool Number(uint64_t& out) {
    out = 0;
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (i_ - start == 18) return false;  // leave the long ones to nlohmann
      out = out * 10 + static_cast<uint64_t>(s_[i_++] - '0');
    }
    const size_t digits = i_ - start;
    return digits > 0 && !(digits > 1 && s_[start] == '0');
  }
  bool Bool(bool& out) {
    if (s_.substr(i_, 4) == "true") {
      i_ += 4;
      out = true;
      return true;
    }
    if (s_.substr(i_, 5) == "false") {
      i_ += 5;
      out = false;
      return true;
    }
    return false;
  }
  // The object ends here, and the body with it.
  bool End() { return Take('}') && i_ == s_.size(); }

 private:
  bool Take(char c) {
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  bool first_ = true;
};

// An allow row's entry: the fast path, else nlohmann (which then says what is wrong).
PositionedEntry AllowOfRow(const WorldRow& row) {
  if (row.body) {
    BodyReader r(*row.body);
    std::string cidr;
    PositionedEntry out{0, {}};
    if (r.Field("cidr") && r.String(cidr) && r.Field("description") &&
        r.String(out.entry.description) && r.Field("position") && r.Number(out.position) &&
        r.End()) {
      if (std::optional<core::Cidr> parsed = core::Cidr::Parse(cidr)) {
        out.entry.cidr = *parsed;
        return out;
      }
    }
  }
  return AllowOf(Parse(row));
}

InstanceFields InstanceOfRow(const WorldRow& row) {
  if (row.body) {
    BodyReader r(*row.body);
    InstanceFields f;
    std::string edition;
    if (r.Field("account") && r.String(f.account) && r.Field("edition") && r.String(edition) &&
        r.Field("incarnation") && r.String(f.incarnation) && r.Field("internet_enabled") &&
        r.Bool(f.internet_enabled) && r.Field("region") && r.String(f.region) && r.End()) {
      if (std::optional<access::Edition> e = access::ParseEdition(edition)) {
        f.edition = *e;
        return f;
      }
    }
  }
  return InstanceOf(Parse(row));
}

std::vector<access::AllowlistEntry> InOrder(std::vector<PositionedEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const PositionedEntry& a, const PositionedEntry& b) {
    return a.position < b.position;
  });
  std::vector<access::AllowlistEntry> out;
  out.reserve(entries.size());
  for (auto& e : entries) out.push_back(std::move(e.entry));
  return out;
}

// Makes the zone `id` of `world` what the row says: created if missing, the networks attached,
// the records exactly the row's. False if that takes an operation the World lacks (detaching a
// network, renaming a zone).
bool RestoreZone(access::World& world, const std::string& id, const json& z) {
  const std::string name = z.at("name");
  if (const access::PrivateDnsZone* zone = world.FindZone(id); zone == nullptr) {
    Check(world.CreatePrivateZone(id, name));
  } else if (zone->name != name) {
    return false;
  }
  std::vector<access::NetworkKey> attached;
  for (const auto& n : z.at("attached_networks")) attached.push_back(NetworkRefOf(n));
  for (const auto& have : world.FindZone(id)->attached_networks) {
    if (std::find(attached.begin(), attached.end(), have) == attached.end()) return false;
  }
  for (const auto& network : attached) {
    const auto& have = world.FindZone(id)->attached_networks;
    if (std::find(have.begin(), have.end(), network) == have.end()) {
      Check(world.AttachZone(id, network));
    }
  }
  std::set<std::string> keep;
  for (const auto& r : z.at("records")) {
    Check(world.SetRecord(id, {r.at("name"), AddressOf(r.at("address"))}));
    keep.insert(r.at("name").get<std::string>());
  }
  std::vector<std::string> stale;
  for (const auto& r : world.FindZone(id)->records) {
    if (!keep.contains(r.name)) stale.push_back(r.name);
  }
  for (const auto& name_of_stale : stale) Check(world.RemoveRecord(id, name_of_stale));
  return true;
}

// Rows by kind, each kind's in the order given.
using RowsByKind = std::map<std::string, std::vector<const WorldRow*>, std::less<>>;

RowsByKind ByKind(const std::vector<WorldRow>& rows) {
  RowsByKind out;
  std::vector<const WorldRow*>* last = nullptr;
  for (const WorldRow& row : rows) {
    // Rows come grouped by kind: one map lookup per kind, not per row.
    if (last == nullptr || (*last)[0]->kind != row.kind) last = &out[row.kind];
    last->push_back(&row);
  }
  return out;
}

const std::vector<const WorldRow*>& RowsOf(const RowsByKind& rows, std::string_view kind) {
  static const std::vector<const WorldRow*> none;
  auto it = rows.find(kind);
  return it == rows.end() ? none : it->second;
}

// Adds what a row of a kind the admin API only ever adds to says; true if `world` has it now
// as the row says. A removed or changed one cannot be replayed.
template <typename Find, typename Body, typename Add>
bool AddOnly(const WorldRow& row, Find find, Body body, Add add) {
  const auto* have = find();
  if (!row.body) return have == nullptr;
  if (have != nullptr) return body(*have) == *row.body;
  Check(add(Parse(row)));
  return true;
}

}  // namespace

std::vector<WorldRow> WorldToRows(const access::World& world) {
  return WorldRowChanges(access::World(world.domain()), world);
}

std::vector<WorldRow> WorldRowChanges(const access::World& before, const access::World& after) {
  std::vector<WorldRow> out;
  auto emit = [&](const char* kind, std::string key, std::optional<std::string> was,
                  std::optional<std::string> now) {
    if (was != now) out.push_back({kind, std::move(key), std::move(now)});
  };
  auto diff = [&](const char* kind, const auto& was, const auto& now, auto key_of, auto body) {
    std::remove_cvref_t<decltype(was)>::Diff(
        was, now, [&](const auto& key, const auto* b, const auto* a) {
          emit(kind, key_of(key), b ? std::optional(body(*b)) : std::nullopt,
               a ? std::optional(body(*a)) : std::nullopt);
        });
  };
  auto same = [](const std::string& k) { return k; };
  diff("account", before.accounts(), after.accounts(), same,
       [](const access::Account& a) { return NamedBody(a.name); });
  diff("region", before.regions(), after.regions(), same,
       [](const access::Region& r) { return NamedBody(r.name); });
  diff(
      "network", before.networks(), after.networks(),
      [](const access::NetworkKey& k) { return k.ToString(); }, NetworkBody);
  diff("subnet", before.subnets(), after.subnets(), same, SubnetBody);
  diff("host", before.hosts(), after.hosts(), same, HostBody);
  diff("transit", before.transit_networks(), after.transit_networks(), same, TransitBody);
  diff("zone", before.zones(), after.zones(), same, ZoneBody);

  using Instances = access::World::Table<access::Instance>;
  Instances::Diff(
      before.instances(), after.instances(),
      [&](const std::string& name, const access::Instance* b, const access::Instance* a) {
        emit("instance", name, b ? std::optional(InstanceBody(*b)) : std::nullopt,
             a ? std::optional(InstanceBody(*a)) : std::nullopt);
        // Rows of two maps of one instance's things: what differs is written.
        auto rows = [&](const char* kind, const std::map<std::string, std::string>& was,
                        const std::map<std::string, std::string>& now) {
          for (const auto& [key, body] : was) {
            auto it = now.find(key);
            emit(kind, key, body, it == now.end() ? std::nullopt : std::optional(it->second));
          }
          for (const auto& [key, body] : now) {
            if (!was.contains(key)) emit(kind, key, std::nullopt, body);
          }
        };
        const std::map<std::string, std::string> none;
        if (!(a && b && a->internet.allowlist.IsCopyOf(b->internet.allowlist))) {
          rows("allow", b ? AllowRows(*b) : none, a ? AllowRows(*a) : none);
        }
        rows("binding", b ? BindingRows(*b) : none, a ? BindingRows(*a) : none);
      });
  std::sort(out.begin(), out.end(), [](const WorldRow& x, const WorldRow& y) {
    return std::tie(x.kind, x.key) < std::tie(y.kind, y.key);
  });
  return out;
}

const std::vector<std::string_view>& WorldRowKinds() {
  static const std::vector<std::string_view> kinds = {"account", "region",  "network",  "subnet",
                                                      "host",    "transit", "instance", "allow",
                                                      "binding", "zone"};
  return kinds;
}

struct WorldRestorer::PendingInstance {
  std::string name;
  InstanceFields fields;
  std::vector<PositionedEntry> allowlist;
};

WorldRestorer::WorldRestorer(const std::string& domain) : world_(domain) {}
WorldRestorer::~WorldRestorer() = default;

void WorldRestorer::Add(const WorldRow& row) {
  try {
    AddRow(row);
  } catch (const json::exception& e) {
    throw DocumentError("the saved World row " + row.kind + " " + row.key +
                        " is malformed: " + e.what());
  }
}

void WorldRestorer::AddRow(const WorldRow& row) {
  access::World& w = world_;
  if (row.kind == "instance") {
    if (!instances_.empty() && !(instances_.back().name < row.key)) {
      throw DocumentError("the saved instance rows are out of order at " + row.key);
    }
    instances_.push_back({row.key, InstanceOfRow(row), {}});
    return;
  }
  if (row.kind == "allow") {
    AddAllowRow(row);
    return;
  }
  FlushInstances();
  if (row.kind == "account") {
    Check(w.AddAccount({row.key, Parse(row).at("name")}));
  } else if (row.kind == "region") {
    Check(w.AddRegion({row.key, Parse(row).at("name")}));
  } else if (row.kind == "network") {
    Check(w.AddNetwork(NetworkOf(Parse(row))));
  } else if (row.kind == "subnet") {
    Check(w.AddSubnet(SubnetOf(row.key, Parse(row))));
  } else if (row.kind == "host") {
    Check(w.AddHost(HostOf(row.key, Parse(row))));
  } else if (row.kind == "transit") {
    Check(w.AddTransitNetwork(TransitOf(row.key, Parse(row))));
  } else if (row.kind == "binding") {
    const std::string name = SplitInstanceRowKey(row.key).first;
    const access::Instance* instance = w.FindInstance(name);
    if (instance == nullptr) throw DocumentError("a binding of no instance: " + row.key);
    json b = Parse(row);
    Check(w.Bind(name, {instance->account, b.at("network")}, b.at("subnet").get<std::string>(),
                 nullptr, AddressOf(b.at("private_ip"))));
  } else if (row.kind == "zone") {
    // Zones last: Bind made the zones of bindings; the rows are the truth for every zone.
    if (!RestoreZone(w, row.key, Parse(row))) {
      throw DocumentError("the saved zone " + row.key + " differs from what its bindings made");
    }
  }
  // A kind this kura does not know (written by a later one) is left out.
}

// Allow rows come in the instances' order (a key starts with its instance's name and a space,
// which sorts below every character of a name), so one walk over instances_ finds each one's.
void WorldRestorer::AddAllowRow(const WorldRow& row) {
  const size_t space = row.key.find(' ');
  if (space == std::string::npos)
    throw DocumentError("a saved World row has a bad key: " + row.key);
  const std::string_view name = std::string_view(row.key).substr(0, space);
  // An instance passed has all its entries: it goes into the World now, which keeps what is
  // held to the instances not yet reached.
  while (allow_at_ < instances_.size() && instances_[allow_at_].name < name) {
    RestorePending(instances_[allow_at_++]);
  }
  if (allow_at_ == instances_.size() || instances_[allow_at_].name != name) {
    throw DocumentError("an allowlist entry of no instance (or out of order): " + row.key);
  }
  instances_[allow_at_].allowlist.push_back(AllowOfRow(row));
}

void WorldRestorer::RestorePending(PendingInstance& p) {
  InstanceFields& f = p.fields;
  Check(world_.RestoreInstance(std::move(p.name), std::move(f.account), std::move(f.region),
                               f.edition, std::move(f.incarnation), f.internet_enabled,
                               InOrder(std::move(p.allowlist))));
}

void WorldRestorer::FlushInstances() {
  for (; allow_at_ < instances_.size(); ++allow_at_) RestorePending(instances_[allow_at_]);
  instances_.clear();
  allow_at_ = 0;
}

access::World WorldRestorer::Finish() {
  FlushInstances();
  return std::move(world_);
}

namespace {

// Batches of rows from the reading thread to the restoring one. Batches go back to be refilled,
// so the rows' strings keep their capacity and reading a million rows allocates little.
class RowPipe {
 public:
  static constexpr size_t kBatchRows = 2048;
  static constexpr size_t kBatchesAhead = 8;

  struct Batch {
    std::vector<WorldRow> rows;
    size_t used = 0;
  };
  // Thrown on the reading thread when the restorer gave up: ends the store's read.
  struct Abandoned {};

  // Reading thread: a batch to fill (empty), waiting while the restorer is kBatchesAhead behind.
  Batch TakeEmpty() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return abandoned_ || full_.size() < kBatchesAhead; });
    if (abandoned_) throw Abandoned{};
    Batch b;
    if (!empty_.empty()) {
      b = std::move(empty_.back());
      empty_.pop_back();
    }
    b.used = 0;
    return b;
  }
  void Deliver(Batch b) {
    std::lock_guard lock(mu_);
    full_.push_back(std::move(b));
    cv_.notify_all();
  }
  void Finish(std::exception_ptr failure) {
    std::lock_guard lock(mu_);
    done_ = true;
    failure_ = std::move(failure);
    cv_.notify_all();
  }

  // Restoring thread: the next batch, or nullopt once the reader finished (its failure thrown).
  std::optional<Batch> TakeFull() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_ || !full_.empty(); });
    if (full_.empty()) {
      if (failure_) std::rethrow_exception(failure_);
      return std::nullopt;
    }
    Batch b = std::move(full_.front());
    full_.pop_front();
    cv_.notify_all();
    return b;
  }
  void GiveBack(Batch b) {
    std::lock_guard lock(mu_);
    empty_.push_back(std::move(b));
  }
  void Abandon() {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> full_;      // guarded by mu_
  std::vector<Batch> empty_;    // guarded by mu_
  bool done_ = false;           // guarded by mu_
  bool abandoned_ = false;      // guarded by mu_
  std::exception_ptr failure_;  // guarded by mu_
};

}  // namespace

store::WorldRows ReadSavedWorld(store::AdminStore& store, WorldRestorer& restorer) {
  RowPipe pipe;
  store::WorldRows saved;
  std::thread reader([&] {
    std::exception_ptr failure;
    try {
      RowPipe::Batch batch = pipe.TakeEmpty();
      saved = store.ReadWorldRows(WorldRowKinds(), [&](const WorldRow& row) {
        if (batch.used == batch.rows.size()) {
          batch.rows.push_back(row);
        } else {
          batch.rows[batch.used] = row;  // reuses the strings' capacity
        }
        if (++batch.used == RowPipe::kBatchRows) {
          pipe.Deliver(std::move(batch));
          batch = pipe.TakeEmpty();
        }
      });
      if (batch.used > 0) pipe.Deliver(std::move(batch));
    } catch (const RowPipe::Abandoned&) {
    } catch (...) {
      failure = std::current_exception();
    }
    pipe.Finish(failure);
  });
  try {
    while (std::optional<RowPipe::Batch> batch = pipe.TakeFull()) {
      for (size_t i = 0; i < batch->used; ++i) restorer.Add(batch->rows[i]);
      pipe.GiveBack(std::move(*batch));
    }
  } catch (...) {
    pipe.Abandon();
    reader.join();
    throw;
  }
  reader.join();
  return saved;
}

access::World WorldFromRows(const std::vector<WorldRow>& rows, const std::string& domain) {
  const RowsByKind by_kind = ByKind(rows);
  WorldRestorer restorer(domain);
  for (std::string_view kind : WorldRowKinds()) {
    for (const WorldRow* row : RowsOf(by_kind, kind)) restorer.Add(*row);
  }
  return restorer.Finish();
}

bool ApplyWorldRowChanges(access::World& w, const std::vector<WorldRow>& changes) {
  const RowsByKind by_kind = ByKind(changes);
  try {
    for (const WorldRow* row : RowsOf(by_kind, "account")) {
      if (!AddOnly(
              *row, [&] { return w.FindAccount(row->key); },
              [](const access::Account& a) { return NamedBody(a.name); },
              [&](const json& j) {
                return w.AddAccount({row->key, j.at("name")});
              })) {
        return false;
      }
    }
    for (const WorldRow* row : RowsOf(by_kind, "region")) {
      if (!AddOnly(
              *row, [&] { return w.FindRegion(row->key); },
              [](const access::Region& r) { return NamedBody(r.name); },
              [&](const json& j) {
                return w.AddRegion({row->key, j.at("name")});
              })) {
        return false;
      }
    }
    for (const WorldRow* row : RowsOf(by_kind, "network")) {
      const size_t slash = row->key.find('/');
      if (slash == std::string::npos) return false;
      const access::NetworkKey key{row->key.substr(0, slash), row->key.substr(slash + 1)};
      if (!AddOnly(
              *row, [&] { return w.FindNetwork(key); }, NetworkBody,
              [&](const json& j) { return w.AddNetwork(NetworkOf(j)); })) {
        return false;
      }
    }
    for (const WorldRow* row : RowsOf(by_kind, "subnet")) {
      if (!AddOnly(
              *row, [&] { return w.FindSubnet(row->key); }, SubnetBody,
              [&](const json& j) { return w.AddSubnet(SubnetOf(row->key, j)); })) {
        return false;
      }
    }
    for (const WorldRow* row : RowsOf(by_kind, "host")) {
      if (!AddOnly(
              *row, [&] { return w.FindHost(row->key); }, HostBody,
              [&](const json& j) { return w.AddHost(HostOf(row->key, j)); })) {
        return false;
      }
    }
    for (const WorldRow* row : RowsOf(by_kind, "transit")) {
      if (!AddOnly(
              *row, [&] { return w.FindTransitNetwork(row->key); }, TransitBody,
              [&](const json& j) { return w.AddTransitNetwork(TransitOf(row->key, j)); })) {
        return false;
      }
    }

    // Instances: deletions and re-creations first, then creations and changes, then
    // allowlists, then bindings removed (every address they free is free before any is taken),
    // then bindings added.
    std::map<std::string, const WorldRow*> instance_rows;
    for (const WorldRow* row : RowsOf(by_kind, "instance")) instance_rows[row->key] = row;
    for (const auto& [name, row] : instance_rows) {
      const access::Instance* have = w.FindInstance(name);
      if (have == nullptr) continue;
      if (!row->body) {
        Check(w.DeleteInstance(name));
        continue;
      }
      InstanceFields f = InstanceOfRow(*row);
      if (!have->incarnation.empty() && have->incarnation != f.incarnation) {
        Check(w.DeleteInstance(name));  // deleted and created again under the same name
      } else if (have->account != f.account || have->region != f.region ||
                 have->edition != f.edition) {
        return false;
      }
    }
    for (const auto& [name, row] : instance_rows) {
      if (!row->body) continue;
      InstanceFields f = InstanceOfRow(*row);
      const access::Instance* have = w.FindInstance(name);
      if (have == nullptr) {
        Check(w.CreateInstance(name, f.account, f.region, f.edition, f.incarnation));
      } else if (have->incarnation.empty() && !f.incarnation.empty()) {
        Check(w.AssignIncarnation(name, f.incarnation));
      }
      if (f.edition == access::Edition::kEnterprise) {
        Check(w.SetInternetEnabled(name, f.internet_enabled));
      }
    }

    std::map<std::string, std::vector<const WorldRow*>> allow_changes;
    for (const WorldRow* row : RowsOf(by_kind, "allow")) {
      allow_changes[SplitInstanceRowKey(row->key).first].push_back(row);
    }
    for (const auto& [name, rows] : allow_changes) {
      const access::Instance* have = w.FindInstance(name);
      if (have == nullptr) {
        if (std::any_of(rows.begin(), rows.end(), [](const WorldRow* r) { return r->body; })) {
          return false;
        }
        continue;
      }
      std::map<std::string, PositionedEntry> entries;
      const auto& now = have->internet.allowlist.entries();
      for (size_t p = 0; p < now.size(); ++p)
        entries.emplace(now[p].cidr.ToString(), PositionedEntry{p, now[p]});
      for (const WorldRow* row : rows) {
        const std::string cidr = SplitInstanceRowKey(row->key).second;
        if (row->body) {
          entries.insert_or_assign(cidr, AllowOfRow(*row));
        } else {
          entries.erase(cidr);
        }
      }
      std::vector<PositionedEntry> list;
      for (auto& [cidr, e] : entries) list.push_back(std::move(e));
      Check(w.ReplaceAllowlist(name, InOrder(std::move(list))));
    }

    std::vector<std::pair<std::string, json>> bindings_added;
    for (const WorldRow* row : RowsOf(by_kind, "binding")) {
      auto [name, network] = SplitInstanceRowKey(row->key);
      const access::Instance* have = w.FindInstance(name);
      if (have == nullptr) {
        if (row->body) return false;
        continue;
      }
      std::optional<json> wanted;
      if (row->body) wanted = Parse(*row);
      if (const access::VpcBinding* bound = have->vpc.FindBinding(network)) {
        if (wanted && BindingBody(*bound) == *row->body) continue;
        Check(w.Unbind(name, network));
      }
      if (wanted) bindings_added.emplace_back(name, std::move(*wanted));
    }
    for (const auto& [name, b] : bindings_added) {
      const access::Instance* have = w.FindInstance(name);
      Check(w.Bind(name, {have->account, b.at("network")}, b.at("subnet").get<std::string>(),
                   nullptr, AddressOf(b.at("private_ip"))));
    }

    for (const WorldRow* row : RowsOf(by_kind, "zone")) {
      if (!row->body) {
        if (w.FindZone(row->key) != nullptr) return false;
        continue;
      }
      if (!RestoreZone(w, row->key, Parse(*row))) return false;
    }
  } catch (const DocumentError&) {
    return false;
  } catch (const json::exception&) {
    return false;
  }
  return true;
}

void ReplaceSavedWorld(store::AdminStore& store, const access::World& world) {
  const std::vector<WorldRow> rows = WorldToRows(world);
  for (int attempt = 0; attempt < 8; ++attempt) {
    store::WorldRows saved = store.LoadWorldRows();
    std::map<std::pair<std::string, std::string>, const WorldRow*> wanted;
    for (const WorldRow& row : rows) wanted[{row.kind, row.key}] = &row;
    std::vector<WorldRow> changes;
    for (const WorldRow& row : saved.rows) {
      auto it = wanted.find({row.kind, row.key});
      if (it == wanted.end()) {
        changes.push_back({row.kind, row.key, std::nullopt});
      } else {
        if (it->second->body != row.body) changes.push_back(*it->second);
        wanted.erase(it);
      }
    }
    for (const auto& [key, row] : wanted) changes.push_back(*row);
    if (changes.empty() && !saved.legacy_document) return;
    if (store.SaveWorldChanges(changes, saved.revision)) return;
  }
  throw store::StoreError("the saved World kept changing while it was replaced");
}

std::vector<std::string> IncarnationsOfRows(const std::vector<WorldRow>& rows) {
  std::vector<std::string> out;
  for (const WorldRow& row : rows) {
    if (row.kind != "instance" || !row.body) continue;
    try {
      out.push_back(Parse(row).value("incarnation", std::string()));
    } catch (const json::exception& e) {
      throw DocumentError("the saved World row instance " + row.key + " is malformed: " + e.what());
    }
  }
  return out;
}

}  // namespace kura::admin
