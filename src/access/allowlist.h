// The allowlist of an Internet endpoint: which source addresses it admits while enabled.
//
// An Allowlist is immutable once built, and cheap to copy (copies share one index), so a World
// snapshot can be copied and changed without copying 10,000 entries. Find() is O(log n): the
// entries are flattened at build time into disjoint, sorted address intervals, one array per
// family, each interval labelled with the most specific entry that covers it. Safe to read from
// several threads; holds no lock.

#ifndef KURA_ACCESS_ALLOWLIST_H_
#define KURA_ACCESS_ALLOWLIST_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cidr.h"

namespace kura::access {

// One allowlist line: an address or CIDR, and what it is for ("ECS-A", "office NAT").
struct AllowlistEntry {
  core::Cidr cidr;
  std::string description;

  friend bool operator==(const AllowlistEntry&, const AllowlistEntry&) = default;
};

class Allowlist {
 public:
  // The empty allowlist: admits nobody.
  Allowlist() = default;

  // Builds the index over entries, in O(n log n). Entries may overlap or nest. An IPv6 entry
  // inside ::ffff:0:0/96 is indexed as the IPv4 prefix it maps, so that it matches what Find()
  // sees (Find() unmaps its argument).
  explicit Allowlist(std::vector<AllowlistEntry> entries);

  // The most specific entry (longest prefix; the earlier one among equal prefixes) that contains
  // address, or nullptr if none does. An IPv4-mapped IPv6 address is looked up as IPv4. The
  // pointer stays valid as long as this Allowlist or a copy of it lives.
  const AllowlistEntry* Find(const core::IpAddress& address) const;

  // The entries in the order given to the constructor.
  const std::vector<AllowlistEntry>& entries() const;
  size_t size() const { return entries().size(); }
  // True if `other` is this allowlist or a copy of it (not merely equal): what lets a World
  // change skip the allowlists it did not touch.
  bool IsCopyOf(const Allowlist& other) const { return index_ == other.index_; }
  bool empty() const { return entries().empty(); }

 private:
  // Addresses first..last (inclusive) are covered most specifically by entries[entry].
  struct Interval {
    core::Uint128 first;
    core::Uint128 last;
    uint32_t entry;
  };
  // The same for IPv4, in 12 bytes instead of 40: a lookup's binary search over a small
  // allowlist then reads one or two cache lines, not five (admission is bound by memory misses).
  struct V4Interval {
    uint32_t first;
    uint32_t last;
    uint32_t entry;
  };
  struct Index {
    std::vector<AllowlistEntry> entries;
    std::vector<V4Interval> v4;
    std::vector<Interval> v6;
  };

  static std::vector<Interval> Flatten(std::vector<Interval> nested);

  std::shared_ptr<const Index> index_;
};

}  // namespace kura::access

#endif  // KURA_ACCESS_ALLOWLIST_H_
