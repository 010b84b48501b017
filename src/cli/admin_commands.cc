#include "cli/admin_commands.h"

#include <iostream>

#include "cli/admin_client.h"
#include "registry/exchange.h"

namespace kura::cli {

using nlohmann::json;

namespace {

// "90", "90s", "30m", "12h", "7d" -> seconds.
int64_t ParseDuration(const std::string& text) {
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw CommandError("invalid duration '" + text + "' (e.g. 3600, 30m, 12h, 7d)");
  }
  std::string unit = text.substr(used);
  int64_t scale = unit.empty() || unit == "s" ? 1
                  : unit == "m"               ? 60
                  : unit == "h"               ? 3600
                  : unit == "d"               ? 86400
                                              : 0;
  if (scale == 0 || value <= 0) {
    throw CommandError("invalid duration '" + text + "' (e.g. 3600, 30m, 12h, 7d)");
  }
  return value * scale;
}

void PrintInstance(const json& i) {
  std::cout << i["name"].get<std::string>() << " (" << i["edition"].get<std::string>()
            << ", account " << i["account"].get<std::string>() << ", region "
            << i["region"].get<std::string>() << ")\n";
  const json& inet = i["internet"];
  std::cout << "  internet  " << inet["hostname"].get<std::string>() << "  ";
  if (inet["open_to_all"].get<bool>()) {
    std::cout << "open to all (personal edition)\n";
  } else if (!inet["enabled"].get<bool>()) {
    std::cout << "disabled\n";
  } else {
    std::cout << "enabled, " << inet["allowlist"].size() << " allowlist entr"
              << (inet["allowlist"].size() == 1 ? "y" : "ies") << "\n";
    size_t shown = 0;
    for (const auto& e : inet["allowlist"]) {
      if (++shown > 20) {
        std::cout << "            ...\n";
        break;
      }
      std::cout << "            " << e["cidr"].get<std::string>();
      if (!e["description"].get<std::string>().empty()) {
        std::cout << "  " << e["description"].get<std::string>();
      }
      std::cout << "\n";
    }
  }
  const json& vpc = i["vpc"];
  std::cout << "  vpc       " << vpc["hostname"].get<std::string>() << "  ";
  if (vpc["regional"].get<bool>()) {
    std::cout << "every network of region " << i["region"].get<std::string>()
              << " (personal edition)\n";
  } else if (vpc["bindings"].empty()) {
    std::cout << "no network bound\n";
  } else {
    std::cout << "bound networks:\n";
    for (const auto& b : vpc["bindings"]) {
      std::cout << "            " << b["network"].get<std::string>() << " via "
                << b["subnet"].get<std::string>() << " at " << b["private_ip"].get<std::string>()
                << "\n";
    }
  }
}

struct Verbs {
  AdminOptions* options;
  // Arguments of the verbs; each verb reads the ones it declared.
  std::string name, account, region, edition = "personal", network, subnet, cidr, description, user,
                                     ttl = "12h", visibility = "private";
  std::vector<std::string> cidrs;
  bool password_stdin = false;

  // "/api/v1/instances/<name>" followed by `rest`.
  std::string InstancePath(const std::string& rest = "") const {
    return "/api/v1/instances/" + registry::PercentEncode(name) + rest;
  }
  AdminClient Client() const { return AdminClient(options->server, options->token); }
  // Runs a call and prints its answer: JSON, or `text(answer)`.
  void Run(const std::string& method, const std::string& path, const json& body,
           const std::function<void(const json&)>& text) const {
    json answer = Client().Call(method, path, body);
    if (options->output == "json") {
      std::cout << answer.dump(2) << "\n";
    } else {
      text(answer);
    }
  }
  json WithAccount(json body) const {
    if (!account.empty()) body["account"] = account;
    return body;
  }
};

}  // namespace

