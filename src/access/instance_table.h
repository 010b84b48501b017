// The instances of a World, by name: the ordered map that holds them (what readers iterate, and
// what PersistentMap::Diff compares to find the rows a change writes) and a hash index over it,
// for the request path's lookup (World::FindInstanceByHost, on every request). Walking the map
// to one of 100,000 names touches 17 scattered tree nodes; the index (core/hash_trie.h) 3 or 4.
//
// One source of truth: the index holds pointers to the map's own values, and this class is the
// only way to change either, so every change to an instance (set, changed in place, erased)
// changes both. Copies share everything, as the map's do.

#pragma once

#include <string>
#include <string_view>

#include "access/model.h"
#include "core/hash_trie.h"
#include "core/persistent_map.h"

namespace kura::access {

class InstanceTable {
 public:
  using Map = core::PersistentMap<std::string, Instance>;

  const Map& map() const { return map_; }
  size_t size() const { return map_.size(); }

  const Instance* Find(std::string_view name) const { return index_.Find(name); }
  bool contains(std::string_view name) const { return Find(name) != nullptr; }

  // Adds the instance, or replaces the one of the same name.
  void Set(Instance instance) {
    std::string name = instance.name;
    map_.Set(name, std::move(instance));
    index_.Set(map_.Find(name));
  }
  // The instance to change in place, or nullptr. Its name must not change: it is its key. Valid
  // until the table changes again.
  Instance* Mutable(std::string_view name) {
    // A fresh value (see PersistentMap::Mutable): the index must point at it, not at the value
    // the other copies keep.
    Instance* instance = map_.Mutable(name);
    if (instance != nullptr) index_.Set(instance);
    return instance;
  }
  bool Erase(std::string_view name) {
    index_.Erase(name);
    return map_.Erase(name);
  }

 private:
  struct NameOf {
    std::string_view operator()(const Instance& instance) const { return instance.name; }
  };

  Map map_;
  // The values of map_, by the hash of their names.
  core::HashTrie<Instance, NameOf> index_;
};

}  // namespace kura::access

