#include "analyzer/analyzer.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "analyzer/login_check.h"
#include "analyzer/topology_index.h"

namespace kura::analyzer {

// Fills an ExposureReport; the friend that may write its cells.
class ExposureReportBuilder {
 public:
  ExposureReportBuilder(const topology::Topology& topology, const AnalyzeOptions& options)
      : topology_(topology), options_(options), index_(topology) {}

  ExposureReport Build() {
    const access::World& world = topology_.world;
    for (const access::HostId& id : topology_.host_order) {
      report_.hosts_.push_back(world.FindHost(id));
    }
    for (const access::InstanceName& name : topology_.instance_order) {
      report_.instances_.push_back(world.FindInstance(name));
    }
    report_.cells_.assign(report_.hosts_.size() * report_.instances_.size() * 2, 0);
    if (report_.cells_.empty()) return std::move(report_);

    PrepareInstances();
    PrepareLogins();
    GroupHostsByNetwork();

    unsigned threads = options_.threads != 0 ? options_.threads
                                             : std::max(1u, std::thread::hardware_concurrency());
    threads = static_cast<unsigned>(std::min<size_t>(threads, groups_.size()));
    std::atomic<size_t> next_group{0};
    auto work = [&] {
      std::vector<PreparedEndpoint> prepared(report_.instances_.size() * 2);
      for (size_t g; (g = next_group.fetch_add(1)) < groups_.size();) {
        AnalyzeGroup(groups_[g], prepared);
      }
    };
    if (threads <= 1) {
      work();
    } else {
      std::vector<std::thread> workers;
      for (unsigned t = 0; t < threads; ++t) workers.emplace_back(work);
      for (std::thread& worker : workers) worker.join();
    }
    return std::move(report_);
  }

 private:
  struct InstanceFacts {
    const topology::InstanceSetup* setup = nullptr;
    std::string hostnames[2];  // internet, vpc
    LoginResult default_login = LoginResult::kNoLogin;
  };

  // The hosts of one network.
  struct HostGroup {
    uint32_t network = 0;
    std::vector<uint32_t> hosts;
  };

  // What one endpoint looks like from one network: the outcome of resolve and route as far as
  // they do not depend on the host, and the context admission will see.
  struct PreparedEndpoint {
    Step failed_at = Step::kOk;  // kResolve, kRoute, or kOk (both passed)
    Route route;
    access::ConnectionContext context;
  };

  static constexpr access::EndpointKind kKinds[2] = {access::EndpointKind::kInternet,
                                                     access::EndpointKind::kVpc};

  void PrepareInstances() {
    instance_facts_.resize(report_.instances_.size());
    for (size_t i = 0; i < report_.instances_.size(); ++i) {
      const access::Instance& instance = *report_.instances_[i];
      InstanceFacts& facts = instance_facts_[i];
      facts.setup = &topology_.SetupOf(instance.name);
      for (int k = 0; k < 2; ++k)
        facts.hostnames[k] = topology_.world.Hostname(instance, kKinds[k]);
      facts.default_login = CheckLogin(topology_.DefaultLoginOf(instance.name), *facts.setup);
      instance_numbers_.emplace(instance.name, static_cast<uint32_t>(i));
    }
  }

  // Checks, once each, the logins hosts bring of their own (a hashed password costs a bcrypt).
  void PrepareLogins() {
    own_logins_.resize(report_.hosts_.size());
    std::map<std::tuple<uint32_t, std::string, std::string>, LoginResult> checked;
    for (size_t h = 0; h < report_.hosts_.size(); ++h) {
      auto setup = topology_.hosts.find(report_.hosts_[h]->id);
      if (setup == topology_.hosts.end()) continue;
      for (const auto& [instance_name, login] : setup->second.logins) {
        auto number = instance_numbers_.find(instance_name);
        if (number == instance_numbers_.end()) continue;
        auto key = std::make_tuple(number->second, login.user, login.password);
        auto known = checked.find(key);
        if (known == checked.end()) {
          known = checked
                      .emplace(std::move(key),
                               CheckLogin(login, *instance_facts_[number->second].setup))
                      .first;
        }
        own_logins_[h].emplace_back(number->second, known->second);
      }
      std::sort(own_logins_[h].begin(), own_logins_[h].end());
    }
  }

  void GroupHostsByNetwork() {
    std::vector<int> group_of_network(index_.network_count(), -1);
    for (size_t h = 0; h < report_.hosts_.size(); ++h) {
      uint32_t network = index_.NetworkNumberOf(*report_.hosts_[h]);
      if (group_of_network[network] < 0) {
        group_of_network[network] = static_cast<int>(groups_.size());
        groups_.push_back({network, {}});
      }
      groups_[group_of_network[network]].hosts.push_back(static_cast<uint32_t>(h));
    }
  }