std::shared_ptr<void> AddAdminCommands(CLI::App& app, AdminOptions& options) {
  auto v = std::make_shared<Verbs>();
  v->options = &options;
  Verbs& s = *v;
  auto text_ok = [](const std::string& what) {
    return [what](const json&) { std::cout << what << "\n"; };
  };
  auto print_instance = [](const json& i) { PrintInstance(i); };

  // ---- instance
  CLI::App* instance = app.add_subcommand("instance", "Registry instances (tenants)");
  instance->require_subcommand(1);
  CLI::App* ic = instance->add_subcommand("create", "Create an instance");
  ic->add_option("NAME", s.name, "Instance name")->required();
  ic->add_option("--account", s.account, "Owning account (must be the token's)");
  ic->add_option("--region", s.region, "Region, e.g. ap-northeast-1")->required();
  ic->add_option("--edition", s.edition, "personal or enterprise")
      ->check(CLI::IsMember({"personal", "enterprise"}));
  ic->callback([&s, print_instance] {
    s.Run("POST", "/api/v1/instances",
          s.WithAccount({{"name", s.name}, {"region", s.region}, {"edition", s.edition}}),
          print_instance);
  });
  instance->add_subcommand("list", "List your instances")->callback([&s] {
    s.Run("GET", "/api/v1/instances", nullptr, [](const json& list) {
      if (list.empty()) std::cout << "no instances\n";
      for (const auto& i : list) PrintInstance(i);
    });
  });
  CLI::App* is = instance->add_subcommand("show", "Show an instance and its endpoints");
  is->add_option("NAME", s.name, "Instance name")->required();
  is->callback([&s, print_instance] { s.Run("GET", s.InstancePath(), nullptr, print_instance); });
  CLI::App* id = instance->add_subcommand("delete", "Delete an instance");
  id->add_option("NAME", s.name, "Instance name")->required();
  id->callback([&s, text_ok] {
    s.Run("DELETE", s.InstancePath(), nullptr, text_ok("deleted instance " + s.name));
  });

  // ---- network, subnet
  CLI::App* network = app.add_subcommand("network", "Private networks (VPCs) of your account");
  network->require_subcommand(1);
  CLI::App* nc = network->add_subcommand("create", "Create a network");
  nc->add_option("ID", s.name, "Network id, e.g. vpc-a")->required();
  nc->add_option("--account", s.account, "Owning account (must be the token's)");
  nc->add_option("--region", s.region, "Region")->required();
  nc->add_option("--cidr", s.cidrs, "Address block (repeatable)")->required();
  nc->callback([&s] {
    s.Run("POST", "/api/v1/networks",
          s.WithAccount({{"id", s.name}, {"region", s.region}, {"cidrs", s.cidrs}}),
          [&s](const json&) { std::cout << "created network " << s.name << "\n"; });
  });
  network->add_subcommand("list", "List your networks")->callback([&s] {
    s.Run("GET", "/api/v1/networks", nullptr, [](const json& list) {
      for (const auto& n : list) {
        std::cout << n["id"].get<std::string>() << "  " << n["region"].get<std::string>();
        for (const auto& c : n["cidrs"]) std::cout << "  " << c.get<std::string>();
        std::cout << "\n";
        for (const auto& sn : n["subnets"]) {
          std::cout << "  subnet " << sn["id"].get<std::string>() << "  "
                    << sn["cidr"].get<std::string>() << "\n";
        }
      }
    });
  });
  CLI::App* subnet = app.add_subcommand("subnet", "Subnets (vSwitches) of your networks");
  subnet->require_subcommand(1);
  CLI::App* sc = subnet->add_subcommand("create", "Create a subnet");
  sc->add_option("ID", s.name, "Subnet id, e.g. vsw-a")->required();
  sc->add_option("--network", s.network, "Network")->required();
  sc->add_option("--cidr", s.cidr, "Address block inside the network")->required();
  sc->callback([&s] {
    s.Run("POST", "/api/v1/subnets", {{"id", s.name}, {"network", s.network}, {"cidr", s.cidr}},
          [&s](const json&) { std::cout << "created subnet " << s.name << "\n"; });
  });

  // ---- endpoint
  CLI::App* endpoint = app.add_subcommand("endpoint", "Internet and VPC endpoints of instances");
  endpoint->require_subcommand(1);
  CLI::App* es = endpoint->add_subcommand("show", "Show the endpoints of an instance");
  es->add_option("INSTANCE", s.name, "Instance name")->required();
  es->callback([&s, print_instance] { s.Run("GET", s.InstancePath(), nullptr, print_instance); });
  CLI::App* internet = endpoint->add_subcommand("internet", "The Internet endpoint");
  internet->require_subcommand(1);
  for (const char* verb : {"enable", "disable"}) {
    CLI::App* c = internet->add_subcommand(verb, std::string(verb) + " the Internet endpoint");
    c->add_option("INSTANCE", s.name, "Instance name")->required();
    c->callback([&s, verb, print_instance] {
      s.Run("POST", s.InstancePath(std::string("/internet/") + verb), nullptr, print_instance);
    });
  }
  CLI::App* allow = internet->add_subcommand("allow", "Add an address or CIDR to the allowlist");
  allow->add_option("INSTANCE", s.name, "Instance name")->required();
  allow->add_option("CIDR", s.cidr, "Address or CIDR")->required();
  allow->add_option("--description", s.description, "What the entry is for");
  allow->callback([&s, print_instance] {
    s.Run("POST", s.InstancePath("/internet/allowlist"),
          {{"cidr", s.cidr}, {"description", s.description}}, print_instance);
  });
  CLI::App* revoke = internet->add_subcommand("revoke", "Remove an allowlist entry");
  revoke->add_option("INSTANCE", s.name, "Instance name")->required();
  revoke->add_option("CIDR", s.cidr, "Address or CIDR")->required();
  revoke->callback([&s, print_instance] {
    s.Run("DELETE", s.InstancePath("/internet/allowlist?cidr=" + registry::PercentEncode(s.cidr)),
          nullptr, print_instance);
  });
  CLI::App* vpc = endpoint->add_subcommand("vpc", "The VPC endpoint");
  vpc->require_subcommand(1);
  CLI::App* bind = vpc->add_subcommand("bind", "Bind a network of yours (same region)");
  bind->add_option("INSTANCE", s.name, "Instance name")->required();
  bind->add_option("--network", s.network, "Network to bind")->required();
  bind->add_option("--subnet", s.subnet, "Subnet for the endpoint's address (default: first)");
  bind->callback([&s, print_instance] {
    json body = {{"network", s.network}};
    if (!s.subnet.empty()) body["subnet"] = s.subnet;
    s.Run("POST", s.InstancePath("/vpc/bindings"), body, print_instance);
  });
  CLI::App* unbind = vpc->add_subcommand("unbind", "Unbind a network");
  unbind->add_option("INSTANCE", s.name, "Instance name")->required();
  unbind->add_option("--network", s.network, "Network to unbind")->required();
  unbind->callback([&s, print_instance] {
    s.Run("DELETE", s.InstancePath("/vpc/bindings/" + registry::PercentEncode(s.network)), nullptr,
          print_instance);
  });

  // ---- credential, token, namespace
  CLI::App* credential = app.add_subcommand("credential", "Registry passwords of an instance");
  credential->require_subcommand(1);
  CLI::App* cs = credential->add_subcommand("set", "Set a user's registry password");
  cs->add_option("INSTANCE", s.name, "Instance name")->required();
  cs->add_option("--user", s.user, "User name")->required();
  cs->add_flag("--password-stdin", s.password_stdin, "Read the password from standard input")
      ->required();
  cs->callback([&s, text_ok] {
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) throw CommandError("no password on standard input");
    s.Run("PUT", s.InstancePath("/credentials/" + registry::PercentEncode(s.user)),
          {{"password", password}}, text_ok("password set for " + s.user + " on " + s.name));
  });
  CLI::App* token = app.add_subcommand("token", "Temporary registry passwords");
  token->require_subcommand(1);
  CLI::App* ti = token->add_subcommand("issue", "Issue a password that expires");
  ti->add_option("INSTANCE", s.name, "Instance name")->required();
  ti->add_option("--user", s.user, "User name")->required();
  ti->add_option("--ttl", s.ttl, "Lifetime: 3600, 30m, 12h, 7d (default 12h)");
  ti->callback([&s] {
    s.Run("POST", s.InstancePath("/tokens"),
          {{"user", s.user}, {"ttl_seconds", ParseDuration(s.ttl)}}, [](const json& t) {
            std::cout << "user:     " << t["user"].get<std::string>() << "\n"
                      << "password: " << t["password"].get<std::string>() << "\n"
                      << "expires:  " << t["expires_at"].get<std::string>() << "\n";
          });
  });
  CLI::App* ns = app.add_subcommand("namespace", "Namespaces of an instance");
  ns->require_subcommand(1);
  CLI::App* nsc = ns->add_subcommand("create", "Create a namespace");
  nsc->add_option("INSTANCE", s.name, "Instance name")->required();
  nsc->add_option("NAMESPACE", s.network, "Namespace name")->required();
  nsc->add_option("--visibility", s.visibility, "public or private (default private)")
      ->check(CLI::IsMember({"public", "private"}));
  nsc->callback([&s, text_ok] {
    s.Run("POST", s.InstancePath("/namespaces"),
          {{"name", s.network}, {"visibility", s.visibility}},
          text_ok("created " + s.visibility + " namespace " + s.network + " in " + s.name));
  });
  CLI::App* nsl = ns->add_subcommand("list", "List namespaces");
  nsl->add_option("INSTANCE", s.name, "Instance name")->required();
  nsl->callback([&s] {
    s.Run("GET", s.InstancePath("/namespaces"), nullptr, [](const json& list) {
      for (const auto& n : list) {
        std::cout << n["name"].get<std::string>() << "  " << n["visibility"].get<std::string>()
                  << "\n";
      }
    });
  });
  return v;
}

}  // namespace kura::cli
