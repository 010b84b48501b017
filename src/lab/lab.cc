#include "lab/lab.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "admin/world_rows.h"
#include "analyzer/analyzer.h"
#include "analyzer/topology_index.h"
#include "auth/password.h"
#include "auth/token.h"
#include "lab/command.h"
#include "lab/oci_image.h"
#include "store/sqlite_admin_store.h"

namespace kura::lab {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using analyzer::Step;

namespace {

// Addresses the lab uses on point-to-point links. They never leave a namespace pair.
constexpr const char* kNetworkGateway = "169.254.0.1";   // a network, seen from its hosts
constexpr const char* kInternetGateway = "169.254.0.2";  // the Internet, seen from a host
constexpr const char* kTransitSide = "169.254.1.1";      // a transit router, seen from a network
constexpr const char* kNetworkSide = "169.254.1.2";      // a network, seen from a transit router
constexpr int kEndpointPort = 80;
constexpr const char* kLabNsswitch =
    "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\n"
    "protocols: files\nservices: files\nethers: files\nrpc: files\n";

struct Names {
  std::string p;
  std::string Host(size_t i) const { return p + "-h" + std::to_string(i); }
  std::string Network(size_t j) const { return p + "-n" + std::to_string(j); }
  std::string Transit(size_t k) const { return p + "-t" + std::to_string(k); }
  std::string Internet() const { return p + "-inet"; }
};

void CheckOptions(const LabOptions& o) {
  if (o.prefix.empty() || o.prefix.size() > 4 ||
      o.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos) {
    throw LabError("the lab prefix must be 1 to 4 of [a-z0-9], got '" + o.prefix + "'");
  }
}

fs::path StateDir(const LabOptions& o) { return fs::path(o.state_root) / o.prefix; }

void Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOrThrow(argv);
}

void InNs(const std::string& ns, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip", "-n", ns};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOrThrow(argv);
}

void Sysctl(const std::string& ns, const std::string& setting) {
  RunOrThrow({"ip", "netns", "exec", ns, "sysctl", "-qw", setting});
}

void AddNamespace(const std::string& ns, std::ostream& log) {
  Ip({"netns", "add", ns});
  InNs(ns, {"link", "set", "lo", "up"});
  log << "  namespace " << ns << "\n";
}

// A veth pair with one end in each namespace, both up.
void Link(const std::string& ns_a, const std::string& if_a, const std::string& ns_b,
          const std::string& if_b) {
  Ip({"link", "add", if_a, "type", "veth", "peer", "name", if_b});
  Ip({"link", "set", if_a, "netns", ns_a});
  Ip({"link", "set", if_b, "netns", ns_b});
  InNs(ns_a, {"link", "set", if_a, "up"});
  InNs(ns_b, {"link", "set", if_b, "up"});
}

void AddRouteIfMissing(const std::string& ns, const std::vector<std::string>& route) {
  std::vector<std::string> argv{"ip", "-n", ns, "route", "add"};
  argv.insert(argv.end(), route.begin(), route.end());
  CommandResult r = RunCommand(argv, 20s);
  if (r.exit_code != 0 && r.output.find("File exists") == std::string::npos) {
    throw std::runtime_error(CommandLine(argv) + " failed: " + r.output);
  }
}

// The distinct Internet endpoint addresses of the topology.
std::set<std::string> InternetAddresses(const topology::Topology& t) {
  std::set<std::string> out;
  for (const auto& [name, setup] : t.instances) out.insert(setup.internet_address.ToString());
  return out;
}

std::string HostsFile(const topology::Topology& t, const analyzer::TopologyIndex& index,
                      uint32_t network) {
  std::string text = "127.0.0.1 localhost\n";
  for (const auto& name : t.instance_order) {
    const access::Instance& inst = *t.world.FindInstance(name);
    for (auto kind : {access::EndpointKind::kInternet, access::EndpointKind::kVpc}) {
      std::string hostname = t.world.Hostname(inst, kind);
      analyzer::Resolution r = index.Resolve(network, inst, kind, hostname);
      if (r.found()) text += r.address.ToString() + " " + hostname + "\n";
    }
  }
  return text;
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The kura configuration: one listener per endpoint address, inside its namespace.
std::string ServerConfig(const topology::Topology& t, const analyzer::TopologyIndex& index,
                         const Names& n, const fs::path& dir, size_t* listeners) {
  nlohmann::json endpoints = nlohmann::json::array();
  for (const std::string& address : InternetAddresses(t)) {
    endpoints.push_back({{"listen", address + ":" + std::to_string(kEndpointPort)},
                         {"endpoint", "internet"},
                         {"netns", n.Internet()}});
  }
  std::set<std::string> regions_with_personal;
  for (const auto& [name, inst] : t.world.instances()) {
    if (inst.edition == access::Edition::kPersonal) regions_with_personal.insert(inst.region);
    for (const auto& b : inst.vpc.bindings) {
      uint32_t j = *index.NetworkNumber(inst, b);
      endpoints.push_back(
          {{"listen", b.private_ip.ToString() + ":" + std::to_string(kEndpointPort)},
           {"endpoint", "vpc"},
           {"network", b.network},
           {"network_account", inst.account},
           {"netns", n.Network(j)}});
    }
  }
  for (uint32_t j = 0; j < index.network_count(); ++j) {
    const access::Network& net = index.NetworkAt(j);
    if (!regions_with_personal.count(net.region)) continue;
    const core::IpAddress* service = t.ServiceAddressOf(net.region);
    if (!service) continue;
    endpoints.push_back({{"listen", service->ToString() + ":" + std::to_string(kEndpointPort)},
                         {"endpoint", "vpc"},
                         {"network", net.id},
                         {"network_account", net.account},
                         {"netns", n.Network(j)}});
  }
  *listeners = endpoints.size();
  // YAML is a superset of JSON: the configuration is written as JSON.
  nlohmann::json config = {
      {"listen", ""},
      {"data", (dir / "data").string()},
      {"threads", 1},
      {"domain", t.world.domain()},
      {"log", {{"audit", (dir / "audit.log").string()}}},
      {"endpoints", endpoints},
  };
  return config.dump(2);
}

void WriteServerState(const topology::Topology& t, const fs::path& data) {
  fs::create_directories(data);
  store::SqliteAdminStore store((data / "kura.db").string());
  // A served instance has an incarnation, and its credentials are kept under it.
  access::World world = t.world;
  for (const auto& [name, inst] : t.world.instances()) {
    if (inst.incarnation.empty()) {
      access::Status s = world.AssignIncarnation(name, auth::RandomSecret());
      if (!s.ok()) throw LabError(s.message());
    }
  }
  admin::ReplaceSavedWorld(store, world);
  for (const auto& [name, setup] : t.instances) {
    const std::string& key = world.FindInstance(name)->incarnation;
    for (const auto& cred : setup.credentials) {
      store.SetPassword(
          key, cred.user,
          cred.password_hash ? *cred.password_hash : auth::HashPassword(*cred.password));
    }
  }
}

bool Alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

void StopServer(const fs::path& dir, std::ostream& log) {
  std::ifstream in(dir / "kura.pid");
  int pid = 0;
  if (!(in >> pid) || pid <= 0) return;
  if (!Alive(pid)) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 50 && Alive(pid); ++i) {
    ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(100ms);
  }
  if (Alive(pid)) ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, WNOHANG);
  log << "  stopped kura (pid " << pid << ")\n";
}

}  // namespace

