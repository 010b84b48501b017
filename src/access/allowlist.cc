#include "access/allowlist.h"

#include <algorithm>
#include <utility>

namespace kura::access {
namespace {

constexpr core::Uint128 kMax{~uint64_t{0}, ~uint64_t{0}};

// ::ffff:0:0/96, the IPv6 prefix that carries IPv4 addresses on dual-stack sockets.
const core::Cidr& V4MappedPrefix() {
  static const core::Cidr prefix = *core::Cidr::Parse("::ffff:0:0/96");
  return prefix;
}

const std::vector<AllowlistEntry>& NoEntries() {
  static const std::vector<AllowlistEntry> none;
  return none;
}

}  // namespace

Allowlist::Allowlist(std::vector<AllowlistEntry> entries) {
  std::vector<Interval> v4, v6;
  for (uint32_t i = 0; i < entries.size(); ++i) {
    const core::Cidr& cidr = entries[i].cidr;
    core::Uint128 first = cidr.network().value(), last = cidr.last().value();
    if (cidr.family() == core::IpFamily::kV4) {
      v4.push_back({first, last, i});
    } else if (V4MappedPrefix().Contains(cidr)) {
      v4.push_back({{0, first.low & 0xffffffff}, {0, last.low & 0xffffffff}, i});
    } else {
      v6.push_back({first, last, i});
    }
  }
  auto index = std::make_shared<Index>();
  index->entries = std::move(entries);
  const std::vector<Interval> flat_v4 = Flatten(std::move(v4));
  index->v4.reserve(flat_v4.size());
  for (const Interval& interval : flat_v4) {
    index->v4.push_back({static_cast<uint32_t>(interval.first.low),
                         static_cast<uint32_t>(interval.last.low), interval.entry});
  }
  index->v6 = Flatten(std::move(v6));
  index_ = std::move(index);
}

// CIDR intervals are either nested or disjoint. Sorted by start, widest first, they form a
// forest walked here with a stack of the intervals open at the cursor; every stretch of
// addresses is emitted once, labelled with the innermost open interval.
std::vector<Allowlist::Interval> Allowlist::Flatten(std::vector<Interval> nested) {
  std::sort(nested.begin(), nested.end(), [](const Interval& a, const Interval& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.last != b.last) return a.last > b.last;
    return a.entry < b.entry;
  });

  std::vector<Interval> flat;
  auto emit = [&flat](core::Uint128 first, core::Uint128 last, uint32_t entry) {
    if (!flat.empty() && flat.back().entry == entry && flat.back().last.Next() == first) {
      flat.back().last = last;
    } else {
      flat.push_back({first, last, entry});
    }
  };

  std::vector<Interval> open;
  core::Uint128 cursor;  // the first address not yet emitted
  bool covered_to_end = false;
  auto close_innermost = [&] {
    Interval top = open.back();
    open.pop_back();
    if (covered_to_end || top.last < cursor) return;
    emit(cursor, top.last, top.entry);
    if (top.last == kMax) {
      covered_to_end = true;
    } else {
      cursor = top.last.Next();
    }
  };

  for (const Interval& interval : nested) {
    if (!open.empty() && open.back().first == interval.first && open.back().last == interval.last) {
      continue;  // the same prefix again: the earlier entry keeps it
    }
    while (!open.empty() && open.back().last < interval.first) close_innermost();
    if (!open.empty() && cursor < interval.first) {
      emit(cursor, interval.first.Previous(), open.back().entry);
    }
    cursor = interval.first;
    open.push_back(interval);
  }
  while (!open.empty()) close_innermost();
  return flat;
}

const AllowlistEntry* Allowlist::Find(const core::IpAddress& address) const {
  if (!index_) return nullptr;
  core::IpAddress plain = address.Unmapped();
  if (plain.is_v4()) {
    const auto value = static_cast<uint32_t>(plain.value().low);
    const std::vector<V4Interval>& intervals = index_->v4;
    auto after = std::upper_bound(
        intervals.begin(), intervals.end(), value,
        [](uint32_t v, const V4Interval& interval) { return v < interval.first; });
    if (after == intervals.begin()) return nullptr;
    const V4Interval& candidate = *std::prev(after);
    if (value > candidate.last) return nullptr;
    return &index_->entries[candidate.entry];
  }
  const std::vector<Interval>& intervals = index_->v6;
  core::Uint128 value = plain.value();
  auto after = std::upper_bound(
      intervals.begin(), intervals.end(), value,
      [](const core::Uint128& v, const Interval& interval) { return v < interval.first; });
  if (after == intervals.begin()) return nullptr;
  const Interval& candidate = *std::prev(after);
  if (value > candidate.last) return nullptr;
  return &index_->entries[candidate.entry];
}

const std::vector<AllowlistEntry>& Allowlist::entries() const {
  return index_ ? index_->entries : NoEntries();
}

}  // namespace kura::access