  LoginResult LoginOf(uint32_t host, uint32_t instance) const {
    const auto& own = own_logins_[host];
    if (!own.empty()) {
      auto it = std::lower_bound(own.begin(), own.end(), instance,
                                 [](const std::pair<uint32_t, LoginResult>& entry,
                                    uint32_t wanted) { return entry.first < wanted; });
      if (it != own.end() && it->first == instance) return it->second;
    }
    return instance_facts_[instance].default_login;
  }

  // Writes the cells of the group's hosts. Workers run it concurrently on distinct groups: they
  // write distinct cells and only read everything else.
  void AnalyzeGroup(const HostGroup& group, std::vector<PreparedEndpoint>& prepared) {
    const size_t instance_count = report_.instances_.size();
    for (size_t i = 0; i < instance_count; ++i) {
      for (int k = 0; k < 2; ++k) {
        PreparedEndpoint& endpoint = prepared[i * 2 + k];
        endpoint = PreparedEndpoint();
        Resolution resolution = index_.Resolve(group.network, *report_.instances_[i], kKinds[k],
                                               instance_facts_[i].hostnames[k]);
        if (!resolution.found()) {
          endpoint.failed_at = Step::kResolve;
          continue;
        }
        endpoint.route = index_.RouteFromNetwork(group.network, resolution.address);
        if (!endpoint.route.found()) {
          endpoint.failed_at = Step::kRoute;
          continue;
        }
        endpoint.context = TopologyIndex::ContextFor(kKinds[k], endpoint.route);
      }
    }

    uint8_t* cells = report_.cells_.data();
    for (uint32_t h : group.hosts) {
      const access::Host& host = *report_.hosts_[h];
      uint8_t* row = cells + static_cast<size_t>(h) * instance_count * 2;
      for (size_t i = 0; i < instance_count; ++i) {
        for (int k = 0; k < 2; ++k) {
          PreparedEndpoint& endpoint = prepared[i * 2 + k];
          Outcome outcome;
          if (endpoint.failed_at != Step::kOk) {
            outcome.step = endpoint.failed_at;
          } else if (Route route = TopologyIndex::FromHost(endpoint.route, host); !route.found()) {
            outcome.step = Step::kRoute;
          } else {
            endpoint.context.source = route.source;
            access::Decision decision = access::Admit(endpoint.context, *report_.instances_[i]);
            outcome.rule = decision.rule;
            if (!decision.allowed) {
              outcome.step = Step::kAdmit;
            } else {
              outcome.step = LoginOf(h, static_cast<uint32_t>(i)) == LoginResult::kAccepted
                                 ? Step::kOk
                                 : Step::kAuthenticate;
            }
          }
          row[i * 2 + k] = ExposureReport::Encode(outcome);
        }
      }
    }
  }

  const topology::Topology& topology_;
  const AnalyzeOptions& options_;
  TopologyIndex index_;
  ExposureReport report_;
  std::vector<InstanceFacts> instance_facts_;
  std::unordered_map<std::string_view, uint32_t> instance_numbers_;
  // Per host: (instance number, result) of the logins the file gives it, sorted.
  std::vector<std::vector<std::pair<uint32_t, LoginResult>>> own_logins_;
  std::vector<HostGroup> groups_;
};

uint8_t ExposureReport::Encode(const Outcome& outcome) {
  const uint8_t rule = outcome.rule ? static_cast<uint8_t>(*outcome.rule) + 1 : 0;
  return static_cast<uint8_t>(static_cast<uint8_t>(outcome.step) | (rule << 3));
}

Outcome ExposureReport::Decode(uint8_t cell) {
  Outcome outcome;
  outcome.step = static_cast<Step>(cell & 7);
  if (uint8_t rule = cell >> 3; rule != 0) outcome.rule = static_cast<access::Rule>(rule - 1);
  return outcome;
}

Outcome ExposureReport::At(size_t host, size_t instance, access::EndpointKind kind) const {
  return Decode(cells_.at(CellOf(host, instance, kind)));
}

size_t ExposureReport::allowed_count() const {
  return static_cast<size_t>(std::count_if(cells_.begin(), cells_.end(), [](uint8_t cell) {
    return static_cast<Step>(cell & 7) == Step::kOk;
  }));
}

ExposureReport Analyze(const topology::Topology& topology, const AnalyzeOptions& options) {
  return ExposureReportBuilder(topology, options).Build();
}

}  // namespace kura::analyzer