std::vector<std::string> LabNamespaces(const std::string& prefix) {
  std::vector<std::string> out;
  CommandResult r = RunCommand({"ip", "netns", "list"}, 20s);
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    std::string name = line.substr(0, line.find(' '));
    if (name.rfind(prefix + "-", 0) == 0) out.push_back(name);
  }
  return out;
}

int LabDown(const LabOptions& options, std::ostream& log) {
  CheckOptions(options);
  fs::path dir = StateDir(options);
  StopServer(dir, log);
  int removed = 0;
  for (const std::string& ns : LabNamespaces(options.prefix)) {
    // Anything still running in there (a client cut by a crash) goes first.
    CommandResult pids = RunCommand({"ip", "netns", "pids", ns}, 20s);
    std::istringstream in(pids.output);
    int pid;
    while (in >> pid) ::kill(pid, SIGKILL);
    RunCommand({"ip", "netns", "del", ns}, 20s);
    ++removed;
  }
  std::error_code ec;
  if (fs::exists("/etc/netns", ec)) {
    for (const auto& entry : fs::directory_iterator("/etc/netns", ec)) {
      if (entry.path().filename().string().rfind(options.prefix + "-", 0) == 0) {
        fs::remove_all(entry.path(), ec);
      }
    }
    if (fs::is_empty("/etc/netns", ec)) fs::remove("/etc/netns", ec);
  }
  fs::remove_all(dir, ec);
  log << "lab " << options.prefix << " down: " << removed << " namespace(s) removed\n";
  return removed;
}

