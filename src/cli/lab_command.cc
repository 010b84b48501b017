#include "cli/lab_command.h"

#include <unistd.h>

#include <iostream>

#include "cli/admin_client.h"
#include "lab/lab.h"
#include "topology/topology.h"

namespace kura::cli {
namespace {

struct LabArgs {
  std::string file;
  lab::LabOptions options;
  bool no_push = false;
};

topology::Topology Load(const std::string& file) {
  try {
    return topology::LoadTopology(file);
  } catch (const topology::TopologyError& e) {
    throw CommandError(std::string("lab: ") + e.what());
  }
}

void NeedRoot() {
  if (::geteuid() != 0) throw CommandError("lab: network namespaces need root");
}

}  // namespace

std::shared_ptr<void> AddLabCommand(CLI::App& app) {
  auto args = std::make_shared<LabArgs>();
  LabArgs& a = *args;
  CLI::App* lab = app.add_subcommand("lab", "Build a topology as network namespaces and verify it");
  lab->require_subcommand(1);
  auto common = [&a](CLI::App* c) {
    c->add_option("--prefix", a.options.prefix, "Name prefix of everything the lab makes (kl)");
    c->add_option("--state", a.options.state_root, "Where the lab keeps its state (/run/kura-lab)");
  };
  CLI::App* up = lab->add_subcommand("up", "Build the namespaces and start kura in them");
  up->add_option("FILE", a.file, "Topology file")->required();
  common(up);
  up->callback([&a] {
    NeedRoot();
    topology::Topology t = Load(a.file);
    try {
      lab::LabUp(t, a.options, std::cout);
    } catch (const lab::LabError& e) {
      throw CommandError(e.what());
    }
  });
  CLI::App* verify = lab->add_subcommand("verify", "Log in from every host; compare with analysis");
  verify->add_option("FILE", a.file, "Topology file")->required();
  verify->add_flag("--no-push", a.no_push, "Only log in; do not push and pull an image");
  common(verify);
  verify->callback([&a] {
    NeedRoot();
    topology::Topology t = Load(a.file);
    a.options.push_images = !a.no_push;
    int differences = 0;
    try {
      differences = lab::LabVerify(t, a.options, std::cout);
    } catch (const lab::LabError& e) {
      throw CommandError(e.what());
    }
    if (differences > 0) {
      throw CommandError("lab: " + std::to_string(differences) +
                         " live result(s) differ from the analysis");
    }
  });
  CLI::App* down = lab->add_subcommand("down", "Remove everything the lab made");
  down->add_option("FILE", a.file, "Topology file (ignored; the prefix decides)");
  common(down);
  down->callback([&a] {
    NeedRoot();
    try {
      lab::LabDown(a.options, std::cout);
    } catch (const lab::LabError& e) {
      throw CommandError(e.what());
    }
  });
  return args;
}

}  // namespace kura::cli