void LabUp(const topology::Topology& t, const LabOptions& options, std::ostream& log) {
  CheckOptions(options);
  fs::path dir = StateDir(options);
  if (fs::exists(dir) || !LabNamespaces(options.prefix).empty()) {
    throw LabError("a lab with prefix " + options.prefix + " is up; run kura lab down first");
  }
  if (t.host_order.size() > 999 || t.world.networks().size() > 999 ||
      t.world.transit_networks().size() > 999) {
    throw LabError("the lab builds at most 999 hosts, networks and transit networks");
  }
  Names n{options.prefix};
  analyzer::TopologyIndex index(t);
  try {
    fs::create_directories(dir);
    log << "lab " << options.prefix << " up from " << t.source << "\n";
    // Namespaces.
    AddNamespace(n.Internet(), log);
    Sysctl(n.Internet(), "net.ipv4.ip_forward=1");
    for (uint32_t j = 0; j < index.network_count(); ++j) {
      AddNamespace(n.Network(j), log);
      Sysctl(n.Network(j), "net.ipv4.ip_forward=1");
    }
    for (size_t k = 0; k < t.world.transit_networks().size(); ++k) {
      AddNamespace(n.Transit(k), log);
      Sysctl(n.Transit(k), "net.ipv4.ip_forward=1");
    }
    // Endpoint addresses.
    for (const std::string& address : InternetAddresses(t)) {
      InNs(n.Internet(), {"addr", "add", address + "/32", "dev", "lo"});
    }
    std::set<std::string> regions_with_personal;
    for (const auto& [name, inst] : t.world.instances()) {
      if (inst.edition == access::Edition::kPersonal) regions_with_personal.insert(inst.region);
      for (const auto& b : inst.vpc.bindings) {
        InNs(n.Network(*index.NetworkNumber(inst, b)),
             {"addr", "add", b.private_ip.ToString() + "/32", "dev", "lo"});
      }
    }
    for (uint32_t j = 0; j < index.network_count(); ++j) {
      const access::Network& net = index.NetworkAt(j);
      const core::IpAddress* service = t.ServiceAddressOf(net.region);
      if (service && regions_with_personal.count(net.region)) {
        InNs(n.Network(j), {"addr", "add", service->ToString() + "/32", "dev", "lo"});
      }
    }
    // Hosts.
    for (size_t i = 0; i < t.host_order.size(); ++i) {
      const access::Host& host = *t.world.FindHost(t.host_order[i]);
      uint32_t j = index.NetworkNumberOf(host);
      std::string hns = n.Host(i), nns = n.Network(j);
      AddNamespace(hns, log);
      std::string hif = hns + "v", nif = nns + "h" + std::to_string(i);
      Link(hns, hif, nns, nif);
      std::string priv = host.private_ip.ToString();
      InNs(hns, {"addr", "add", priv + "/32", "dev", hif});
      InNs(hns, {"route", "add", kNetworkGateway, "dev", hif});
      InNs(hns, {"route", "add", "default", "via", kNetworkGateway, "dev", hif});
      InNs(nns, {"addr", "add", std::string(kNetworkGateway) + "/32", "dev", nif});
      InNs(nns, {"route", "add", priv + "/32", "dev", nif});
      if (host.public_ip) {
        std::string pub = host.public_ip->ToString();
        std::string pif = hns + "p", iif = n.Internet() + std::to_string(i);
        Link(hns, pif, n.Internet(), iif);
        InNs(hns, {"addr", "add", pub + "/32", "dev", pif});
        InNs(hns, {"route", "add", kInternetGateway, "dev", pif});
        for (const std::string& address : InternetAddresses(t)) {
          InNs(hns, {"route", "add", address + "/32", "via", kInternetGateway, "dev", pif, "src",
                     pub});
        }
        InNs(n.Internet(), {"addr", "add", std::string(kInternetGateway) + "/32", "dev", iif});
        InNs(n.Internet(), {"route", "add", pub + "/32", "dev", iif});
      }
      // The network's DNS is its hosts file and nothing else: no query ever leaves the lab.
      fs::create_directories("/etc/netns/" + hns);
      WriteText("/etc/netns/" + hns + "/hosts", HostsFile(t, index, j));
      WriteText("/etc/netns/" + hns + "/nsswitch.conf", kLabNsswitch);
      WriteText("/etc/netns/" + hns + "/resolv.conf", "nameserver 127.0.0.1\n");
    }
    // Transit networks: each joined network routes the others' CIDRs to the transit router.
    size_t k = 0;
    for (const auto& [id, transit] : t.world.transit_networks()) {
      std::string tns = n.Transit(k);
      for (const auto& joined : transit.networks) {
        uint32_t j = *index.NetworkNumber(joined);
        std::string tif = tns + "n" + std::to_string(j);
        std::string nif = n.Network(j) + "t" + std::to_string(k);
        Link(tns, tif, n.Network(j), nif);
        InNs(tns, {"addr", "add", std::string(kTransitSide) + "/32", "dev", tif});
        InNs(n.Network(j), {"addr", "add", std::string(kNetworkSide) + "/32", "dev", nif});
        for (const auto& cidr : index.NetworkAt(j).cidrs) {
          AddRouteIfMissing(tns, {cidr.ToString(), "via", kNetworkSide, "dev", tif, "onlink"});
        }
        for (const auto& other : transit.networks) {
          if (other == joined) continue;
          for (const auto& cidr : t.world.FindNetwork(other)->cidrs) {
            AddRouteIfMissing(n.Network(j),
                              {cidr.ToString(), "via", kTransitSide, "dev", nif, "onlink"});
          }
        }
      }
      log << "  transit " << id << " joins " << transit.networks.size() << " networks\n";
      ++k;
    }
    // The server.
    WriteServerState(t, dir / "data");
    size_t listeners = 0;
    WriteText(dir / "kura.yml", ServerConfig(t, index, n, dir, &listeners));
    WriteOciLayout((dir / "image").string(), "1", "hello from the kura lab\n");
    int pid = SpawnBackground({options.kura_binary, "serve", "--config", (dir / "kura.yml").string()},
                              (dir / "kura.log").string());
    WriteText(dir / "kura.pid", std::to_string(pid) + "\n");
    WriteText(dir / "topology", t.source + "\n");
    // Ready when it has announced every listener.
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (true) {
      std::ifstream in(dir / "kura.log");
      std::string line;
      size_t announced = 0;
      while (std::getline(in, line)) {
        if (line.find(" endpoints on ") != std::string::npos) ++announced;
      }
      if (announced >= listeners) break;
      ::waitpid(pid, nullptr, WNOHANG);
      if (!Alive(pid) || std::chrono::steady_clock::now() > deadline) {
        std::ifstream log_in(dir / "kura.log");
        std::stringstream ss;
        ss << log_in.rdbuf();
        throw LabError("kura did not start: " + ss.str());
      }
      std::this_thread::sleep_for(50ms);
    }
    log << "  kura serving " << listeners << " endpoint listener(s), pid " << pid << "\n";
  } catch (const std::exception& e) {
    std::ostringstream ignored;
    LabDown(options, ignored);
    throw LabError(std::string("lab up failed: ") + e.what());
  }
}

namespace {

// What a live login from a host reached: the first step that failed, or kOk; and a detail.
struct LiveOutcome {
  Step step = Step::kResolve;
  std::string detail;
};

CommandResult InHost(const std::string& ns, std::vector<std::string> argv,
                     std::chrono::milliseconds limit = 15s) {
  std::vector<std::string> full{"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return RunCommand(full, limit);
}

// Splits curl's "-w '\n%{http_code}'" output into body and status.
std::pair<std::string, int> BodyAndStatus(const std::string& out) {
  size_t nl = out.rfind('\n');
  std::string code = nl == std::string::npos ? out : out.substr(nl + 1);
  int status = std::atoi(code.c_str());
  return {nl == std::string::npos ? std::string() : out.substr(0, nl), status};
}

LiveOutcome LiveLogin(const std::string& ns, const std::string& hostname,
                      const std::optional<topology::Login>& login, const std::string& repo) {
  LiveOutcome o;
  CommandResult dns = InHost(ns, {"getent", "ahostsv4", hostname}, 5s);
  if (dns.exit_code != 0) {
    o.detail = hostname + " does not resolve";
    return o;
  }
  std::string base = "http://" + hostname;
  auto curl = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv{"curl", "-4", "-s", "--connect-timeout", "3", "--max-time", "10",
                                  "-w", "\n%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return InHost(ns, argv);
  };
  CommandResult ping = curl({base + "/v2/"});
  auto [ping_body, ping_status] = BodyAndStatus(ping.output);
  if (ping.exit_code != 0 || ping_status == 0) {
    o.step = Step::kRoute;
    o.detail = "cannot connect to " + hostname + " (curl exit " + std::to_string(ping.exit_code) + ")";
    return o;
  }
  if (ping_status == 403) {
    o.step = Step::kAdmit;
    auto j = nlohmann::json::parse(ping_body, nullptr, false);
    o.detail = j.is_discarded() ? ping_body : j["errors"][0]["message"].get<std::string>();
    return o;
  }
  o.step = Step::kAuthenticate;
  if (!login) {
    o.detail = "the host has no credentials to send";
    return o;
  }
  CommandResult token = curl({"-u", login->user + ":" + login->password,
                              base + "/token?service=" + hostname + "&scope=repository:" + repo +
                                  ":pull,push"});
  auto [token_body, token_status] = BodyAndStatus(token.output);
  if (token_status != 200) {
    o.detail = "token endpoint answered " + std::to_string(token_status);
    return o;
  }
  auto j = nlohmann::json::parse(token_body, nullptr, false);
  if (j.is_discarded() || !j.contains("token")) {
    o.detail = "token endpoint answered no token";
    return o;
  }
  CommandResult with_token =
      curl({"-H", "Authorization: Bearer " + j["token"].get<std::string>(), base + "/v2/"});
  if (BodyAndStatus(with_token.output).second != 200) {
    o.detail = "the token was not accepted";
    return o;
  }
  o.step = Step::kOk;
  o.detail = "logged in";
  return o;
}

std::string PushAndPull(const std::string& ns, const std::string& hostname,
                        const topology::Login& login, const std::string& repo,
                        const fs::path& dir) {
  std::string creds = login.user + ":" + login.password;
  std::string ref = "docker://" + hostname + "/" + repo + ":1";
  CommandResult push = InHost(ns,
                              {"skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", creds,
                               "oci:" + (dir / "image").string() + ":1", ref},
                              60s);
  if (push.exit_code != 0) return "push failed: " + push.output;
  // A pull of every blob, each checked against its digest by skopeo: from a network namespace,
  // the peer is another machine to kura, which sends blob files with sendfile.
  const fs::path pulled = dir / ("pulled-" + ns);
  fs::remove_all(pulled);
  CommandResult pull = InHost(ns,
                              {"skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds,
                               ref, "oci:" + pulled.string() + ":1"},
                              60s);
  fs::remove_all(pulled);
  if (pull.exit_code != 0) return "pull failed: " + pull.output;
  return "";
}

std::string Cell(Step step) {
  return step == Step::kOk ? "allowed" : "denied (" + std::string(analyzer::StepName(step)) + ")";
}

}  // namespace

int LabVerify(const topology::Topology& t, const LabOptions& options, std::ostream& out) {
  CheckOptions(options);
  fs::path dir = StateDir(options);
  if (!fs::exists(dir / "kura.pid")) {
    throw LabError("no lab with prefix " + options.prefix + " is up; run kura lab up first");
  }
  Names n{options.prefix};
  analyzer::ExposureReport report = analyzer::Analyze(t);
  int differences = 0;
  out << "host            instance        endpoint  live                    analysis\n";
  for (size_t i = 0; i < report.hosts().size(); ++i) {
    const access::Host& host = *report.hosts()[i];
    for (size_t m = 0; m < report.instances().size(); ++m) {
      const access::Instance& inst = *report.instances()[m];
      for (auto kind : {access::EndpointKind::kInternet, access::EndpointKind::kVpc}) {
        std::string hostname = t.world.Hostname(inst, kind);
        std::string repo = "lab/" + host.id;
        auto login = t.LoginOf(host.id, inst.name);
        LiveOutcome live = LiveLogin(n.Host(i), hostname, login, repo);
        analyzer::Outcome expected = report.At(i, m, kind);
        std::string extra;
        if (live.step == Step::kOk && options.push_images) {
          std::string failed = PushAndPull(n.Host(i), hostname, *login, repo, dir);
          if (!failed.empty()) {
            live.step = Step::kAuthenticate;
            extra = failed;
          } else {
            extra = "pushed and pulled " + repo + ":1";
          }
        }
        bool same = live.step == expected.step;
        if (!same) ++differences;
        char line[256];
        std::snprintf(line, sizeof line, "%-15s %-15s %-9s %-23s %-23s%s", host.id.c_str(),
                      inst.name.c_str(), std::string(access::EndpointKindName(kind)).c_str(),
                      Cell(live.step).c_str(), Cell(expected.step).c_str(),
                      same ? "" : "  DIFFERENT");
        out << line << "\n    " << live.detail << (extra.empty() ? "" : "; " + extra) << "\n";
      }
    }
  }
  out << (differences == 0 ? "live logins match the analysis"
                           : std::to_string(differences) + " difference(s) from the analysis")
      << "\n";
  return differences;
}

}  // namespace kura::lab
